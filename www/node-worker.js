// @ts-check
// The node's own thread: a dedicated worker that holds the node (www/pkg: BrowserNode), its
// IndexedDB databases, its WebSocket and its mining and verify workers, so that validation
// and storage never run on the page's thread, which only draws (www/ui/remote-node.js is
// the page's side). Started as ./node-worker.js?<the page's query>, so the node reads
// ?node=, ?relay=, ?workers= and ?webcrypto= as it would on the page.
//
// One owner per node id: the worker takes the Web Lock `blockchain-node-<id>` before it
// opens a database and keeps it while it lives, so two tabs never write one node's
// IndexedDB. A worker that finds the lock taken says so ('waiting') and waits for it; its
// tab meanwhile is a view of the owner, whose worker answers calls and forwards events on
// the BroadcastChannel `blockchain-node-<id>` (www/ui/node-channel.js has the messages).
// When the owner's tab closes, its lock is free and the waiting worker starts the node.
//
// Messages in (from the page):
//   {type: 'start', options, tab}    options for BrowserNode.start; tab: {id, opened}
//   {type: 'calls', calls: [{id, method, args}]}   run in one task (they see one moment)
//   {type: 'listen', name}           forward node event `name` to the page from now on
//   {type: 'wake', why}              the page came back (online, resumed, shown): reconnect
//                                    now if the connection was lost
// Messages out:
//   {type: 'waiting', holder}        another tab owns the node (holder: its tab, if known)
//   {type: 'ready', id, stored}      this worker owns the node and it has started; stored:
//                                    {height, keys} its databases held at start
//   {type: 'failed', message}        the node could not start
//   {type: 'results', results: [{id, value} | {id, error}]}
//   {type: 'events', events: [[name, payload]]}   the node's events of one task, in order
import init, { BrowserNode } from './pkg/node_wasm.js';
import { CHANNEL_PREFIX, runCalls } from './ui/node-channel.js';

/** How often the worker looks at the clock to notice a wake from sleep. */
const WAKE_CHECK_MS = 2000;
/** A gap this much longer than WAKE_CHECK_MS between two looks means the machine slept or
 *  the worker was frozen: the connection is likely dead, and its backoff meaningless. */
const WAKE_GAP_MS = 3 * WAKE_CHECK_MS;

/** @type {any} the node, once this worker owns it */
let node = null;
/** @type {Promise<any> | null} the node starting */
let starting = null;
/** The options the node was started with (a restart uses them again). */
let startOptions = {};
/** The user asked to be offline (`disconnect`): wakes do not reconnect. */
let userDisconnected = false;
/** This worker's tab, as the views are told: {id, opened}. */
let tab = { id: '', opened: 0 };
/** Events forwarded to this worker's page. */
const pageEvents = new Set();
/** Events some view asked for, forwarded on the channel. */
const channelEvents = new Set();
/** @type {BroadcastChannel | null} */
let channel = null;
const wasm = init();

/** The IndexedDB connections the node opened (www/pkg opens each database through
 *  `indexedDB.open`). The node never closes them itself, so a restart (verifyChain) does:
 *  a `deleteDatabase` waiting on them (developer tools, another page of the origin) would
 *  otherwise also hold back the restarted node's own open, and it would never start.
 *  @type {Set<IDBDatabase>} */
const connections = new Set();
const openDatabase = indexedDB.open.bind(indexedDB);
indexedDB.open = (/** @type {string} */ name, /** @type {number | undefined} */ version) => {
  const request = version === undefined ? openDatabase(name) : openDatabase(name, version);
  request.addEventListener('success', () => connections.add(request.result));
  return request;
};
/** Closes every connection the node opened so far (once it is closed itself). */
function closeConnections() {
  for (const db of connections) db.close();
  connections.clear();
}

/** @param {string} name @param {boolean} toPage */
function forward(name, toPage) {
  const set = toPage ? pageEvents : channelEvents;
  if (set.has(name) || !node) { set.add(name); return; }
  set.add(name);
  listenOnce(name);
}

/** Events for the page not yet posted: those of one task go in one message (a download
 *  emits a few per block; one message each would keep the page's thread busy). */
let toPage = [];
/** Posts the queued events; called before any other message, so that the page sees
 *  events and results in the order they happened. */
function postEvents() {
  if (toPage.length === 0) return;
  postMessage({ type: 'events', events: toPage });
  toPage = [];
}
/** @param {any} message */
function toPageNow(message) {
  postEvents();
  postMessage(message);
}

