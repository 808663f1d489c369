// @ts-check
// The lab's nodes: each the normal node page of its id (/?node=ID) in a same-origin frame.
// The lab reads the frame's window.node (the node's facade) and listens to its events; it
// never reaches into the node any other way, so what the lab shows is what the node says.

/** @typedef {import('../ui/types.js').BrowserNode} BrowserNode */
/** @typedef {import('../ui/types.js').Status} Status */
/** @typedef {import('../ui/types.js').Message} Message */

/** How long a frame may take to start its node (load the wasm, open IndexedDB). */
const START_TIMEOUT_MS = 60_000;
/** How often the lab asks a starting frame whether its node is there. */
const START_POLL_MS = 200;

export class LabNode {
  /** @param {string} id @param {HTMLIFrameElement} frame */
  constructor(id, frame) {
    this.id = id;
    this.frame = frame;
    /** @type {any} the frame's window.node once it started */
    this.node = null;
    /** Whether the lab cut this node off (disconnect) and has not healed it yet. */
    this.cut = false;
    /** What the relay does to this node's link (only for nodes linked through /lab/link). */
    this.fault = { delayMs: 0, drop: false };
    /** @type {Status | null} */
    this.last = null;
    /** @type {Map<string, Set<(payload: any) => void>>} */
    this.listeners = new Map();
    /** The event names subscribed to on the node. @type {Set<string>} */
    this.forwarded = new Set();
    /** Resolves once the node started and the lab listens to it (set by the lab).
     *  @type {Promise<LabNode> | null} */
    this.ready = null;
  }

  /** Resolves once the frame's node runs; forwards the events the lab listens to. */
  async started() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const w = /** @type {any} */ (this.frame.contentWindow);
      if (w && w.node) {
        this.node = w.node;
        for (const name of this.listeners.keys()) this.forward(name);
        return this;
      }
      if (Date.now() > deadline) throw new Error(`node ${this.id} did not start within ${START_TIMEOUT_MS / 1000} s (is it open in another tab?)`);
      await new Promise((r) => setTimeout(r, START_POLL_MS));
    }
  }

  /** Calls `fn(payload)` on every `event` of this node. @param {string} event @param {(payload: any) => void} fn */
  on(event, fn) {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    this.forward(event);
    return () => set?.delete(fn);
  }

  /** Subscribes once to the node's `name` events. The node runs in a worker behind a proxy
   *  that forwards each event by its name (`on(name, (payload) => …)`); there is no
   *  catch-all subscription, so each name the lab listens to is asked for.
   *  @param {string} name */
  forward(name) {
    if (!this.node || name === '*' || this.forwarded.has(name)) return;
    this.forwarded.add(name);
    this.node.on(name, (/** @type {any} */ payload) => this.emit(name, payload));
  }

  /** @param {string} name @param {any} payload */
  emit(name, payload) {
    for (const fn of this.listeners.get(name) ?? []) fn(payload);
    for (const fn of this.listeners.get('*') ?? []) fn({ name, payload });
  }

  /** The node's status, remembered for the map. @returns {Promise<Status>} */
  async status() {
    this.last = await this.node.status();
    return /** @type {Status} */ (this.last);
  }

  /** Cuts the node off: closes its relay connection and stops it reconnecting. */
  async cutOff() {
    this.cut = true;
    await this.node.disconnect();
    this.emit('lab', { kind: 'cut' });
  }

  /** Heals a cut: connects again. */
  async heal() {
    this.cut = false;
    await this.node.connect();
    this.emit('lab', { kind: 'healed' });
  }

  /** A byte array of this frame's own realm (the facade takes its own realm's arrays).
   *  @param {Uint8Array} bytes */
  bytesHere(bytes) {
    const W = /** @type {any} */ (this.frame.contentWindow);
    return new W.Uint8Array(bytes);
  }
}
