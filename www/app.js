// The page of one node: loads the wasm node, puts it on window.node, and draws it.
//
// The node is this tab: /?node=3001 is node 3001 (the seed's NODE_ID), with its chain and
// wallet in IndexedDB databases named after it. ?relay=ws://host:port/ws connects to another
// relay than this page's origin; ?workers=N sets the mining workers.
import init, { BrowserNode } from './pkg/node_wasm.js';

const DEFAULT_NODE = '3001';
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// ----- small helpers ----------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const short = (h, n = 12) => (h ? h.slice(0, n) : '–');
// One formatter for every time shown: toLocaleTimeString builds a new one per call, which
// cost ~10 % of a tab's initial sync when every inspector row had its time formatted.
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const time = (ms) => (Number.isFinite(ms) ? timeFormat.format(ms) : '–');

function rate(hps) {
  if (!hps) return '0 H/s';
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s'];
  let i = 0;
  while (hps >= 1000 && i < units.length - 1) { hps /= 1000; i++; }
  return `${hps.toFixed(hps < 10 ? 2 : 1)} ${units[i]}`;
}

/** Runs `fn` at most once per `ms`, always after the last call (trailing edge). */
function throttle(fn, ms) {
  let timer = null;
  let again = false;
  const run = async () => {
    again = false;
    try { await fn(); } catch (e) { console.error(e); }
    timer = again ? setTimeout(run, ms) : null;
  };
  return () => {
    if (timer) { again = true; return; }
    timer = setTimeout(run, ms);
  };
}

function banner(text, bad = false) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
  b.classList.toggle('bad', bad);
}

function log(text) {
  const list = $('log');
  list.prepend(el('li', {}, el('time', { text: time(Date.now()) }), text));
  while (list.children.length > 200) list.lastChild.remove();
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const t = el('textarea', {}, text);
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  const was = button.textContent;
  button.textContent = 'copied';
  setTimeout(() => { button.textContent = was; }, 900);
}

// ----- start ------------------------------------------------------------------------------

const nodeId = params.get('node') || DEFAULT_NODE;
$('node-id').textContent = nodeId;
document.title = `Node ${nodeId}`;
if (!params.get('node')) {
  // Make the identity explicit, so a reload stays the same node.
  params.set('node', nodeId);
  history.replaceState(null, '', `${location.pathname}?${params}`);
  $('node-id').title = 'no ?node= in the address: using the default';
}

/** Holds an exclusive lock on this node id while the tab lives: two tabs of one node would
 *  write the same databases. Resolves to false if another tab has it. */
function lockNode(id) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    navigator.locks.request(`blockchain-node-${id}`, { ifAvailable: true }, (lock) => {
      resolve(Boolean(lock));
      return lock ? new Promise(() => {}) : undefined; // keep it until the tab closes
    });
  });
}

let node = null;

/** Longest /status body read: its JSON is a few hundred bytes. */
const MAX_STATUS_BYTES = 16 * 1024;
/** How long the page waits for /status before starting without assume-valid. */
const STATUS_TIMEOUT_MS = 1500;
const BLOCK_HASH = /^[0-9a-f]{64}$/;

/** The body of `response` as text, or undefined if it is longer than `max` bytes (reading
 *  stops there: a relay cannot make the page hold more). */
async function textAtMost(response, max) {
  if (Number(response.headers.get('content-length')) > max || !response.body) {
    response.body?.cancel().catch(() => {});
    return undefined;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.byteLength; }
  return new TextDecoder().decode(all);
}

/**
 * The relay that served this page vouches for its tip, as Bitcoin Core's release vouches for
 * its assume-valid block: while syncing, signatures of the blocks leading to it are not
 * checked (every other rule is). The page comes from the relay, so this trusts nothing the
 * page's code does not already; and it is the only relay trusted so: the block comes from
 * /status on this page's own origin (no redirect followed), never from `?relay=` or a relay
 * the tab fails over to. `?assumevalid=0` turns it off; so does a /status that is slow,
 * too long or not what a relay answers: the node then checks every signature.
 */
