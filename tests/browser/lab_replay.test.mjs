// Replays: the lab records what its map shows (messages and badges, with their times),
// plays it back on the map, and loads a recording from a file — a 50-node run written by
// something other than the lab, say — after checking it whole; a file that is not a
// recording is refused with its reason and changes nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Relay, waitFor, labScreenshot, openLab, closeLab } from './harness.mjs';

const relay = new Relay('3000');
/** @type {Awaited<ReturnType<typeof openLab>> | undefined} */
let lab;

after(() => closeLab(relay, lab));

const status = (page, i) => page.evaluate((n) => window.lab.nodes[n].node.status(), i);
const seen = (page) => page.evaluate(() => Object.fromEntries(['inv', 'getdata', 'block', 'tx', 'other']
  .map((k) => [k, Number(document.getElementById('map').getAttribute(`data-seen-${k}`) || 0)])));

/** Waits for the replay to finish. */
const replayed = (page) => waitFor('the replay to end', async () => (await page.getAttribute('#replay-state', 'data-state')) === 'done', 120_000);

test('a run is recorded, replayed on the map, and a 50-node recording is loaded and replayed', { timeout: 600_000 }, async () => {
  lab = await openLab(relay, { nodes: 2 });
  const { page, errors } = lab;

  // Record: the relay mines a block, both nodes fetch it.
  await page.click('#record');
  const h = (await relay.status()).height;
  await page.evaluate(async () => window.lab.relay.fund(await window.lab.relay.central(), 1));
  await waitFor('both nodes at the new block', async () => (await status(page, 0)).height === h + 1 && (await status(page, 1)).height === h + 1);
  // The badges show the new height before the recording stops.
  await waitFor('badges at the new height', () => page.evaluate((x) =>
    [...document.querySelectorAll('[data-testid="map-node"]')].every((b) => b.getAttribute('data-height') === String(x)), h + 1));
  await page.click('#record');
  const recording = await page.evaluate(() => window.lab.recording);
  const recorded = { inv: 0, getdata: 0, block: 0, tx: 0, other: 0 };
  for (const e of recording.events) {
    if (e.message) recorded[['inv', 'getdata', 'block', 'tx'].includes(e.message.command) ? e.message.command : 'other'] += 1;
  }
  assert.ok(recorded.inv > 0 && recorded.getdata > 0 && recorded.block > 0, `recorded ${JSON.stringify(recorded)}`);
  assert.ok(recording.events.some((e) => e.badge && e.badge.height === h + 1), 'the new height is in the recording');

  // Replay at 16×: the map counts exactly the recorded messages, and ends on the recorded heights.
  await page.selectOption('#replay-speed', '16');
  await page.click('#replay');
  await waitFor('the replay to start', async () => (await page.getAttribute('#map', 'data-replay')) === 'on' || (await page.getAttribute('#replay-state', 'data-state')) === 'done');
  await replayed(page);
  assert.deepEqual(await seen(page), recorded, 'the replay showed every recorded message');
  assert.ok(await page.evaluate((x) => [...document.querySelectorAll('[data-testid="map-node"]')]
    .every((b) => b.getAttribute('data-height') === String(x)), h + 1), 'the replay ends on the recorded heights');
  await page.click('#live');
  await waitFor('the live map back', async () => (await seen(page)).inv === 0 && !(await page.isVisible('#live')));

  // A file that is not a recording: refused with its reason; the last recording stays.
  const dir = mkdtempSync(join(tmpdir(), 'lab-replay-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ format: 'blockchain-lab-recording', version: 1, nodes: ['a'], events: [{ t: 0, node: 'b', message: { direction: 'in', command: 'inv' } }] }));
  await page.setInputFiles('#load-recording', bad);
  await waitFor('the refusal', async () => (await page.getAttribute('#replay-state', 'data-state')) === 'refused');
  assert.match(await page.textContent('#replay-state'), /names a node not in "nodes"/);
  assert.equal((await page.evaluate(() => window.lab.recording.events.length)), recording.events.length);

  // A 50-node run written elsewhere: each node announces a block to the next, which asks for it.
  const nodes = Array.from({ length: 50 }, (_, i) => `sim-${i}`);
  const events = [];
  let t = 0;
  for (const [i, n] of nodes.entries()) {
    events.push({ t: t++, node: n, badge: { height: 0, connected: true, cut: false, mining: false } });
  }
  for (const [i, n] of nodes.entries()) {
    events.push({ t: t += 20, node: n, message: { direction: 'in', command: 'inv' } });
    events.push({ t: t += 20, node: n, message: { direction: 'out', command: 'getdata' } });
    events.push({ t: t += 20, node: n, message: { direction: 'in', command: 'block' } });
    events.push({ t: t += 1, node: n, badge: { height: 1, connected: true, cut: false, mining: i === 0 } });
  }
  const sim = join(dir, 'sim.json');
  writeFileSync(sim, JSON.stringify({ format: 'blockchain-lab-recording', version: 1, nodes, events }));
  await page.setInputFiles('#load-recording', sim);
  await waitFor('the simulated run loaded', async () => (await page.getAttribute('#replay-state', 'data-state')) === 'loaded');
  await page.selectOption('#replay-speed', '1');
  await page.click('#replay');
  await waitFor('fifty badges on the map', () => page.evaluate(() => document.querySelectorAll('[data-testid="map-node"]').length === 50));
  await labScreenshot(page, 'lab-replay-50-nodes');
  await replayed(page);
  assert.equal(await page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="map-node"]')].filter((b) => b.getAttribute('data-height') === '1').length), 50);
  assert.deepEqual(await seen(page), { inv: 50, getdata: 50, block: 50, tx: 0, other: 0 });
  // Back to live: the lab's own two nodes are on the map again.
  await page.click('#live');
  await waitFor('the live nodes back', () => page.evaluate(() => document.querySelectorAll('[data-testid="map-node"]').length === 2));
  assert.deepEqual(errors, []);
});
