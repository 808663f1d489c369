// @ts-check
// The wallet's backup file, loaded only when used (a dynamic import from backup-panel.js):
// the node's keys encrypted with a passphrase, done with the browser's WebCrypto so the
// page's wasm carries no cipher.
//
// The file is JSON: {format, version, kdf: {name: "PBKDF2", hash: "SHA-256", iterations,
// salt}, cipher: {name: "AES-GCM", iv}, addresses, data}, binary fields in base64. The key
// is derived from the passphrase with PBKDF2-HMAC-SHA-256; AES-GCM encrypts the keys (40
// bytes each, as node.exportKeys() gives them) and authenticates them with the header, so a
// wrong passphrase and a changed file are both refused before anything is imported.

export const FORMAT = 'blockchain-wallet-backup';
const VERSION = 1;
/** PBKDF2 rounds: OWASP's 2023 advice for PBKDF2-HMAC-SHA-256 (a guess at a passphrase
 *  costs an attacker this many hashes; a restore costs the user well under a second). */
export const ITERATIONS = 600_000;
/** The fewest rounds a file may ask for: a file cannot make the import weaker than this. */
const MIN_ITERATIONS = 100_000;
/** The most: a crafted file cannot make a restore hash much longer than a real one (ten
 *  million rounds took half a minute on a slow machine; this is about three seconds). */
export const MAX_ITERATIONS = 2_000_000;
/** Longest salt read: PBKDF2 wants 16 bytes; a longer one only makes a crafted file bigger. */
const MAX_SALT_BYTES = 64;
/** Bytes turned into base64 text at a time: String.fromCharCode takes them as arguments,
 *  and a whole wallet's worth would overflow the stack. */
const B64_CHUNK = 8192;
/** Shortest passphrase accepted for a new backup. */
export const MIN_PASSPHRASE = 8;
/** Largest backup file read: a full wallet (1,000 keys, node-wasm's MAX_WALLET_KEYS) in
 *  base64 with its addresses is about 100 KB. */
export const MAX_FILE_BYTES = 200_000;

/** A refusal the page shows as it is. */
export class BackupError extends Error {}

/** @param {Uint8Array} bytes */
function b64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += B64_CHUNK) text += String.fromCharCode(...bytes.subarray(i, i + B64_CHUNK));
  return btoa(text);
}
/** @param {unknown} text */
function unb64(text) {
  if (typeof text !== 'string') throw new BackupError('This file is not a complete wallet backup: a field is missing. Nothing was imported.');
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    throw new BackupError('This file is not a complete wallet backup: it is damaged. Nothing was imported.');
  }
}

/** The AES key of `passphrase`. @param {string} passphrase @param {Uint8Array} salt @param {number} iterations */
export async function deriveKey(passphrase, salt, iterations) {
  const raw = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, raw, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** What the cipher authenticates besides the keys: the header. @param {{format: string, version: number, iterations: number}} h */
const header = (h) => new TextEncoder().encode(`${h.format}/${h.version}/PBKDF2-SHA-256/${h.iterations}`);

/**
 * The backup file of `node`'s wallet, as text.
 * @param {import('./types.js').BrowserNode} node @param {string} passphrase
 */
export async function exportBackup(node, passphrase) {
  if (passphrase.length < MIN_PASSPHRASE) throw new BackupError(`Choose a passphrase of at least ${MIN_PASSPHRASE} characters.`);
  /** @type {Uint8Array} */
  const keys = await node.exportKeys();
  if (keys.length === 0) throw new BackupError('The wallet has no keys yet: create an address first.');
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await deriveKey(passphrase, salt, ITERATIONS);
  const data = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: header({ format: FORMAT, version: VERSION, iterations: ITERATIONS }) }, key, keys));
  keys.fill(0);
  return JSON.stringify({
    format: FORMAT, version: VERSION,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations: ITERATIONS, salt: b64(salt) },
    cipher: { name: 'AES-GCM', iv: b64(iv) },
    addresses: await node.listAddresses(),
    data: b64(data),
  }, null, 1);
}

/**
 * Imports the keys of backup `text` into `node`'s wallet; resolves to how many were new.
 * Refuses (BackupError) a file that is not a whole backup and a wrong passphrase, before
 * anything is imported.
 * @param {import('./types.js').BrowserNode} node @param {string} text @param {string} passphrase
 */
export async function importBackup(node, text, passphrase) {
  if (text.length > MAX_FILE_BYTES) throw new BackupError('This file is far larger than a wallet backup. Nothing was imported.');
  let file;
  try {
    file = JSON.parse(text);
  } catch {
    throw new BackupError('This file is not a complete wallet backup: it is damaged or cut short. Nothing was imported.');
  }
  if (!file || file.format !== FORMAT) throw new BackupError('This file is not a wallet backup of this page. Nothing was imported.');
  if (file.version !== VERSION) throw new BackupError(`This backup has version ${String(file.version).slice(0, 12)}; this page reads version ${VERSION}. Nothing was imported.`);
  const iterations = file.kdf?.iterations;
  if (file.kdf?.name !== 'PBKDF2' || file.kdf?.hash !== 'SHA-256' || file.cipher?.name !== 'AES-GCM'
    || !Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new BackupError('This backup uses a cipher or settings this page does not accept. Nothing was imported.');
  }
  const salt = unb64(file.kdf.salt);
  const iv = unb64(file.cipher.iv);
  const data = unb64(file.data);
  if (iv.length !== 12 || salt.length < 16 || salt.length > MAX_SALT_BYTES) throw new BackupError('This file is not a complete wallet backup: it is damaged. Nothing was imported.');
  let keys;
  try {
    const key = await deriveKey(passphrase, salt, iterations);
    keys = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: header({ format: FORMAT, version: VERSION, iterations }) }, key, data));
  } catch {
    throw new BackupError('Wrong passphrase, or the file was changed since it was saved. Nothing was imported.');
  }
  try {
    return await node.importKeys(keys);
  } catch (e) {
    // The cipher held, so the file was made with its passphrase: by its owner, or by
    // someone who handed over both. What it holds is checked key by key all the same.
    const why = /^not a wallet's keys: (.*)$/.exec(e instanceof Error ? e.message : '');
    if (why) throw new BackupError(`This backup decrypts, but what it holds is not a wallet's keys (${why[1]}). Nothing was imported.`);
    throw e;
  } finally {
    keys.fill(0);
  }
}
