// A tab takes one block hash on trust (assume-valid) from the /status of the relay that
// served its page. Whatever that answer is (not a hash, far too long, or never coming) the
// node must start, take nothing on trust, and sync checking every signature; an honest
// answer is taken as it is.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, waitFor } from './harness.mjs';

const relay = new Relay('3000');
let browser;

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

const status = (tab) => tab.page.evaluate(() => window.node.status());

test('a bad or silent /status leaves assume-valid off and the node syncing', { timeout: 180_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.start(await freePort());
  const other = (await relay.cli('createwallet')).split(/\s+/).pop();
  assert.equal(await relay.cli('send', '--from', central, '--to', other, '--amount', '3', '--mine'), 'Success!');
  const tip = (await relay.status()).tip;
  browser = await launchBrowser();

  const answers = {
    // Not a block hash: the page used to hand it to the node, which refused to start.
    'not a hash': (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ tip: 'not-a-hash', height: 1 }) }),
    // A real hash buried in a megabyte: more than a relay's /status ever is.
    'a megabyte long': (route) => route.fulfill({ status: 200, contentType: 'application/json', body: `${JSON.stringify({ tip, height: 1 })}${' '.repeat(1 << 20)}` }),
    // No answer at all: the page gives up after its timeout.
    'silent': () => {},
  };
  let n = 0;
  for (const [what, answer] of Object.entries(answers)) {
    const tab = await openTab(browser, relay.url, `41${n++}`, { prepare: (page) => page.route('**/status', answer) });
    const s = await status(tab);
    assert.equal(s.assumeValid, null, `/status ${what}: nothing is taken on trust`);
    await waitFor(`the tab behind a /status ${what} syncs`, async () => (await status(tab)).tip === tip);
    assert.deepEqual(tab.errors.filter((e) => !/WebSocket|net::/.test(e)), [], `/status ${what}`);
    await tab.context.close();
  }

  // The relay's own answer is taken as it is.
  const honest = await openTab(browser, relay.url, '4199');
  assert.deepEqual((await status(honest)).assumeValid, { height: 1, hash: tip });
  await waitFor('the honest tab syncs', async () => (await status(honest)).tip === tip);
});
