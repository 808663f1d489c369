// A newcomer plays the page's first-run guide with the real relay and real Chromium tabs:
// an address, coins from the relay through the exact command the guide shows, a payment
// through the send form, a miner tab opened from the guide's link, the payment mined. Every
// check reads what the page shows (DOM text), not window.node. Also: friendly refusals in
// the send form, explorer links and search, no sideways scrolling at 390×844, the guide
// hidden for good, and screenshots at 1366×900 and 390×844 in tests/artifacts/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ARTIFACTS, RELAY_BIN, Relay, freePort, launchBrowser, waitFor, text } from './harness.mjs';

const sh = promisify(execFile);
const relay = new Relay('3000');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

/** The visible text of the first element matching `selector` ('' if none). */
const stepStates = (page) => page.$$eval('[data-testid=guide-step]', (li) => li.map((l) => l.dataset.state));
const noSidewaysScroll = (page) => page.evaluate(() => document.scrollingElement.scrollWidth <= innerWidth);
const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

async function open(url, width, height) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => window.node !== undefined, null, { timeout: 30_000 });
  return { page, errors };
}

/** Watches, every 10 ms (as often as a screen could show it), that the top bar's height,
 *  the sync line, the newest row of the block list and (following the tip) the explorer's
 *  block all name the same height; `tipWatch(page)` reads what it saw. */
const watchTip = (page) => page.evaluate(() => {
  const w = { samples: 0, heights: [], bad: [] };
  window.tipWatch = w;
  setInterval(() => {
    const top = document.getElementById('height')?.textContent;
    const row = document.querySelector('[data-testid=block-row] .h')?.textContent?.replace('#', '');
    if (!top || top === '–' || !row) return;
    const shown = { top, row };
    const sync = /at height (\d+)$/.exec(document.getElementById('sync-text')?.textContent || '');
    if (sync) shown.sync = sync[1];
    const title = /^Block #(\d+)$/.exec(document.querySelector('[data-testid=view-title]')?.textContent || '');
    if (title && !location.hash) shown.explorer = title[1];
    w.samples++;
    if (!w.heights.includes(top)) w.heights.push(top);
    if (Object.values(shown).some((h) => h !== top)) w.bad.push(shown);
  }, 10);
});
const tipWatch = (page) => page.evaluate(() => window.tipWatch);

