// Storage changed under a running node, and "Verify my chain". Each story: a tab (its own
// node id) follows a relay while it mines blocks that pay the tab, one block per journal
// record; then someone with the browser's developer tools (this page's own origin) edits the
// node's IndexedDB journal (`chain-<id>`, store `journal`, node-wasm/src/storage.rs) and
// presses "Verify my chain". Damage must be named (what, and at which block when a block),
// the damaged store never used: the node downloads the chain again and ends equal to the
// relay (height, tip, the tab's balance), and a second verify passes. A change that is not
// damage (an appended empty batch) passes. Verifying twice at once, or while mining, leaves
// the node running, in sync and (still) mining.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, waitFor } from './harness.mjs';

const relay = new Relay('3000');
let browser;
let context;
let central = '';
/** Every page opened, for their errors. */
const tabs = [];

before(async () => {
  central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.start(await freePort());
  browser = await launchBrowser();
  context = await browser.newContext();
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

/** Runs `window.node[method](...args)` in the tab. */
const call = (tab, method, ...args) => tab.page.evaluate(([m, a]) => window.node[m](...a), [method, args]);
const lastNumber = (s) => Number(s.trim().split(/\s+/).pop());

/** The tab's node is where the relay is: same tip, and the tab's balance is the relay's. */
async function inSync(tab, address) {
  const relayed = await relay.status();
  await waitFor(`node ${tab.id} at the relay's tip #${relayed.height}`, async () => {
    const s = await call(tab, 'status');
    return s.tip === relayed.tip && s.height === relayed.height && s.connection === 'open';
  }, 120_000);
  assert.equal(await call(tab, 'getBalance', address), lastNumber(await relay.cli('getbalance', '--address', address)));
}

/** A tab with a fresh node whose journal ends with `blocks` records of one block each, the
 *  last paying its address `PAID` coins. */
const PAID = 3;
async function victim(id, blocks = 3) {
  const tab = await openTab(browser, relay.url, id, { context });
  tabs.push(tab);
  const address = await call(tab, 'createWallet');
  await inSync(tab, address);
  for (let i = 0; i < blocks; i++) {
    assert.equal(await relay.cli('send', '--from', central, '--to', address, '--amount', String(PAID), '--mine'), 'Success!');
    await inSync(tab, address);
  }
  await call(tab, 'flush');
  return { tab, address };
}

/** Opens node `id`'s journal in the page (same origin as the node, another connection) and
 *  runs `edit(store, keys, values, arg)` in one readwrite transaction; returns its result.
 *  `edit` runs in the page, so it may use only its arguments. */
async function editJournal(tab, edit, arg = null) {
  const script = `(async (id, edit, arg) => {
    const done = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const db = await done(indexedDB.open('chain-' + id));
    try {
      const tx = db.transaction('journal', 'readwrite');
      const store = tx.objectStore('journal');
      const [keys, values] = await Promise.all([done(store.getAllKeys()), done(store.getAll())]);
      const result = await edit(store, keys, values, arg);
      await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onabort = () => reject(tx.error); tx.onerror = () => reject(tx.error); });
      return result;
    } finally {
      db.close();
    }
  })(${JSON.stringify(tab.id)}, ${edit.toString()}, ${JSON.stringify(arg)})`;
  return tab.page.evaluate(script);
}

/** Verifies: refused with a fault matching `fault` (and at `height` when given); then the
 *  node downloads again, ends equal to the relay, and verifies clean. */
async function refusedThenRepaired(tab, address, fault, height) {
  const v = await call(tab, 'verifyChain');
  assert.equal(v.ok, false, `damaged storage passed: ${JSON.stringify(v)}`);
  assert.match(v.fault, fault);
  if (height !== undefined) assert.equal(v.height, height, v.fault);
  await inSync(tab, address);
  await call(tab, 'flush');
  const again = await call(tab, 'verifyChain');
  assert.deepEqual(again, { ok: true, height: (await relay.status()).height });
  await inSync(tab, address);
  return v;
}

/** The hex's bytes. */
const hexBytes = (hex) => (hex.match(/../g) ?? []).map((b) => parseInt(b, 16));

/** The tab's address as its 20-byte key hash (the page decodes it). */
const keyHash = (tab, address) => tab.page.evaluate(async (a) => {
  const { base58Bytes } = await import('/ui/links.js');
  return [...base58Bytes(a).slice(1, 21)];
}, address);

test('a record replaced by bytes that do not decode is named and not used', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5001');
  const replaced = await editJournal(tab, (store, keys) => {
    store.put(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), keys[keys.length - 2]);
    return keys.length;
  });
  assert.ok(replaced >= 3, `the journal holds a record per mined block (${replaced})`);
  await refusedThenRepaired(tab, address, /^journal record: /);
});

