// Two tabs of one node in one browser. The story: a user opens node 3001, then opens it
// again in a second tab. The second tab must not open the node's databases a second time
// (two writers of one IndexedDB): it says which tab holds the node and works through it —
// same wallet, same balances, it can pay and mine. The first tab closes; the second takes
// the node over without a reload and keeps working. Both reload: every key and block is
// there once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, waitFor as waitUntil, text } from './harness.mjs';

const relay = new Relay('3000');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

const ID = '3001';
/** waitFor, naming each step as it starts when DEBUG_TEST is set. */
const waitFor = (what, ...rest) => {
  if (process.env.DEBUG_TEST) console.log(`step: ${what}`);
  return waitUntil(what, ...rest);
};
const addresses = (page) => page.$$eval('[data-testid=address-row]', (rows) => rows.map((r) => r.dataset.address));
const call = (page, fn, ...args) => page.evaluate(([fn, args]) => window.node[fn](...args), [fn, args]);

/** The keys of every record of one object store of one database, each as a string. */
const storeKeys = (page, db, store) => page.evaluate(([db, store]) => new Promise((resolve, reject) => {
  const show = (k) => (k instanceof ArrayBuffer || ArrayBuffer.isView(k)
    ? Array.from(new Uint8Array(k.buffer ?? k)).join(',') : JSON.stringify(k));
  const req = indexedDB.open(db);
  req.onerror = () => reject(req.error);
  req.onsuccess = () => {
    try {
      const all = req.result.transaction(store).objectStore(store).getAllKeys();
      all.onsuccess = () => { req.result.close(); resolve(all.result.map(show)); };
      all.onerror = () => reject(all.error);
    } catch (e) {
      reject(e);
    }
  };
}), [db, store]);

test('a second tab of a node is a live view of it, takes it over when the first closes, and nothing is written twice', { timeout: 300_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.start(await freePort());
  browser = await launchBrowser();

  const first = await openTab(browser, relay.url, ID);
  await first.page.click('#create-wallet');
  await waitFor('an address in the first tab', async () => (await addresses(first.page)).length === 1);
  const [mine] = await addresses(first.page);
  assert.equal(await first.page.getAttribute('body', 'data-node-mode'), 'owner');

  // The same node again, in a second tab of the same browser.
  const second = await openTab(browser, relay.url, ID, { context: first.context });
  await waitFor('the second tab is a view', async () => (await second.page.getAttribute('body', 'data-node-mode')) === 'view');
  assert.match(await text(second.page, '[data-testid=banner]'), new RegExp(`^Node ${ID} is held by another tab of this browser \\(opened at .+\\)\\. This tab shows it`));
  await waitFor('the same wallet in the second tab', async () => (await addresses(second.page)).join() === mine);

  // Coins arrive: both tabs show them.
  assert.equal(await relay.cli('send', '--from', central, '--to', mine, '--amount', '10', '--mine'), 'Success!');
  for (const t of [first, second]) {
    await waitFor('block #1 shown', async () => (await text(t.page, '#height')) === '1', 30_000);
    await waitFor('10 coins shown', async () => (await call(t.page, 'getBalance', mine)) === 10);
  }

  // The second tab pays 3 coins and mines the block (through the first tab's node).
  await waitFor('coins to spend in the second tab', async () => /10 coins/.test(await second.page.$eval('#send-from', (s) => s.options[0]?.textContent || '')));
  await second.page.selectOption('#send-from', mine);
  await second.page.fill('#send-to', central);
  await second.page.fill('#send-amount', '3');
  await second.page.click('#send-button');
  await waitFor('the payment pending in the second tab', async () => (await text(second.page, '[data-testid=payment-state]')) === 'pending');
  assert.equal(await relay.cli('send', '--from', central, '--to', central, '--amount', '1'), 'Success!');
  await waitFor('two waiting', async () => (await text(second.page, '#mempool-count')) === '2', 30_000);
  await second.page.selectOption('#mining-address', mine);
  await second.page.click('#start-mining');
  await waitFor('block #2 in the relay', async () => (await relay.status()).height === 2, 120_000);
  await second.page.click('#stop-mining');
  for (const t of [first, second]) {
    await waitFor('block #2 shown', async () => (await text(t.page, '#height')) === '2', 30_000);
    // 10 - 3 paid + 10 mined (the reward; fees are zero here).
    await waitFor('17 coins', async () => (await call(t.page, 'getBalance', mine)) === 17, 30_000);
  }
  assert.equal(await text(second.page, '[data-testid=payment-state]'), 'confirmed');

  // The first tab closes: the second holds the node now, without a reload, and goes on.
  await first.page.close();
  await waitFor('the second tab took the node over', async () => (await second.page.getAttribute('body', 'data-node-mode')) === 'owner', 30_000);
  assert.match(await text(second.page, '[data-testid=banner]'), new RegExp(`^This tab now holds node ${ID}`));
  await second.page.click('#create-wallet');
  await waitFor('a second address', async () => (await addresses(second.page)).length === 2);
  const both = await addresses(second.page);
  assert.equal(await relay.cli('send', '--from', central, '--to', both[1], '--amount', '2', '--mine'), 'Success!');
  await waitFor('block #3 in the second tab', async () => (await text(second.page, '#height')) === '3', 30_000);
  assert.equal(await call(second.page, 'getBalance', both[1]), 2);
  await call(second.page, 'flush');

  // Reload both (the first opened anew): nothing lost, nothing twice.
  await second.page.reload();
  await second.page.waitForFunction(() => window.node !== undefined, null, { timeout: 30_000 });
  const again = await openTab(browser, relay.url, ID, { context: first.context });
  await waitFor('the reopened tab is a view', async () => (await again.page.getAttribute('body', 'data-node-mode')) === 'view');
  for (const page of [second.page, again.page]) {
    await waitFor('both addresses', async () => (await addresses(page)).join() === both.join());
    await waitFor('at block #3', async () => (await call(page, 'status')).height === 3);
    assert.equal(await call(page, 'getBalance', mine), 17);
    assert.equal(await call(page, 'getBalance', both[1]), 2);
  }
  if (process.env.DEBUG_TEST) console.log('step: reading the databases');
  const keys = await storeKeys(again.page, `wallet-${ID}`, 'keys');
  assert.equal(keys.length, 2, 'two keys stored');
  assert.equal(new Set(keys).size, 2);
  // The chain's journal, read back by the node: four blocks, each once, and nothing that
  // its audit of the journal would warn about.
  const status = await call(second.page, 'status');
  assert.deepEqual(status.storageWarnings, []);
  assert.equal(status.storageError, null);
  const hashes = (await call(again.page, 'printChain')).map((b) => b.hash);
  assert.equal(hashes.length, 4, 'genesis and three blocks');
  assert.equal(new Set(hashes).size, 4);
  for (const t of [second, again]) assert.deepEqual(t.errors.filter((e) => !/favicon|404/.test(e)), []);
});
