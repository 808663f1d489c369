// The relay stopped and restarted from the lab, for real: "Restart the relay" makes the
// relay process stop (the map shows it not answering, every node loses its connection),
// stay down a few seconds, and start again from its database. The nodes reconnect by
// themselves, the lab fetches its new key, and a block mined after the restart reaches
// every node: they converge on the relay's chain.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, waitFor, labScreenshot, openLab, closeLab } from './harness.mjs';

const relay = new Relay('3000');
/** @type {Awaited<ReturnType<typeof openLab>> | undefined} */
let lab;

after(() => closeLab(relay, lab));

const statuses = (page) => page.evaluate(() => Promise.all(window.lab.nodes.map((n) => n.node.status())));

test('the relay restarts from the lab; its nodes lose it, reconnect and converge', { timeout: 600_000 }, async () => {
  lab = await openLab(relay, { nodes: 2 });
  const { page } = lab;
  const before = await relay.status();
  const pid = relay.proc.pid;

  await page.click('#relay-restart');
  await waitFor('the map to show the relay gone', async () =>
    (await page.getAttribute('#map', 'class'))?.includes('relay-down'), 30_000, 100);
  await waitFor('every node to lose the relay', async () => (await statuses(page)).every((s) => s.peers === 0), 30_000, 100);
  await labScreenshot(page, 'lab-relay-restart-down');

  await waitFor('the relay back', () => relay.status().catch(() => null), 60_000);
  assert.equal(relay.proc.pid, pid, 'the same process, run again in place');
  const back = await relay.status();
  assert.equal(back.height, before.height, 'the relay came back from its database');
  await waitFor('the map to show the relay back', async () =>
    !(await page.getAttribute('#map', 'class'))?.includes('relay-down'), 30_000);
  await waitFor('every node reconnected', async () => (await statuses(page)).every((s) => s.peers === 1), 120_000);

  // A block after the restart (the lab asks with its new key): every node takes it.
  await page.evaluate(async () => window.lab.relay.fund(await window.lab.relay.central(), 1));
  const tip = (await relay.status()).tip;
  assert.equal((await relay.status()).height, before.height + 1);
  await waitFor('every node on the new tip', async () => (await statuses(page)).every((s) => s.tip === tip), 120_000);
  await waitFor('the badges at the new height', () => page.evaluate((h) =>
    [...document.querySelectorAll('[data-testid="map-node"]')].every((b) => b.getAttribute('data-height') === String(h)), before.height + 1));
  assert.match(await page.textContent('#lab-note'), /started again from its database/);
  await labScreenshot(page, 'lab-relay-restart-converged');
  assert.deepEqual(lab.errors, []);
});