test('a newcomer follows the guide from nothing to a mined payment', { timeout: 300_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '12');
  await relay.start(await freePort());
  browser = await launchBrowser();
  const { page, errors } = await open(`${relay.url}/?node=5001`, 1366, 900);

  await watchTip(page);

  // Step 1: the guide is there and says what to do first.
  assert.match(await text(page, '#guide'), /Getting started/);
  assert.deepEqual(await stepStates(page), ['now', 'later', 'later', 'later']);
  await page.click('[data-testid=guide-create]');
  await waitFor('an address shown', async () => /^1\w{25,34}$/.test(await text(page, '[data-testid=address]')), 10_000);
  const mine = await text(page, '[data-testid=address]');
  await waitFor('step 1 ticked', async () => (await stepStates(page))[0] === 'done', 5_000);

  // Step 2: the command shown, with the address filled in, is what gets the coins.
  const command = await text(page, '[data-testid=guide-command]');
  assert.ok(command.includes(`--to ${mine}`) && command.includes('--mine') && command.includes('send --from'), command);
  const real = command.replaceAll('target/release/relay-server --data-dir data', `'${RELAY_BIN}' --node-id 3000 --data-dir '${relay.dataDir}'`);
  await sh('sh', ['-c', real], { timeout: 60_000 });
  await waitFor('10 coins shown', async () => (await text(page, '[data-testid=balance]')) === '10', 30_000);
  // The relay's block reached every panel at once: one refresh cycle draws them all.
  assert.equal(await text(page, '#height'), '1');
  assert.equal(await text(page, '[data-testid=block-row] .h'), '#1');
  assert.equal(await text(page, '#sync-text'), 'in sync at height 1');
  assert.equal(await text(page, '[data-testid=view-title]'), 'Block #1');
  await waitFor('step 2 ticked', async () => (await stepStates(page)).join() === 'done,done,now,later', 5_000);
  assert.match(await text(page, '#guide'), /has 10 coins/);

  // The send form refuses bad input in plain words, the technical reason folded away.
  await page.click('#create-wallet');
  await waitFor('second address', async () => (await page.locator('[data-testid=address]').count()) === 2, 10_000);
  const second = ((await page.locator('[data-testid=address]').nth(1).textContent()) || '').trim();
  assert.match(await text(page, '#send-from'), /10 coins/, 'balances in the From list');
  const refusal = async (to, amount) => {
    await page.fill('#send-to', to);
    await page.fill('#send-amount', amount);
    await page.click('#send-button');
    return waitFor('a refusal', () => text(page, '[data-testid=send-problem]'), 5_000);
  };
  assert.equal(await refusal('', '1'), 'Enter the address to pay.');
  assert.match(await refusal('hello', '1'), /^That is not an address/);
  assert.match(await refusal(second, '99999999999999999999999'), /far more coins than can exist/);
  assert.match(await refusal(second, '1.5'), /whole number/);
  assert.match(await refusal(second, '11'), /can spend 10 coins now/);
  await page.fill('#send-to', mine);
  await page.dispatchEvent('#send-to', 'input');
  assert.match(await text(page, '#send-hint'), /address you send from/);

  // Step 3: a payment through the form; the form is cleared and says what happens next.
  await page.selectOption('#send-from', mine);
  await page.fill('#send-to', second);
  await page.fill('#send-amount', '3');
  await page.click('#send-button');
  await waitFor('sent', async () => /^Sent 3 coins/.test(await text(page, '#send-result')), 10_000);
  assert.equal(await text(page, '#send-error'), '');
  assert.equal(await page.inputValue('#send-to'), '', 'form cleared');
  assert.equal(await page.inputValue('#send-amount'), '', 'form cleared');
  await waitFor('step 3 ticked', async () => (await stepStates(page)).join() === 'done,done,done,now', 5_000);

  // Step 4: the guide's link opens a miner tab; a second payment makes the two a block needs.
  const minerHref = await page.getAttribute('[data-testid=guide-miner-link]', 'href');
  assert.match(minerHref, /\?node=\w+.*mine=1/);
  const miner = await open(new URL(minerHref, `${relay.url}/`).href, 390, 844);
  await waitFor('miner tab mining', async () => (await text(miner.page, '#role')) === 'miner', 20_000);
  await page.selectOption('#send-from', mine);
  await page.fill('#send-to', second);
  await page.fill('#send-amount', '1');
  await page.click('#send-button');
  await waitFor('second payment sent', async () => /^Sent 1 coin:/.test(await text(page, '#send-result')), 10_000);
  await waitFor('guide done', async () => /All done/.test(await text(page, '#guide-status')), 120_000);
  assert.equal((await stepStates(page)).join(), 'done,done,done,done');
  await waitFor('top bar at #2', async () => (await text(page, '#height')) === '2', 10_000);
  const watched = await tipWatch(page);
  assert.ok(watched.heights.includes('1') && watched.heights.includes('2'), JSON.stringify(watched.heights));
  assert.deepEqual(watched.bad, [], `panels disagreed on the height in ${watched.bad.length} of ${watched.samples} looks`);

  // Explorer: the payment's link opens its view, confirmed; its block link opens the block.
  await page.click('#send-result [data-testid=tx-link]');
  await waitFor('tx view', async () => (await text(page, '[data-testid=view-title]')) === 'Transaction', 5_000);
  assert.match(page.url(), /#tx\/[0-9a-f]{64}$/);
  await waitFor('confirmed', async () => /^Confirmed in block #2 .* · 1 confirmation$/.test(await text(page, '[data-testid=tx-state]')), 10_000);
  await page.click('[data-testid=tx-state] [data-testid=block-link]');
  await waitFor('block view', async () => (await text(page, '[data-testid=view-title]')) === 'Block #2', 5_000);
  assert.match(page.url(), /#block\/[0-9a-f]{64}$/);
  assert.equal(await text(page, '[data-testid=confirmations]'), '1');
  assert.match(await text(page, '#block-detail'), /3 transactions/);
  assert.match(await text(page, '#block-detail'), /yours/, 'own addresses marked');
  await page.click(`#block-detail [data-testid=address-link][href="#address/${second}"]`);
  await waitFor('address view', async () => (await text(page, '[data-testid=view-title]')) === 'Your address', 5_000);
  assert.equal(await text(page, '[data-testid=address-balance]'), 'Balance: 4');
  assert.equal(await page.locator('[data-testid=history-row]').count(), 2);
  assert.ok(await page.locator('#block-detail svg.identicon').count() >= 1, 'identicon drawn');
  // Search by the genesis block's hash, from the block list.
  const genesis = await page.getAttribute('[data-testid=block-row][data-height="0"]', 'data-hash');
  await page.fill('#search', genesis);
  await page.press('#search', 'Enter');
  await waitFor('search found genesis', async () => (await text(page, '[data-testid=view-title]')) === 'Block #0', 5_000);
  await page.fill('#search', 'not a thing');
  await page.press('#search', 'Enter');
  await waitFor('search says not found', async () => (await text(page, '[data-testid=view-title]')) === 'Not found', 5_000);
  await page.evaluate(() => { location.hash = ''; window.scrollTo(0, 0); });

  // Screenshots, and no sideways scroll on a phone, in both tabs.
  await shot(page, 'newcomer-1366x900');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  assert.ok(await noSidewaysScroll(page), 'no sideways scroll at 390×844 (wallet tab)');
  await shot(page, 'newcomer-390x844');
  assert.ok(await noSidewaysScroll(miner.page), 'no sideways scroll at 390×844 (miner tab)');
  await shot(miner.page, 'newcomer-miner-390x844');

  // Hidden for good: after a reload the guide stays away, one click brings it back.
  await page.click('#hide-guide');
  await page.reload();
  await page.waitForFunction(() => window.node !== undefined);
  assert.equal(await page.isVisible('#guide'), false);
  assert.equal(await page.isVisible('#show-guide'), true);

  assert.deepEqual(errors, [], 'wallet tab page errors');
  assert.deepEqual(miner.errors, [], 'miner tab page errors');
});
