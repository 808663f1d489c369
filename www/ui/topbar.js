// @ts-check
// The top bar: node id, role, connection, height, tip, peers, mempool, signatures, sync.
import { $, $progress, banner, log, setText } from './dom.js';
import { short } from './format.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Connection} Connection */

/** Shows the relay connection. @param {Connection} c */
export function setConnection(c) {
  const pill = $('connection');
  /** @type {Record<string, string>} */
  const labels = { open: 'connected', connecting: 'connecting…', closed: 'disconnected' };
  let text = labels[c.state] || c.state;
  if (c.state === 'closed' && c.retryInMs) text += ` · retry in ${Math.round(c.retryInMs / 100) / 10}s`;
  pill.textContent = text;
  pill.dataset.state = c.state;
  pill.title = c.url ? `relay ${c.url}` : '';
  pill.className = `pill state-${c.state}`;
}

/** @param {number} height @param {number} target @param {boolean} syncing @param {boolean} hasChain */
function renderSync(height, target, syncing, hasChain) {
  const bar = $progress('sync-progress');
  const text = $('sync-text');
  if (!hasChain) {
    bar.max = 1; bar.value = 0;
    $('sync').dataset.synced = 'false';
    setText(text, syncing ? 'downloading the chain…' : 'no chain yet: waiting for the relay');
    return;
  }
  bar.max = Math.max(target, height, 1);
  bar.value = height;
  const downloading = syncing || height < target;
  // In sync, the bar is hidden (style.css): a full or empty bar beside "in sync" says nothing.
  setText(text, downloading ? `downloading: ${height} / ${target}`
    : height === 0 ? 'in sync: the chain is the genesis block alone' : `in sync at height ${height}`);
  $('sync').dataset.synced = String(!downloading);
}

/** Draws the top bar from each refresh cycle's status. @param {Page} page */
export function mountTopbar(page) {
  const { node } = page;
  /** @param {import('./types.js').Status} s */
  function draw(s) {
    setText($('height'), s.tip ? String(s.height) : '–');
    setText($('tip'), short(s.tip));
    $('tip').title = s.tip || '';
    setText($('peer-count'), String(s.peers));
    setText($('mempool-count'), String(s.mempool));
    setText($('sig-mode'), s.verifyWorkers > 0 ? `WebCrypto ×${s.verifyWorkers}` : 'wasm');
    const vouched = s.assumeValid
      ? `; not checked during the first sync for the blocks leading to #${s.assumeValid.height} ${short(s.assumeValid.hash)}, vouched for by the relay that served this page`
      : '; every block checked (no assume-valid)';
    $('sig-mode').title = `who checks the signatures of incoming blocks and transactions; ${s.signaturesVouched} vouched for by WebCrypto so far${vouched}`;
    setText($('role'), s.mining ? 'miner' : 'wallet');
    document.body.dataset.role = s.mining ? 'miner' : 'wallet';
    if (!$('connection').dataset.state || $('connection').dataset.state !== s.connection) {
      setConnection({ state: s.connection, url: s.relay });
    }
    renderSync(Math.max(s.height, s.downloadedHeight), s.targetHeight, s.syncing, Boolean(s.tip));
    if (s.storageError) banner(`Storage failed, nothing more is saved: ${s.storageError}`, true);
  }
  page.onStatus(draw);
  node.on('connection', (/** @type {Connection & {attempt: number}} */ c) => {
    setConnection(c);
    if (c.state === 'open') log(`connected to ${c.url}`);
  });
  node.on('sync', (/** @type {{height: number, target: number}} */ s) => {
    // Progress as it comes while downloading; in sync, the cycle draws it with the rest
    // (and tells whether the download is over: see Page.cycle).
    if (s.height < s.target) {
      page.downloading = true;
      renderSync(s.height, s.target, true, true);
    }
  });
}
