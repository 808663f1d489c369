// Mining that shows itself, read from what a miner tab SHOWS (DOM text): "hashing" and a
// non-zero hash rate while a block is being hashed, the last measured rate kept readable
// between blocks, and blocks found counted with how many are still on the chain. Also the
// wallet tab's "Known nodes": the relay it is connected to, heard from now, each node once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, waitFor, text } from './harness.mjs';

/** Difficulty of this test's chain: about 16 million hashes a block, a few seconds in a tab
 *  (the node measures its rate once a second, so blocks must take longer than that to be
 *  measured at all), and a few seconds for the relay's two blocks. */
const BITS = '24';
/** Rounds of two payments the test mines at most before it has seen a measured rate:
 *  a block may be found by luck in under a second, and three such blocks in a row happened
 *  once in a full test run (session 12); the loop ends as soon as both were seen. */
const MAX_ROUNDS = 6;

const relay = new Relay('3000');
let browser;
const tabs = [];
after(async () => {
  for (const t of tabs) await t.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

const call = (tab, fn, ...args) => tab.page.evaluate(([fn, args]) => window.node[fn](...args), [fn, args]);

test('a miner tab shows hashing, a readable rate and its blocks; known nodes show who is heard now', { timeout: 600_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', BITS);
  await relay.start(await freePort());
  browser = await launchBrowser();

  // A wallet tab with two funded addresses: two payments a round, from different coins.
  const wallet = await openTab(browser, relay.url, '6001');
  tabs.push(wallet);
  const a = await call(wallet, 'createWallet');
  const b = await call(wallet, 'createWallet');
  const c = await call(wallet, 'createWallet');
  await relay.cli('send', '--from', central, '--to', a, '--amount', '10', '--mine');
  await relay.cli('send', '--from', central, '--to', b, '--amount', '10', '--mine');
  await waitFor('wallet at height 2', async () => (await text(wallet.page, '#height')) === '2', 60_000);

  // Known nodes: the relay, connected, heard from now, listed once.
  await waitFor('relay in known nodes', async () => /3000 relay connected now/.test(await text(wallet.page, '[data-testid=known-node][data-node="3000"]')), 10_000);
  const ids = await wallet.page.$$eval('[data-testid=known-node]', (li) => li.map((l) => l.dataset.node));
  assert.equal(new Set(ids).size, ids.length, `each node once: ${ids}`);

  const miner = await openTab(browser, relay.url, '6002');
  tabs.push(miner);
  const reward = await call(miner, 'createWallet');
  await waitFor('miner at height 2', async () => (await text(miner.page, '#height')) === '2', 60_000);
  await miner.page.selectOption('#mining-address', reward);
  await miner.page.click('#start-mining');
  await waitFor('waiting for transactions', async () => (await text(miner.page, '[data-testid=mining-state]')) === 'waiting for transactions', 10_000);

  // Rounds of two payments; the test looks at the miner tab every 100 ms, as a user would.
  let sawHashing = false;
  let sawRate = false;
  let height = 2;
  for (let round = 0; round < MAX_ROUNDS && !(sawHashing && sawRate); round++) {
    await call(wallet, 'send', a, c, '1');
    await call(wallet, 'send', b, c, '1');
    height++;
    await waitFor(`block #${height} mined`, async () => {
      const state = await text(miner.page, '[data-testid=mining-state]');
      const rate = await text(miner.page, '[data-testid=hashrate]');
      if (state === 'hashing') sawHashing = true;
      if (state === 'hashing' && /^[1-9][\d.]* [kMG]?H\/s$/.test(rate)) sawRate = true;
      return (await text(miner.page, '#height')) === String(height) && (await text(wallet.page, '#height')) === String(height);
    }, 120_000, 100);
  }
  assert.ok(sawHashing, 'the miner tab said "hashing" while mining');
  assert.ok(sawRate, 'the miner tab showed a non-zero hash rate while hashing');

  // Between blocks: the last measured rate stays, said to be the last; blocks found are
  // counted with how many are on the chain; the last block's story is told.
  const found = height - 2;
  await waitFor('between blocks', async () => (await text(miner.page, '[data-testid=mining-state]')) === 'waiting for transactions', 10_000);
  assert.match(await text(miner.page, '[data-testid=hashrate]'), /^[1-9][\d.]* [kMG]?H\/s \(last measured, between blocks\)$/);
  await waitFor('blocks counted', async () => (await text(miner.page, '[data-testid=blocks-found]')) === `${found} · ${found} in the chain`, 10_000);
  assert.match(await text(miner.page, '[data-testid=last-found]'), new RegExp(`^Last: block #${height} found after about [\\d.]+ s of hashing`));
  assert.deepEqual(miner.errors, []);
  assert.deepEqual(wallet.errors, []);
});
