// A wallet's keys encrypted at rest with a passphrase, with lock and unlock. The story: node
// 7501 holds 6 coins on one of its two addresses and sets a passphrase. From then on its
// IndexedDB holds no key in the clear: the raw records are read here, byte for byte, and no
// secret key appears in any database of the origin. Locked, the page shows the addresses
// and balances but refuses to pay or make an address, in plain words; a wrong passphrase is
// refused and changes nothing; a reload stays locked. Unlocked, it pays and makes a new
// address, which is sealed with the others. The passphrase removed, the keys are stored as
// before. Every check reads what the page shows, or the browser's own IndexedDB.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Relay, freePort, launchBrowser, openTab, screenshot, waitFor, text } from './harness.mjs';

const relay = new Relay('3000');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

const PASS = 'orange kettle 42';
/** The wallet as shown: [address, balance] per row. */
const shown = (page) => page.$$eval('[data-testid=address-row]', (rows) => rows.map((r) => [r.dataset.address, r.querySelector('[data-testid=balance]').textContent]));

/** Every record of the node's wallet database, as {address: byte count}. */
const rawRecords = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('wallet-7501');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const store = db.transaction('keys').objectStore('keys');
    const names = store.getAllKeys();
    const values = store.getAll();
    values.onsuccess = () => {
      db.close();
      resolve(Object.fromEntries(names.result.map((n, i) => [n, values.result[i].byteLength])));
    };
  };
}));

/** The addresses of the sealed keys' record (www/ui/sealed-store.js), or null. */
const sealedAddresses = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('wallet-lock-7501');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains('sealed')) { db.close(); resolve(null); return; }
    const get = db.transaction('sealed').objectStore('sealed').get('keys');
    get.onsuccess = () => { db.close(); resolve(get.result ? get.result.addresses : null); };
  };
}));

/** Whether any of `secrets` (byte arrays) appears in any value of any IndexedDB database of
 *  the page's origin, searched as raw bytes wherever a value holds bytes. */
