// A tab closed in the middle of its initial sync resumes cleanly (20,000 blocks: a tab syncs a
// few thousand a second, and the test must catch it partway): reopened, it starts from
// what it stored (every stored block whole, no block twice), finishes the sync, and agrees
// with the relay.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, waitFor } from './harness.mjs';

const BLOCKS = 20000;
const relay = new Relay('3000');
let browser;

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

test('a tab closed mid-sync resumes from IndexedDB', { timeout: 600_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.cli('generate', '--blocks', String(BLOCKS), '--address', central);
  await relay.start(await freePort());
  const tip = (await relay.status()).tip;
  browser = await launchBrowser();
  // One context: its IndexedDB outlives the tab, as a browser profile's does.
  const context = await browser.newContext();
  const status = (page) => page.evaluate(() => window.node && window.node.status());

  let page = await context.newPage();
  await page.goto(`${relay.url}/?node=3005`);
  await waitFor('partway through the sync', async () => {
    const s = await status(page);
    // Under assume-valid the blocks wait, downloaded but not connected, for the block the
    // relay vouched for: progress is the downloaded height.
    return s && s.downloadedHeight >= 200 && s.downloadedHeight < BLOCKS;
  }, 120_000, 20);
  const seen = (await status(page)).downloadedHeight;
  console.log(`closing the tab at height ${seen} of ${BLOCKS}`);
  await page.close();

  page = await context.newPage();
  await page.goto(`${relay.url}/?node=3005`);
  await page.waitForFunction(() => window.node !== undefined);
  const resumed = (await status(page)).downloadedHeight;
  assert.ok(resumed > 0, `resumed from storage at height ${resumed} (saw ${seen} before closing)`);
  await waitFor('sync finished', async () => (await status(page))?.height === BLOCKS, 300_000);
  const s = await status(page);
  assert.equal(s.tip, tip);
  assert.equal(await page.evaluate((a) => window.node.getBalance(a), central), 10 * (BLOCKS + 1));
});
