// A payment dropped by a reorganisation and mined again, as its payer sees it. The story: a
// tab on relay A is paid 10 coins in block #1 and pays 3 of them on; it mines the payment
// into block #2. Relay B left at the genesis, and its owner, who holds the same central key
// (a copy of A's wallet file), spent those coins otherwise on B's own branch, which grows to
// block #3: when B comes back, A and the tab switch to it, the 10 coins were never paid, and
// the page says the payment is dropped. Relay C left after block #2 and mined on A's old
// branch to block #5: when C comes back, that branch wins again and the page says the
// payment is confirmed in block #2 once more. Every check reads what the page shows.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Relay, freePort, launchBrowser, openTab, screenshot, waitFor, text, paymentSteps } from './harness.mjs';

const relayA = new Relay('3000');
const relayB = new Relay('3100');
const relayC = new Relay('3200');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const r of [relayA, relayB, relayC]) await r.stop();
});


test('a payment shows pending, confirmed, dropped by a reorganisation and confirmed again, in order', { timeout: 300_000 }, async () => {
  const central = (await relayA.cli('createwallet')).split(/\s+/).pop();
  await relayA.cli('createblockchain', '--address', central, '--bits', '8');
  await relayA.start(await freePort());
  // B's owner holds the central key too.
  copyFileSync(join(relayA.dataDir, 'wallet_3000.dat'), join(relayB.dataDir, 'wallet_3100.dat'));
  const addrB = (await relayB.cli('createwallet')).split(/\s+/).pop();
  const addrC = (await relayC.cli('createwallet')).split(/\s+/).pop();
  await relayB.start(await freePort(), '--peer', relayA.wsUrl);
  await relayC.start(await freePort(), '--peer', relayA.wsUrl);
  const genesis = (await relayA.status()).tip;
  await waitFor('B and C have the genesis', async () => (await relayB.status())?.tip === genesis && (await relayC.status())?.tip === genesis);
  await relayB.stop(); // B stays at the genesis

  browser = await launchBrowser();
  const tab = await openTab(browser, relayA.url, '7201');
  const { page } = tab;
  await page.click('#create-wallet');
  await waitFor('one address', async () => (await page.$$('[data-testid=address-row]')).length === 1);
  await page.click('#create-wallet');
  await waitFor('two addresses', async () => (await page.$$('[data-testid=address-row]')).length === 2);
  const [payer, reward] = await page.$$eval('[data-testid=address-row]', (rows) => rows.map((r) => r.dataset.address));

  assert.equal(await relayA.cli('send', '--from', central, '--to', payer, '--amount', '10', '--mine'), 'Success!');
  await waitFor('block #1 in the tab', async () => (await text(page, '#height')) === '1');
  await waitFor('coins to spend', async () => /10 coins/.test(await page.$eval('#send-from', (s) => s.options[0]?.textContent || '')));
  await page.selectOption('#send-from', payer);
  await page.fill('#send-to', central);
  await page.fill('#send-amount', '3');
  await page.click('#send-button');
  await waitFor('the payment pending', async () => (await text(page, '[data-testid=payment-state]')) === 'pending');

  // A second payment, so that a block is made; the tab mines both into block #2.
  assert.equal(await relayA.cli('send', '--from', central, '--to', addrC, '--amount', '1'), 'Success!');
  await waitFor('two waiting', async () => (await text(page, '#mempool-count')) === '2');
  await page.selectOption('#mining-address', reward);
  await page.click('#start-mining');
  await waitFor('confirmed in block #2', async () => (await text(page, '[data-testid=payment-state]')) === 'confirmed', 60_000);
  await page.click('#stop-mining');
  const tip2 = await waitFor('relay A at block #2', async () => { const s = await relayA.status(); return s.height === 2 && s.tip; });
  await waitFor('relay C at block #2', async () => (await relayC.status()).tip === tip2);
  await relayC.stop(); // C keeps A's branch as it is now

  // B, offline at the genesis, pays the central coins elsewhere and mines to block #3.
  assert.equal(await relayB.cli('send', '--from', central, '--to', addrB, '--amount', '5', '--mine'), 'Success!');
  await relayB.cli('generate', '--address', addrB, '--blocks', '2');
  await relayB.start(await freePort(), '--peer', relayA.wsUrl);
  await waitFor('the tab on B\'s branch at #3', async () => (await text(page, '#height')) === '3' && (await relayA.status()).height === 3, 60_000);
  await waitFor('the payment dropped', async () => (await text(page, '[data-testid=payment-state]')) === 'dropped', 20_000);
  assert.match((await paymentSteps(page)).at(-1), / dropped: it is in no block and no longer waits/);
  await waitFor('the 10 coins gone from the payer', async () =>
    (await page.$eval(`[data-testid=address-row][data-address="${payer}"] [data-testid=balance]`, (b) => b.textContent)) === '0');
  await screenshot(tab, 'payment-dropped-1400');

  // C, offline, mines A's old branch on to block #5 and comes back: that branch wins, and
  // block #2 with the payment is in the active chain again.
  await relayC.cli('generate', '--address', addrC, '--blocks', '3');
  await relayC.start(await freePort(), '--peer', relayA.wsUrl);
  await waitFor('the tab on C\'s branch at #5', async () => (await text(page, '#height')) === '5', 60_000);
  await waitFor('the payment confirmed again', async () => (await text(page, '[data-testid=payment-state]')) === 'confirmed', 20_000);
  const all = await paymentSteps(page);
  assert.equal(all.length, 4, all.join('\n'));
  [/pending: waits in the mempool/, /confirmed in block #2$/, /dropped: it is in no block and no longer waits/, /confirmed in block #2 · 4 confirmations$/]
    .forEach((re, i) => assert.match(all[i], re));
  await waitFor('the payer\'s 7 coins back', async () =>
    (await page.$eval(`[data-testid=address-row][data-address="${payer}"] [data-testid=balance]`, (b) => b.textContent)) === '7');
  await screenshot(tab, 'payment-dropped-again-1400');
  assert.deepEqual(tab.errors, []);
});
