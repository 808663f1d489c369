// The user's acceptance test: DESIGN.md's nine steps played by the real relay binary and
// real Chromium tabs, then a late joiner, a reload, and a relay restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Relay, freePort, launchBrowser, openTab, screenshot, waitFor } from './harness.mjs';

/** The command name of a frame (after the 4 magic bytes, 12 zero-padded bytes). */
const command = (f) => f.subarray(4, 16).toString('latin1').replace(/\0+$/, '');

/** The 32-byte secrets in a tab's wallet database (`wallet-<id>`, store `keys`). */
async function tabSecrets(tab) {
  const rows = await tab.page.evaluate((id) => new Promise((resolve, reject) => {
    const req = indexedDB.open(`wallet-${id}`);
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const all = db.transaction('keys').objectStore('keys').getAll();
      all.onsuccess = () => resolve(all.result.map((v) => Array.from(new Uint8Array(v.buffer ?? v)).slice(0, 32)));
      all.onerror = () => reject(all.error);
    };
  }), tab.id);
  return rows.map((r) => Buffer.from(r));
}

/** The relay's secrets, from its wallet file (64 hex digits a line). */
function relaySecrets(r) {
  const text = readFileSync(join(r.dataDir, `wallet_${r.nodeId}.dat`), 'utf8');
  return text.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l.trim())).map((l) => Buffer.from(l.trim(), 'hex'));
}

const relay = new Relay('3000');
let browser;
const tabs = [];

