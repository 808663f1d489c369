// @ts-check
// The chain explorer: the block list newest first, the block tree, and a block's detail.
import { $, el, log } from './dom.js';
import { plural, short, time, throttle } from './format.js';
import { drawTree, markSelected } from './tree.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Block} Block */
/** @typedef {import('./types.js').Tx} Tx */

/** Draws the explorer and keeps it current; returns its refresh. @param {Page} page */
export function mountExplorer(page) {
  const { node } = page;
  const svg = /** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('block-tree')));
  /** @type {string | null} */
  let selected = null;
  let followTip = true; // show the newest block until the user picks one

  /** @param {string} hash */
  const pick = (hash) => { followTip = false; selectBlock(hash); };

  async function refresh() {
    /** @type {[Block[], import('./types.js').TreeNode[]]} */
    const [blocks, tree] = await Promise.all([node.printChain(60), node.blockTree(30)]);
    const list = $('blocks');
    if (blocks.length === 0) {
      list.replaceChildren(el('li', { class: 'hint', text: 'No blocks yet: the chain downloads from the relay.' }));
      drawTree(svg, [], selected, pick);
      return;
    }
    list.replaceChildren(...blocks.map((b) => el('li', {
      'data-testid': 'block-row', 'data-hash': b.hash, 'data-height': b.height,
      class: b.hash === selected ? 'selected' : null,
      onclick: () => pick(b.hash),
    }, el('span', { class: 'h', text: `#${b.height}` }), el('code', { text: b.hash }),
    el('span', { class: 'n', text: `${b.txs.length} tx · ${time(b.time)}` }))));
    drawTree(svg, tree, selected, pick);
    if ((followTip || !selected) && blocks[0].hash !== selected) selectBlock(blocks[0].hash, false);
  }

  /** @param {string} hash */
  async function selectBlock(hash, scroll = true) {
    selected = hash;
    for (const li of $('blocks').children) li.classList.toggle('selected', li.getAttribute('data-hash') === hash);
    markSelected(svg, hash);
    /** @type {Block | null} */
    const b = await node.getBlock(hash);
    const box = $('block-detail');
    if (!b) { box.replaceChildren(el('p', { class: 'hint', text: 'Block not found.' })); return; }
    const dl = el('dl', {},
      el('dt', { text: 'Hash' }), el('dd', {}, el('code', { text: b.hash })),
      el('dt', { text: 'Height' }), el('dd', { text: `${b.height}${b.active ? '' : ' (side branch)'}` }),
      el('dt', { text: 'Previous' }), el('dd', {}, el('code', { text: b.prev })),
      el('dt', { text: 'Time' }), el('dd', { text: new Date(b.time).toLocaleString() }),
      el('dt', { text: 'Merkle root' }), el('dd', {}, el('code', { text: b.merkleRoot })),
      el('dt', { text: 'Bits / nonce' }), el('dd', { text: `${b.bits} / ${b.nonce}` }),
      el('dt', { text: 'PoW' }), el('dd', { text: b.powValid ? 'valid' : 'INVALID' }),
      el('dt', { text: 'Size' }), el('dd', { text: `${b.size} bytes` }));
    box.replaceChildren(el('h3', { text: `Block #${b.height}` }), dl, el('h3', { text: plural(b.txs.length, 'transaction') }), ...b.txs.map(txCard));
    if (scroll) box.scrollTop = 0;
  }

  const later = page.later(refresh, 300, throttle);
  node.on('tip', (/** @type {{height: number, reorgDepth: number}} */ t) => {
    if (t.reorgDepth > 0) log(`reorganisation: ${t.reorgDepth} block(s) replaced, tip #${t.height}`);
    later();
  });
  node.on('block', (/** @type {{kind: string, hash: string, reason?: string}} */ b) => {
    if (b.kind === 'side') { log(`side-branch block ${short(b.hash)}`); later(); }
    if (b.kind === 'rejected') log(`block ${short(b.hash)} refused: ${b.reason}`);
  });
  node.on('sync', () => { if (!page.downloading) later(); });
  return { refresh, later };
}

/** A transaction: its id, where its coins come from and where they go. @param {Tx} tx */
function txCard(tx) {
  return el('div', { class: 'tx', 'data-testid': 'tx', 'data-txid': tx.txid },
    el('div', {}, el('code', { class: 'txid', text: tx.txid }), tx.coinbase ? el('span', { class: 'tag', text: 'coinbase' }) : null),
    el('div', { class: 'io' },
      el('ul', {}, ...(tx.coinbase ? [el('li', { class: 'hint', text: 'new coins' })]
        : tx.inputs.map((i) => el('li', {}, el('code', { text: `${short(i.txid, 10)}:${i.vout}` }), ' from ', el('code', { text: i.address }))))),
      el('span', { class: 'arrow', text: '→' }),
      el('ul', {}, ...tx.outputs.map((o) => el('li', {}, el('b', { text: `${o.value} ` }), 'to ', el('code', { text: o.address }))))));
}
