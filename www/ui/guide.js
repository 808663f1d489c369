// @ts-check
// The first-run guide: the seed scenario in four steps (an address, coins from the relay,
// a payment, a block), each ticked off from what the node shows. It can be hidden; that
// is remembered per node in localStorage.
import { $, el, copyButton, log, message } from './dom.js';
import { nodeId, params } from './boot.js';
import { plural, short } from './format.js';
import { txLink } from './links.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Tx} Tx */

const HIDDEN_KEY = `guide-hidden-${nodeId}`;
const SENT_KEY = `guide-sent-${nodeId}`;
/** Coins the guide's command asks the relay for. */
const COINS_ASKED = 10;
/** The relay's command line as scripts/run.sh builds it, run from the repository. */
const RELAY = 'target/release/relay-server --data-dir data';

/** The command that pays `address` from the relay's first (genesis) address and mines it
 *  at once, as README "Using it" and scripts/run.sh say. @param {string} address */
export const coinsCommand = (address) =>
  `${RELAY} send --from "$(${RELAY} listaddresses | head -n 1)" --to ${address} --amount ${COINS_ASKED} --mine`;

/** A node id for a miner tab beside this one. */
const minerNodeId = () => (/^\d+$/.test(nodeId) ? String(Number(nodeId) + 100) : `${nodeId}-miner`);

/** Wires the guide. @param {Page} page */
export function mountGuide(page) {
  const { node } = page;
  const box = $('guide');
  const show = (/** @type {boolean} */ on) => {
    box.hidden = !on;
    $('show-guide').hidden = on;
    if (on) localStorage.removeItem(HIDDEN_KEY); else localStorage.setItem(HIDDEN_KEY, '1');
  };
  $('hide-guide').addEventListener('click', () => show(false));
  $('show-guide').addEventListener('click', () => { show(true); draw(); });
  box.hidden = localStorage.getItem(HIDDEN_KEY) === '1';
  $('show-guide').hidden = !box.hidden;

  window.addEventListener('payment-sent', (e) => {
    localStorage.setItem(SENT_KEY, /** @type {CustomEvent<string>} */ (e).detail);
    // Drawn by the next cycle: the snapshot in hand was read before the payment was made.
    page.later();
  });

  /**
   * One step: its number, whether it is done, what to do.
   * @param {number} n @param {string} title @param {'done' | 'now' | 'later'} state @param {...(string | Node | null)} body
   */
  const step = (n, title, state, ...body) => el('li', { class: `step ${state}`, 'data-testid': 'guide-step', 'data-state': state },
    el('h4', {}, el('span', { class: 'mark', text: state === 'done' ? '✓' : String(n) }), title),
    state === 'now' ? el('div', { class: 'body' }, ...body) : null);

  /** What the steps show now. */
  let drawnAs = '';
  function draw() {
    if (box.hidden) return;
    const rows = page.wallet;
    const first = rows[0]?.address;
    const rich = rows.find((r) => r.balance > 0);
    const sentTxid = localStorage.getItem(SENT_KEY);
    /** @type {Tx[]} */
    const pool = page.snapshot?.mempool ?? [];
    const waiting = Boolean(sentTxid && pool.some((t) => t.txid === sentTxid));
    const hasAddress = rows.length > 0;
    const hasCoins = Boolean(rich);
    const sent = Boolean(sentTxid);
    const mined = sent && !waiting;
    /** @param {boolean} done @param {boolean} ready */
    const state = (done, ready) => (done ? 'done' : ready ? 'now' : 'later');
    const minerUrl = `?node=${minerNodeId()}&mine=1`;
    const command = first ? coinsCommand(first) : '';
    // Drawn again only when something it shows changed (it is asked every cycle).
    const shown = JSON.stringify([hasAddress, hasCoins, sent, mined, first, rich?.address, rich?.spendable, sentTxid]);
    if (shown === drawnAs) return;
    drawnAs = shown;
    $('guide-steps').replaceChildren(
      step(1, 'Create an address', state(hasAddress, true),
        el('p', { text: 'An address is where coins can be sent to you. Its key stays in this browser.' }),
        el('button', { type: 'button', 'data-testid': 'guide-create', onclick: createFirst, text: 'Create my first address' })),
      step(2, 'Get coins', state(hasCoins, hasAddress),
        el('p', { text: 'Coins start at the relay: the genesis block paid its first address. In a terminal in the project folder (where scripts/run.sh runs the relay), ask it to pay you and mine the payment at once:' }),
        el('div', { class: 'command' }, el('code', { 'data-testid': 'guide-command', text: command }), command ? copyButton(command, 'guide-copy') : null),
        el('p', { class: 'hint', text: `Your balance shows ${COINS_ASKED} as soon as the relay's block arrives here.` })),
      step(3, 'Send a payment', state(sent, hasCoins),
        el('p', {}, `${rich ? `Your address ${short(rich.address, 10)}… has ${plural(rich.spendable, 'coin')}. ` : ''}Use the Send form below: pay another address (create a second one, or ask a friend for theirs).`)),
      step(4, 'Watch it mined', state(mined, sent),
        el('p', {}, 'Your payment ', sentTxid ? txLink(sentTxid, short(sentTxid, 12)) : '', ' waits in the mempool. A miner builds a block when at least two transactions wait (the seed\'s rule): send a second payment, then open a miner tab.'),
        el('p', {}, el('a', { href: minerUrl, target: '_blank', rel: 'noopener', 'data-testid': 'guide-miner-link', text: `Open a miner tab (node ${minerNodeId()})` }),
          ' · it creates its own address and mines to it.')),
    );
    $('guide-status').textContent = mined ? 'All done: your payment is in a block. You can hide this guide.'
      : `Step ${[hasAddress, hasCoins, sent, mined].filter(Boolean).length + 1} of 4`;
  }

  async function createFirst() {
    try { await node.createWallet(); } catch (e) { log(`could not create an address: ${message(e)}`); }
  }

  page.onSnapshot(draw);

  // ?mine=1 (the guide's miner tab): an address of its own, and mining to it.
  if (params.get('mine') === '1') {
    (async () => {
      try {
        /** @type {string[]} */
        const addresses = await node.listAddresses();
        const to = addresses[0] || await node.createWallet();
        await node.startMining(to);
        log(`mining to ${to} (opened as a miner tab)`);
      } catch (e) { log(`could not start mining: ${message(e)}`); }
    })();
  }
}
