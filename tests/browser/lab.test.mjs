// The network lab (/lab/): real node pages side by side in one tab, the live map, and the
// seed's scenario played by its button — paused, stepped, resumed — ending with the balance
// table 9/9/1/1/10 checked against every node; then checked again here, independently,
// through the relay's own command line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, waitFor, labScreenshot } from './harness.mjs';

const relay = new Relay('3000');
let browser;
let context;

after(async () => {
  if (context) await context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

/** How many narration steps are shown, and how many finished. */
const steps = (page) => page.evaluate(() => ({
  shown: document.querySelectorAll('#narration > li').length,
  done: document.querySelectorAll('#narration > li.done').length,
  failed: [...document.querySelectorAll('#narration > li.failed')].map((li) => li.textContent),
}));

test('the lab plays the seed scenario across its nodes and every node agrees on 9/9/1/1/10', { timeout: 600_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '12');
  await relay.start(await freePort());
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${relay.url}/lab?pace=200`);
  assert.match(page.url(), /\/lab\/\?pace=200$/, '/lab leads to the lab page');
  await page.waitForSelector('body[data-ready="true"]');

  // Two real nodes start in their frames and connect: their badges say so.
  await waitFor('both nodes connected on the map', () => page.evaluate(() =>
    [...document.querySelectorAll('[data-testid="map-node"]')].filter((n) => n.getAttribute('data-state') === 'up').length === 2));
  await labScreenshot(page, 'lab-start');

  // "Add a node" is one click: a third frame, a third badge, which syncs too.
  await page.click('#add-node');
  await waitFor('the third node connected', () => page.evaluate(() =>
    document.querySelector('[data-testid="map-node"][data-node="4003"]')?.getAttribute('data-state') === 'up'));
  assert.equal(await page.locator('.node-card iframe').count(), 3);

  // Play, pause at once: the first step finishes, then the run waits.
  await page.click('#play-seed');
  await page.click('#pause');
  await waitFor('the run paused', async () => (await page.textContent('#run-state')) === 'paused', 120_000);
  const paused = await steps(page);
  assert.deepEqual(paused.failed, []);
  assert.equal(paused.shown, paused.done, 'no step runs while paused');
  // Step: exactly one more step, then paused again.
  await page.click('#step');
  await waitFor('one more step', async () => {
    const s = await steps(page);
    return s.done === paused.done + 1 && (await page.textContent('#run-state')) === 'paused';
  }, 120_000);
  assert.equal((await steps(page)).shown, paused.done + 1);
  // Resume: the rest plays to the end.
  await page.click('#pause');
  await waitFor('the scenario to finish', async () => {
    const state = await page.getAttribute('#narration', 'data-state');
    if (state === 'failed') throw new Error(`the scenario failed: ${(await steps(page)).failed.join(' | ')}`);
    return state === 'passed';
  }, 400_000, 500);
  assert.equal((await steps(page)).done, 9, 'nine steps narrated');

  // The table: every node (the relay and the three lab nodes) has 9/9/1/1/10.
  assert.equal(await page.getAttribute('#balances', 'data-verdict'), 'pass');
  const rows = await page.$$eval('#balances tr[data-label]', (trs) => trs.map((tr) => ({
    label: tr.getAttribute('data-label'),
    address: tr.querySelector('th')?.getAttribute('title'),
    cells: [...tr.querySelectorAll('td')].map((td) => td.textContent),
  })));
  const expected = { WALLET_1: 9, WALLET_2: 9, WALLET_3: 1, WALLET_4: 1, MINER_WALLET: 10 };
  assert.deepEqual(rows.map((r) => r.label), Object.keys(expected));
  for (const r of rows) {
    // expected, relay, node 4001, 4002, 4003
    assert.equal(r.cells.length, 5, `${r.label}: a column per node`);
    for (const c of r.cells.slice(1)) assert.equal(c, `${expected[r.label]} ✓`, `${r.label}: ${r.cells}`);
    // The relay's own command line agrees with the page.
    assert.match(await relay.cli('getbalance', '--address', r.address), new RegExp(`: ${expected[r.label]}$`));
  }

  // The map saw every kind of message the scenario sends travel along its edges.
  for (const kind of ['inv', 'getdata', 'block', 'tx']) {
    const seen = Number(await page.getAttribute('#map', `data-seen-${kind}`));
    assert.ok(seen > 0, `the map showed ${kind} messages (${seen})`);
  }
  // Every badge shows the relay's height.
  const height = (await relay.status()).height;
  await waitFor('badges at the relay height', () => page.evaluate((h) =>
    [...document.querySelectorAll('[data-testid="map-node"]')].every((n) => n.getAttribute('data-height') === String(h)), height));
  await labScreenshot(page, 'lab-scenario-done');

  // On a phone the lab stacks: nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await waitFor('the layout at 390 px', () => page.evaluate(() => document.documentElement.scrollWidth <= 390));
  await labScreenshot(page, 'lab-390');
  assert.deepEqual(errors, []);
});
