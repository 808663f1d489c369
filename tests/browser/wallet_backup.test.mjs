// A wallet's keys survive the browser: node 7301 says it has never been backed up, saves a
// backup file encrypted with a passphrase, and a fresh node (7302, another browser context)
// restores it: the same addresses with the same balances. The story's attacks on the file:
// a wrong passphrase, a file cut short and a file with one byte changed are each refused in
// plain words, and the fresh node's wallet stays empty. Every check reads what the page shows.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Relay, freePort, launchBrowser, openTab, screenshot, waitFor, text } from './harness.mjs';

const relay = new Relay('3000');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

/** The wallet as shown: [address, balance] per row. */
const shown = (page) => page.$$eval('[data-testid=address-row]', (rows) => rows.map((r) => [r.dataset.address, r.querySelector('[data-testid=balance]').textContent]));

test('an exported wallet restores into a fresh node; wrong passphrases and damaged files change nothing', { timeout: 240_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.start(await freePort());
  browser = await launchBrowser();

  const a = await openTab(browser, relay.url, '7301');
  await a.page.click('#create-wallet');
  await waitFor('one address', async () => (await a.page.$$('[data-testid=address-row]')).length === 1);
  await a.page.click('#create-wallet');
  await waitFor('two addresses', async () => (await a.page.$$('[data-testid=address-row]')).length === 2);
  const [first, second] = (await shown(a.page)).map(([addr]) => addr);
  assert.equal(await relay.cli('send', '--from', central, '--to', first, '--amount', '7', '--mine'), 'Success!');
  assert.equal(await relay.cli('send', '--from', central, '--to', second, '--amount', '4', '--mine'), 'Success!');
  await waitFor('balances in the first tab', async () => JSON.stringify((await shown(a.page)).map(([, b]) => b)) === '["7","4"]', 60_000);
  assert.match(await text(a.page, '[data-testid=backup-warning]'), /has never been backed up/);

  // Save: two different passphrases are refused; then the download.
  await a.page.click('[data-testid=backup] summary');
  await a.page.fill('#backup-pass', 'correct horse battery');
  await a.page.fill('#backup-pass2', 'correct horse battery!');
  await a.page.click('#backup-save');
  assert.match(await text(a.page, '[data-testid=backup-status]'), /The two passphrases differ/);
  await a.page.fill('#backup-pass2', 'correct horse battery');
  const [download] = await Promise.all([a.page.waitForEvent('download'), a.page.click('#backup-save')]);
  const dir = mkdtempSync(join(tmpdir(), 'backup-'));
  const file = join(dir, 'wallet.json');
  await download.saveAs(file);
  await waitFor('saved', async () => /^Saved a backup of 2 addresses/.test(await text(a.page, '[data-testid=backup-status]')));
  await waitFor('no warning', async () => a.page.$eval('[data-testid=backup-warning]', (w) => w.hidden));
  const saved = readFileSync(file, 'utf8');
  const parsed = JSON.parse(saved);
  assert.equal(parsed.kdf.name, 'PBKDF2');
  assert.ok(parsed.kdf.iterations >= 600_000);
  assert.equal(parsed.cipher.name, 'AES-GCM');

  // Damaged copies of the file, as an attacker or a bad disk would leave them.
  const cut = join(dir, 'cut.json');
  writeFileSync(cut, saved.slice(0, Math.floor(saved.length / 2)));
  const changed = join(dir, 'changed.json');
  const data = Buffer.from(parsed.data, 'base64');
  data[5] ^= 1;
  writeFileSync(changed, JSON.stringify({ ...parsed, data: data.toString('base64') }));

  const b = await openTab(browser, relay.url, '7302');
  await waitFor('the fresh node synced', async () => (await text(b.page, '#height')) === '2', 60_000);
  await b.page.click('[data-testid=backup] summary');
  const restore = async (path, pass) => {
    await b.page.setInputFiles('#restore-file', path);
    await b.page.fill('#restore-pass', pass);
    await b.page.click('#restore');
    return waitFor('an answer', async () => {
      const t = await text(b.page, '[data-testid=backup-status]');
      return t && !t.endsWith('…') ? t : null;
    }, 30_000);
  };
  assert.match(await restore(file, 'correct horse battery staple'), /^Wrong passphrase, or the file was changed since it was saved\. Nothing was imported\.$/);
  assert.equal((await shown(b.page)).length, 0, 'a wrong passphrase imports nothing');
  assert.match(await restore(cut, 'correct horse battery'), /^This file is not a complete wallet backup: it is damaged or cut short\. Nothing was imported\.$/);
  assert.match(await restore(changed, 'correct horse battery'), /^Wrong passphrase, or the file was changed since it was saved\. Nothing was imported\.$/);
  assert.equal((await shown(b.page)).length, 0, 'damaged files import nothing');

  assert.match(await restore(file, 'correct horse battery'), /^Restored 2 addresses; their balances come from the chain\.$/);
  await waitFor('the same wallet in the fresh node', async () =>
    JSON.stringify(await shown(b.page)) === JSON.stringify([[first, '7'], [second, '4']]), 20_000);
  assert.match(await restore(file, 'correct horse battery'), /^This wallet already holds every key of that backup\.$/);

  // The restored keys are the node's own: kept in IndexedDB across a reload, and they sign.
  await b.page.reload();
  await b.page.waitForFunction(() => window.node !== undefined, null, { timeout: 30_000 });
  await waitFor('restored keys after a reload', async () => JSON.stringify(await shown(b.page)) === JSON.stringify([[first, '7'], [second, '4']]), 30_000);
  await b.page.selectOption('#send-from', first);
  await b.page.fill('#send-to', central);
  await b.page.fill('#send-amount', '2');
  await b.page.click('#send-button');
  await waitFor('the restored key signed a payment', async () => (await text(b.page, '[data-testid=payment-state]')) === 'pending', 20_000);
  await screenshot(b, 'wallet-restored-1400');
  // On a phone-sized screen the open backup form and the payment fit without sideways scrolling.
  await b.page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await b.page.evaluate(() => document.scrollingElement.scrollWidth <= innerWidth), 'no sideways scrolling at 390 px');
  await screenshot(b, 'wallet-restored-390');
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
});
