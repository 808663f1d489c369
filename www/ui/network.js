// @ts-check
// The network panel: connected peers, nodes heard of, and the mempool.
import { $, el, log } from './dom.js';
import { short } from './format.js';
import { txLink } from './links.js';
import { KnownNodes } from './known.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Peer} Peer */
/** @typedef {import('./types.js').KnownNode} KnownNode */
/** @typedef {import('./types.js').Tx} Tx */

/** Draws the network panel from each refresh cycle's reads. @param {Page} page */
export function mountNetwork(page) {
  const { node } = page;
  const known = new KnownNodes();
  /** @param {import('./types.js').Snapshot} snap */
  function draw(snap) {
    const { peers, mempool } = snap;
    known.update(snap);
    const knownItems = known.items(snap.at);
    $('peers').replaceChildren(...(peers.length ? peers.map((p) => el('tr', { 'data-testid': 'peer-row' },
      el('td', { title: p.url }, p.nodeId || `#${p.id}`, p.outbound ? el('span', { class: 'tag', text: 'outbound' }) : null),
      el('td', { text: p.role || '…' }),
      el('td', { class: 'num', text: String(p.height) }),
      el('td', { class: 'num', text: p.rttMs == null ? '–' : `${p.rttMs} ms` }),
      el('td', { class: 'num', text: String(p.score) })))
      : [el('tr', {}, el('td', { colspan: 5, class: 'hint', text: 'No peers.' }))]));
    $('known-nodes').replaceChildren(...(knownItems.length ? knownItems : [el('li', { class: 'hint', text: 'None yet.' })]));
    $('mempool').replaceChildren(...(mempool.length ? mempool.map((t) => el('li', { 'data-testid': 'mempool-tx' },
      txLink(t.txid, short(t.txid, 16)), ` · ${t.outputs.map((o) => `${o.value} → ${short(o.address, 10)}…`).join(', ')}`))
      : [el('li', { class: 'hint', text: 'Empty.' })]));
  }
  page.onSnapshot(draw);
  node.on('tx', (/** @type {{txid: string, local: boolean}} */ t) => {
    log(t.local ? `payment ${short(t.txid)} accepted` : `transaction ${short(t.txid)} received`);
  });
  node.on('txRejected', (/** @type {{txid: string, remote: boolean, reason: string}} */ t) => {
    log(`transaction ${short(t.txid)} refused${t.remote ? ' by a peer' : ''}: ${t.reason}`);
  });
  node.on('peers', (/** @type {any} */ p) => {
    const now = Date.now();
    if (p.kind === 'up' && p.nodeId) known.heard(p.nodeId, p.role, null, now);
    if (p.kind === 'learned') for (const n of p.nodes) known.heard(n.nodeId, n.role, n.url, now);
    if (p.kind === 'up') log(`peer ${p.nodeId} (${p.role}) up at height ${p.height}`);
    if (p.kind === 'down') log(`peer #${p.peer} down: ${p.reason}`);
    if (p.kind === 'penalised') log(`peer ${p.nodeId || `#${p.peer}`} penalised (${p.score}): ${p.reason}`);
    if (p.kind === 'learned') {
      // One addr message may name a thousand nodes: the log line names a few.
      const names = p.nodes.slice(0, 8).map((/** @type {{nodeId: string}} */ n) => n.nodeId).join(', ');
      log(`heard of ${names}${p.nodes.length > 8 ? ` and ${p.nodes.length - 8} more` : ''}`);
    }
  });
}