test('a record that is not bytes (a string, an object) is named and not used', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5002');
  await editJournal(tab, (store, keys) => { store.put('not a batch of changes', keys[keys.length - 1]); });
  await refusedThenRepaired(tab, address, /^a value in journal is not bytes$/);
  await relay.cli('send', '--from', central, '--to', address, '--amount', '1', '--mine');
  await inSync(tab, address);
  await call(tab, 'flush');
  await editJournal(tab, (store, keys, values) => { store.put({ bytes: Array.from(values[0]) }, keys[0]); });
  await refusedThenRepaired(tab, address, /^a value in journal is not bytes$/);
});

test('a record under a key that is not a record number is named and not used', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5003');
  await editJournal(tab, (store, keys, values) => { store.put(values[values.length - 1], 'last'); });
  await refusedThenRepaired(tab, address, /^a journal key is not a record number$/);
});

test('a record deleted from the middle of the journal: a block below the tip is missing', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5004');
  const { height } = await relay.status();
  await editJournal(tab, (store, keys) => { store.delete(keys[keys.length - 2]); });
  // Block #height-1 is gone; block #height names it as its parent.
  await refusedThenRepaired(tab, address, /^a block 1 below the tip is missing$/);
  assert.equal(height, (await relay.status()).height);
});

test('the newest record deleted: storage lost the newest block, keeps the rest, and catches up', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5011', 2);
  const { height } = await relay.status();
  await editJournal(tab, (store, keys) => { store.delete(keys[keys.length - 1]); });
  // What is left is a whole, valid chain to #height-1: nothing forged, but not what the
  // node had. Saying "the stored chain holds" would hide that storage dropped a block.
  const v = await refusedThenRepaired(tab, address,
    new RegExp(`^block #${height} is missing from storage: it holds blocks #0–#${height - 1}, the node had #0–#${height}$`), height);
  assert.equal(v.lost, true);
});

test('the last two records swapped: the tip goes back a block, over a UTXO set that is ahead of it', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5005');
  const { height } = await relay.status();
  await editJournal(tab, (store, keys, values) => {
    const [a, b] = keys.slice(-2);
    store.put(values[values.length - 1], a);
    store.put(values[values.length - 2], b);
  });
  await refusedThenRepaired(tab, address,
    new RegExp(`^block #${height - 1} is the tip, and the stored UTXO set is not the one the blocks up to it create$`), height - 1);
});

test('a UTXO entry made to hold more coins than its block created is named at the tip', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5006');
  const { height } = await relay.status();
  const hash = await keyHash(tab, address);
  // The newest record: the block paying PAID coins (its header and where its body lies),
  // where its undo data lies, then its UTXO writes; the last time the key hash occurs is the
  // tab's new UTXO entry (value, key hash, height, coinbase flag), its value the byte before.
  const forged = await editJournal(tab, (store, keys, values, [needle, paid]) => {
    const bytes = new Uint8Array(values[values.length - 1]);
    let at = -1;
    outer: for (let i = bytes.length - needle.length; i > 0; i--) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      at = i;
      break;
    }
    if (at < 0 || bytes[at - 1] !== paid) return false;
    bytes[at - 1] = 100;
    store.put(bytes, keys[keys.length - 1]);
    return true;
  }, [hash, PAID]);
  assert.equal(forged, true, 'the UTXO entry paying the tab was found in the newest record');
  await refusedThenRepaired(tab, address,
    new RegExp(`^block #${height} is the tip, and the stored UTXO set is not the one the blocks up to it create$`), height);
  assert.equal(await call(tab, 'getBalance', address), PAID * 3);
});

