// Faults on the relay's side of the lab's links (/lab/link/ID): the relay loses every
// message to and from node 4002 — a block reaches node 4001 and not 4002 — until the loss
// ends and 4002 catches up; a slow link still converges; the relay taken out for the lab's
// nodes leaves them without peers, and they sync what was mined meanwhile once it is back;
// the relay forges one block for node 4002, which refuses it with its reason and scores the
// relay, then fetches the real block.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, waitFor, labScreenshot, openLab, closeLab, playLabRun } from './harness.mjs';

const relay = new Relay('3000');
/** @type {Awaited<ReturnType<typeof openLab>> | undefined} */
let lab;

after(() => closeLab(relay, lab));

/** A lab node's status, from its own facade. */
const status = (page, i) => page.evaluate((n) => window.lab.nodes[n].node.status(), i);
/** The relay mines a payment from CENTRAL to itself (through the lab's own endpoint). */
const mineOne = (page) => page.evaluate(async () => window.lab.relay.fund(await window.lab.relay.central(), 1));

test('the relay slows, loses and takes down the lab nodes\' links, and each is undone', { timeout: 600_000 }, async () => {
  lab = await openLab(relay, { nodes: 2 });
  const { page, errors } = lab;
  // Both frames go through the relay's lab links.
  const srcs = await page.$$eval('.node-card iframe', (fs) => fs.map((f) => f.getAttribute('src')));
  for (const s of srcs) assert.match(decodeURIComponent(s), /&relay=ws:\/\/127\.0\.0\.1:\d+\/lab\/link\/400[12]$/);

  // Loss: 4002 hears nothing more; 4001 gets the next block.
  const h = (await relay.status()).height;
  await page.click('.node-card[data-node="4002"] .drop-button');
  await waitFor('the lossy edge on the map', () => page.evaluate(() =>
    document.querySelector('line.edge[data-node="4002"]')?.getAttribute('data-fault') === 'lossy'));
  await mineOne(page);
  await waitFor('node 4001 at the new block', async () => (await status(page, 0)).height === h + 1);
  assert.equal((await status(page, 1)).height, h, 'node 4002 never got the block');
  await labScreenshot(page, 'lab-link-lossy');
  // The loss ends: 4002 reconnects and fetches what it missed.
  await page.click('.node-card[data-node="4002"] .drop-button');
  await waitFor('node 4002 caught up', async () => (await status(page, 1)).height === h + 1);
  assert.equal(await page.getAttribute('line.edge[data-node="4002"]', 'data-fault'), '');

  // Slow: each message waits, and the node still follows the chain.
  await page.click('.node-card[data-node="4002"] .slow-button');
  await waitFor('the slow edge on the map', () => page.evaluate(() =>
    document.querySelector('line.edge[data-node="4002"]')?.getAttribute('data-fault') === 'slow'));
  await mineOne(page);
  await waitFor('node 4002 at the block over the slow link', async () => (await status(page, 1)).height === h + 2, 120_000);
  await page.click('.node-card[data-node="4002"] .slow-button');

  // The relay out: the lab's nodes lose their peer; a block is mined meanwhile; back, they sync it.
  await page.click('#relay-out');
  await waitFor('the relay out on the map', async () => (await page.getAttribute('#map', 'data-relay')) === 'out');
  await waitFor('both nodes without peers', async () => (await status(page, 0)).peers === 0 && (await status(page, 1)).peers === 0);
  await mineOne(page);
  await labScreenshot(page, 'lab-relay-out');
  assert.equal((await status(page, 0)).height, h + 2, 'nothing reaches a node while the relay is out');
  await page.click('#relay-out');
  await waitFor('both nodes back at the relay\'s height', async () =>
    (await status(page, 0)).height === h + 3 && (await status(page, 1)).height === h + 3, 120_000);
  assert.equal(await page.getAttribute('#map', 'data-relay'), 'up');

  // The hostile relay: a forged block to 4002 only.
  const { state, narration } = await playLabRun(page, '#play-hostile', 'the hostile run');
  assert.equal(state, 'passed', narration);
  assert.match(narration, /Node 4002 refused the block: .*proof.of.work/i);
  assert.match(narration, /It scored the peer that sent it: .*\(score -?\d+\)/);
  const end = (await relay.status()).height;
  assert.equal(end, h + 4);
  assert.equal((await status(page, 0)).height, end);
  assert.equal((await status(page, 1)).height, end, 'node 4002 took the real block in the end');
  await labScreenshot(page, 'lab-hostile');
  assert.deepEqual(errors, []);
});
