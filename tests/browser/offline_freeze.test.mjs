// A tab that drops off the network or is frozen comes back by itself. The story: a tab is
// connected to its relay; the laptop loses the network and the relay goes away too, so the
// tab's attempts fail and its backoff grows to 8 s and more. The relay and the network come
// back: the tab reconnects on the browser's `online` event, before its backoff would have
// let it try. Then the browser freezes the tab (as Chrome does with background tabs) while
// the relay mines blocks; resumed, the tab catches up to the relay's tip.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, waitFor } from './harness.mjs';

const relay = new Relay('3000');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

/** Backoff the tab must have reached before the network returns: coming back sooner than
 *  this proves the `online` event, not the timer, reconnected it. */
const GROWN_BACKOFF_MS = 8000;
/** Blocks the relay mines while the tab is frozen. */
const MINED_WHILE_FROZEN = 3;
/** How long the tab stays frozen. */
const FROZEN_MS = 15_000;

test('a tab reconnects when the network returns and catches up after a freeze', { timeout: 300_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  const port = await freePort();
  await relay.start(port);
  browser = await launchBrowser();
  const tab = await openTab(browser, relay.url, '3401');
  const { page, context } = tab;
  const status = () => page.evaluate(() => window.node.status());
  await waitFor('connected', async () => (await status()).connection === 'open');
  // Every connection event, with the time it came (the page's clock).
  await page.evaluate(() => {
    window.connections = [];
    window.node.on('connection', (c) => window.connections.push({ ...c, at: Date.now() }));
  });

  // The network goes, and the relay with it: attempts fail and the backoff grows.
  await context.setOffline(true);
  await relay.stop();
  const grown = await waitFor('a grown backoff', () => page.evaluate((min) => window.connections
    .find((c) => c.state === 'closed' && c.retryInMs >= min), GROWN_BACKOFF_MS), 60_000, 100);
  await relay.start(port);
  const back = await page.evaluate(() => Date.now());
  await context.setOffline(false);
  const open = await waitFor('reconnected', () => page.evaluate((after) => window.connections
    .find((c) => c.state === 'open' && c.at >= after), back), 30_000, 50);
  assert.ok(open.at < grown.at + grown.retryInMs,
    `reconnected ${open.at - back} ms after the network came back; it must come before the backoff's own retry at +${grown.at + grown.retryInMs - back} ms`);
  console.log(`reconnected ${open.at - back} ms after the network came back`);
  await waitFor('connected again', async () => (await status()).connection === 'open');

  // Frozen while the relay mines; resumed, it catches up.
  const cdp = await context.newCDPSession(page);
  const before = (await status()).height;
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  for (let i = 0; i < MINED_WHILE_FROZEN; i++) {
    assert.equal(await relay.cli('send', '--from', central, '--to', central, '--amount', '1', '--mine'), 'Success!');
  }
  await new Promise((r) => setTimeout(r, FROZEN_MS));
  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  const tip = (await relay.status()).height;
  assert.equal(tip, before + MINED_WHILE_FROZEN);
  await waitFor('caught up after the freeze', async () => (await status()).height === tip, 30_000, 100);
  assert.deepEqual(tab.errors.filter((e) => !/favicon|404|ERR_INTERNET_DISCONNECTED|WebSocket/.test(e)), []);
});