test('a block\'s undo data changed (its record pointed at another block\'s) is named at that block', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5007');
  const [block, below] = await call(tab, 'printChain', 2);
  // Undo records live in the body file (node-wasm/src/body_file.rs), which the node's worker
  // holds open; the journal names each by its place: the block's hash, then the span's
  // offset and length (postcard varints), after the block's header in the record that
  // stored it. Pointing the tip's entry at the block below's undo record (well formed,
  // but another block's spends) is what an edit of the journal can do to undo data.
  const moved = await editJournal(tab, (store, keys, values, blocks) => {
    const find = (bytes, needle, from) => {
      outer: for (let i = from; i + needle.length <= bytes.length; i++) {
        for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    };
    const varint = (bytes, at) => {
      let v = 0;
      for (let mul = 1; at < bytes.length; mul *= 128) {
        const b = bytes[at++];
        v += (b & 0x7f) * mul;
        if (b < 0x80) return [v, at];
      }
      return [NaN, at];
    };
    const encode = (v) => {
      const out = [];
      for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
      out.push(v);
      return out;
    };
    // The undo entry of `b`: in the newest record holding its header, its hash's first
    // occurrence after it (the undo list follows the blocks and the empty removed list).
    const undoOf = (b) => {
      for (let r = values.length - 1; r >= 0; r--) {
        const bytes = new Uint8Array(values[r]);
        const h = find(bytes, b.header, 0);
        if (h < 0) continue;
        const u = find(bytes, b.hash, h + b.header.length);
        if (u < 0) return null;
        const [offset, o] = varint(bytes, u + 32);
        const [len, end] = varint(bytes, o);
        return { record: r, bytes, at: u + 32, end, offset, len };
      }
      return null;
    };
    const [tip, under] = blocks.map(undoOf);
    if (!tip || !under || tip.offset === under.offset) return null;
    const edited = new Uint8Array([...tip.bytes.slice(0, tip.at), ...encode(under.offset), ...encode(under.len), ...tip.bytes.slice(tip.end)]);
    store.put(edited, keys[tip.record]);
    return { was: [tip.offset, tip.len], now: [under.offset, under.len] };
  }, [block, below].map((b) => ({ header: [...hexBytes(b.prev), ...hexBytes(b.merkleRoot)], hash: hexBytes(b.hash) })));
  assert.ok(moved, 'the undo entries of the two newest blocks were found in the journal');
  assert.ok(Number.isSafeInteger(moved.now[0]) && moved.now[1] > 0, JSON.stringify(moved));
  await refusedThenRepaired(tab, address, new RegExp(`^block #${block.height} has undo data that does not match it$`), block.height);

  // Shifted by a byte instead: the entry names bytes that are not this block's undo record
  // (garbled ones are compared as no undo data), and the block is named the same.
  const [again] = await call(tab, 'printChain', 1);
  const shifted = await editJournal(tab, (store, keys, values, [header, hash]) => {
    const find = (bytes, needle, from) => {
      outer: for (let i = from; i + needle.length <= bytes.length; i++) {
        for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    };
    for (let r = values.length - 1; r >= 0; r--) {
      const bytes = new Uint8Array(values[r]);
      const h = find(bytes, header, 0);
      if (h < 0) continue;
      const u = find(bytes, hash, h + header.length);
      if (u < 0) return false;
      // The offset one byte lower (the tip's undo record is the file's last, so one higher
      // would name bytes past its end, a different fault); the varint's first byte holds
      // its lowest seven bits. Should they be zero, the length one lower instead.
      let at = u + 32;
      if ((bytes[at] & 0x7f) === 0) {
        while (bytes[at] >= 0x80) at++;
        at++;
        if ((bytes[at] & 0x7f) === 0) return false;
      }
      bytes[at] -= 1;
      store.put(bytes, keys[r]);
      return true;
    }
    return false;
  }, [[...hexBytes(again.prev), ...hexBytes(again.merkleRoot)], hexBytes(again.hash)]);
  assert.equal(shifted, true, 'the undo entry of the newest block was found in the journal');
  await refusedThenRepaired(tab, address, new RegExp(`^block #${again.height} has undo data that does not match it$`), again.height);
});

test('an appended record holding an empty batch is not damage: verify passes', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5008', 1);
  const { height, tip } = await relay.status();
  // postcard: a Vec of one JournalBatch whose five lists are empty, no UTXO reset, no tip.
  await editJournal(tab, (store, keys) => { store.put(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), keys[keys.length - 1] + 1); });
  assert.deepEqual(await call(tab, 'verifyChain'), { ok: true, height });
  assert.equal((await call(tab, 'status')).tip, tip);
  await inSync(tab, address);
  // An empty list of batches (zero changes) is no damage either.
  await editJournal(tab, (store, keys) => { store.put(new Uint8Array([0]), keys[keys.length - 1] + 1); });
  assert.deepEqual(await call(tab, 'verifyChain'), { ok: true, height });
  await inSync(tab, address);
});

