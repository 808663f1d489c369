// @ts-check
// An address's history as the node's index gives it (addressHistory): each payment in or
// out, incoming coins marked, with its block and confirmations or "pending".
import { el } from './dom.js';
import { plural, short } from './format.js';
import { blockLink, txLink } from './links.js';

/** @typedef {import('./types.js').History} History */

/** The list of `h`'s items, or a line saying there are none. @param {History} h */
export function historyList(h) {
  const older = h.indexedFrom ? ` Blocks below #${h.indexedFrom} are not indexed: older payments are not shown.` : '';
  if (h.items.length === 0) return el('p', { class: 'hint', 'data-testid': 'history-empty', text: `No payments to or from this address yet.${older}` });
  const rows = h.items.map((i) => {
    const what = i.spent ? `sent ${i.paidOut}` : `received ${i.received}${i.coinbase ? ' (mining reward)' : ''}`;
    return el('li', { class: i.incoming ? 'in' : 'out', 'data-testid': 'history-row' },
      i.incoming ? el('span', { class: 'tag incoming', text: 'incoming' }) : null,
      el('span', { class: 'amount', text: what }), ' ', txLink(i.txid, short(i.txid, 12)), ' ',
      i.block && i.height !== null
        ? el('span', { class: 'hint' }, 'in ', blockLink(i.block, `#${i.height}`), ` · ${plural(i.confirmations ?? 0, 'confirmation')}`)
        : el('span', { class: 'tag', text: 'pending' }));
  });
  const list = el('ul', { class: 'history' }, ...rows);
  return h.truncated || older ? el('div', {}, list, el('p', { class: 'hint', text: `${h.truncated ? 'Only the newest are shown.' : ''}${older}` })) : list;
}
