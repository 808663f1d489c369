// A tab whose relay goes down carries on through another relay it heard of: the tab opens
// relay A's page, learns of relay B (peered with A) through `addr`, and when A stops it
// reconnects to B, follows the block B mines, and agrees with B on the balances.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, waitFor } from './harness.mjs';

const relayA = new Relay('3000');
const relayB = new Relay('3100');
let browser;

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relayA.stop();
  await relayB.stop();
});

const lastNumber = (text) => Number(text.trim().split(/\s+/).pop());

test('a tab fails over to a relay it learned of', { timeout: 180_000 }, async () => {
  const central = (await relayA.cli('createwallet')).split(/\s+/).pop();
  await relayA.cli('createblockchain', '--address', central, '--bits', '8');
  await relayA.start(await freePort());
  const addrB = (await relayB.cli('createwallet')).split(/\s+/).pop();
  await relayB.start(await freePort(), '--peer', relayA.wsUrl);
  const genesis = (await relayA.status()).tip;
  await waitFor('relay B synced', async () => (await relayB.status())?.tip === genesis);

  browser = await launchBrowser();
  const tab = await openTab(browser, relayA.url, '3201');
  const status = () => tab.page.evaluate(() => window.node.status());
  await waitFor('the tab heard of relay B', async () => {
    const known = await tab.page.evaluate(() => window.node.knownNodes());
    return known.some((k) => k.nodeId === '3100' && k.url === relayB.wsUrl);
  });

  assert.equal(await relayA.cli('send', '--from', central, '--to', addrB, '--amount', '3', '--mine'), 'Success!');
  const tip1 = (await relayA.status()).tip;
  await waitFor('block 1 everywhere', async () =>
    (await status()).tip === tip1 && (await relayB.status()).tip === tip1);

  await relayA.stop();
  await waitFor('the tab connected to relay B', async () => {
    const s = await status();
    return s.relay === relayB.wsUrl && s.connection === 'open' && s.peers === 1;
  }, 60_000);

  assert.equal(await relayB.cli('send', '--from', addrB, '--to', central, '--amount', '1', '--mine'), 'Success!');
  const tip2 = (await relayB.status()).tip;
  await waitFor('the tab follows relay B', async () => (await status()).tip === tip2, 60_000);
  for (const address of [central, addrB]) {
    const inTab = await tab.page.evaluate((a) => window.node.getBalance(a), address);
    const atB = lastNumber(await relayB.cli('getbalance', '--address', address));
    assert.equal(inTab, atB, `balance of ${address}`);
  }
  assert.deepEqual(tab.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED|net::/.test(e)), []);
});