async function relayCheckpoint() {
  if (params.get('assumevalid') === '0' || params.has('relay')) return undefined;
  let why;
  try {
    const r = await fetch(new URL('/status', location.origin), {
      signal: AbortSignal.timeout(STATUS_TIMEOUT_MS), cache: 'no-store', redirect: 'error', credentials: 'omit',
    });
    const text = r.ok ? await textAtMost(r, MAX_STATUS_BYTES) : undefined;
    const s = text === undefined ? undefined : JSON.parse(text);
    if (s && typeof s.tip === 'string' && BLOCK_HASH.test(s.tip) && Number.isSafeInteger(s.height) && s.height > 0) {
      return { height: s.height, hash: s.tip };
    }
    if (s && s.height === 0) return undefined; // a chain of genesis alone vouches for nothing
    why = r.ok ? (text === undefined ? `longer than ${MAX_STATUS_BYTES} bytes` : 'no block height and hash in it') : `HTTP ${r.status}`;
  } catch (e) {
    why = e && e.name === 'TimeoutError' ? `no answer within ${STATUS_TIMEOUT_MS} ms` : 'unreadable';
  }
  console.warn(`assume-valid off: /status ${why}; every signature is checked`);
  return undefined;
}

async function main() {
  if (!(await lockNode(nodeId))) {
    banner(`Node ${nodeId} is already open in another tab of this browser. Open /?node=<another id> for a second node.`, true);
    setConnection({ state: 'closed' });
    return;
  }
  try {
    const [assumeValid] = await Promise.all([relayCheckpoint(), init()]);
    node = await BrowserNode.start({
      nodeId,
      workerUrl: new URL('./worker.js', import.meta.url).href,
      assumeValid,
    });
  } catch (e) {
    banner(`The node could not start: ${e.message || e}`, true);
    console.error(e);
    return;
  }
  window.node = node;
  wire();
  const status = await node.status();
  $('worker-count').value = status.workers;
  if (status.storageWarnings.length) banner(`Storage: ${status.storageWarnings.join(' ')}`, true);
  await Promise.all([refreshStatus(), refreshWallet(), refreshChain(), refreshNetwork()]);
  setInterval(refreshStatus, 1000);
  setInterval(refreshNetwork, 2000);
  window.dispatchEvent(new CustomEvent('node-ready', { detail: { id: node.id } }));
}

// ----- header and status ------------------------------------------------------------------

function setConnection(c) {
  const pill = $('connection');
  const labels = { open: 'connected', connecting: 'connecting…', closed: 'disconnected' };
  let text = labels[c.state] || c.state;
  if (c.state === 'closed' && c.retryInMs) text += ` · retry in ${Math.round(c.retryInMs / 100) / 10}s`;
  pill.textContent = text;
  pill.dataset.state = c.state;
  pill.title = c.url ? `relay ${c.url}` : '';
  pill.className = `pill state-${c.state}`;
}

let lastStatus = null;

async function refreshStatus() {
  const s = await node.status();
  lastStatus = s;
  $('height').textContent = s.tip ? s.height : '–';
  $('tip').textContent = short(s.tip);
  $('tip').title = s.tip || '';
  $('peer-count').textContent = s.peers;
  $('mempool-count').textContent = s.mempool;
  $('sig-mode').textContent = s.verifyWorkers > 0 ? `WebCrypto ×${s.verifyWorkers}` : 'wasm';
  const vouched = s.assumeValid
    ? `; not checked during the first sync for the blocks leading to #${s.assumeValid.height} ${short(s.assumeValid.hash)}, vouched for by the relay that served this page`
    : '; every block checked (no assume-valid)';
  $('sig-mode').title = `who checks the signatures of incoming blocks and transactions; ${s.signaturesVouched} vouched for by WebCrypto so far${vouched}`;
  $('role').textContent = s.mining ? 'miner' : 'wallet';
  if (!$('connection').dataset.state || $('connection').dataset.state !== s.connection) {
    setConnection({ state: s.connection, url: s.relay });
  }
  renderSync(Math.max(s.height, s.downloadedHeight), s.targetHeight, s.syncing, Boolean(s.tip));
  renderMiningState(s);
  $('blocks-found').textContent = s.blocksMined;
  if (s.storageError) banner(`Storage failed, nothing more is saved: ${s.storageError}`, true);
}

function renderSync(height, target, syncing, hasChain) {
  const bar = $('sync-progress');
  const text = $('sync-text');
  if (!hasChain) {
    bar.max = 1; bar.value = 0;
    text.textContent = syncing ? 'downloading the chain…' : 'no chain yet: waiting for the relay';
    return;
  }
  bar.max = Math.max(target, height, 1);
  bar.value = height;
  text.textContent = syncing || height < target ? `downloading: ${height} / ${target}` : `in sync at height ${height}`;
  $('sync').dataset.synced = String(!(syncing || height < target));
}