after(async () => {
  for (const t of tabs) await t.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

const node = (tab) => tab.page.evaluateHandle(() => window.node);
const call = (tab, fn, ...args) => tab.page.evaluate(([fn, args]) => window.node[fn](...args), [fn, args]);
const balance = (tab, addr) => call(tab, 'getBalance', addr);
const height = async (tab) => (await call(tab, 'status')).height;

test('the seed scenario across real tabs and the real relay', { timeout: 600_000 }, async () => {
  // 1. The central node creates the blockchain; genesis pays CENTRAL.
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '12');
  const port = await freePort();
  await relay.start(port);
  browser = await launchBrowser();

  // 2. A wallet tab (node 3001) creates WALLET_1..WALLET_4 through the page.
  const wallet = await openTab(browser, relay.url, '3001');
  tabs.push(wallet);
  for (let i = 0; i < 4; i++) {
    await wallet.page.click('#create-wallet');
    await waitFor(`address ${i + 1}`, async () => (await call(wallet, 'listAddresses')).length === i + 1, 10_000);
  }
  const [w1, w2, w3, w4] = await call(wallet, 'listAddresses');

  // 3. The central node sends 10 to WALLET_1 and WALLET_2, each mined at once, through the
  //    running relay's control endpoint.
  await relay.cli('send', '--from', central, '--to', w1, '--amount', '10', '--mine');
  await relay.cli('send', '--from', central, '--to', w2, '--amount', '10', '--mine');

  // 4. The wallet tab downloads the chain: WALLET_1 = 10, WALLET_2 = 10, CENTRAL = 10.
  await waitFor('wallet tab synced to height 2', async () => (await height(wallet)) === 2);
  assert.equal(await balance(wallet, w1), 10);
  assert.equal(await balance(wallet, w2), 10);
  assert.equal(await balance(wallet, central), 10);

  // 5. A miner tab (node 3002) connects, downloads the chain and mines to MINER_WALLET.
  const miner = await openTab(browser, relay.url, '3002');
  tabs.push(miner);
  const minerAddr = await call(miner, 'createWallet');
  await waitFor('miner tab synced', async () => (await height(miner)) === 2);
  await miner.page.selectOption('#mining-address', minerAddr).catch(() => {});
  await miner.page.click('#start-mining');
  await waitFor('mining on', async () => (await call(miner, 'status')).mining);

  // 6. The wallet tab sends 1 from WALLET_1 to WALLET_3 and 1 from WALLET_2 to WALLET_4,
  //    through the send form.
  for (const [from, to] of [[w1, w3], [w2, w4]]) {
    await wallet.page.fill('#send-from', from).catch(() => wallet.page.selectOption('#send-from', from));
    await wallet.page.fill('#send-to', to);
    await wallet.page.fill('#send-amount', '1');
    await wallet.page.click('#send-button');
    await waitFor('payment accepted', async () => (await call(wallet, 'status')).mempool >= 1 || (await height(wallet)) > 2, 10_000);
    assert.equal((await wallet.page.textContent('#send-error'))?.trim() || '', '');
  }

  // 7-8. The relay forwards both; the miner mines a block; the wallet tab receives it.
  await waitFor('block 3 everywhere', async () =>
    (await height(wallet)) === 3 && (await height(miner)) === 3 && (await relay.status()).height === 3, 120_000);

  // The payments' signatures reached both tabs (as transactions, and in block 3) and were
  // checked by WebCrypto in their verify workers.
  for (const tab of [wallet, miner]) {
    const s = await call(tab, 'status');
    assert.ok(s.verifyWorkers >= 1, `node ${tab.id}: verify workers running`);
    assert.ok(s.signaturesVouched >= 1, `node ${tab.id}: ${s.signaturesVouched} frames vouched for`);
  }

  // 9. Balances in every node.
  const expected = [[w1, 9], [w2, 9], [w3, 1], [w4, 1], [minerAddr, 10], [central, 10]];
  for (const tab of [wallet, miner]) {
    for (const [addr, amount] of expected) {
      assert.equal(await balance(tab, addr), amount, `node ${tab.id}: balance of ${addr}`);
    }
  }
  for (const [addr, amount] of expected) {
    assert.match(await relay.cli('getbalance', '--address', addr), new RegExp(`: ${amount}$`));
  }

  // A third tab opened late syncs the whole chain.
  const late = await openTab(browser, relay.url, '3003');
  tabs.push(late);
  await waitFor('late tab synced', async () => (await height(late)) === 3);
  assert.equal(await balance(late, w3), 1);

  // The wallet tab reloaded keeps its addresses and balances from IndexedDB: it is at height
  // 3 at once and downloads no block again.
  wallet.received = [];
  await wallet.page.reload();
  await wallet.page.waitForFunction(() => window.node !== undefined);
  assert.equal(await height(wallet), 3, 'height straight from IndexedDB');
  assert.deepEqual(await call(wallet, 'listAddresses'), [w1, w2, w3, w4]);
  assert.equal(await balance(wallet, w1), 9);
  await waitFor('reloaded tab reconnected', async () => (await call(wallet, 'status')).peers >= 1);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(wallet.received.filter((f) => command(f) === 'block').length, 0, 'no block downloaded again');

  // The relay stops and restarts on the same port: the tabs reconnect without a reload, and
  // new payments still get mined.
  await relay.stop();
  await waitFor('tabs see the relay gone', async () =>
    (await call(wallet, 'status')).peers === 0 && (await call(miner, 'status')).peers === 0, 30_000);
  await relay.start(port);
  await waitFor('tabs reconnected', async () =>
    (await call(wallet, 'status')).peers >= 1 && (await call(miner, 'status')).peers >= 1, 60_000);
  await call(wallet, 'send', w3, w1, 1);
  await call(wallet, 'send', w4, w2, 1);
  await waitFor('block 4 everywhere', async () =>
    (await height(wallet)) === 4 && (await height(miner)) === 4 && (await relay.status()).height === 4, 120_000);
  assert.equal(await balance(wallet, w1), 10);
  assert.equal(await balance(miner, minerAddr), 20);

  // No frame the relay saw (everything the tabs sent) or sent (everything they received)
  // carries a private key: the tabs' keys from their IndexedDB, the relay's from its file.
  const secrets = [];
  for (const t of tabs) secrets.push(...(await tabSecrets(t)));
  secrets.push(...relaySecrets(relay));
  assert.ok(secrets.length >= 6, `found ${secrets.length} keys to look for`);
  let frames = 0;
  for (const t of tabs) {
    for (const f of [...t.sent, ...t.allReceived]) {
      frames++;
      for (const k of secrets) assert.equal(f.indexOf(k), -1, `a frame of node ${t.id} carries a private key`);
    }
  }
  assert.ok(frames > 50, `checked ${frames} frames`);

  for (const t of tabs) await screenshot(t, `scenario-node-${t.id}`);
  // Chromium logs a console error for every refused WebSocket while the relay is down; those
  // are expected. Anything else is a page error.
  for (const t of tabs) {
    const errors = t.errors.filter((e) => !/WebSocket connection|ERR_CONNECTION_REFUSED/.test(e));
    assert.deepEqual(errors, [], `node ${t.id} page errors`);
  }
});
