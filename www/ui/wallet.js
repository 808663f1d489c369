// @ts-check
// The wallet panel: the addresses with their balances, and "New address".
import { $, el, banner, copyButton, log, message } from './dom.js';
import { addressLink } from './links.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').AddressRow} AddressRow */

/** Draws the wallet from each refresh cycle's rows. @param {Page} page */
export function mountWallet(page) {
  const { node } = page;
  /** @param {AddressRow[]} rows */
  function draw(rows) {
    const body = $('addresses');
    if (rows.length === 0) {
      body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 3, text: 'No addresses yet: create one.' })));
    } else {
      body.replaceChildren(...rows.map((r) => {
        const pending = r.spendable !== r.balance ? el('span', { class: 'pending', text: `${r.spendable} spendable now` }) : null;
        return el('tr', { 'data-testid': 'address-row', 'data-address': r.address },
          el('td', {}, el('code', { 'data-testid': 'address' }, addressLink(r.address, false))),
          el('td', { class: 'num' }, el('span', { class: 'balance', 'data-testid': 'balance', text: String(r.balance) }), pending),
          el('td', {}, copyButton(r.address, 'copy-address')));
      }));
    }
  }
  page.onWallet(draw);

  $('create-wallet').addEventListener('click', async () => {
    $('create-wallet').disabled = true;
    try {
      await node.createWallet();
      await page.refresh();
    } catch (e) {
      banner(message(e), true);
    } finally {
      $('create-wallet').disabled = false;
    }
  });

  node.on('wallet', (/** @type {{address: string}} */ w) => log(`new address ${w.address}`));
}
