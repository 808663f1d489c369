// @ts-check
// The miner panel: reward address, workers, start/stop, hashing state and hash rates.
import { $, $select, el, log, message } from './dom.js';
import { rate } from './format.js';
import { fillSelect } from './send.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Status} Status */
/** @typedef {import('./types.js').HashRate} HashRate */

/** @param {HashRate} h */
function renderHashrate(h) {
  $('hashrate').textContent = rate(h.total);
  $('hashrate').dataset.rate = String(Math.round(h.total));
  $('worker-rates').replaceChildren(...h.workers.map((r, i) => el('li', { 'data-testid': 'worker-rate' }, `worker ${i + 1}: ${rate(r)}`)));
}

/** @param {Status} s */
function renderState(s) {
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
  $('blocks-found').textContent = String(s.blocksMined);
}

/** Wires the miner panel. @param {Page} page */
export function mountMiner(page) {
  const { node } = page;
  page.onStatus(renderState);
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
  node.on('hashrate', renderHashrate);
  node.on('mined', (/** @type {{hash: string, height: number}} */ m) => log(`mined block #${m.height} ${m.hash.slice(0, 12)}`));
}
