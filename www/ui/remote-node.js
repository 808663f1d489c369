// @ts-check
// The page's `window.node`: the same calls and events as the node itself (BrowserNode,
// node-wasm/src/facade.rs), carried by messages to the thread that runs it, so the page's
// own thread only draws.
//
// The node runs in this tab's worker (www/node-worker.js) when this tab owns node N. When
// another tab owns it, this tab is a view: its calls and events go over the BroadcastChannel
// of node N to the owner's worker (www/ui/node-channel.js), and it says which tab that is.
// Its own worker meanwhile waits for the node's Web Lock; when the owner's tab closes, the
// worker starts the node and this proxy moves over to it, without a reload.
import { CHANNEL_PREFIX, METHODS } from './node-channel.js';

/** A view's call the owner does not answer within this long is rejected (the owner's tab
 *  may be frozen or closing); a page's cycle then simply tries again. */
const VIEW_CALL_TIMEOUT_MS = 30_000;

/** The calls that only read: when the tab that held the node closes before answering one,
 *  it is asked again of the new holder (the page's refresh cycle is always reading, and a
 *  takeover must not fail it). A call that changes the node is not sent twice: the old
 *  holder may have carried it out before closing, so it fails and the user decides. */
const READS = new Set(['listAddresses', 'balances', 'getBalance', 'status', 'printChain', 'getBlock',
  'blockTree', 'getTransaction', 'addressHistory', 'peers', 'knownNodes', 'mempool', 'exportKeys']);

/** @typedef {{id: string, opened: number}} Tab */
/** @typedef {{method: string, args: unknown[], resolve: (v: unknown) => void, reject: (e: Error) => void, timer?: ReturnType<typeof setTimeout>}} Pending */
/** @typedef {{id: number, method: string, args: unknown[]}} Call */

export class RemoteNode {
  /** @param {string} id the node id */
  constructor(id) {
    /** The node id (BrowserNode's `id`). */
    this.id = id;
    /** 'starting' | 'owner' (this tab's worker runs the node) | 'view' (another tab's does) */
    this.mode = 'starting';
    /** @type {Tab} this tab, as other tabs of the node are told */
    this.tab = { id: crypto.randomUUID(), opened: Date.now() };
    /** @type {Tab | null} the tab that holds the node, while this one is a view */
    this.holder = null;
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    /** @type {Call[]} calls made in this task, sent together (see sendQueued) */
    this.queue = [];
    this.nextId = 1;
    /** @type {((mode: string) => void)[]} */
    this.modeWatchers = [];
    this.worker = new Worker(new URL(`../node-worker.js${location.search}`, import.meta.url), { type: 'module' });
    this.worker.onmessage = ({ data }) => this.fromWorker(data);
    this.worker.onerror = (e) => console.error('node worker:', e.message);
    /** @type {BroadcastChannel | null} */
    this.channel = null;
    /** @type {{height: number, keys: number} | undefined} what the node's databases held
     *  when this tab's worker started it (unknown in a view) */
    this.stored = undefined;
  }

  /** Starts the node in this tab's worker, or views the tab that has it. Resolves to the
   *  mode once calls can be made; rejects if the node could not start.
   *  @param {object} options BrowserNode.start's options @returns {Promise<string>} */
  start(options) {
    return new Promise((resolve, reject) => {
      this.started = { resolve, reject };
      this.worker.postMessage({ type: 'start', options: { ...options, nodeId: this.id }, tab: this.tab });
    });
  }

  /** Calls `fn(mode)` whenever the mode changes (a view taking the node over).
   *  @param {(mode: string) => void} fn */
  onMode(fn) { this.modeWatchers.push(fn); }

  /** @param {string} mode */
  setMode(mode) {
    this.mode = mode;
    for (const fn of this.modeWatchers) fn(mode);
  }

  /** @param {any} m */
  fromWorker(m) {
    if (m.type === 'results') this.settle(m.results);
    else if (m.type === 'events') for (const [name, payload] of m.events) this.emit(name, payload);
    else if (m.type === 'ready') {
      this.stored = m.stored;
      this.becomeOwner();
    }
    else if (m.type === 'waiting') this.becomeView(m.holder);
    else if (m.type === 'failed') {
      const e = new Error(m.message);
      if (this.started) this.started.reject(e);
      else console.error(`node ${this.id} failed: ${m.message}`);
    }
  }

  becomeOwner() {
    const wasView = this.mode === 'view';
    this.channel?.close();
    this.channel = null;
    this.holder = null;
    this.mode = 'owner';
    // Calls the old owner never answered are lost with its tab: reads are asked again here.
    this.ownerChanged(`the tab that held node ${this.id} closed before answering`);
    for (const name of this.listeners.keys()) this.worker.postMessage({ type: 'listen', name });
    this.started?.resolve('owner');
    this.started = undefined;
    if (wasView) this.setMode('owner');
  }