function renderMiningState(s) {
  const pill = $('mining-state');
  pill.classList.remove('active', 'waiting');
  if (s.mining && s.miningActive) {
    pill.textContent = 'hashing';
    pill.classList.add('active');
  } else if (s.mining) {
    pill.textContent = 'waiting for transactions';
    pill.classList.add('waiting');
  } else {
    pill.textContent = 'off';
  }
  pill.dataset.state = s.mining ? (s.miningActive ? 'hashing' : 'waiting') : 'off';
  $('start-mining').disabled = s.mining;
  $('stop-mining').disabled = !s.mining;
  $('mining-address').disabled = s.mining;
  if (s.minerError) $('mining-error').textContent = s.minerError;
  if (!s.mining || !s.miningActive) renderHashrate(s.hashrate);
}

function renderHashrate(h) {
  $('hashrate').textContent = rate(h.total);
  $('hashrate').dataset.rate = String(Math.round(h.total));
  const list = $('worker-rates');
  list.replaceChildren(...h.workers.map((r, i) => el('li', { 'data-testid': 'worker-rate' }, `worker ${i + 1}: ${rate(r)}`)));
}

// ----- wallet -----------------------------------------------------------------------------

function fillSelect(select, addresses) {
  const keep = select.value;
  select.replaceChildren(...addresses.map((a) => el('option', { value: a, text: a })));
  if (addresses.includes(keep)) select.value = keep;
}

async function refreshWallet() {
  const rows = await node.balances();
  const body = $('addresses');
  if (rows.length === 0) {
    body.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: 3, text: 'No addresses yet: create one.' })));
  } else {
    body.replaceChildren(...rows.map((r) => {
      const copyButton = el('button', { type: 'button', class: 'copy', 'data-testid': 'copy-address', text: 'copy' });
      copyButton.addEventListener('click', () => copy(r.address, copyButton));
      const pending = r.spendable !== r.balance ? el('span', { class: 'pending', text: `${r.spendable} spendable now` }) : null;
      return el('tr', { 'data-testid': 'address-row', 'data-address': r.address },
        el('td', {}, el('code', { 'data-testid': 'address', text: r.address })),
        el('td', { class: 'num' }, el('span', { class: 'balance', 'data-testid': 'balance', text: String(r.balance) }), pending),
        el('td', {}, copyButton));
    }));
  }
  const addresses = rows.map((r) => r.address);
  fillSelect($('send-from'), addresses);
  fillSelect($('mining-address'), addresses);
  if (lastStatus && lastStatus.miningTo && !addresses.includes(lastStatus.miningTo)) {
    $('mining-address').append(el('option', { value: lastStatus.miningTo, text: lastStatus.miningTo }));
    $('mining-address').value = lastStatus.miningTo;
  }
}

async function createWallet() {
  $('create-wallet').disabled = true;
  try {
    await node.createWallet();
    await refreshWallet();
  } catch (e) {
    banner(e.message, true);
  } finally {
    $('create-wallet').disabled = false;
  }
}

async function send(event) {
  event.preventDefault();
  const error = $('send-error');
  const result = $('send-result');
  error.textContent = '';
  result.textContent = '';
  $('send-button').disabled = true;
  try {
    const from = $('send-from').value;
    if (!from) throw new Error('create an address first: there is nothing to send from');
    const txid = await node.send(from, $('send-to').value.trim(), $('send-amount').value);
    result.textContent = `sent: ${txid}`;
    result.dataset.txid = txid;
    log(`sent ${$('send-amount').value} to ${short($('send-to').value, 16)}… in ${short(txid)}`);
    await refreshWallet();
  } catch (e) {
    error.textContent = e.message || String(e);
  } finally {
    $('send-button').disabled = false;
  }
}

// ----- miner ------------------------------------------------------------------------------

async function startMining() {
  $('mining-error').textContent = '';
  try {
    const address = $('mining-address').value;
    if (!address) throw new Error('create an address first: mining rewards need somewhere to go');
    await node.startMining(address);
    log(`mining to ${address}`);
  } catch (e) {
    $('mining-error').textContent = e.message || String(e);
  }
  await refreshStatus();
}

