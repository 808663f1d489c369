// @ts-check
// The wallet's passphrase lock: whether the keys are stored encrypted, and whether this
// node holds them now (unlocked) or not (locked: addresses and balances show, nothing can
// be signed). Set, unlock, lock and remove the passphrase here; the cipher (key-lock.js) is
// imported only when one of them is used. Other panels ask `lockRefusal()` before they
// need the keys, and `afterKeysAdded()` after they added some.
import { $, el, message } from './dom.js';
import { readSealed } from './sealed-store.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').BrowserNode} BrowserNode */

/** Shortest passphrase accepted (backup.js's rule for backups). */
const MIN_PASSPHRASE = 8;

/** 'plain' (no passphrase), 'locked' or 'unlocked'; 'unknown' until read at start. */
let state = 'unknown';
/** Redraws the panel; set by mountLock. */
let show = () => {};

/** What a panel says instead of doing `what` while the wallet is locked, or null.
 *  @param {string} what e.g. "a payment must be signed with its address's key" */
export const lockRefusal = (what) => (state === 'locked' ? `Unlock the wallet first: ${what}.` : null);

/** The sealing under way, if any. @type {Promise<void> | null} */
let sealing = null;
/** Keys came while it ran: it runs once more. */
let sealAgain = false;
/** Seals the keys again, with a passphrase set and this tab unlocked: the node keeps keys
 *  added since (a new address, a restore) in memory only until then. @param {BrowserNode} node */
function resealSoon(node) {
  if (sealing) { sealAgain = true; return sealing; }
  sealing = (async () => {
    const keyLock = await import('./key-lock.js');
    do {
      sealAgain = false;
      if (state === 'unlocked' && keyLock.canSeal()) await keyLock.reseal(node);
    } while (sealAgain);
  })().finally(() => { sealing = null; });
  return sealing;
}

/** After keys were added: resolves once they are sealed with the others (at once when no
 *  passphrase is set). @param {BrowserNode} node */
export const afterKeysAdded = (node) => (state === 'unlocked' ? resealSoon(node) : Promise.resolve());

/** Reads the state: a sealed record means a passphrase is set; the node holds the keys in
 *  memory when it can export any. @param {BrowserNode} node */
async function readState(node) {
  if (!await readSealed(node.id)) return 'plain';
  /** @type {Uint8Array} */
  const keys = await node.exportKeys();
  const held = keys.length > 0;
  keys.fill(0);
  return held ? 'unlocked' : 'locked';
}

/** Mounts the lock controls under the wallet's backup controls. @param {Page} page */
export function mountLock(page) {
  const { node } = page;
  const line = el('p', { id: 'lock-state', 'data-testid': 'lock-state', class: 'hint' });
  const pass = el('input', { id: 'lock-pass', 'data-testid': 'lock-pass', type: 'password', autocomplete: 'current-password' });
  const pass2 = el('input', { id: 'lock-pass2', 'data-testid': 'lock-pass2', type: 'password', autocomplete: 'new-password' });
  const again = el('label', {}, 'Again ', pass2);
  const status = el('p', { id: 'lock-status', 'data-testid': 'lock-status', role: 'status' });
  /** @param {string} text @param {boolean} [bad] */
  const say = (text, bad = false) => { status.textContent = text; status.className = bad ? 'error' : 'ok'; };
  /** @param {string} id @param {string} text @param {(p: string) => Promise<string>} act */
  const button = (id, text, act) => el('button', { id, 'data-testid': id, type: 'button', text, onclick: async (/** @type {Event} */ e) => {
    const b = /** @type {HTMLButtonElement} */ (e.currentTarget);
    b.disabled = true;
    say('Working…');
    try {
      say(await act(/** @type {HTMLInputElement} */ (pass).value));
      /** @type {HTMLInputElement} */ (pass).value = '';
      /** @type {HTMLInputElement} */ (pass2).value = '';
    } catch (err) {
      say(message(err), true);
    } finally {
      b.disabled = false;
      state = await readState(node).catch(() => state);
      show();
      await page.refresh();
    }
  } });
  const set = button('lock-set', 'Encrypt keys', async (p) => {
    if (p.length < MIN_PASSPHRASE) throw new Error(`Choose a passphrase of at least ${MIN_PASSPHRASE} characters.`);
    if (p !== /** @type {HTMLInputElement} */ (pass2).value) throw new Error('The two passphrases differ: type the same one twice.');
    await (await import('./key-lock.js')).setPassphrase(node, p);
    return 'The keys are now stored only encrypted. Forgetting the passphrase loses them: keep a backup too.';
  });
  const unlock = button('unlock', 'Unlock', async (p) => {
    await (await import('./key-lock.js')).unlock(node, p);
    return 'Unlocked: this tab can sign payments until you lock it or reload.';
  });
  const lock = button('lock', 'Lock', async () => {
    await (await import('./key-lock.js')).lock(node);
    return 'Locked.';
  });
  const remove = button('lock-remove', 'Remove passphrase', async (p) => {
    await (await import('./key-lock.js')).removePassphrase(node, p);
    return 'The passphrase is removed: the keys are stored unencrypted in this browser again.';
  });
  const passLabel = el('label', {}, 'Passphrase ', pass);
  const box = el('details', { id: 'lock-panel', class: 'backup', 'data-testid': 'lock-panel' },
    el('summary', { text: 'Passphrase lock' }),
    el('p', { class: 'hint', text: 'With a passphrase the keys are stored encrypted: a locked wallet shows its addresses and balances but cannot pay until unlocked, also after a reload.' }),
    passLabel, again, set, unlock, lock, remove, status);
  $('backup').after(line, box);

  show = () => {
    line.dataset.state = state;
    line.textContent = {
      plain: 'Keys stored unencrypted in this browser: set a passphrase below to encrypt them.',
      locked: 'Locked: the keys are encrypted with your passphrase. Addresses and balances show; unlock to pay.',
      unlocked: 'Unlocked: the keys are stored encrypted, and this node can sign until you lock it or reload.',
    }[state] || '';
    again.hidden = set.hidden = state !== 'plain';
    unlock.hidden = state !== 'locked';
    lock.hidden = state !== 'unlocked';
    remove.hidden = state === 'plain';
  };
  readState(node).then((s) => { state = s; show(); }).catch((e) => say(message(e), true));
  // Keys added by anyone (a page script too) are sealed as soon as they come.
  node.on('wallet', () => { afterKeysAdded(node).catch((e) => say(message(e), true)); });
}
