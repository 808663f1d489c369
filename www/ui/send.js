// @ts-check
// The send form: from one of the wallet's addresses to any address. Input is checked here
// first, in plain words; what the node says when it refuses is one click away.
import { $, $select, el, log, message } from './dom.js';
import { plural, short } from './format.js';
import { base58Bytes, txLink } from './links.js';
import { lockRefusal } from './lock-panel.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').AddressRow} AddressRow */

/** Bytes of an address: version, 20-byte key hash, 4-byte checksum. */
const ADDRESS_BYTES = 25;

/** Fills a <select> with addresses, keeping the chosen one; `label` names each option.
 *  @param {HTMLSelectElement} select @param {string[]} addresses @param {(a: string) => string} [label] */
export function fillSelect(select, addresses, label = (a) => a) {
  const keep = select.value;
  select.replaceChildren(...addresses.map((a) => el('option', { value: a, text: label(a) })));
  if (addresses.includes(keep)) select.value = keep;
}

/** A refusal in plain words, with the technical reason folded away.
 *  @param {string} plain @param {string} [technical] */
function refusal(plain, technical) {
  const shown = [el('span', { 'data-testid': 'send-problem', text: plain })];
  if (technical) shown.push(el('details', { class: 'why' }, el('summary', { text: 'technical reason' }), el('code', { text: technical })));
  return shown;
}

/** What is wrong with the form, in plain words, or null. @param {AddressRow | undefined} from
 *  @param {string} to @param {string} amountText */
export function checkPayment(from, to, amountText) {
  if (!from) return 'Create an address first: there is nothing to send from.';
  if (!to) return 'Enter the address to pay.';
  if (base58Bytes(to)?.length !== ADDRESS_BYTES) {
    return 'That is not an address. Addresses are about 34 letters and digits and start with 1: copy one with its "copy" button.';
  }
  const text = amountText.trim();
  if (!text) return 'Enter how many coins to send.';
  if (!/^\d+$/.test(text)) return 'The amount must be a whole number of coins, like 1 or 25.';
  const amount = Number(text);
  if (amount < 1) return 'Send at least 1 coin.';
  if (!Number.isSafeInteger(amount)) return `${text.length > 12 ? `${text.slice(0, 12)}…` : text} is far more coins than can exist: try a smaller amount.`;
  if (amount > from.spendable) {
    return from.spendable === 0 ? 'This address has no coins it can spend yet. Get some first (see the guide above), or pick another address.'
      : `This address can spend ${plural(from.spendable, 'coin')} now: send at most that.`;
  }
  return null;
}

/** The node's refusal in plain words. @param {string} raw */
function plainRefusal(raw) {
  if (/not enough funds/i.test(raw)) return 'Not enough coins: this address cannot spend that much now.';
  if (/invalid address/i.test(raw)) return 'That is not a valid address.';
  if (/amount/i.test(raw)) return 'That amount cannot be sent.';
  return 'The node refused the payment.';
}

/** Wires the send form. @param {Page} page */
export function mountSend(page) {
  const { node } = page;
  const hint = $('send-hint');
  page.onWallet((rows) => {
    const byAddress = new Map(rows.map((r) => [r.address, r]));
    fillSelect($select('send-from'), rows.map((r) => r.address), (a) => {
      const r = byAddress.get(a);
      return r ? `${short(a, 14)}… · ${plural(r.spendable, 'coin')}` : a;
    });
    showHint();
  });
  /** Hints that are not errors: paying oneself. */
  function showHint() {
    const to = $('send-to').value.trim();
    hint.textContent = to && page.isMine(to)
      ? (to === $('send-from').value ? 'This is the address you send from: the coins come back to it.' : 'This address is yours: the coins stay in this wallet.')
      : '';
  }
  $('send-to').addEventListener('input', showHint);
  $('send-from').addEventListener('change', showHint);

  $('send-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const error = $('send-error');
    const result = $('send-result');
    error.replaceChildren();
    result.replaceChildren();
    const from = $('send-from').value;
    const to = $('send-to').value.trim();
    const amount = $('send-amount').value;
    // Balances read now, not as last drawn: coins may have arrived since.
    /** @type {AddressRow[]} */
    const rows = await node.balances();
    const problem = checkPayment(rows.find((r) => r.address === from), to, amount);
    if (problem) { error.replaceChildren(...refusal(problem)); return; }
    const locked = lockRefusal('the keys that sign payments are encrypted');
    if (locked) { error.replaceChildren(...refusal(locked)); return; }
    $('send-button').disabled = true;
    try {
      const txid = await node.send(from, to, amount);
      result.replaceChildren('Sent ', plural(Number(amount), 'coin'), ': ', txLink(txid, short(txid, 16)),
        ' waits in the mempool until a miner puts it in a block.');
      result.dataset.txid = txid;
      window.dispatchEvent(new CustomEvent('payment-sent', { detail: txid }));
      log(`sent ${amount} to ${short(to, 16)}… in ${short(txid)}`);
      // Cleared, so that a second click does not pay twice.
      $('send-to').value = '';
      $('send-amount').value = '';
      hint.textContent = '';
      await page.refresh();
    } catch (e) {
      const raw = message(e);
      error.replaceChildren(...refusal(plainRefusal(raw), raw));
    } finally {
      $('send-button').disabled = false;
    }
  });
}
