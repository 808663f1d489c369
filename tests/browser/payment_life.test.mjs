// A payment's life as its payer sees it, through a reorganisation. The story: a tab on relay
// A pays 3 coins; the page says it is pending and why (a block needs two transactions); a
// second payment arrives and the tab mines both into block #2. Meanwhile relay B, which went
// offline at block #1, mined a longer branch without them; when B comes back, A and the tab
// switch to it, and the page says the payment's block was replaced and it waits again. The
// tab mines it once more, and the page says it is confirmed in block #5. Every check reads
// what the page shows (DOM text). Also: the payer's history, incoming coins marked, from the
// node's transaction index, and the explorer's view of the payment.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, screenshot, waitFor, text, paymentSteps } from './harness.mjs';

const relayA = new Relay('3000');
const relayB = new Relay('3100');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relayA.stop();
  await relayB.stop();
});


test('a payment shows pending, confirmed, replaced by a reorganisation and confirmed again, in order', { timeout: 300_000 }, async () => {
  const central = (await relayA.cli('createwallet')).split(/\s+/).pop();
  await relayA.cli('createblockchain', '--address', central, '--bits', '8');
  await relayA.start(await freePort());
  const addrB = (await relayB.cli('createwallet')).split(/\s+/).pop();
  await relayB.start(await freePort(), '--peer', relayA.wsUrl);
  await waitFor('relay B has the genesis', async () => (await relayB.status())?.tip === (await relayA.status()).tip);

  browser = await launchBrowser();
  const tab = await openTab(browser, relayA.url, '7101');
  const { page } = tab;
  await page.click('#create-wallet');
  await waitFor('one address', async () => (await page.$$('[data-testid=address-row]')).length === 1);
  await page.click('#create-wallet');
  await waitFor('two addresses', async () => (await page.$$('[data-testid=address-row]')).length === 2);
  const [payer, reward] = await page.$$eval('[data-testid=address-row]', (rows) => rows.map((r) => r.dataset.address));

  assert.equal(await relayA.cli('send', '--from', central, '--to', payer, '--amount', '10', '--mine'), 'Success!');
  const tip1 = (await relayA.status()).tip;
  await waitFor('block #1 in the tab and at B', async () => (await text(page, '#height')) === '1' && (await relayB.status()).tip === tip1);
  await relayB.stop(); // B stays at block #1 while A goes on

  // The payment, through the send form: pending, and why it waits.
  await waitFor('coins to spend', async () => /10 coins/.test(await page.$eval('#send-from', (s) => s.options[0]?.textContent || '')));
  await page.selectOption('#send-from', payer);
  await page.fill('#send-to', central);
  await page.fill('#send-amount', '3');
  await page.click('#send-button');
  await waitFor('the payment pending', async () => (await text(page, '[data-testid=payment-state]')) === 'pending');
  assert.match((await paymentSteps(page))[0], /pending: waits in the mempool for a miner\. A block is mined once 2 transactions wait; 1 waiting now, so it waits for 1 more payment from anyone\./);
  assert.match(await text(page, '[data-testid=payment] .what'), /^3 coins to/);

  // A second payment, from the relay; the tab mines both into block #2.
  assert.equal(await relayA.cli('send', '--from', central, '--to', addrB, '--amount', '1'), 'Success!');
  await waitFor('two waiting', async () => (await text(page, '#mempool-count')) === '2');
  await page.selectOption('#mining-address', reward);
  await page.click('#start-mining');
  await waitFor('confirmed in block #2', async () => (await text(page, '[data-testid=payment-state]')) === 'confirmed', 60_000);
  await page.click('#stop-mining');
  await waitFor('relay A at block #2', async () => (await relayA.status()).height === 2);
  assert.match((await paymentSteps(page)).at(-1), /confirmed in block #2 · 1 confirmation$/);

  // B, offline, mines a longer branch from block #1 without the payment, and comes back.
  await relayB.cli('generate', '--address', addrB, '--blocks', '3');
  await relayB.start(await freePort(), '--peer', relayA.wsUrl);
  await waitFor('the tab on B\'s branch at #4', async () => (await text(page, '#height')) === '4', 60_000);
  await waitFor('the payment back to pending', async () => (await text(page, '[data-testid=payment-state]')) === 'reorganised', 20_000);
  assert.match((await paymentSteps(page)).at(-1), /back to pending: block #2 that held it was replaced in a reorganisation; it waits to be mined again$/);

  // Mined again, on top of B's branch.
  await waitFor('both waiting again', async () => (await text(page, '#mempool-count')) === '2');
  await page.click('#start-mining');
  await waitFor('confirmed in block #5', async () => (await text(page, '[data-testid=payment-state]')) === 'confirmed', 60_000);
  await page.click('#stop-mining');
  const all = await paymentSteps(page);
  assert.equal(all.length, 4, all.join('\n'));
  [/pending: waits in the mempool/, /confirmed in block #2$/, /back to pending: block #2 that held it was replaced/, /confirmed in block #5 · 1 confirmation$/]
    .forEach((re, i) => assert.match(all[i], re));

  // The payer's history, from the node's index: the 3 sent in #5, the 10 received in #1
  // marked incoming; block #2's copy is gone with its block.
  await page.click(`[data-testid=address-row][data-address="${payer}"] [data-testid=toggle-history]`);
  await waitFor('history open', async () => (await page.$$('[data-testid=address-history] [data-testid=history-row]')).length === 2);
  const rows = await page.$$eval('[data-testid=address-history] [data-testid=history-row]', (li) => li.map((l) => l.textContent.replace(/\s+/g, ' ').trim()));
  assert.match(rows[0], /^sent 3 [0-9a-f]{12} in #5 · 1 confirmation$/);
  assert.match(rows[1], /^incomingreceived 10 [0-9a-f]{12} in #1 · 5 confirmations$/);
  assert.doesNotMatch(await text(page, '[data-testid=address-history]'), /not indexed/, 'the whole chain, genesis included, is indexed');

  // The explorer's view of the payment says where it is now.
  await page.click('[data-testid=payment] [data-testid=tx-link]');
  await waitFor('the transaction view', async () => /^Confirmed in block #5 /.test(await text(page, '[data-testid=tx-state]')));
  await screenshot(tab, 'payment-life-1400');
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await page.evaluate(() => document.scrollingElement.scrollWidth <= innerWidth), 'no sideways scrolling at 390 px');
  await screenshot(tab, 'payment-life-390');
  assert.deepEqual(tab.errors, []);
});