  /** @param {Tab | null} holder */
  becomeView(holder) {
    if (holder) this.holder = holder;
    if (this.mode === 'view') { this.setMode('view'); return; }
    this.mode = 'view';
    const ch = new BroadcastChannel(CHANNEL_PREFIX + this.id);
    this.channel = ch;
    ch.onmessage = ({ data }) => this.fromChannel(data);
    for (const name of this.listeners.keys()) ch.postMessage({ type: 'listen', name });
    this.started?.resolve('view');
    this.started = undefined;
  }

  /** @param {any} m */
  fromChannel(m) {
    if (!m || typeof m !== 'object' || this.mode !== 'view') return;
    if (m.type === 'results' && m.to === this.tab.id) this.settle(m.results);
    else if (m.type === 'event') this.emit(m.name, m.payload);
    else if (m.type === 'holder') { this.holder = m.holder; this.setMode('view'); }
    else if (m.type === 'ready') {
      // Another view took the node over: ask it for our events, and who it is.
      this.ownerChanged(`the tab that held node ${this.id} closed before answering`);
      for (const name of this.listeners.keys()) this.channel?.postMessage({ type: 'listen', name });
      this.channel?.postMessage({ type: 'who' });
    }
  }

  /** The holder of the node changed before answering the calls under way: reads are sent
   *  again (to whoever holds it now), the rest fail with `why`. @param {string} why */
  ownerChanged(why) {
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) {
      clearTimeout(p.timer);
      if (READS.has(p.method)) this.call(p.method, p.args).then(p.resolve, p.reject);
      else p.reject(new Error(why));
    }
  }

  /** @param {({id: number, value: unknown} | {id: number, error: string})[]} results */
  settle(results) {
    for (const r of results) {
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if ('error' in r) p.reject(new Error(r.error));
      else p.resolve(r.value);
    }
  }

  /** Calls the listeners of `name` with the payload, and those of "*" with the name and
   *  the payload (as the node does). @param {string} name @param {unknown} payload */
  emit(name, payload) {
    for (const fn of this.listeners.get(name) ?? []) {
      try { fn(payload); } catch (e) { console.error(e); }
    }
    for (const fn of this.listeners.get('*') ?? []) {
      try { fn(name, payload); } catch (e) { console.error(e); }
    }
  }

  /** Calls `callback(payload)` on every `event` of the node, or `callback(name, payload)`
   *  on every event for "*" (see BrowserNode.on). @param {string} event @param {Function} callback */
  on(event, callback) {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
      if (this.mode === 'view') this.channel?.postMessage({ type: 'listen', name: event });
      else this.worker.postMessage({ type: 'listen', name: event });
    }
    set.add(callback);
  }

  /** Removes a callback given to `on`. @param {string} event @param {Function} callback */
  off(event, callback) { this.listeners.get(event)?.delete(callback); }

  /** Sends one call; calls made in the same task go in one message and run in one task of
   *  the node's thread, so reads made together still describe one moment of the node.
   *  @param {string} method @param {unknown[]} args @returns {Promise<any>} */
  call(method, args) {
    const id = this.nextId++;
    if (this.queue.length === 0) queueMicrotask(() => this.sendQueued());
    this.queue.push({ id, method, args });
    return new Promise((resolve, reject) => {
      /** @type {Pending} */
      const p = { method, args, resolve, reject };
      if (this.mode === 'view') {
        p.timer = setTimeout(() => {
          if (this.pending.delete(id)) reject(new Error(`the tab that holds node ${this.id} did not answer`));
        }, VIEW_CALL_TIMEOUT_MS);
      }
      this.pending.set(id, p);
    });
  }

  /** Sends the calls queued in this task, in one message. */
  sendQueued() {
    const calls = this.queue;
    this.queue = [];
    if (this.mode === 'view') this.channel?.postMessage({ type: 'calls', from: this.tab.id, calls });
    else this.worker.postMessage({ type: 'calls', calls });
  }

  /** Tells the node's thread that the page came back (online, resumed, shown): it
   *  reconnects at once if its connection was lost. @param {string} why */
  wake(why) {
    if (this.mode === 'owner') this.worker.postMessage({ type: 'wake', why });
  }
}

for (const m of METHODS) {
  Object.defineProperty(RemoteNode.prototype, m, {
    value(/** @type {unknown[]} */ ...args) { return this.call(m, args); },
    writable: true,
    configurable: true,
  });
}

/** Stops the node (BrowserNode.close) when this tab holds it; a view leaves the owner's
 *  node running. */
RemoteNode.prototype.close = function close() {
  if (this.mode === 'owner') this.call('close', []).catch((e) => console.warn(e));
};
