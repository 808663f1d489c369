// @ts-check
// An address's history as the node's index gives it (addressHistory): each payment in or
// out, incoming coins marked, with its block and confirmations or "pending".
import { el } from './dom.js';
import { plural, short } from './format.js';
import { blockLink, txLink } from './links.js';

/** @typedef {import('./types.js').History} History */

/**
 * What a transaction did to `address`: coins received, coins paid to others when the address
 * signed it (spent), and whether it is incoming (coins came in, none spent).
 * @param {import('./types.js').Tx} tx @param {string} address
 */
export function effectOn(tx, address) {
  const received = tx.outputs.filter((o) => o.address === address).reduce((n, o) => n + o.value, 0);
  const spent = !tx.coinbase && tx.inputs.some((i) => i.address === address);
  const paidOut = spent ? tx.outputs.filter((o) => o.address !== address).reduce((n, o) => n + o.value, 0) : 0;
  return { received, spent, paidOut, incoming: !spent && received > 0 };
}

/** The list of `h`'s items for `address`, or a line saying there are none.
 *  @param {History} h @param {string} address */
export function historyList(h, address) {
  const older = h.indexedFrom && h.indexedFrom > 0 ? ` Blocks below #${h.indexedFrom} are not indexed: older payments are not shown.` : '';
  if (h.items.length === 0) return el('p', { class: 'hint', 'data-testid': 'history-empty', text: `No payments to or from this address yet.${older}` });
  const rows = h.items.map((i) => {
    const e = effectOn(i.tx, address);
    const what = e.spent ? `sent ${e.paidOut}` : `received ${e.received}${i.tx.coinbase ? ' (mining reward)' : ''}`;
    return el('li', { class: e.incoming ? 'in' : 'out', 'data-testid': 'history-row' },
      e.incoming ? el('span', { class: 'tag incoming', text: 'incoming' }) : null,
      el('span', { class: 'amount', text: what }), ' ', txLink(i.tx.txid, short(i.tx.txid, 12)), ' ',
      i.block && i.height !== null
        ? el('span', { class: 'hint' }, 'in ', blockLink(i.block, `#${i.height}`), ` · ${plural(i.confirmations ?? 0, 'confirmation')}`)
        : el('span', { class: 'tag', text: 'pending' }));
  });
  const list = el('ul', { class: 'history' }, ...rows);
  return older ? el('div', {}, list, el('p', { class: 'hint', text: older.trim() })) : list;
}
