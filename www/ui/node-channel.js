// @ts-check
// What the node's worker (www/node-worker.js) and the page's proxy of it
// (www/ui/remote-node.js) share: the node's methods, how a batch of calls runs, and the name
// of the BroadcastChannel on which the worker that owns a node serves the other tabs of it.
//
// Channel messages (every tab of node N and the owner's worker, on `blockchain-node-N`):
//   view -> owner  {type: 'who'}                       who holds the node?
//   owner -> all   {type: 'holder', holder: {id, opened}}
//   view -> owner  {type: 'listen', name}              forward event `name` on the channel
//   view -> owner  {type: 'calls', from, calls}        from: the view's tab id
//   owner -> view  {type: 'results', to, results}
//   owner -> all   {type: 'event', name, payload}
//   owner -> all   {type: 'ready' | 'failed'}

/** Prefix of the Web Lock and the BroadcastChannel of one node id. */
export const CHANNEL_PREFIX = 'blockchain-node-';

/** The node's methods that a page may call (BrowserNode in node-wasm/src/facade.rs, all of
 *  which resolve to plain data, or nothing; `verifyChain` is the worker's own: a restart of
 *  the node from storage); `on`, `off` and `id` the proxy handles itself. */
export const METHODS = [
  'createWallet', 'exportKeys', 'importKeys', 'sealKeys', 'listAddresses', 'balances', 'getBalance', 'send',
  'startMining', 'stopMining', 'setWorkers', 'status', 'printChain', 'getBlock', 'blockTree',
  'getTransaction', 'addressHistory', 'peers', 'knownNodes', 'mempool', 'connect', 'disconnect', 'flush', 'close',
  'verifyChain',
];
const ALLOWED = new Set(METHODS);

/** A thrown value as the message the page's Error will carry. @param {unknown} e */
const text = (e) => (e instanceof Error ? e.message : String(e));

/** Runs a batch of calls on `node`, each started in this same task so that reads made
 *  together describe one moment of the node (the page's refresh cycle relies on it).
 *  @param {any} node @param {{id: number, method: string, args: unknown[]}[]} calls
 *  @returns {Promise<({id: number, value: unknown} | {id: number, error: string})[]>} */
export function runCalls(node, calls) {
  const started = calls.map((c) => {
    if (!node) return Promise.reject(new Error('the node is not running'));
    if (!ALLOWED.has(c.method) || !Array.isArray(c.args)) {
      return Promise.reject(new Error(`no such node call: ${String(c.method).slice(0, 40)}`));
    }
    try {
      return Promise.resolve(node[c.method](...c.args));
    } catch (e) {
      return Promise.reject(e);
    }
  });
  return Promise.all(started.map((p, i) => p.then(
    (value) => ({ id: calls[i].id, value }),
    (e) => ({ id: calls[i].id, error: text(e) }),
  )));
}