async function stopMining() {
  await node.stopMining();
  log('mining stopped');
  await refreshStatus();
}

// ----- chain explorer ---------------------------------------------------------------------

let selected = null;
let followTip = true; // show the newest block until the user picks one

async function refreshChain() {
  const [blocks, tree] = await Promise.all([node.printChain(60), node.blockTree(30)]);
  const list = $('blocks');
  if (blocks.length === 0) {
    list.replaceChildren(el('li', { class: 'hint', text: 'No blocks yet: the chain downloads from the relay.' }));
    drawTree([]);
    return;
  }
  list.replaceChildren(...blocks.map((b) => el('li', {
    'data-testid': 'block-row', 'data-hash': b.hash, 'data-height': b.height,
    class: b.hash === selected ? 'selected' : null,
    onclick: () => { followTip = false; selectBlock(b.hash); },
  }, el('span', { class: 'h', text: `#${b.height}` }), el('code', { text: b.hash }),
  el('span', { class: 'n', text: `${b.txs.length} tx · ${time(b.time)}` }))));
  drawTree(tree);
  if ((followTip || !selected) && blocks[0].hash !== selected) selectBlock(blocks[0].hash, false);
}

function drawTree(nodes) {
  const svg = $('block-tree');
  const NS = 'http://www.w3.org/2000/svg';
  const mk = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  svg.replaceChildren();
  if (nodes.length === 0) {
    svg.removeAttribute('viewBox');
    svg.style.width = '';
    svg.style.height = '';
    const t = mk('text', { x: 16, y: 30, class: 'placeholder' });
    t.textContent = 'The block tree appears here: every known block, side branches included.';
    svg.append(t);
    return;
  }
  const W = 70, H = 34, BW = 56, BH = 22, X0 = 16, Y0 = 26;
  const minH = Math.min(...nodes.map((n) => n.height));
  const maxH = Math.max(...nodes.map((n) => n.height));
  // Lanes: the active chain on lane 0; a side branch continues its parent's lane when it
  // can, else takes a new one.
  const lane = new Map();
  const laneEnd = [Infinity];
  for (const n of nodes) {
    if (n.active) { lane.set(n.hash, 0); continue; }
    const parentLane = lane.get(n.prev);
    if (parentLane > 0 && laneEnd[parentLane] === n.height - 1) {
      lane.set(n.hash, parentLane);
      laneEnd[parentLane] = n.height;
    } else {
      laneEnd.push(n.height);
      lane.set(n.hash, laneEnd.length - 1);
    }
  }
  const pos = (n) => [X0 + (n.height - minH) * W, Y0 + lane.get(n.hash) * H];
  const width = X0 * 2 + (maxH - minH) * W + BW;
  const height = Y0 + laneEnd.length * H;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.style.width = `${width}px`;
  svg.style.height = `${height}px`;
  const byHash = new Map(nodes.map((n) => [n.hash, n]));
  for (let h = minH; h <= maxH; h++) {
    const t = mk('text', { x: X0 + (h - minH) * W + BW / 2, y: 12, 'text-anchor': 'middle', class: 'height-label' });
    t.textContent = `#${h}`;
    svg.append(t);
  }
  for (const n of nodes) {
    const p = byHash.get(n.prev);
    if (!p) continue;
    const [x1, y1] = pos(p);
    const [x2, y2] = pos(n);
    svg.append(mk('path', { class: 'edge', d: `M${x1 + BW},${y1 + BH / 2} C${x1 + BW + 8},${y1 + BH / 2} ${x2 - 8},${y2 + BH / 2} ${x2},${y2 + BH / 2}` }));
  }
  for (const n of nodes) {
    const [x, y] = pos(n);
    const cls = ['block', n.active ? 'active' : 'side', n.tip ? 'tip' : '', n.hash === selected ? 'selected' : ''].join(' ');
    const g = mk('g', { class: cls, 'data-hash': n.hash, 'data-testid': n.active ? 'tree-block' : 'tree-side-block' });
    const title = mk('title', {});
    title.textContent = `#${n.height} ${n.hash}${n.active ? '' : ' (side branch)'}`;
    g.append(title, mk('rect', { x, y, width: BW, height: BH, rx: 4 }));
    const t = mk('text', { x: x + BW / 2, y: y + BH / 2 + 3.5, 'text-anchor': 'middle' });
    t.textContent = n.hash.slice(0, 6);
    g.append(t);
    g.addEventListener('click', () => { followTip = false; selectBlock(n.hash); });
    svg.append(g);
  }
  svg.parentElement.scrollLeft = svg.parentElement.scrollWidth;
}

