// A node whose databases the browser cleared says so. The story: a tab holds a key and the
// chain; then the browser evicts this site's IndexedDB (here: the databases deleted while
// no tab is open, as an eviction or "clear site data" leaves them). Reopened, the page must
// not pretend it is a new node: it says the chain downloads again and the keys stored only
// here are gone, pointing at the backup. It also shows how much storage it uses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, waitFor, text } from './harness.mjs';

const relay = new Relay('3000');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

const ID = '3501';

test('a node whose databases were cleared says the chain resyncs and its keys are gone', { timeout: 120_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.start(await freePort());
  assert.equal(await relay.cli('send', '--from', central, '--to', central, '--amount', '1', '--mine'), 'Success!');
  browser = await launchBrowser();
  const tab = await openTab(browser, relay.url, ID);
  await tab.page.click('#create-wallet');
  await waitFor('a key and block #1', async () => (await tab.page.$$('[data-testid=address-row]')).length === 1
    && (await text(tab.page, '#height')) === '1');
  await waitFor('the storage line', async () => /^\d[\d.]* [KMG]B used/.test(await text(tab.page, '[data-testid=storage]')));
  assert.equal(await text(tab.page, '[data-testid=banner]'), '');
  await tab.page.evaluate(() => window.node.flush());

  // The node's tab closes; its databases are deleted from another page of the site.
  const other = await tab.context.newPage();
  await tab.page.close();
  await other.goto(`${relay.url}/style.css`);
  const deleted = await other.evaluate((id) => Promise.all([`chain-${id}`, `wallet-${id}`].map((name) => new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve('deleted');
    req.onerror = () => reject(req.error);
    req.onblocked = () => resolve('blocked');
  }))), ID);
  assert.deepEqual(deleted, ['deleted', 'deleted']);

  const again = await openTab(browser, relay.url, ID, { context: tab.context });
  await waitFor('the page says what was lost', async () => /was cleared/.test(await text(again.page, '[data-testid=banner]')));
  assert.match(await text(again.page, '[data-testid=banner]'),
    new RegExp(`^This browser's data for node ${ID} was cleared \\(by the browser or by a user\\): the chain downloads again from the relay; the 1 key\\(s\\) stored only here are gone — restore them from a wallet backup file\\.$`));
  await waitFor('the chain downloaded again', async () => (await text(again.page, '#height')) === '1');
});
