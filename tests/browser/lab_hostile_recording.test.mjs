// A recording file is outside data: someone sends the learner a "recording" built to attack
// the lab. Node names carrying HTML (to run script in the map or the narration), a command
// carrying HTML, a node named `__proto__` and events hours apart or at absurd times, a
// badge with a height past what a number holds exactly, a file too big to read, a file that
// is JSON nested thousands deep: each is refused with its reason, or — where harmless —
// played without running anything, without polluting any object, and without stalling.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Relay, waitFor, openLab, closeLab } from './harness.mjs';

const relay = new Relay('3000');
/** @type {Awaited<ReturnType<typeof openLab>> | undefined} */
let lab;

after(() => closeLab(relay, lab));

const dir = mkdtempSync(join(tmpdir(), 'lab-hostile-'));
const recording = (nodes, events) => ({ format: 'blockchain-lab-recording', version: 1, nodes, events });
const badge = (height) => ({ height, connected: true, cut: false, mining: false });

/** Loads `data` (an object, or text as it is) through the lab's file input; the state and text shown. */
async function load(page, name, data) {
  const file = join(dir, name);
  writeFileSync(file, typeof data === 'string' ? data : JSON.stringify(data));
  await page.evaluate(() => { const s = document.getElementById('replay-state'); s.dataset.state = ''; });
  await page.setInputFiles('#load-recording', file);
  const state = await waitFor(`${name} to be read`, async () => (await page.getAttribute('#replay-state', 'data-state')) || null);
  return { state, text: await page.textContent('#replay-state') };
}

test('hostile recordings are refused with their reason or played harmlessly', { timeout: 300_000 }, async () => {
  lab = await openLab(relay, { nodes: 1 });
  const { page, errors } = lab;
  await page.evaluate(() => { window.__ran = false; });
  const xss = '<img src=x onerror="window.__ran=true">';

  let r = await load(page, 'html-node.json', recording([xss], [{ t: 0, node: xss, badge: badge(1) }]));
  assert.equal(r.state, 'refused');
  assert.match(r.text, /node id is not 1 to 32 letters/);
  r = await load(page, 'html-command.json', recording(['a'], [{ t: 0, node: 'a', message: { direction: 'in', command: xss } }]));
  assert.equal(r.state, 'refused');
  assert.match(r.text, /command is 1 to 12 lower-case letters/);
  r = await load(page, 'html-version.json', { format: 'blockchain-lab-recording', version: xss, nodes: [], events: [] });
  assert.equal(r.state, 'refused');
  assert.equal(await page.$$eval('#replay-state *', (els) => els.length), 0, 'the reason is shown as text');
  r = await load(page, 'unsafe-height.json', recording(['a'], [{ t: 0, node: 'a', badge: badge(2 ** 60) }]));
  assert.equal(r.state, 'refused');
  r = await load(page, 'time-backwards.json', recording(['a'], [{ t: 5, node: 'a', badge: badge(1) }, { t: -1e300, node: 'a', badge: badge(2) }]));
  assert.equal(r.state, 'refused');
  assert.match(r.text, /times must be numbers in order/);
  r = await load(page, 'deep.json', `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
  assert.equal(r.state, 'refused');
  assert.match(r.text, /^Not a lab recording: /);
  r = await load(page, 'huge.json', `{"format":"blockchain-lab-recording","pad":"${'x'.repeat(9 * 1024 * 1024)}"}`);
  assert.equal(r.state, 'refused');
  assert.match(r.text, /larger than 8 MB/);

  // Harmless but odd: a node named __proto__, events hours apart and at a time past any
  // clock. Played at once (long gaps are shortened), drawn as text, nothing polluted.
  r = await load(page, 'proto.json', recording(['__proto__', 'constructor'], [
    { t: 0, node: '__proto__', badge: badge(1) },
    { t: 3_600_000, node: 'constructor', message: { direction: 'out', command: 'constructor' } },
    { t: 1e300, node: '__proto__', badge: badge(7) },
  ]));
  assert.equal(r.state, 'loaded', r.text);
  await page.click('#replay');
  await waitFor('the odd replay to end', async () => (await page.getAttribute('#replay-state', 'data-state')) === 'done', 60_000);
  const shown = await page.evaluate(() => ({
    proto: document.querySelector('[data-testid="map-node"][data-node="__proto__"]')?.getAttribute('data-height'),
    names: [...document.querySelectorAll('[data-testid="map-node"] .name')].map((t) => t.textContent),
    polluted: Object.keys(Object.prototype).length + Object.keys({}).length,
    other: document.getElementById('map').getAttribute('data-seen-other'),
  }));
  assert.deepEqual(shown, { proto: '7', names: ['__proto__', 'constructor'], polluted: 0, other: '1' });
  assert.equal(await page.evaluate(() => window.__ran), false, 'no script from a recording ran');
  assert.equal(await page.$$eval('img', (imgs) => imgs.length), 0);
  assert.deepEqual(errors, []);
});
