// @ts-check
// Which node this tab is, and the block the relay that served the page vouches for. (The
// lock that keeps a node's databases to one tab is taken by its worker: www/node-worker.js.)

const DEFAULT_NODE = '3001';
export const params = new URLSearchParams(location.search);

/** This tab's node id: /?node=3001 is node 3001 (the seed's NODE_ID). */
export const nodeId = params.get('node') || DEFAULT_NODE;

/** Puts the node id in the address bar when it was not there, so a reload stays the same
 *  node. Returns whether it was missing. */
export function pinNodeId() {
  if (params.get('node')) return false;
  params.set('node', nodeId);
  history.replaceState(null, '', `${location.pathname}?${params}${location.hash}`);
  return true;
}

/** Longest /status body read: its JSON is a few hundred bytes. */
const MAX_STATUS_BYTES = 16 * 1024;
/** How long the page waits for /status before starting without assume-valid. */
const STATUS_TIMEOUT_MS = 1500;
const BLOCK_HASH = /^[0-9a-f]{64}$/;

/** The body of `response` as text, or undefined if it is longer than `max` bytes (reading
 *  stops there: a relay cannot make the page hold more).
 *  @param {Response} response @param {number} max @returns {Promise<string | undefined>} */
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
 * @returns {Promise<{height: number, hash: string} | undefined>}
 */
export async function relayCheckpoint() {
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
    why = e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${STATUS_TIMEOUT_MS} ms` : 'unreadable';
  }
  console.warn(`assume-valid off: /status ${why}; every signature is checked`);
  return undefined;
}
