// A 50-node simulated run watched in the lab: the simulator (node-core's `simulate` example,
// real nodes over simulated links) writes its run in the lab's recording format with
// `--replay-out`; the lab loads the file, checks it whole, and plays it on the map: every
// client on the map, the messages it exchanged with the relays, and each badge ending on
// the height the simulation reached.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Relay, REPO, waitFor, labScreenshot, openLab, closeLab } from './harness.mjs';

const run = promisify(execFile);
const relay = new Relay('3000');
/** @type {Awaited<ReturnType<typeof openLab>> | undefined} */
let lab;

after(() => closeLab(relay, lab));

test('a 50-node simulated run, written by the simulator, is loaded and replayed on the map', { timeout: 900_000 }, async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'lab-sim-')), 'sim.json');
  const { stdout, stderr } = await run('cargo', ['run', '-q', '--release', '-p', 'node-core', '--example', 'simulate', '--',
    '--nodes', '50', '--miners', '2', '--txs', '20', '--seed', '7', '--replay-out', file],
  { cwd: REPO, env: { ...process.env, CARGO_INCREMENTAL: '0' }, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  const report = JSON.parse(stdout.trim().split('\n').pop());
  assert.ok(report.converged, `the simulated run converged: ${stdout}\n${stderr.slice(-2000)}`);
  const written = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(written.format, 'blockchain-lab-recording');
  assert.equal(written.nodes.length, 47, 'fifty nodes: three relays and 47 clients on the map');

  lab = await openLab(relay, { nodes: 1 });
  const { page } = lab;
  await page.setInputFiles('#load-recording', file);
  await waitFor('the simulated run loaded', async () => {
    const s = await page.getAttribute('#replay-state', 'data-state');
    if (s === 'refused') throw new Error(await page.textContent('#replay-state'));
    return s === 'loaded';
  });
  await page.selectOption('#replay-speed', '16');
  await page.click('#replay');
  await waitFor('every client on the map', () => page.evaluate((n) =>
    document.querySelectorAll('[data-testid="map-node"]').length === n, written.nodes.length));
  await waitFor('some messages in flight', () => page.evaluate(() => Number(document.getElementById('map').getAttribute('data-seen-inv') || 0) > 0));
  await labScreenshot(page, 'lab-sim-replay-50-nodes');
  await waitFor('the replay to end', async () => (await page.getAttribute('#replay-state', 'data-state')) === 'done', 600_000, 500);

  // Each badge ends on the last height the file gives its node; all of them on the run's height.
  const last = {};
  for (const e of written.events) if (e.badge) last[e.node] = e.badge.height;
  const shown = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid="map-node"]')]
    .map((b) => [b.getAttribute('data-node'), Number(b.getAttribute('data-height'))])));
  assert.deepEqual(shown, last);
  assert.ok(Object.values(shown).every((h) => h === report.height), `every client at height ${report.height}: ${JSON.stringify(shown)}`);
  const inFile = written.events.filter((e) => e.message && e.message.command === 'block').length;
  assert.equal(await page.evaluate(() => Number(document.getElementById('map').getAttribute('data-seen-block') || 0)), inFile);
  assert.deepEqual(lab.errors, []);
});
