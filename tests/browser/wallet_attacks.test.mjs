// Attacks on the wallet's import: an adversary hands the user a crafted backup file (and its
// passphrase, as a "gift" or a "recovery service" would), or runs script in the page and
// calls window.node.importKeys itself. Node 7401 has one address of its own; every attack
// is refused in plain words, and after each one the wallet is exactly as it was. The files
// are made here with the same cipher as the page's (WebCrypto PBKDF2 + AES-GCM), so an
// attacker who knows the format can make any plaintext the page will decrypt.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { Relay, freePort, launchBrowser, openTab, screenshot, waitFor, text } from './harness.mjs';

const relay = new Relay('3000');
let browser;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await relay.stop();
});

const FORMAT = 'blockchain-wallet-backup';
/** P-256's group order n: a secret scalar must be 1 to n - 1. */
const ORDER = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
/** The page's limit on the keys one wallet holds (node-wasm/src/wallet.rs MAX_WALLET_KEYS). */
const MAX_WALLET_KEYS = 1000;

/** A 40-byte key record as exportKeys gives it: 32 secret bytes, creation time (u64 LE). */
function record(secret, createdMs = 0n) {
  const r = Buffer.alloc(40);
  Buffer.from(secret).copy(r, 0, 0, 32);
  r.writeBigUInt64LE(BigInt(createdMs), 32);
  return r;
}
/** `n` fresh random keys (a random 32-byte value is below the order but for ~2^-32). */
const randomKeys = (n, createdMs = 0n) => Buffer.concat(Array.from({ length: n }, () => record(randomBytes(32), createdMs)));

/** A backup file of `plain` under `pass`, made as the page makes one; `over` replaces
 *  header fields after encryption (what a crafted file can say). */
async function craft(plain, pass, { iterations = 100_000, salt = randomBytes(16), iv = randomBytes(12), over = {} } = {}) {
  const subtle = webcrypto.subtle;
  const raw = await subtle.importKey('raw', new TextEncoder().encode(pass), 'PBKDF2', false, ['deriveKey']);
  const key = await subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, raw, { name: 'AES-GCM', length: 256 }, false, ['encrypt']);
  const additionalData = new TextEncoder().encode(`${FORMAT}/1/PBKDF2-SHA-256/${iterations}`);
  const data = Buffer.from(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, key, plain));
  return JSON.stringify({
    format: FORMAT, version: 1,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations, salt: Buffer.from(salt).toString('base64') },
    cipher: { name: 'AES-GCM', iv: Buffer.from(iv).toString('base64') },
    addresses: [], data: data.toString('base64'), ...over,
  });
}

const shown = (page) => page.$$eval('[data-testid=address-row]', (rows) => rows.map((r) => r.dataset.address));