/** Whether an event reaches a side through the node's subscription `name`: a side that
 *  listens to every event ("*") gets each one once, through that subscription.
 *  @param {Set<string>} side @param {string} name */
const reaches = (side, name) => (side.has('*') ? name === '*' : side.has(name));

/** Subscribes once per event name, forwarding to whichever side asked for it. The node
 *  calls a "*" listener with (name, payload), any other with (payload); the sides are sent
 *  each event under its own name. */
const subscribed = new Set();
/** @param {string} name */
function listenOnce(name) {
  if (subscribed.has(name)) return;
  subscribed.add(name);
  node.on(name, (/** @type {unknown} */ first, /** @type {unknown} */ second) => {
    const [event, payload] = name === '*' ? [String(first), second] : [name, first];
    if (reaches(pageEvents, name)) {
      if (toPage.length === 0) queueMicrotask(postEvents);
      toPage.push([event, payload]);
    }
    if (channel && reaches(channelEvents, name)) channel.postMessage({ type: 'event', name: event, payload });
  });
}

/** Runs calls on the node, remembering whether the user chose to be offline.
 *  `verifyChain` is this worker's own (see verifyChain below), run after the others.
 *  @param {{id: number, method: string, args: unknown[]}[]} calls */
async function run(calls) {
  let n;
  try {
    n = await starting;
  } catch (e) {
    // The node could not start (again): each call says so, rather than never being answered.
    const error = `the node is not running: ${e instanceof Error ? e.message : String(e)}`;
    return calls.map((c) => ({ id: c.id, error }));
  }
  for (const c of calls) {
    if (c.method === 'disconnect') userDisconnected = true;
    if (c.method === 'connect') userDisconnected = false;
  }
  const results = await runCalls(n, calls.filter((c) => c.method !== VERIFY));
  for (const c of calls.filter((c) => c.method === VERIFY)) {
    results.push(await verifyChain().then((value) => ({ id: c.id, value }), (e) => ({ id: c.id, error: String(e?.message ?? e) })));
  }
  return results;
}

const VERIFY = 'verifyChain';
/** What a start says when the stored chain failed its check (node-wasm driver::start). */
const NOT_USED = /^the stored chain was not used \((.*)\); it is downloaded again$/;

/** "Verify my chain": the node stops and starts again from its storage with
 *  `verifyStorage`, so the stored chain is replayed from genesis (node-wasm/src/
 *  journal_audit.rs: proof of work, Merkle roots, every spend, undo data, the UTXO set; a
 *  plain start or reload checks only what needs no body read, to start in constant time). The
 *  chain in memory was checked when it arrived; what a restart trusts is storage, which the
 *  browser's developer tools or a disk fault can change under a running node. A store that
 *  fails is not used: the node never serves or builds on its blocks, clears it and
 *  downloads the chain again from peers. A store that passes but does not end at the tip
 *  the node had when it stopped (every write awaited first) lost blocks: that is a fault
 *  too (`lost`), though what it kept is used and only the rest downloads again.
 *  @returns {Promise<{ok: true, height: number} | {ok: false, height: number, fault: string, lost?: true}>} */
async function verifyChain() {
  const old = await starting;
  /** @type {any} what the node held once every write was done; what storage held at start */
  let had = null;
  /** @type {any} */
  let held = null;
  const restarted = (async () => {
    await old.flush();
    // Read in the task the flush ended in: no frame can change the chain before the close.
    had = await old.status();
    const { mining, miningTo } = had;
    old.close();
    closeConnections();
    node = null;
    subscribed.clear();
    // A plain start checks only what needs no body read; this one replays every block.
    const fresh = await BrowserNode.start({ ...startOptions, verifyStorage: true });
    // Read before any frame from the relay is handled (the reads settle in this task).
    held = await fresh.status();
    node = fresh;
    if (userDisconnected) await fresh.disconnect();
    if (mining && miningTo) await fresh.startMining(miningTo).catch(() => {});
    for (const name of new Set([...pageEvents, ...channelEvents])) listenOnce(name);
    return fresh;
  })();
  restarted.catch((/** @type {unknown} */ e) => toPageNow({ type: 'failed', message: e instanceof Error ? e.message : String(e) }));
  starting = restarted;
  await restarted;
  const fault = /** @type {string[]} */ (held.storageWarnings).map((w) => NOT_USED.exec(w)?.[1]).find(Boolean);
  if (fault) {
    const bad = /^block #(\d+)/.exec(fault);
    return { ok: false, height: bad ? Number(bad[1]) : -1, fault };
  }
  if (had.tip && held.tip !== had.tip) return { ok: false, ...storageLoss(had, held), lost: true };
  return { ok: true, height: held.height };
}