async function selectBlock(hash, scroll = true) {
  selected = hash;
  for (const li of $('blocks').children) li.classList.toggle('selected', li.dataset.hash === hash);
  for (const g of $('block-tree').querySelectorAll('g.block')) g.classList.toggle('selected', g.dataset.hash === hash);
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
  const txs = b.txs.map((tx) => el('div', { class: 'tx', 'data-testid': 'tx', 'data-txid': tx.txid },
    el('div', {}, el('code', { class: 'txid', text: tx.txid }), tx.coinbase ? el('span', { class: 'tag', text: 'coinbase' }) : null),
    el('div', { class: 'io' },
      el('ul', {}, ...(tx.coinbase ? [el('li', { class: 'hint', text: 'new coins' })]
        : tx.inputs.map((i) => el('li', {}, el('code', { text: `${short(i.txid, 10)}:${i.vout}` }), ' from ', el('code', { text: i.address }))))),
      el('span', { class: 'arrow', text: '→' }),
      el('ul', {}, ...tx.outputs.map((o) => el('li', {}, el('b', { text: `${o.value} ` }), 'to ', el('code', { text: o.address })))))));
  box.replaceChildren(el('h3', { text: `Block #${b.height}` }), dl, el('h3', { text: `${b.txs.length} transactions` }), ...txs);
  if (scroll) box.scrollTop = 0;
}

// ----- network ----------------------------------------------------------------------------

async function refreshNetwork() {
  const [peers, known, mempool] = await Promise.all([node.peers(), node.knownNodes(), node.mempool()]);
  $('peers').replaceChildren(...(peers.length ? peers.map((p) => el('tr', { 'data-testid': 'peer-row' },
    el('td', { title: p.url }, p.nodeId || `#${p.id}`, p.outbound ? el('span', { class: 'tag', text: 'outbound' }) : null),
    el('td', { text: p.role || '…' }),
    el('td', { class: 'num', text: String(p.height) }),
    el('td', { class: 'num', text: p.rttMs == null ? '–' : `${p.rttMs} ms` }),
    el('td', { class: 'num', text: String(p.score) })))
    : [el('tr', {}, el('td', { colspan: 5, class: 'hint', text: 'No peers.' }))]));
  $('known-nodes').replaceChildren(...(known.length ? known.map((k) => el('li', {},
    el('b', { text: k.nodeId }), ` ${k.role}`, k.url ? el('span', { class: 'hint', text: ` ${k.url}` }) : null))
    : [el('li', { class: 'hint', text: 'None yet.' })]));
  $('mempool').replaceChildren(...(mempool.length ? mempool.map((t) => el('li', { 'data-testid': 'mempool-tx' },
    el('code', { text: short(t.txid, 16) }), ` · ${t.outputs.map((o) => `${o.value} → ${short(o.address, 10)}…`).join(', ')}`))
    : [el('li', { class: 'hint', text: 'Empty.' })]));
}

// ----- protocol inspector -----------------------------------------------------------------

// While the chain downloads, the inspector, the chain view and the wallet redraw once a
// second, not on every block: the progress bar shows the download, and the tab's thread has
// blocks to validate.
let downloading = false;

const pendingMessages = [];
// Messages that arrived faster than the inspector draws and were dropped before drawing.
let unshownMessages = 0;
const drawMessages = () => {
  const body = $('messages');
  if (unshownMessages) {
    pendingMessages.unshift({ skipped: unshownMessages });
    unshownMessages = 0;
  }
  const rows = pendingMessages.splice(0).map((m) => (m.skipped ? el('tr', { class: 'skipped' },
    el('td', { colspan: 4, class: 'hint', text: `… ${m.skipped} more messages, not shown` })) : el('tr', {
    class: `${m.direction}${m.refused ? ' refused' : ''}`, 'data-testid': 'message', 'data-command': m.command,
    title: time(m.time),
  },
  el('td', { class: 'dir', text: m.direction === 'in' ? '←' : '→', title: m.direction }),
  el('td', { text: m.peerNode || `#${m.peer}` }),
  el('td', { class: 'cmd', text: m.command }),
  el('td', { class: 'summary' }, m.summary, m.refused ? el('span', { class: 'why', text: `refused: ${m.refused}` }) : null))));
  body.prepend(...rows.reverse());
  while (body.children.length > 400) body.lastChild.remove();
};
const messagesSoon = throttle(drawMessages, 150);
const messagesSlow = throttle(drawMessages, 1000);
const flushMessages = () => (downloading ? messagesSlow : messagesSoon)();

