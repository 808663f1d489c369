// @ts-check
// What the panels share: the node, whether the chain is downloading, and one refresh cycle.
// Each cycle reads the node once (status, wallet, chain, network) into a snapshot and hands
// that same snapshot to every panel, so the top bar, the wallet, the explorer and the miner
// all show the same tip. A cycle runs every second and soon after any node event.
import { throttle } from './format.js';

/** @typedef {import('./types.js').BrowserNode} BrowserNode */
/** @typedef {import('./types.js').Status} Status */
/** @typedef {import('./types.js').AddressRow} AddressRow */
/** @typedef {import('./types.js').Snapshot} Snapshot */

/** Blocks of the chain list each cycle reads (newest first). */
const CHAIN_BLOCKS = 60;
/** Heights of the block tree each cycle reads. */
const TREE_DEPTH = 30;
/** The same while the chain downloads: every cycle then brings hundreds of new blocks, so
 *  the list and the tree are drawn anew each time, and drawing 60 rows and 30 heights of
 *  the tree at once took the page's thread over 100 ms; what the list's box and the tree's
 *  frame show at once is about this much. */
const CHAIN_BLOCKS_DOWNLOADING = 12;
const TREE_DEPTH_DOWNLOADING = 12;
/** A tip that moved by more than this many blocks since the last cycle means blocks are
 *  arriving as a download (the node's own "syncing" can read false between two batches of a
 *  download, when it has connected every block it was offered so far). */
const DOWNLOAD_STEP = 5;
/** A cycle at least this often: peers' heights and hash rates change without an event. */
const CYCLE_MS = 1000;
/** How soon after a node event the next cycle runs: events come in bursts (a block brings
 *  "tip", "block" and "tx" together), and one cycle serves them all. */
const AFTER_EVENT_MS = 150;
/** Node events after which the page shows something new. */
const EVENTS = ['tip', 'block', 'tx', 'txRejected', 'peers', 'mined', 'wallet', 'connection'];

export class Page {
  /** @param {BrowserNode} node */
  constructor(node) {
    this.node = node;
    /** The chain is downloading: panels redraw once a second, not on every block. Set by
     *  each cycle from the node's status, and at once by a "sync" event behind its target. */
    this.downloading = false;
    /** The height the last cycle saw (-1: none yet). */
    this.lastHeight = -1;
    /** @type {Snapshot | null} the newest snapshot */
    this.snapshot = null;
    /** @type {Status | null} the newest status read */
    this.status = null;
    /** @type {AddressRow[]} the wallet's addresses and balances, as last read */
    this.wallet = [];
    /** @type {((s: Snapshot) => unknown)[]} */
    this.subs = [];
    /** @type {Promise<void> | undefined} the cycle under way or last run */
    this.queue = undefined;
    /** @type {Promise<void> | undefined} a cycle asked for and not yet started */
    this.waiting = undefined;
    /** When the last cycle started (Date.now()). */
    this.lastCycleAt = 0;
    const soon = throttle(() => this.refresh(), AFTER_EVENT_MS);
    const slow = throttle(() => this.refresh(), CYCLE_MS);
    /** Asks for a cycle soon (once a second while the chain downloads). */
    this.later = () => (this.downloading ? slow : soon)();
    for (const e of EVENTS) node.on(e, this.later);
    node.on('sync', () => { if (!this.downloading) this.later(); });
  }

  /** Starts the once-a-second cycle; resolves after the first. */
  async start() {
    await this.refresh();
    setInterval(() => {
      // Only when no cycle came in between (events bring their own while a block arrives).
      if (Date.now() - this.lastCycleAt < CYCLE_MS / 2) return;
      this.refresh().catch((e) => console.error(e));
    }, CYCLE_MS);
  }

  /** Calls `fn` with every snapshot. @param {(s: Snapshot) => unknown} fn */
  onSnapshot(fn) { this.subs.push(fn); }

  /** Panels that only need the status. @param {(s: Status) => unknown} fn */
  onStatus(fn) { this.onSnapshot((s) => fn(s.status)); }

  /** Panels that only need the wallet. @param {(rows: AddressRow[]) => unknown} fn */
  onWallet(fn) { this.onSnapshot((s) => fn(s.wallet)); }

  /** One cycle, after the one under way if any (so that panels never get an older
   *  snapshot after a newer one). Resolves once every panel has drawn it. */
  refresh() {
    if (this.waiting) return this.waiting; // a cycle not yet started reads late enough
    const next = (this.queue ?? Promise.resolve()).then(() => {
      this.waiting = undefined;
      return this.cycle();
    }).catch((e) => console.error(e));
    this.waiting = next;
    this.queue = next;
    return next;
  }

  /** Reads everything in one go and hands it to every panel. The reads are started in the
   *  same task, and the node changes only in tasks of its own, so they all describe the
   *  same moment. */
  async cycle() {
    this.lastCycleAt = Date.now();
    const n = this.node;
    const chainBlocks = this.downloading ? CHAIN_BLOCKS_DOWNLOADING : CHAIN_BLOCKS;
    const treeDepth = this.downloading ? TREE_DEPTH_DOWNLOADING : TREE_DEPTH;
    /** @type {[Status, AddressRow[], any[], any[], any[], any[], any[]]} */
    const [status, wallet, blocks, tree, peers, known, mempool] = await Promise.all([
      n.status(), n.balances(), n.printChain(chainBlocks), n.blockTree(treeDepth), n.peers(), n.knownNodes(), n.mempool(),
    ]);
    const reached = Math.max(status.height, status.downloadedHeight);
    this.downloading = status.syncing || reached < status.targetHeight
      || (this.lastHeight >= 0 && reached - this.lastHeight > DOWNLOAD_STEP);
    this.lastHeight = reached;
    /** @type {Snapshot} */
    const snap = { at: Date.now(), status, wallet, blocks, tree, peers, known, mempool };
    this.snapshot = snap;
    this.status = status;
    this.wallet = wallet;
    for (const fn of this.subs) {
      try { await fn(snap); } catch (e) { console.error(e); }
    }
  }

  /** Whether `address` is one of this wallet's. @param {string} address */
  isMine(address) { return this.wallet.some((r) => r.address === address); }

  /** A redraw of one panel's own (not the cycle's) that runs at most every `soonMs`, once
   *  a second while downloading. @param {() => unknown} fn @param {number} soonMs */
  throttled(fn, soonMs) {
    const soon = throttle(fn, soonMs);
    const slow = throttle(fn, CYCLE_MS);
    return () => (this.downloading ? slow : soon)();
  }
}