test('the whole journal emptied: storage lost the chain, and the node downloads it again', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5009', 1);
  const { height } = await relay.status();
  await editJournal(tab, (store) => { store.clear(); });
  // Nothing forged is used, but "the stored chain holds" would be false: it holds nothing.
  const v = await call(tab, 'verifyChain');
  assert.equal(v.ok, false, JSON.stringify(v));
  assert.equal(v.height, 0);
  assert.match(v.fault, new RegExp(`^storage holds no chain: the node had blocks #0–#${height}$`));
  assert.equal(v.lost, true);
  await inSync(tab, address);
  await call(tab, 'flush');
  assert.deepEqual(await call(tab, 'verifyChain'), { ok: true, height });
});

test('the database deleted from the page while the node holds it: verify settles and the node downloads again', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5012', 1);
  const { height } = await relay.status();
  // The delete waits ("blocked") while the node's worker has the database open; it is left
  // pending, as developer tools' "delete database" leaves it.
  const blocked = await tab.page.evaluate((id) => new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(`chain-${id}`);
    window.__deleted = new Promise((done) => req.addEventListener('success', () => done('deleted')));
    req.onblocked = () => resolve('blocked');
    req.onsuccess = () => resolve('deleted');
    req.onerror = () => reject(req.error);
  }), tab.id);
  assert.equal(blocked, 'blocked');
  const v = await tab.page.evaluate(() => Promise.race([
    window.node.verifyChain(),
    new Promise((resolve) => setTimeout(() => resolve('no answer within 60 s'), 60_000)),
  ]));
  assert.notEqual(v, 'no answer within 60 s', 'verify settles');
  assert.equal(v.ok, false, JSON.stringify(v));
  assert.match(v.fault, new RegExp(`^storage holds no chain: the node had blocks #0–#${height}$`));
  assert.equal(await tab.page.evaluate(() => window.__deleted), 'deleted');
  await inSync(tab, address);
  await call(tab, 'flush');
  assert.deepEqual(await call(tab, 'verifyChain'), { ok: true, height });
});

test('verify twice at once, and while mining: both settle, the node runs, in sync, still mining', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5010', 1);
  const both = await tab.page.evaluate(() => Promise.allSettled([window.node.verifyChain(), window.node.verifyChain()]));
  assert.deepEqual(both.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(both));
  for (const r of both) assert.equal(r.value.ok, true, JSON.stringify(r));
  await inSync(tab, address);
  // Two calls from two tasks, not one batch.
  const apart = await tab.page.evaluate(async () => {
    const first = window.node.verifyChain();
    await new Promise((r) => setTimeout(r, 0));
    return Promise.allSettled([first, window.node.verifyChain()]);
  });
  assert.deepEqual(apart.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(apart));
  await inSync(tab, address);

  // Mining on (waiting for two payments, the seed's rule), then verify: the restarted node
  // mines on, and does mine the next two payments.
  const b = await call(tab, 'createWallet');
  const c = await call(tab, 'createWallet');
  assert.equal(await relay.cli('send', '--from', central, '--to', b, '--amount', String(PAID), '--mine'), 'Success!');
  await inSync(tab, address);
  await call(tab, 'startMining', c);
  const v = await call(tab, 'verifyChain');
  assert.equal(v.ok, true, JSON.stringify(v));
  const s = await call(tab, 'status');
  assert.equal(s.mining, true);
  assert.equal(s.miningTo, c);
  const before = (await relay.status()).height;
  await call(tab, 'send', address, c, '1');
  await call(tab, 'send', b, c, '1');
  await waitFor('the tab mined the two payments after the verify', async () => (await relay.status()).height === before + 1, 120_000);
  await call(tab, 'stopMining');
  await inSync(tab, c);
  assert.ok(await call(tab, 'getBalance', c) > 2, 'the block paid its reward to the mining address');
});