// ----- events -----------------------------------------------------------------------------

function wire() {
  $('create-wallet').addEventListener('click', createWallet);
  $('send-form').addEventListener('submit', send);
  $('start-mining').addEventListener('click', startMining);
  $('stop-mining').addEventListener('click', stopMining);
  $('worker-count').addEventListener('change', async (e) => {
    const n = Math.max(1, Math.min(64, Number(e.target.value) || 1));
    e.target.value = n;
    await node.setWorkers(n);
  });
  $('inspector-clear').addEventListener('click', () => $('messages').replaceChildren());

  const chainSoon = throttle(refreshChain, 300);
  const chainSlow = throttle(refreshChain, 1000);
  const chainLater = () => (downloading ? chainSlow : chainSoon)();
  const walletSoon = throttle(refreshWallet, 300);
  const walletSlow = throttle(refreshWallet, 1000);
  const walletLater = () => (downloading ? walletSlow : walletSoon)();
  const statusLater = throttle(refreshStatus, 200);
  const networkLater = throttle(refreshNetwork, 500);

  node.on('connection', (c) => {
    setConnection(c);
    if (c.state === 'open') log(`connected to ${c.url}`);
    if (c.state === 'closed' && c.attempt > 0) statusLater();
  });
  node.on('tip', (t) => {
    if (t.reorgDepth > 0) log(`reorganisation: ${t.reorgDepth} block(s) replaced, tip #${t.height}`);
    chainLater(); walletLater(); statusLater();
  });
  node.on('block', (b) => {
    if (b.kind === 'side') { log(`side-branch block ${short(b.hash)}`); chainLater(); }
    if (b.kind === 'rejected') log(`block ${short(b.hash)} refused: ${b.reason}`);
  });
  node.on('sync', (s) => {
    downloading = s.height < s.target;
    renderSync(s.height, s.target, downloading, true);
    if (!downloading) { chainLater(); walletLater(); }
  });
  node.on('tx', (t) => {
    log(t.local ? `payment ${short(t.txid)} accepted` : `transaction ${short(t.txid)} received`);
    walletLater(); networkLater(); statusLater();
  });
  node.on('txRejected', (t) => {
    log(`transaction ${short(t.txid)} refused${t.remote ? ' by a peer' : ''}: ${t.reason}`);
    walletLater(); networkLater();
  });
  node.on('peers', (p) => {
    if (p.kind === 'up') log(`peer ${p.nodeId} (${p.role}) up at height ${p.height}`);
    if (p.kind === 'down') log(`peer #${p.peer} down: ${p.reason}`);
    if (p.kind === 'penalised') log(`peer ${p.nodeId || `#${p.peer}`} penalised (${p.score}): ${p.reason}`);
    if (p.kind === 'learned') {
      // One addr message may name a thousand nodes: the log line names a few.
      const names = p.nodes.slice(0, 8).map((n) => n.nodeId).join(', ');
      log(`heard of ${names}${p.nodes.length > 8 ? ` and ${p.nodes.length - 8} more` : ''}`);
    }
    networkLater(); statusLater();
  });
  node.on('mined', (m) => {
    log(`mined block #${m.height} ${short(m.hash)}`);
    statusLater();
  });
  node.on('hashrate', renderHashrate);
  node.on('wallet', (w) => { log(`new address ${w.address}`); walletLater(); });
  node.on('messagesSkipped', ({ count }) => {
    if ($('inspector-pause').checked) return;
    pendingMessages.push({ skipped: count });
    flushMessages();
  });
  node.on('message', (m) => {
    if ($('inspector-pause').checked) return;
    pendingMessages.push(m);
    if (pendingMessages.length > 400) {
      const dropped = pendingMessages.splice(0, pendingMessages.length - 400);
      unshownMessages += dropped.reduce((n, d) => n + (d.skipped || 1), 0);
    }
    flushMessages();
  });
}

main();