test('crafted backups and page calls to importKeys are refused in plain words and change nothing', { timeout: 300_000 }, async () => {
  const central = (await relay.cli('createwallet')).split(/\s+/).pop();
  await relay.cli('createblockchain', '--address', central, '--bits', '8');
  await relay.start(await freePort());
  browser = await launchBrowser();
  const tab = await openTab(browser, relay.url, '7401');
  const { page } = tab;
  await page.click('#create-wallet');
  await waitFor('the own address', async () => (await shown(page)).length === 1);
  const [own] = await shown(page);
  const addresses = () => page.evaluate(() => window.node.listAddresses());
  /** What window.node.importKeys(value) answers: 'added N' or the error's message. The
   *  value is built in the page by `make` (a function's text), as a page script would. */
  const importInPage = (make, arg) => page.evaluate(async ([src, a]) => {
    // eslint-disable-next-line no-new-func
    const value = new Function('a', `return (${src})(a)`)(a);
    try {
      return `added ${await window.node.importKeys(value)}`;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }, [make.toString(), arg]);
  const bytesOf = (buf) => [...buf];

  // 1. A page script hands importKeys things that are not exportKeys' bytes. A plain array
  //    of a valid key's 40 numbers used to be copied and imported as if it were bytes.
  for (const [why, make, arg] of [
    ['nothing', () => undefined],
    ['a string', () => 'my keys'],
    ['a number', () => 40],
    ['an object that claims a length', () => ({ length: 40 })],
    ['a plain array of a valid key\'s 40 numbers', (a) => a, bytesOf(record(randomBytes(32)))],
    ['a DataView', () => new DataView(new ArrayBuffer(40))],
  ]) {
    assert.match(await importInPage(make, arg), /^not a wallet's keys: expected the Uint8Array that exportKeys gives$/, why);
  }
  assert.deepEqual(await addresses(), [own], 'nothing was imported from values of the wrong type');

  // 2. Bytes of the right type that hold no valid key: every key checked before any is kept.
  const zero = record(Buffer.alloc(32));
  const atOrder = record(ORDER);
  const allOnes = record(Buffer.alloc(32, 0xff));
  for (const [why, bytes, re] of [
    ['no bytes', Buffer.alloc(0), /^not a wallet's keys: 0 bytes are not 1 to \d+ keys of 40 bytes$/],
    ['41 bytes', Buffer.alloc(41, 1), /^not a wallet's keys: 41 bytes are not 1 to \d+ keys of 40 bytes$/],
    ['a zero scalar', zero, /^not a wallet's keys: key 1: the record holds no valid key$/],
    ['the curve order itself', atOrder, /^not a wallet's keys: key 1: the record holds no valid key$/],
    ['a scalar above the order', allOnes, /^not a wallet's keys: key 1: the record holds no valid key$/],
    ['a valid key, then a zero scalar', Buffer.concat([randomKeys(1), zero]), /^not a wallet's keys: key 2: the record holds no valid key$/],
  ]) {
    assert.match(await importInPage((a) => new Uint8Array(a), bytesOf(bytes)), re, why);
  }
  assert.deepEqual(await addresses(), [own], 'no key of a refused batch was kept');

  // 3. Thousands of keys: a wallet holds at most MAX_WALLET_KEYS, since every key costs
  //    each refresh of the page a pass over the coins. One more than fits is refused whole.
  const tooMany = randomKeys(MAX_WALLET_KEYS);
  assert.match(await importInPage((a) => new Uint8Array(a), bytesOf(tooMany)),
    new RegExp(`^not a wallet's keys: this would bring the wallet to ${MAX_WALLET_KEYS + 1} keys, more than the ${MAX_WALLET_KEYS} it holds at most$`));
  assert.deepEqual(await addresses(), [own], 'an import over the limit adds nothing');

  // 4. Duplicates, the wallet's own key, and a creation time of 0 (the epoch) that would
  //    put the attacker's key first: where the page picks its default addresses (mining
  //    rewards, "send from", the guide's funding command). Imported keys come after the
  //    wallet's own, in the order of the file; duplicates and keys held are skipped.
  const [ownKey] = [await page.evaluate(async () => [...await window.node.exportKeys()])];
  const planted = randomKeys(1, 0n);
  const batch = Buffer.concat([planted, planted, Buffer.from(ownKey), planted]);
  assert.equal(await importInPage((a) => new Uint8Array(a), bytesOf(batch)), 'added 1');
  await waitFor('the planted key listed', async () => (await shown(page)).length === 2);
  const [first, second] = await shown(page);
  assert.equal(first, own, 'the wallet\'s own address stays first');
  assert.notEqual(second, own);
  assert.equal(await page.$eval('#send-from', (s) => s.value), own, 'the payment form still sends from the own address');

  // 5. Crafted backup files through the restore form.
  await page.click('[data-testid=backup] summary');
  const restore = async (name, body, pass = 'a gift for you') => {
    await page.setInputFiles('#restore-file', { name, mimeType: 'application/json', buffer: Buffer.from(body) });
    await page.fill('#restore-pass', pass);
    await page.click('#restore');
    return waitFor(`the answer to ${name}`, async () => {
      const t = await text(page, '[data-testid=backup-status]');
      return t && !t.endsWith('…') ? t : null;
    }, 120_000);
  };
  const before = await addresses();
  const refusedSettings = /^This backup uses a cipher or settings this page does not accept\. Nothing was imported\.$/;
  const valid = randomKeys(1);
  for (const [why, file, re] of [
    ['a file larger than any backup', 'x'.repeat(200_001), /^This file is far larger than a wallet backup\. Nothing was imported\.$/],
    ['JSON that is a number', '42', /^This file is not a wallet backup of this page\. Nothing was imported\.$/],
    ['JSON null', 'null', /^This file is not a wallet backup of this page\. Nothing was imported\.$/],
    ['an unknown version', await craft(valid, 'a gift for you', { over: { version: 2 } }), /^This backup has version 2; this page reads version 1\. Nothing was imported\.$/],
    ['markup as the version', await craft(valid, 'a gift for you', { over: { version: '<img src=x onerror="window.pwned=1">' } }), /^This backup has version <img src=x o; this page reads version 1\. Nothing was imported\.$/],
    ['a __proto__ that carries the version', (await craft(valid, 'a gift for you')).replace('"version":1,', '"__proto__":{"version":1},'), /^This backup has version undefined; this page reads version 1\. Nothing was imported\.$/],
    ['zero PBKDF2 rounds', await craft(valid, 'a gift for you', { over: { kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: 0, salt: randomBytes(16).toString('base64') } } }), refusedSettings],
    ['a billion PBKDF2 rounds (minutes of hashing)', await craft(valid, 'a gift for you', { over: { kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: 1e9, salt: randomBytes(16).toString('base64') } } }), refusedSettings],
    ['one round more than the page\'s limit of 2,000,000', await craft(valid, 'a gift for you', { over: { kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: 2_000_001, salt: randomBytes(16).toString('base64') } } }), refusedSettings],
    ['rounds as a string', await craft(valid, 'a gift for you', { over: { kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: '600000', salt: randomBytes(16).toString('base64') } } }), refusedSettings],
    ['a 65-byte salt', await craft(valid, 'a gift for you', { salt: randomBytes(65) }), /^This file is not a complete wallet backup: it is damaged\. Nothing was imported\.$/],
    ['a 4-byte salt', await craft(valid, 'a gift for you', { salt: randomBytes(4) }), /^This file is not a complete wallet backup: it is damaged\. Nothing was imported\.$/],
    ['a 16-byte IV', await craft(valid, 'a gift for you', { iv: randomBytes(16) }), /^This file is not a complete wallet backup: it is damaged\. Nothing was imported\.$/],
    ['a salt that is not base64', await craft(valid, 'a gift for you', { over: { kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: 100_000, salt: '!!' } } }), /^This file is not a complete wallet backup: it is damaged\. Nothing was imported\.$/],
    ['keys of 41 bytes inside a good cipher', await craft(Buffer.alloc(41, 7), 'a gift for you'), /^This backup decrypts, but what it holds is not a wallet's keys \(41 bytes are not 1 to \d+ keys of 40 bytes\)\. Nothing was imported\.$/],
    ['a zero scalar inside a good cipher', await craft(Buffer.concat([valid, zero]), 'a gift for you'), /^This backup decrypts, but what it holds is not a wallet's keys \(key 2: the record holds no valid key\)\. Nothing was imported\.$/],
    ['more keys than a wallet holds', await craft(randomKeys(MAX_WALLET_KEYS + 1), 'a gift for you'), /^This backup decrypts, but what it holds is not a wallet's keys \(40040 bytes are not 1 to 1000 keys of 40 bytes\)\. Nothing was imported\.$/],
  ]) {
    assert.match(await restore(`${why}.json`, file), re, why);
    assert.deepEqual(await addresses(), before, `${why}: nothing was imported`);
  }
  assert.equal(await page.evaluate(() => /** @type {any} */ (window).pwned), undefined, 'markup in a file is shown as text, never run');
  assert.equal(await page.locator('[data-testid=backup-status] img').count(), 0);
  assert.equal(await page.evaluate(() => /** @type {any} */ ({}).version), undefined, 'no prototype was polluted');

  // The wallet still works: a new address, and a backup of it all.
  await page.click('#create-wallet');
  await waitFor('a third address', async () => (await shown(page)).length === 3);
  assert.deepEqual((await shown(page)).slice(0, 2), before);
  await screenshot(tab, 'wallet-attacks-1400');
  assert.deepEqual(tab.errors, []);
});
