// @ts-check
// The wallet panel: the addresses with their balances, each one's history a click away,
// and "New address".
import { $, el, banner, copyButton, log, message } from './dom.js';
import { addressLink } from './links.js';
import { historyList } from './history.js';
import { afterKeysAdded, lockRefusal } from './lock-panel.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').AddressRow} AddressRow */

/** Draws the wallet from each refresh cycle's rows. @param {Page} page */
export function mountWallet(page) {
  const { node } = page;
  /** Addresses whose history is open. @type {Set<string>} */
  const open = new Set();
  /** @type {AddressRow[]} */
  let last = [];
  /** @param {AddressRow[]} rows */
  async function draw(rows) {
    last = rows;
    /** @type {Map<string, HTMLElement>} */
    const histories = new Map();
    await Promise.all([...open].filter((a) => rows.some((r) => r.address === a)).map(async (a) => {
      histories.set(a, historyList(await node.addressHistory(a), a));
    }));
    const body = $('addresses');
    if (rows.length === 0) {
      body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 3, text: 'No addresses yet: create one.' })));
    } else {
      body.replaceChildren(...rows.flatMap((r) => {
        const pending = r.spendable !== r.balance ? el('span', { class: 'pending', text: `${r.spendable} spendable now` }) : null;
        const history = histories.get(r.address);
        const toggle = el('button', { type: 'button', class: 'small', 'data-testid': 'toggle-history', 'aria-expanded': history ? 'true' : 'false', text: history ? 'hide history' : 'history',
          onclick: () => { if (!open.delete(r.address)) open.add(r.address); draw(last).catch((e) => console.error(e)); } });
        const row = el('tr', { 'data-testid': 'address-row', 'data-address': r.address },
          el('td', {}, el('code', { 'data-testid': 'address' }, addressLink(r.address, false))),
          el('td', { class: 'num' }, el('span', { class: 'balance', 'data-testid': 'balance', text: String(r.balance) }), pending),
          el('td', { class: 'actions' }, copyButton(r.address, 'copy-address'), toggle));
        return history ? [row, el('tr', { class: 'history-row', 'data-testid': 'address-history' }, el('td', { colspan: 3 }, history))] : [row];
      }));
    }
  }
  page.onWallet(draw);

  $('create-wallet').addEventListener('click', async () => {
    const locked = lockRefusal('a new key is stored encrypted with its passphrase');
    if (locked) { banner(locked, true); return; }
    $('create-wallet').disabled = true;
    try {
      await node.createWallet();
      await afterKeysAdded(node);
      await page.refresh();
    } catch (e) {
      banner(message(e), true);
    } finally {
      $('create-wallet').disabled = false;
    }
  });

  node.on('wallet', (/** @type {{address: string}} */ w) => log(`new address ${w.address}`));
}