const anyDatabaseHolds = (page, secrets) => page.evaluate(async (secrets) => {
  const hex = (u8) => [...u8].map((b) => b.toString(16).padStart(2, '0')).join('');
  const wanted = secrets.map((s) => hex(s));
  const found = [];
  /** @param {unknown} v @param {string} where */
  const look = (v, where) => {
    if (v instanceof ArrayBuffer) v = new Uint8Array(v);
    if (ArrayBuffer.isView(v)) {
      const h = hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      for (const w of wanted) if (h.includes(w)) found.push(where);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) look(x, `${where}.${k}`);
    } else if (typeof v === 'string') {
      for (const w of wanted) if (v.toLowerCase().includes(w)) found.push(where);
    }
  };
  for (const { name } of await indexedDB.databases()) {
    const db = await new Promise((resolve, reject) => { const r = indexedDB.open(name); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    for (const storeName of db.objectStoreNames) {
      const values = await new Promise((resolve) => { const r = db.transaction(storeName).objectStore(storeName).getAll(); r.onsuccess = () => resolve(r.result); });
      values.forEach((v, i) => look(v, `${name}/${storeName}[${i}]`));
    }
    db.close();
  }
  return found;
}, secrets);

test('keys encrypted at rest: locked shows balances but cannot pay; wrong passphrases change nothing; reloads stay locked', { timeout: 300_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.start(await freePort());
  browser = await launchBrowser();
  const tab = await openTab(browser, relay.url, '7501');
  const { page } = tab;
  await page.click('#create-wallet');
  await waitFor('one address', async () => (await shown(page)).length === 1);
  await page.click('#create-wallet');
  await waitFor('two addresses', async () => (await shown(page)).length === 2);
  const [payer, other] = (await shown(page)).map(([a]) => a);
  assert.equal(await relay.cli('send', '--from', central, '--to', payer, '--amount', '6', '--mine'), 'Success!');
  const funded = JSON.stringify([[payer, '6'], [other, '0']]);
  await waitFor('6 coins shown', async () => JSON.stringify(await shown(page)) === funded, 60_000);

  // Before: the keys are in the clear, 40 bytes a record.
  await waitFor('the state shown', async () => /^Keys stored unencrypted/.test(await text(page, '[data-testid=lock-state]')));
  assert.deepEqual(Object.values(await rawRecords(page)), [40, 40]);
  const exported = await page.evaluate(async () => [...await window.node.exportKeys()]);
  const secrets = [exported.slice(0, 32), exported.slice(40, 72)];
  assert.ok((await anyDatabaseHolds(page, secrets)).length > 0, 'the search finds keys stored in the clear');

  // Set a passphrase (a short one and two different ones are refused first).
  await page.click('[data-testid=lock-panel] summary');
  await page.fill('#lock-pass', 'short');
  await page.fill('#lock-pass2', 'short');
  await page.click('#lock-set');
  await waitFor('too short', async () => /^Choose a passphrase of at least 8 characters\.$/.test(await text(page, '[data-testid=lock-status]')));
  await page.fill('#lock-pass', PASS);
  await page.fill('#lock-pass2', `${PASS}!`);
  await page.click('#lock-set');
  await waitFor('differ', async () => /^The two passphrases differ/.test(await text(page, '[data-testid=lock-status]')));
  assert.deepEqual(Object.values(await rawRecords(page)), [40, 40], 'refusals change nothing');
  await page.fill('#lock-pass', PASS);
  await page.fill('#lock-pass2', PASS);
  await page.click('#lock-set');
  await waitFor('unlocked and encrypted', async () => /^Unlocked: the keys are stored encrypted/.test(await text(page, '[data-testid=lock-state]')), 60_000);
  assert.deepEqual(await rawRecords(page), { [payer]: 8, [other]: 8 }, 'each record keeps its creation time only');
  assert.deepEqual(await anyDatabaseHolds(page, secrets), [], 'no database of the origin holds a key in the clear');

  // Lock: addresses and balances still show; paying and new addresses are refused plainly.
  await page.click('#lock');
  await waitFor('locked', async () => /^Locked: the keys are encrypted/.test(await text(page, '[data-testid=lock-state]')));
  assert.equal(JSON.stringify(await shown(page)), funded);
  const tryToPay = async () => {
    await page.selectOption('#send-from', payer);
    await page.fill('#send-to', central);
    await page.fill('#send-amount', '2');
    await page.click('#send-button');
    return waitFor('an answer to the payment', async () => text(page, '[data-testid=send-problem]'));
  };
  assert.equal(await tryToPay(), 'Unlock the wallet first: the keys that sign payments are encrypted.');
  assert.equal(await page.$$eval('[data-testid=payment]', (p) => p.length), 0, 'nothing was sent');
  await page.click('#create-wallet');
  await waitFor('no new address', async () => (await text(page, '#banner')) === 'Unlock the wallet first: a new key is stored encrypted with its passphrase.');
  assert.equal((await shown(page)).length, 2);
  // A page script gets no further than the form.
  assert.match(await page.evaluate(() => window.node.createWallet().then(() => 'made', (e) => e.message)), /locked/);
  assert.equal(await page.evaluate(async () => (await window.node.exportKeys()).length), 0, 'a locked node exports no key');

  // A wrong passphrase is refused and changes nothing.
  await page.fill('#lock-pass', 'orange kettle 43');
  await page.click('#unlock');
  await waitFor('refused', async () => (await text(page, '[data-testid=lock-status]')) === 'Wrong passphrase: nothing changed.', 60_000);
  assert.match(await text(page, '[data-testid=lock-state]'), /^Locked/);
  await page.click('#send-button');
  await waitFor('still refused', async () => /^Unlock the wallet first/.test(await text(page, '[data-testid=send-problem]')));
  assert.deepEqual(await rawRecords(page), { [payer]: 8, [other]: 8 });

  // A reload stays locked, with the addresses and balances shown.
  await page.reload();
  await page.waitForFunction(() => window.node !== undefined, null, { timeout: 30_000 });
  await waitFor('locked after a reload', async () => /^Locked/.test(await text(page, '[data-testid=lock-state]')), 30_000);
  await waitFor('balances after a reload', async () => JSON.stringify(await shown(page)) === funded, 30_000);
  assert.equal(await tryToPay(), 'Unlock the wallet first: the keys that sign payments are encrypted.');

  // Unlock: it pays, and a new address is sealed with the others.
  await page.click('[data-testid=lock-panel] summary');
  await page.fill('#lock-pass', PASS);
  await page.click('#unlock');
  await waitFor('unlocked', async () => /^Unlocked/.test(await text(page, '[data-testid=lock-state]')), 60_000);
  await page.fill('#send-to', central);
  await page.fill('#send-amount', '2');
  await page.click('#send-button');
  await waitFor('the payment pending', async () => (await text(page, '[data-testid=payment-state]')) === 'pending', 20_000);
  await page.click('#create-wallet');
  await waitFor('a third address', async () => (await shown(page)).length === 3);
  const third = (await shown(page))[2][0];
  const three = await page.evaluate(async () => [...await window.node.exportKeys()]);
  await waitFor('the new key sealed with the others', async () => (await sealedAddresses(page))?.length === 3);
  assert.deepEqual(await rawRecords(page), { [payer]: 8, [other]: 8, [third]: 8 }, 'the new address is stored without its key');
  assert.deepEqual(await anyDatabaseHolds(page, [...secrets, three.slice(80, 112)]), [], 'the new key is not stored in the clear either');

  // After a reload, unlocking gives back all three keys: the new one was sealed too.
  await page.reload();
  await page.waitForFunction(() => window.node !== undefined, null, { timeout: 30_000 });
  await waitFor('locked after a reload', async () => /^Locked/.test(await text(page, '[data-testid=lock-state]')), 30_000);
  await page.click('[data-testid=lock-panel] summary');
  await page.fill('#lock-pass', PASS);
  await page.click('#unlock');
  await waitFor('unlocked', async () => /^Unlocked/.test(await text(page, '[data-testid=lock-state]')), 60_000);
  assert.deepEqual(await page.evaluate(async () => [...await window.node.exportKeys()]), three);
  await screenshot(tab, 'wallet-lock-1400');

  // Remove the passphrase: a wrong one is refused; then the keys are stored in the clear again.
  await page.fill('#lock-pass', 'not it at all');
  await page.click('#lock-remove');
  await waitFor('refused', async () => (await text(page, '[data-testid=lock-status]')) === 'Wrong passphrase: nothing changed.', 60_000);
  assert.match(await text(page, '[data-testid=lock-state]'), /^Unlocked/);
  await page.fill('#lock-pass', PASS);
  await page.click('#lock-remove');
  await waitFor('plain again', async () => /^Keys stored unencrypted/.test(await text(page, '[data-testid=lock-state]')), 60_000);
  assert.deepEqual(Object.values(await rawRecords(page)), [40, 40, 40]);
  assert.equal(await sealedAddresses(page), null, 'the sealed copy is gone');
  await page.reload();
  await page.waitForFunction(() => window.node !== undefined, null, { timeout: 30_000 });
  await waitFor('plain after a reload', async () => /^Keys stored unencrypted/.test(await text(page, '[data-testid=lock-state]')), 30_000);
  assert.deepEqual(await page.evaluate(async () => [...await window.node.exportKeys()]), three);
  assert.deepEqual(tab.errors, []);
});
