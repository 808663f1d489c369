// @ts-check
// The wallet's own payments, each with its life so far: pending (and why it waits),
// confirmed in block #N with confirmations, sent back to the mempool or dropped by a
// reorganisation, confirmed again. Steps come from the node's "payment" events, in order;
// the confirmations of the newest step follow each refresh cycle's tip.
import { $, el } from './dom.js';
import { plural, short, time } from './format.js';
import { addressLink, txLink } from './links.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Payment} Payment */

/** Payments listed: the newest of this session. */
const MAX_SHOWN = 50;
/** Transactions a miner waits for before it makes a block (the seed's rule; the tab's own
 *  miner's default, and the relay's miners'). */
const MINING_THRESHOLD = 2;

/** A step's words. @param {Payment} p @param {number} waiting transactions in the mempool then */
function stepText(p, waiting) {
  switch (p.state) {
    case 'pending': {
      const more = Math.max(0, MINING_THRESHOLD - waiting);
      return `pending: waits in the mempool for a miner. A block is mined once ${plural(MINING_THRESHOLD, 'transaction')} wait`
        + (more > 0 ? `; ${waiting} waiting now, so it waits for ${plural(more, 'more payment')} from anyone.` : `; ${waiting} waiting now.`);
    }
    case 'confirmed': return `confirmed in block #${p.height}`;
    case 'reorganised': return `back to pending: block #${p.wasHeight} that held it was replaced in a reorganisation; it waits to be mined again`;
    default: return `dropped: it is in no block and no longer waits${p.reason ? ` (${p.reason})` : ''}`;
  }
}

/** Mounts the payments list. @param {Page} page */
export function mountPayments(page) {
  const { node } = page;
  /** @type {Map<string, {steps: {at: number, p: Payment, waiting: number}[], what: HTMLElement}>} newest last */
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
        el('ol', { class: 'steps-of-payment' }, ...steps.map(({ at, p, waiting }, i) => el('li', { 'data-testid': 'payment-step' },
          el('time', { text: time(at) }), ' ', stepText(p, waiting),
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
    // The mempool as it is now (the event comes as the payment enters it or leaves a block).
    const step = { at: Date.now(), p, waiting: 0 };
    entry.steps.push(step);
    node.status().then((/** @type {import('./types.js').Status} */ s) => { step.waiting = s.mempool; draw(); }).catch((e) => console.error(e));
  });
  page.onStatus((s) => { if (s.height !== tip) { tip = s.height; draw(); } });
}
