// @ts-check
// The send form: from one of the wallet's addresses to any address.
import { $, $select, el, log, message } from './dom.js';
import { short } from './format.js';
import { txLink } from './links.js';

/** @typedef {import('./page.js').Page} Page */

/** Fills a <select> with addresses, keeping the chosen one.
 *  @param {HTMLSelectElement} select @param {string[]} addresses */
export function fillSelect(select, addresses) {
  const keep = select.value;
  select.replaceChildren(...addresses.map((a) => el('option', { value: a, text: a })));
  if (addresses.includes(keep)) select.value = keep;
}

/** Wires the send form. @param {Page} page @param {() => Promise<void>} refreshWallet */
export function mountSend(page, refreshWallet) {
  const { node } = page;
  page.onWallet((rows) => fillSelect($select('send-from'), rows.map((r) => r.address)));

  $('send-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const error = $('send-error');
    const result = $('send-result');
    error.textContent = '';
    result.textContent = '';
    $('send-button').disabled = true;
    try {
      const from = $('send-from').value;
      if (!from) throw new Error('create an address first: there is nothing to send from');
      const txid = await node.send(from, $('send-to').value.trim(), $('send-amount').value);
      result.replaceChildren('sent: ', txLink(txid));
      result.dataset.txid = txid;
      log(`sent ${$('send-amount').value} to ${short($('send-to').value, 16)}… in ${short(txid)}`);
      await refreshWallet();
    } catch (e) {
      error.textContent = message(e);
    } finally {
      $('send-button').disabled = false;
    }
  });
}
