// @ts-check
// The chain explorer: the block list newest first, the block tree, a search box, and the
// view of one block, transaction or address, chosen by the page's location hash
// (#block/<hash>, #tx/<txid>, #address/<address>).
import { $, el, log, message } from './dom.js';
import { dateTime, plural, short, time } from './format.js';
import { addressLink, base58Bytes, blockLink, txLink } from './links.js';
import { drawTree, markSelected } from './tree.js';
import { historyList } from './history.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Block} Block */
/** @typedef {import('./types.js').Tx} Tx */

const HEX64 = /^[0-9a-f]{64}$/i;

/** Draws the explorer from each refresh cycle's chain. @param {Page} page */
export function mountExplorer(page) {
  const { node } = page;
  const svg = /** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('block-tree')));
  const box = $('block-detail');
  /** @type {string | null} */
  let selected = null;
  let tipHeight = 0;
  /** @type {string | null} */
  let tipHash = null;
  /** @type {Block | null} the newest block of the last snapshot */
  let tipBlock = null;
  let followTip = true; // show the newest block until the user picks something
  /** What the block list shows now. */
  let listShown = '';

  /** @param {string} hash */
  const pick = (hash) => { location.hash = `#block/${hash}`; };
  /** @param {string} address */
  const mine = (address) => page.isMine(address);
  /** @param {Block} b */
  const confirmations = (b) => (b.active ? tipHeight - b.height + 1 : 0);

  /** @param {import('./types.js').Snapshot} snap */
  async function draw({ blocks, tree }) {
    const list = $('blocks');
    if (blocks.length === 0) {
      list.replaceChildren(el('li', { class: 'hint', text: 'No blocks yet: the chain downloads from the relay.' }));
      listShown = '';
      drawTree(svg, [], selected, pick);
      return;
    }
    tipHeight = blocks[0].height;
    // A cycle that brings the same blocks leaves the list as it is (rebuilding 60 rows every
    // second costs the page's thread a layout and a paint of them for nothing).
    const shown = `${selected}|${blocks.map((b) => `${b.hash}${b.txs.length}`).join()}`;
    if (shown !== listShown) drawList(list, blocks);
    listShown = shown;
    tipHash = blocks[0].hash;
    tipBlock = blocks[0];
    drawTree(svg, tree, selected, pick);
    // While the chain downloads, the newest block is a new one every cycle: its view is drawn
    // once the download is over (a block the user picked is shown by route()).
    if (!(page.downloading && followTip)) await show();
  }

  /** @param {HTMLElement} list @param {Block[]} blocks */
  function drawList(list, blocks) {
    list.replaceChildren(...blocks.map((b) => el('li', {
      'data-testid': 'block-row', 'data-hash': b.hash, 'data-height': b.height,
      class: b.hash === selected ? 'selected' : null,
      onclick: () => pick(b.hash),
    }, el('span', { class: 'h', text: `#${b.height}` }), el('code', { text: b.hash }),
    el('span', { class: 'n', text: `${b.txs.length} tx · ${time(b.time)}` }))));
  }

  /** @param {string} hash @param {Block} [known] the block, when the snapshot has it: drawn
   *  in the same task as the rest of the snapshot (a read from the node's worker would let
   *  the page show a frame with the new block list beside the old block) */
  async function showBlock(hash, known) {
    selected = hash;
    for (const li of $('blocks').children) li.classList.toggle('selected', li.getAttribute('data-hash') === hash);
    markSelected(svg, hash);
    /** @type {Block | null} */
    const b = known ?? await node.getBlock(hash);
    if (!b) { notFound(`No block ${short(hash, 16)}… is known to this node.`); return; }
    const conf = confirmations(b);
    const dl = el('dl', {},
      el('dt', { text: 'Hash' }), el('dd', {}, el('code', { text: b.hash })),
      el('dt', { text: 'Height' }), el('dd', { text: `${b.height}${b.active ? '' : ' (side branch)'}` }),
      el('dt', { text: 'Confirmations' }), el('dd', { 'data-testid': 'confirmations', text: b.active ? String(conf) : 'none: not on the active chain' }),
      el('dt', { text: 'Previous' }), el('dd', {}, b.height > 0 ? blockLink(b.prev) : el('span', { class: 'hint', text: 'none: the genesis block' })),
      el('dt', { text: 'Time' }), el('dd', { text: dateTime(b.time) }),
      el('dt', { text: 'Merkle root' }), el('dd', {}, el('code', { text: b.merkleRoot })),
      el('dt', { text: 'Bits / nonce' }), el('dd', { text: `${b.bits} / ${b.nonce}` }),
      el('dt', { text: 'PoW' }), el('dd', { text: b.powValid ? 'valid' : 'INVALID' }),
      el('dt', { text: 'Size' }), el('dd', { text: `${b.size} bytes` }));
    box.replaceChildren(el('h3', { 'data-testid': 'view-title', text: `Block #${b.height}` }), dl,
      el('h3', { text: plural(b.txs.length, 'transaction') }), ...b.txs.map((tx) => txCard(tx, mine)));
  }

  /** @param {string} txid */
  async function showTx(txid) {
    /** @type {import('./types.js').TxPlace | null} */
    const found = await node.getTransaction(txid);
    if (!found) { notFound(`No transaction ${short(txid, 16)}… waits in the mempool or is in the blocks this node indexes.`); return; }
    const where = found.block
      ? el('p', { 'data-testid': 'tx-state' }, `Confirmed in block #${found.height} `, blockLink(found.block, short(found.block, 16)),
        ` · ${plural(found.confirmations ?? 0, 'confirmation')}`)
      : el('p', { 'data-testid': 'tx-state', text: 'Pending: waiting in the mempool. A block is mined when at least two transactions wait (the seed\'s rule), so a lone payment waits for another one.' });
    box.replaceChildren(el('h3', { 'data-testid': 'view-title', text: 'Transaction' }), where, txCard(found.tx, mine));
  }

  /** @param {string} address */
  async function showAddress(address) {
    /** @type {import('./types.js').History} */
    let h, balance;
    try {
      [h, balance] = await Promise.all([node.addressHistory(address), node.getBalance(address)]);
    } catch (e) { notFound(`"${address.slice(0, 80)}" is not an address (${message(e)}).`); return; }
    box.replaceChildren(el('h3', { 'data-testid': 'view-title', text: mine(address) ? 'Your address' : 'Address' }),
      el('p', {}, addressLink(address, mine(address))),
      el('p', { 'data-testid': 'address-balance', text: `Balance: ${balance}` }),
      el('h3', { text: 'History' }), historyList(h, address));
  }

  /** @param {string} text */
  function notFound(text) {
    box.replaceChildren(el('h3', { 'data-testid': 'view-title', text: 'Not found' }), el('p', { class: 'hint', text }));
  }

  /** Shows what the location hash names (its view drawn anew: confirmations change); the
   *  newest block when it names nothing. */
  async function show() {
    const [kind, id] = decodeURIComponent(location.hash.slice(1)).split('/');
    followTip = !['block', 'tx', 'address'].includes(kind) || !id;
    if (followTip) {
      if (tipHash && tipHash !== selected) await showBlock(tipHash, tipBlock?.hash === tipHash ? tipBlock : undefined);
    } else if (kind === 'block') {
      await showBlock(id);
    } else {
      selected = null;
      markSelected(svg, '');
      for (const li of $('blocks').children) li.classList.remove('selected');
      if (kind === 'tx') await showTx(id); else await showAddress(id);
    }
  }

  /** A new location hash: its view, scrolled to. */
  async function route() {
    await show();
    if (!followTip) $('explorer').scrollIntoView({ block: 'start' });
  }

  /** Where a search for `text` goes: a block or transaction hash, or an address. @param {string} text */
  async function search(text) {
    const q = text.trim();
    if (!q) return;
    if (HEX64.test(q)) {
      const hash = q.toLowerCase();
      location.hash = (await node.getBlock(hash)) ? `#block/${hash}` : `#tx/${hash}`;
    } else if (base58Bytes(q)?.length === 25) {
      location.hash = `#address/${q}`;
    } else {
      notFound(`"${q.slice(0, 80)}" is not a block hash, a transaction id (64 hex digits) or an address.`);
    }
  }

  $('explorer-search').addEventListener('submit', (e) => { e.preventDefault(); search($('search').value); });
  window.addEventListener('hashchange', route);
  page.onSnapshot(draw);
  node.on('tip', (/** @type {{height: number, reorgDepth: number}} */ t) => {
    if (t.reorgDepth > 0) log(`reorganisation: ${t.reorgDepth} block(s) replaced, tip #${t.height}`);
  });
  node.on('block', (/** @type {{kind: string, hash: string, reason?: string}} */ b) => {
    if (b.kind === 'side') log(`side-branch block ${short(b.hash)}`);
    if (b.kind === 'rejected') log(`block ${short(b.hash)} refused: ${b.reason}`);
  });
}

/** A transaction: its id, where its coins come from and where they go.
 *  @param {Tx} tx @param {(address: string) => boolean} mine */
function txCard(tx, mine) {
  return el('div', { class: 'tx', 'data-testid': 'tx', 'data-txid': tx.txid },
    el('div', {}, txLink(tx.txid), tx.coinbase ? el('span', { class: 'tag', text: 'coinbase' }) : null),
    el('div', { class: 'io' },
      el('ul', {}, ...(tx.coinbase ? [el('li', { class: 'hint', text: 'new coins' })]
        : tx.inputs.map((i) => el('li', {}, txLink(i.txid, `${short(i.txid, 10)}:${i.vout}`), ' from ', addressLink(i.address, mine(i.address)))))),
      el('span', { class: 'arrow', text: '→' }),
      el('ul', {}, ...tx.outputs.map((o) => el('li', {}, el('b', { text: `${o.value} ` }), 'to ', addressLink(o.address, mine(o.address)))))));
}
