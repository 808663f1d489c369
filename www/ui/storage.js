// @ts-check
// Storage that lasts: the page asks the browser to keep this origin's data (persistent
// storage), shows how much it uses and whether it is persistent, and notices when this
// node's databases were cleared (by the user or evicted by the browser): the chain then
// downloads again, and keys that were stored only in this browser are gone, which is what
// the wallet's backup file is for.
import { $, banner } from './dom.js';

/** @typedef {import('./page.js').Page} Page */

/** How often the usage line is read again (estimate() is cheap but not free). */
const USAGE_EVERY_MS = 30_000;

/** Bytes as a short readable size. @param {number} n */
const size = (n) => (n < 1e6 ? `${(n / 1e3).toFixed(0)} KB` : n < 1e9 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e9).toFixed(2)} GB`);

/** What this browser last knew this node held, kept where the node's own databases are not
 *  (localStorage): if the databases are found empty while this says they were not, they
 *  were cleared. @param {string} id */
const markKey = (id) => `blockchain-node-${id}-held`;

/** @param {string} id @returns {{height: number, keys: number} | null} */
function readMark(id) {
  try {
    const m = JSON.parse(localStorage.getItem(markKey(id)) || 'null');
    return m && Number.isSafeInteger(m.height) && Number.isSafeInteger(m.keys) ? m : null;
  } catch {
    return null;
  }
}

/** Asks for persistent storage, shows usage, and watches for cleared databases.
 *  @param {Page} page */
export function mountStorage(page) {
  const id = page.node.id;
  const mark = readMark(id);
  let persistent = false;
  const line = async () => {
    const est = await navigator.storage?.estimate?.().catch(() => undefined);
    const used = est && typeof est.usage === 'number' ? `${size(est.usage)} used` : 'usage unknown';
    const quota = est && typeof est.quota === 'number' ? ` of ${size(est.quota)}` : '';
    $('storage').textContent = `${used}${quota} · ${persistent
      ? 'persistent: the browser keeps it'
      : 'not persistent: the browser may clear it when space runs low (keep a wallet backup)'}`;
  };
  (async () => {
    if (navigator.storage?.persisted) persistent = await navigator.storage.persisted().catch(() => false);
    if (!persistent && navigator.storage?.persist) persistent = await navigator.storage.persist().catch(() => false);
    await line();
  })();
  setInterval(line, USAGE_EVERY_MS);

  /** @param {{height: number, keys: number}} stored what the databases held at start */
  const check = (stored) => {
    if (!mark) return;
    const chainGone = mark.height > 0 && stored.height === 0;
    const keysGone = mark.keys > 0 && stored.keys === 0;
    if (chainGone || keysGone) {
      banner(`This browser's data for node ${id} was cleared (by the browser or by a user): `
        + `${chainGone ? 'the chain downloads again from the relay' : ''}${chainGone && keysGone ? '; ' : ''}`
        + `${keysGone ? `the ${mark.keys} key(s) stored only here are gone — restore them from a wallet backup file` : ''}.`, true);
    }
  };
  // Only the tab whose worker opened the databases knows what they held; a view does not.
  const node = /** @type {any} */ (page.node);
  mountVerify(node);
  if (node.stored) check(node.stored);
  page.onSnapshot(({ status, wallet }) => {
    const held = { height: Math.max(status.height, 0), keys: wallet.length };
    try { localStorage.setItem(markKey(id), JSON.stringify(held)); } catch { /* private mode: no mark */ }
  });
}

/** "Verify my chain": the node restarts from its storage, which checks every stored block
 *  by replaying it from the first block (www/node-worker.js verifyChain); a block that fails is named, and the
 *  node downloads its chain again instead of serving it. @param {any} node */
function mountVerify(node) {
  const button = /** @type {HTMLButtonElement} */ ($('verify-chain'));
  const out = $('verify-result');
  button.onclick = async () => {
    button.disabled = true;
    out.textContent = 'Checking: the node restarts from its storage and replays it from the first block…';
    try {
      const r = await node.verifyChain();
      out.textContent = r.ok
        ? `The stored chain holds: blocks #0–#${r.height} match their headers, and the coins are exactly what they create.`
        : r.lost
          ? `Storage lost part of the chain: ${r.fault}. What it kept holds and is used; the node downloads the rest again from the relay.`
          : `Stored ${/^block #\d+ /.test(r.fault) ? r.fault : `chain: ${r.fault}`}. This node will not serve it: `
          + 'it dropped its stored chain and downloads it again from the relay.';
      out.classList.toggle('bad', !r.ok);
    } catch (e) {
      out.textContent = `Could not check: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      button.disabled = false;
    }
  };
}
