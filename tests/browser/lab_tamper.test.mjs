// Someone with the browser's developer tools rewrites a coin in a node's own IndexedDB: the
// 7 coins that block #k paid to node 4002 now say 70 in its stored UTXO set (the block
// bodies are in a file the node's worker holds open, out of the page's reach). The node's
// memory still holds the coin the checked block made, but a restart would trust storage.
// "Verify my chain" replays the stored chain from genesis and finds that the stored UTXO set
// is not the one the blocks up to the tip create; the node refuses it (stops, drops the
// stored chain, downloads it again) and ends with the real coin: 7, as the relay and node
// 4001 say. Played twice: as the lab's narrated fault, and by hand through the node page's
// own "Verify my chain" button, with screenshots.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, waitFor, labScreenshot, openLab, closeLab, playLabRun } from './harness.mjs';

const relay = new Relay('3000');
/** @type {Awaited<ReturnType<typeof openLab>> | undefined} */
let lab;

after(() => closeLab(relay, lab));

/** Calls `method(...args)` on lab node `i`'s facade. */
const call = (page, i, method, ...args) => page.evaluate(([n, m, a]) => window.lab.nodes[n].node[m](...a), [i, method, args]);

test('a coin rewritten in a node\'s storage is found by "verify my chain" and never used', { timeout: 600_000 }, async () => {
  lab = await openLab(relay, { nodes: 2 });
  const { page, errors } = lab;

  // The lab's narrated fault, end to end.
  const { state, narration } = await playLabRun(page, '#play-tamper', 'the tamper run');
  assert.equal(state, 'passed', narration);
  const k = Number(/in block #(\d+)/.exec(narration)?.[1]);
  assert.ok(k >= 1, narration);
  assert.match(narration, new RegExp(`rewrote the coin block #${k} paid to \\w{10}… in the stored UTXO set: its 7 coins now say 70`));
  // The tip when the lab tampered: block #k itself, unless a block came since.
  const tip = Number(/block #(\d+) is the tip, and the stored UTXO set is not the one the blocks up to it create\./.exec(narration)?.[1]);
  assert.ok(tip >= k, narration);
  assert.match(narration, /replayed they pay \w{10}… 7 coins, not the 70 its storage says/);
  assert.match(narration, /holds 7 coins, not 70/);
  await labScreenshot(page, 'lab-tamper');

  // Everyone agrees on the real block #k: the relay, node 4001 and the repaired node 4002.
  const address = /new address (\w{10})…/.exec(narration)?.[1];
  const [block] = await call(page, 1, 'printChain', 1);
  const real = await page.evaluate((h) => window.lab.nodes[0].node.printChain(h + 1), (await call(page, 0, 'status')).height)
    .then((blocks) => blocks.find((b) => b.height === k));
  const repaired = await call(page, 1, 'getBlock', real.hash);
  assert.ok(repaired, 'node 4002 has block #k again, by its hash');
  assert.deepEqual(repaired.txs, real.txs, 'node 4002 holds the block as mined');
  const paid = real.txs.flatMap((t) => t.outputs).find((o) => o.address.startsWith(address));
  assert.equal(paid.value, 7);
  assert.equal(await page.evaluate((a) => window.lab.relay.balance(a), paid.address), 7);
  assert.equal(block.height, (await relay.status()).height);

  // By hand, through node 4002's own page: its storage holds now...
  const frame = page.frameLocator('.node-card[data-node="4002"] iframe');
  await frame.locator('#verify-chain').click();
  await waitFor('the page says the stored chain holds', async () =>
    /^The stored chain holds: blocks #0–#\d+ match their headers/.test(await frame.locator('#verify-result').textContent()), 120_000);

  // ... and after a second rewrite of the same coin, the button says the coins do not add up.
  const changed = await page.evaluate(async (a) => {
    const { rewriteStoredCoin } = await import('/lab/tamper.js');
    await window.lab.nodes[1].node.flush();
    return rewriteStoredCoin('4002', a, 7, 70);
  }, paid.address);
  assert.equal(changed, 1, 'the stored coin paying 7 to node 4002 rewritten');
  const height = (await call(page, 1, 'status')).height;
  await frame.locator('#verify-chain').click();
  const said = await waitFor('the page names the tip', async () => {
    const t = await frame.locator('#verify-result').textContent();
    return /^Stored block/.test(t) && t;
  }, 120_000);
  assert.match(said, new RegExp(`^Stored block #${height} is the tip, and the stored UTXO set is not the one the blocks up to it create\\. This node will not serve it`));
  await labScreenshot(page, 'lab-tamper-page-button');
  await waitFor('node 4002 downloaded the chain again', async () =>
    (await call(page, 1, 'status')).height === (await relay.status()).height, 120_000);
  assert.deepEqual((await call(page, 1, 'getBlock', real.hash)).txs, real.txs);
  assert.equal(await call(page, 1, 'getBalance', paid.address), 7);
  assert.equal((await call(page, 1, 'verifyChain')).ok, true);
  assert.deepEqual(errors, []);
});
