// Measures the mining worker's hash rate with 1 worker and with one worker per core.
// window.benchResult holds the figures when done; the Playwright script reads them.
const params = new URLSearchParams(location.search);
const seconds = Number(params.get('seconds') || 3);
const out = document.getElementById('out');

// A header of bits 64: no nonce in reach meets it, so workers hash for the whole run.
function header() {
  const h = new Uint8Array(88);
  const v = new DataView(h.buffer);
  v.setUint32(0, 1, true);
  for (let i = 4; i < 68; i++) h[i] = (i * 29) & 0xff;
  v.setBigUint64(68, 1700000000000n, true);
  v.setUint32(76, 64, true);
  return h;
}

async function measure(workers) {
  const pool = [];
  const tried = new Array(workers).fill(0);
  let ready = 0;
  await new Promise((resolve, reject) => {
    for (let i = 0; i < workers; i++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
      w.onmessage = (e) => {
        if (e.data.type === 'progress') tried[i] += e.data.tried;
        if (e.data.type === 'error') reject(new Error(e.data.message));
      };
      pool.push(w);
      ready++;
    }
    resolve();
  });
  const span = (1n << 64n) / BigInt(workers);
  // Warm up (wasm load and JIT), then count.
  pool.forEach((w, i) => w.postMessage({ type: 'job', jobId: 1, header: header(), start: span * BigInt(i), count: span }));
  await new Promise((r) => setTimeout(r, 1000));
  tried.fill(0);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const rates = tried.map((t) => t / elapsed);
  pool.forEach((w) => w.terminate());
  return { workers, total: rates.reduce((a, b) => a + b, 0), perWorker: rates };
}

async function run() {
  out.textContent = 'running…';
  const cores = navigator.hardwareConcurrency || 2;
  const one = await measure(1);
  const all = await measure(cores);
  const result = {
    cores,
    oneWorker: one.total,
    allWorkers: all.total,
    perWorker: all.perWorker,
    scaling: all.total / (cores * one.total),
  };
  out.textContent = JSON.stringify(result, null, 2);
  window.benchResult = result;
}

document.getElementById('run').onclick = run;
if (params.has('auto')) run();
