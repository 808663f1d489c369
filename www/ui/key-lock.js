// @ts-check
// The wallet's keys at rest under a passphrase, loaded only when used (a dynamic import from
// lock-panel.js), as backup.js is: WebCrypto does the cipher, so the page's wasm carries none.
//
// With a passphrase set, the node's wallet database keeps only each address and its creation
// time (node.sealKeys: node-wasm/src/wallet.rs), and sealed-store.js keeps the keys
// encrypted: the keys as node.exportKeys() gives them, under AES-GCM with a key derived from
// the passphrase by PBKDF2-HMAC-SHA-256 (backup.js's derivation and rounds). The node's
// thread holds the keys in memory only while the wallet is unlocked.
import { BackupError, deriveKey, ITERATIONS } from './backup.js';
import { readSealed, writeSealed, deleteSealed } from './sealed-store.js';

const FORMAT = 'blockchain-wallet-sealed-keys';

/** What the cipher authenticates besides the keys: the node and the rounds, so a record
 *  copied from another node's database, or edited, is refused. @param {string} id @param {number} iterations */
const header = (id, iterations) => new TextEncoder().encode(`${FORMAT}/${id}/${iterations}`);

/** This tab's unlock: the AES key, kept to seal keys added while unlocked; forgotten on lock.
 *  @type {{key: CryptoKey, salt: Uint8Array, iterations: number} | null} */
let session = null;

/** Whether this tab can seal new keys without asking for the passphrase again. */
export const canSeal = () => session !== null;

/** Encrypts `keys` under this tab's unlock and stores them with the node's addresses.
 *  @param {import('./types.js').BrowserNode} node @param {Uint8Array} keys */
async function store(node, keys) {
  if (!session) throw new BackupError('Unlock the wallet in this tab first.');
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const { key, salt, iterations } = session;
  const data = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: header(node.id, iterations) }, key, keys));
  await writeSealed(node.id, { format: FORMAT, iterations, salt, iv, data, addresses: await node.listAddresses() });
}

/** Runs `use` on the node's keys and wipes this copy of them after.
 *  @param {import('./types.js').BrowserNode} node @param {(keys: Uint8Array) => Promise<void>} use */
async function withKeys(node, use) {
  /** @type {Uint8Array} */
  const keys = await node.exportKeys();
  try {
    await use(keys);
  } finally {
    keys.fill(0);
  }
}

/**
 * Sets a passphrase: the keys are stored encrypted, then the node's database drops them; the
 * wallet stays unlocked in this tab. (In that order: a crash between leaves both copies,
 * never neither.)
 * @param {import('./types.js').BrowserNode} node @param {string} passphrase
 */
export async function setPassphrase(node, passphrase) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  session = { key: await deriveKey(passphrase, salt, ITERATIONS), salt, iterations: ITERATIONS };
  await withKeys(node, async (keys) => {
    if (keys.length === 0) throw new BackupError('The wallet has no keys yet: create an address first.');
    await store(node, keys);
    await node.sealKeys(keys, true);
  });
}

/** The keys sealed under `passphrase`; a wrong passphrase (or a changed record) is refused.
 *  @param {string} id @param {string} passphrase */
async function open(id, passphrase) {
  const sealed = await readSealed(id);
  if (!sealed || sealed.format !== FORMAT || !Number.isSafeInteger(sealed.iterations)) {
    throw new BackupError('This wallet has no passphrase set.');
  }
  const key = await deriveKey(passphrase, sealed.salt, sealed.iterations);
  try {
    const keys = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv, additionalData: header(id, sealed.iterations) }, key, sealed.data));
    return { keys, session: { key, salt: sealed.salt, iterations: sealed.iterations } };
  } catch {
    throw new BackupError('Wrong passphrase: nothing changed.');
  }
}

/** Unlocks: the node holds the keys in memory until locked or reloaded.
 *  @param {import('./types.js').BrowserNode} node @param {string} passphrase */
export async function unlock(node, passphrase) {
  const opened = await open(node.id, passphrase);
  try {
    await node.sealKeys(opened.keys, true);
    session = opened.session;
  } finally {
    opened.keys.fill(0);
  }
}

/** Locks: the node forgets its keys. @param {import('./types.js').BrowserNode} node */
export async function lock(node) {
  session = null;
  await node.sealKeys(null, true);
}

/** Seals the keys again after keys were added while unlocked (a new address, a restore).
 *  @param {import('./types.js').BrowserNode} node */
export const reseal = (node) => withKeys(node, (keys) => store(node, keys));

/** Removes the passphrase: the node's database holds the keys again, unencrypted, then the
 *  sealed copy goes. @param {import('./types.js').BrowserNode} node @param {string} passphrase */
export async function removePassphrase(node, passphrase) {
  const opened = await open(node.id, passphrase);
  try {
    await node.sealKeys(opened.keys, false);
  } finally {
    opened.keys.fill(0);
  }
  session = null;
  await deleteSealed(node.id);
}
