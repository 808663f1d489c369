// @ts-check
// The miner panel: reward address, workers, start/stop, hashing state and hash rates.
import { $, $select, el, log, message, setText } from './dom.js';
import { rate } from './format.js';
import { fillSelect } from './send.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Status} Status */
/** @typedef {import('./types.js').HashRate} HashRate */

/** How long after a hash-rate report with hashes in it the panel still says "hashing": the
 *  node reports once a second while a block is being hashed, and between polls a fast block
 *  may come and go unseen. */
const HASHING_SHOWN_MS = 1500;
/** Blocks this tab found whose fate the panel checks each cycle (the newest). */
const FOUND_CHECKED = 100;

/** What this tab's miner did, as the page saw it. */
const seen = {
  /** @type {HashRate | null} the last report with hashes in it */
  lastRate: null,
  lastRateAt: 0,
  /** When the current run of hashing was first seen (0: not hashing). */
  hashingSince: 0,
  /** @type {{hash: string, height: number}[]} blocks found since the page opened, oldest first */
  found: [],
};

/** Draws the rate: the current one while hashing; between blocks (when the node reports 0)
 *  the last measured one, so it stays readable. @param {HashRate} h @param {boolean} mining */
function renderHashrate(h, mining) {
  const last = seen.lastRate;
  const between = !h.total && mining && last;
  const shown = between ? last : h;
  setText($('hashrate'), h.total ? rate(h.total)
    : between ? `${rate(last.total)} (last measured, between blocks)`
      : mining ? 'not measured yet: blocks take under a second' : '0 H/s');
  $('hashrate').dataset.rate = String(Math.round(shown.total));
  const rates = shown.workers.map((r, i) => `worker ${i + 1}: ${rate(r)}`);
  const list = $('worker-rates');
  if (rates.join('\n') !== [...list.children].map((li) => li.textContent).join('\n')) {
    list.replaceChildren(...rates.map((text) => el('li', { 'data-testid': 'worker-rate' }, text)));
  }
}

/** Whether the miner is hashing now, from the status and the newest rate report.
 *  @param {Status} s */
function hashingNow(s) {
  return s.mining && (s.miningActive || Date.now() - seen.lastRateAt < HASHING_SHOWN_MS);
}

/** @param {Status} s */
function renderState(s) {
  const pill = $('mining-state');
  const hashing = hashingNow(s);
  if (hashing && !seen.hashingSince) seen.hashingSince = Date.now();
  if (!hashing) seen.hashingSince = 0;
  // Set only when changed: the panel is drawn every cycle, mostly with nothing new.
  const [text, cls] = hashing ? ['hashing', 'pill active'] : s.mining ? ['waiting for transactions', 'pill waiting'] : ['off', 'pill'];
  setText(pill, text);
  if (pill.className !== cls) pill.className = cls;
  pill.dataset.state = s.mining ? (hashing ? 'hashing' : 'waiting') : 'off';
  $('start-mining').disabled = s.mining;
  $('stop-mining').disabled = !s.mining;
  $('mining-address').disabled = s.mining;
  if (s.minerError) $('mining-error').textContent = s.minerError;
  renderHashrate(s.hashrate, s.mining);
}

/** Blocks found, and how many of them are still on the active chain: a block that lost a
 *  reorganisation was found but is not accepted. @param {Page} page @param {Status} s */
async function renderFound(page, s) {
  const checked = seen.found.slice(-FOUND_CHECKED);
  /** @type {(import('./types.js').Block | null)[]} */
  const blocks = await Promise.all(checked.map((f) => page.node.getBlock(f.hash)));
  const inChain = blocks.filter((b) => b?.active).length;
  const lost = checked.length - inChain;
  const box = $('blocks-found');
  box.dataset.found = String(s.blocksMined);
  box.dataset.inChain = String(inChain);
  setText(box, s.blocksMined === 0 ? '0'
    : `${s.blocksMined} · ${inChain} in the chain${lost ? ` · ${lost} lost to a reorganisation` : ''}`);
}

/** Wires the miner panel. @param {Page} page */
export function mountMiner(page) {
  const { node } = page;
  page.onSnapshot(async (snap) => {
    renderState(snap.status);
    await renderFound(page, snap.status);
  });
  page.onWallet((rows) => {
    const addresses = rows.map((r) => r.address);
    const select = $select('mining-address');
    fillSelect(select, addresses);
    const to = page.status?.miningTo;
    if (to && !addresses.includes(to)) {
      select.append(el('option', { value: to, text: to }));
      select.value = to;
    }
  });
  $('start-mining').addEventListener('click', async () => {
    $('mining-error').textContent = '';
    try {
      const address = $('mining-address').value;
      if (!address) throw new Error('create an address first: mining rewards need somewhere to go');
      await node.startMining(address);
      log(`mining to ${address}`);
    } catch (e) {
      $('mining-error').textContent = message(e);
    }
    await page.refresh();
  });
  $('stop-mining').addEventListener('click', async () => {
    await node.stopMining();
    log('mining stopped');
    await page.refresh();
  });
  $('worker-count').addEventListener('change', async (e) => {
    const input = /** @type {HTMLInputElement} */ (e.target);
    const n = Math.max(1, Math.min(64, Number(input.value) || 1));
    input.value = String(n);
    await node.setWorkers(n);
  });
  node.on('hashrate', (/** @type {HashRate} */ h) => {
    if (h.total > 0) {
      seen.lastRate = h;
      seen.lastRateAt = Date.now();
      if (!seen.hashingSince) seen.hashingSince = seen.lastRateAt;
    }
    const s = page.status;
    if (s) renderState({ ...s, hashrate: h, miningActive: s.miningActive || h.total > 0 });
  });
  node.on('mined', (/** @type {{hash: string, height: number}} */ m) => {
    seen.found.push(m);
    const took = seen.hashingSince ? (Date.now() - seen.hashingSince) / 1000 : null;
    const hashes = took !== null && seen.lastRate ? Math.round(seen.lastRate.total * took) : null;
    const line = `block #${m.height} found${took === null ? '' : ` after about ${took.toFixed(1)} s of hashing`}${
      hashes ? ` (≈${hashes.toLocaleString('en')} hashes)` : ''}`;
    seen.hashingSince = 0;
    $('last-found').textContent = `Last: ${line}.`;
    log(`${line}: ${m.hash.slice(0, 12)}`);
  });
}