/** What storage lost, when it passed its check but does not hold the chain the node had:
 *  the first block missing and one line saying so.
 *  @param {{height: number, tip: string}} had @param {{height: number, tip: string | null}} held */
function storageLoss(had, held) {
  if (!held.tip) return { height: 0, fault: `storage holds no chain: the node had blocks #0–#${had.height}` };
  if (held.height < had.height) {
    return {
      height: held.height + 1,
      fault: `block #${held.height + 1} is missing from storage: it holds blocks #0–#${held.height}, the node had #0–#${had.height}`,
    };
  }
  return { height: held.height, fault: `block #${held.height} is not the tip the node had: storage holds another chain (the node's tip was block #${had.height})` };
}

/** Reconnects at once if the connection is down (after sleep, a freeze or coming online):
 *  without this the node would wait out a backoff grown while the network was gone.
 *  @param {string} why */
async function wake(why) {
  if (!node || userDisconnected) return;
  const s = await node.status();
  if (s.connection !== 'open') {
    console.info(`node ${s.nodeId}: ${why}; reconnecting now`);
    node.connect().catch((/** @type {unknown} */ e) => console.warn(e));
  }
}

/** Serves the tabs that view this node: their calls, their event subscriptions, and who
 *  holds the node. @param {string} id */
function serveViews(id) {
  channel = new BroadcastChannel(CHANNEL_PREFIX + id);
  channel.onmessage = async ({ data }) => {
    if (!data || typeof data !== 'object') return;
    if (data.type === 'who') {
      channel?.postMessage({ type: 'holder', holder: tab });
    } else if (data.type === 'listen' && typeof data.name === 'string') {
      forward(data.name, false);
    } else if (data.type === 'calls' && Array.isArray(data.calls)) {
      const results = await run(data.calls);
      channel?.postMessage({ type: 'results', to: data.from, results });
    }
  };
}

/** Owns the node from here on: starts it and serves the page and the views.
 *  @param {any} options */
async function own(options) {
  startOptions = options;
  serveViews(options.nodeId);
  starting = wasm.then(() => BrowserNode.start(options));
  try {
    node = await starting;
  } catch (e) {
    postMessage({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
    channel?.postMessage({ type: 'failed' });
    return;
  }
  // What the databases held at start, read before any frame from the relay is handled (the
  // reads settle in this task): the page compares it with what it knew the node held.
  const [status, addresses] = await Promise.all([node.status(), node.listAddresses()]);
  const stored = { height: status.height, keys: addresses.length };
  for (const name of new Set([...pageEvents, ...channelEvents])) listenOnce(name);
  toPageNow({ type: 'ready', id: node.id, stored });
  channel?.postMessage({ type: 'ready' });
  addEventListener('online', () => wake('back online'));
  let last = Date.now();
  setInterval(() => {
    const now = Date.now();
    if (now - last > WAKE_GAP_MS) wake(`woke after ${Math.round((now - last) / 1000)} s`);
    last = now;
  }, WAKE_CHECK_MS);
}

/** Takes the node's lock (or waits for it) and then owns the node until the worker ends.
 *  @param {any} options */
function start(options) {
  const lock = `blockchain-node-${options.nodeId}`;
  const hold = (/** @type {any} */ granted) => {
    if (!granted) return undefined;
    own(options);
    return new Promise(() => {}); // held for as long as this worker lives
  };
  if (!navigator.locks) {
    hold(true);
    return;
  }
  navigator.locks.request(lock, { ifAvailable: true }, (granted) => {
    if (granted) return hold(granted);
    // Someone else owns it: ask who (the answer comes on the channel) and wait our turn.
    const ask = new BroadcastChannel(CHANNEL_PREFIX + options.nodeId);
    ask.onmessage = ({ data }) => {
      if (data && data.type === 'holder') postMessage({ type: 'waiting', holder: data.holder });
    };
    ask.postMessage({ type: 'who' });
    postMessage({ type: 'waiting', holder: null });
    navigator.locks.request(lock, (g) => { ask.close(); return hold(g); });
    return undefined;
  });
}

self.onmessage = ({ data }) => {
  if (data.type === 'start') {
    tab = data.tab;
    start(data.options);
  } else if (data.type === 'calls') {
    run(data.calls).then((results) => toPageNow({ type: 'results', results }));
  } else if (data.type === 'listen') {
    forward(data.name, true);
  } else if (data.type === 'wake') {
    wake(data.why);
  }
};