test('a tampered store verified from the owner tab and a view tab at once: one restart finds it, the other passes', { timeout: 300_000 }, async () => {
  const { tab, address } = await victim('5013', 2);
  // A second tab of the same node: the first tab's worker owns the node, this one views it.
  const view = await openTab(browser, relay.url, tab.id, { context });
  tabs.push(view);
  await waitFor('the second tab views the first', async () => (await call(view, 'status')).tip === (await relay.status()).tip, 60_000);
  const { height } = await relay.status();
  await editJournal(view, (store, keys) => { store.put(new Uint8Array([0xff, 0xff, 0xff]), keys[keys.length - 1]); });
  const [a, b] = await Promise.all([call(tab, 'verifyChain'), call(view, 'verifyChain')]);
  // The restarts run one after the other: one finds the damage and clears the store, the
  // next one restarts from what the first left, which holds. Two found it: they shared one
  // restart of the damaged store, and two nodes would be running.
  const refused = [a, b].filter((r) => !r.ok);
  assert.equal(refused.length, 1, JSON.stringify([a, b]));
  assert.match(refused[0].fault, /^journal record: /);
  await inSync(tab, address);
  await inSync(view, address);
  await call(tab, 'flush');
  assert.deepEqual(await call(view, 'verifyChain'), { ok: true, height });
  await inSync(tab, address);
});

test('the database upgraded under the node to a schema it does not know: verify says why, and later calls fail instead of hanging', { timeout: 300_000 }, async () => {
  // Another page of the origin (a newer version of the site, say) opens the chain database
  // at schema 4 and drops the journal; the upgrade waits until verify closes the node's
  // connections. The restarted node cannot open a database newer than its own schema 3.
  const tab = await openTab(browser, relay.url, '5014', { context });
  await call(tab, 'createWallet');
  await call(tab, 'flush');
  await tab.page.evaluate((id) => {
    const req = indexedDB.open(`chain-${id}`, 4);
    req.onupgradeneeded = () => req.result.deleteObjectStore('journal');
    window.__upgraded = new Promise((resolve) => { req.onsuccess = () => { req.result.close(); resolve('upgraded'); }; req.onerror = () => resolve(String(req.error)); });
  }, tab.id);
  const why = /opening chain-5014: The requested version \(3\) is less than the existing version \(4\)\.$/;
  const verified = await tab.page.evaluate(() => window.node.verifyChain().then((v) => JSON.stringify(v), (e) => `rejected: ${e.message}`));
  assert.match(verified, /^rejected: /);
  assert.match(verified, why);
  assert.equal(await tab.page.evaluate(() => window.__upgraded), 'upgraded');
  const status = await tab.page.evaluate(() => Promise.race([
    window.node.status().then(() => 'answered', (e) => `rejected: ${e.message}`),
    new Promise((resolve) => setTimeout(() => resolve('no answer within 30 s'), 30_000)),
  ]));
  assert.match(status, /^rejected: the node is not running: storage error: /);
  assert.match(status, why);
  // What the page logged is that failure, nothing else.
  assert.ok(tab.errors.length > 0);
  for (const e of tab.errors) assert.match(e, why);
});

test('no page error in any tab', () => {
  for (const t of tabs) assert.deepEqual(t.errors, [], `node ${t.id}`);
});
