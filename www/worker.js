// Mining worker: loads the miners' build of the node's wasm (www/pkg-miner: mineChunk only,
// optimised for speed) and searches nonces with the midstate (mineChunk).
//
// Messages in:  {type: 'job', jobId, header: Uint8Array(88), start: BigInt, count: BigInt}
//               {type: 'stop'}
// Messages out: {type: 'progress', tried}          about four times a second
//               {type: 'found', jobId, nonce}      nonce as a decimal string
//               {type: 'exhausted', jobId}         the share of nonces ran out
//               {type: 'error', message}
// A new job or a stop takes effect between two chunks (2^16 nonces, ~15 ms).
import init, { mineChunk } from './pkg-miner/miner.js';

const CHUNK = 1 << 16;
const REPORT_MS = 250;

let job = null;
let running = false;
const ready = init().catch((e) => {
  postMessage({ type: 'error', message: `wasm failed to load: ${e}` });
  throw e;
});

// A zero-delay yield that lets queued messages (a new job, a stop) run between chunks;
// setTimeout(0) would be clamped to 4 ms.
const channel = new MessageChannel();
let wake = null;
channel.port1.onmessage = () => wake && wake();
const yieldNow = () => new Promise((resolve) => { wake = resolve; channel.port2.postMessage(0); });

self.onmessage = (event) => {
  const m = event.data;
  if (m.type === 'job') {
    job = { id: m.jobId, header: m.header, next: BigInt(m.start), end: BigInt(m.start) + BigInt(m.count) };
    run();
  } else if (m.type === 'stop') {
    job = null;
  }
};

async function run() {
  if (running) return;
  running = true;
  try {
    await ready;
  } catch {
    running = false;
    return;
  }
  let tried = 0;
  let last = performance.now();
  while (job) {
    const j = job;
    const left = j.end - j.next;
    if (left <= 0n) {
      postMessage({ type: 'exhausted', jobId: j.id });
      job = null;
      break;
    }
    const n = left < BigInt(CHUNK) ? Number(left) : CHUNK;
    let found;
    try {
      found = mineChunk(j.header, j.next, n);
    } catch (e) {
      postMessage({ type: 'error', message: String(e && e.message || e) });
      job = null;
      break;
    }
    if (found !== undefined) {
      tried += Number(found - j.next) + 1;
      postMessage({ type: 'progress', tried });
      tried = 0;
      postMessage({ type: 'found', jobId: j.id, nonce: found.toString() });
      if (job === j) job = null;
      break;
    }
    j.next += BigInt(n);
    tried += n;
    const now = performance.now();
    if (now - last >= REPORT_MS) {
      postMessage({ type: 'progress', tried });
      tried = 0;
      last = now;
    }
    await yieldNow();
  }
  if (tried > 0) postMessage({ type: 'progress', tried });
  running = false;
  // A job may have arrived while the last chunk ran.
  if (job) run();
}
