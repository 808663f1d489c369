// @ts-check
// The wallet's backup controls: "not backed up" when the wallet holds addresses no backup
// of this browser has saved, a passphrase-encrypted download, and a restore from a file.
// The cipher code (backup.js) is imported only when one of them is used.
import { $, el, message } from './dom.js';
import { plural } from './format.js';
import { afterKeysAdded, lockRefusal, mountLock } from './lock-panel.js';

/** @typedef {import('./page.js').Page} Page */

/** Where this browser remembers which addresses the last backup of node `id` held. @param {string} id */
const savedKey = (id) => `wallet-backup-${id}`;

/** @param {string} id @returns {string[]} */
function backedUp(id) {
  try {
    const list = JSON.parse(localStorage.getItem(savedKey(id)) || '[]');
    return Array.isArray(list) ? list.filter((a) => typeof a === 'string') : [];
  } catch {
    return [];
  }
}

/** Mounts the backup controls, and the passphrase lock beside them. @param {Page} page */
export function mountBackup(page) {
  mountLock(page);
  const { node } = page;
  const status = $('backup-status');
  /** @param {string} text @param {boolean} [bad] */
  const say = (text, bad = false) => { status.textContent = text; status.className = bad ? 'error' : 'ok'; };

  page.onWallet((rows) => {
    const saved = new Set(backedUp(node.id));
    const missing = rows.filter((r) => !saved.has(r.address)).length;
    const warning = $('backup-warning');
    warning.hidden = missing === 0;
    warning.textContent = saved.size === 0
      ? 'This wallet has never been backed up: if the browser clears its storage, its coins are lost. Save a backup below.'
      : `${plural(missing, 'address', 'addresses')} made since the last backup ${missing === 1 ? 'is' : 'are'} in no backup: save a new one.`;
  });

  $('backup-save').addEventListener('click', async () => {
    const pass = $('backup-pass').value;
    if (pass !== $('backup-pass2').value) { say('The two passphrases differ: type the same one twice.', true); return; }
    const locked = lockRefusal('a backup is made of its keys');
    if (locked) { say(locked, true); return; }
    $('backup-save').disabled = true;
    say('Encrypting…');
    try {
      const { exportBackup } = await import('./backup.js');
      const text = await exportBackup(node, pass);
      const addresses = /** @type {string[]} */ (await node.listAddresses());
      const a = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'application/json' })), download: `wallet-${node.id}.backup.json` });
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.getAttribute('href') || ''), 10_000);
      localStorage.setItem(savedKey(node.id), JSON.stringify(addresses));
      $('backup-pass').value = '';
      $('backup-pass2').value = '';
      say(`Saved a backup of ${plural(addresses.length, 'address', 'addresses')}. Keep the file and the passphrase apart: both are needed to restore.`);
      await page.refresh();
    } catch (e) {
      say(message(e), true);
    } finally {
      $('backup-save').disabled = false;
    }
  });

  $('restore').addEventListener('click', async () => {
    const file = $('restore-file').files?.[0];
    if (!file) { say('Choose a backup file first.', true); return; }
    const locked = lockRefusal('restored keys are stored encrypted with its passphrase');
    if (locked) { say(locked, true); return; }
    $('restore').disabled = true;
    say('Decrypting…');
    try {
      const { importBackup, MAX_FILE_BYTES } = await import('./backup.js');
      if (file.size > MAX_FILE_BYTES) throw new Error('This file is far larger than a wallet backup. Nothing was imported.');
      const added = await importBackup(node, await file.text(), $('restore-pass').value);
      await afterKeysAdded(node);
      $('restore-pass').value = '';
      say(added ? `Restored ${plural(added, 'address', 'addresses')}; their balances come from the chain.` : 'This wallet already holds every key of that backup.');
      await page.refresh();
    } catch (e) {
      say(message(e), true);
    } finally {
      $('restore').disabled = false;
    }
  });
}
