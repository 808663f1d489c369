// @ts-check
// The wallet's own payments, each with its life so far: pending (and why it waits),
// confirmed in block #N with confirmations, sent back to the mempool or dropped by a
// reorganisation, confirmed again. Steps come from the node's "payment" events, in order;
// the confirmations of the newest step follow each refresh cycle's tip.
import { $, el } from './dom.js';
import { plural, short, time } from './format.js';
import { addressLink, blockLink, txLink } from './links.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Payment} Payment */

/** Payments listed: the newest of this session. */
const MAX_SHOWN = 50;

/** A step's words. @param {Payment} p */
function stepText(p) {
  switch (p.state) {
    case 'pending': {
      const more = Math.max(0, p.threshold - p.waiting);
      return `pending: waits in the mempool for a miner. A block is mined once ${plural(p.threshold, 'transaction')} wait`
        + (more > 0 ? `; ${p.waiting} waiting now, so it waits for ${plural(more, 'more payment')} from anyone.` : `; ${p.waiting} waiting now.`);
    }
    case 'confirmed': return `confirmed in block #${p.height}`;
    case 'reorganised': return `back to pending: block #${p.wasHeight} that held it was replaced in a reorganisation; it waits to be mined again`;
    default: return `dropped: it is in no block and no longer waits${p.reason ? ` (${p.reason})` : ''}`;
  }
}

/** Mounts the payments list. @param {Page} page */
export function mountPayments(page) {
  const { node } = page;
  /** @type {Map<string, {steps: {at: number, p: Payment}[], what: HTMLElement}>} newest last */
  const payments = new Map();
  let tip = 0;

  function draw() {
    const list = $('payments');
    $('payments-title').hidden = payments.size === 0;
    list.replaceChildren(...[...payments].reverse().map(([txid, { steps, what }]) => {
      const last = steps[steps.length - 1].p;
      const confirmations = last.state === 'confirmed' && last.height !== null ? tip - last.height + 1 : 0;
      return el('li', { class: `payment ${last.state}`, 'data-testid': 'payment', 'data-txid': txid, 'data-state': last.state },
        el('div', {}, el('span', { class: `tag state-${last.state}`, 'data-testid': 'payment-state', text: last.state }), ' ', what, ' ', txLink(txid, short(txid, 12))),
        el('ol', { class: 'steps-of-payment' }, ...steps.map(({ at, p }, i) => el('li', { 'data-testid': 'payment-step' },
          el('time', { text: time(at) }), ' ',
          p.state === 'confirmed' && p.block ? el('span', {}, 'confirmed in block ', blockLink(p.block, `#${p.height}`)) : stepText(p),
          i === steps.length - 1 && confirmations > 0 ? el('span', { 'data-testid': 'payment-confirmations', text: ` · ${plural(confirmations, 'confirmation')}` }) : null))));
    }));
  }

  /** What a payment pays, read once: its outputs to others than the payer.
   *  @param {string} txid @param {HTMLElement} into */
  async function describe(txid, into) {
    /** @type {import('./types.js').TxPlace | null} */
    const found = await node.getTransaction(txid);
    if (!found) return;
    const from = new Set(found.tx.inputs.map((i) => i.address));
    const paid = found.tx.outputs.filter((o) => !from.has(o.address));
    const out = paid.length ? paid : found.tx.outputs;
    into.replaceChildren(`${plural(out.reduce((n, o) => n + o.value, 0), 'coin')} to `, ...out.slice(0, 1).map((o) => addressLink(o.address, page.isMine(o.address), 12)));
  }

  node.on('payment', (/** @type {Payment} */ p) => {
    let entry = payments.get(p.txid);
    if (!entry) {
      entry = { steps: [], what: el('span', { class: 'what' }) };
      payments.set(p.txid, entry);
      describe(p.txid, entry.what).catch((e) => console.error(e));
      if (payments.size > MAX_SHOWN) payments.delete(payments.keys().next().value ?? '');
    }
    entry.steps.push({ at: Date.now(), p });
    draw();
  });
  page.onStatus((s) => { if (s.height !== tip) { tip = s.height; draw(); } });
}
