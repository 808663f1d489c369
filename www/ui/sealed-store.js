// @ts-check
// Where the wallet's sealed keys live (key-lock.js encrypts them): the IndexedDB database
// `wallet-lock-<id>`, one record. Kept apart from the cipher so that the page can tell at
// start whether the wallet has a passphrase without loading any crypto.

const STORE = 'sealed';
const RECORD = 'keys';

/** @typedef {{format: string, iterations: number, salt: Uint8Array, iv: Uint8Array, data: Uint8Array, addresses: string[]}} Sealed */

/** @template T @param {IDBRequest<T>} request @returns {Promise<T>} */
const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

/** @param {string} id @returns {Promise<IDBDatabase>} */
function openDb(id) {
  const request = indexedDB.open(`wallet-lock-${id}`, 1);
  request.onupgradeneeded = () => request.result.createObjectStore(STORE);
  return done(request);
}

/** @template T @param {string} id @param {IDBTransactionMode} mode @param {(s: IDBObjectStore) => IDBRequest<T>} use */
async function withStore(id, mode, use) {
  const db = await openDb(id);
  try {
    const tx = db.transaction(STORE, mode);
    const committed = new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onabort = () => reject(tx.error); });
    const result = await done(use(tx.objectStore(STORE)));
    await committed;
    return result;
  } finally {
    db.close();
  }
}

/** The sealed keys of node `id`, or null when it has no passphrase. @param {string} id
 *  @returns {Promise<Sealed | null>} */
export async function readSealed(id) {
  const value = await withStore(id, 'readonly', (s) => s.get(RECORD));
  return value && typeof value === 'object' ? value : null;
}

/** Stores (replacing) the sealed keys of node `id`. @param {string} id @param {Sealed} sealed */
export const writeSealed = (id, sealed) => withStore(id, 'readwrite', (s) => s.put(sealed, RECORD));

/** Forgets the sealed keys of node `id`. @param {string} id */
export const deleteSealed = (id) => withStore(id, 'readwrite', (s) => s.delete(RECORD));
