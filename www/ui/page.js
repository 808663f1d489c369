// @ts-check
// What the panels share: the node, whether the chain is downloading, and the newest status
// and wallet rows, handed to whoever subscribed.

/** @typedef {import('./types.js').BrowserNode} BrowserNode */
/** @typedef {import('./types.js').Status} Status */
/** @typedef {import('./types.js').AddressRow} AddressRow */

export class Page {
  /** @param {BrowserNode} node */
  constructor(node) {
    this.node = node;
    /** The chain is downloading: panels redraw once a second, not on every block. */
    this.downloading = false;
    /** @type {Status | null} the newest status read */
    this.status = null;
    /** @type {AddressRow[]} the wallet's addresses and balances, as last read */
    this.wallet = [];
    /** @type {((s: Status) => void)[]} */
    this.statusSubs = [];
    /** @type {((rows: AddressRow[]) => void)[]} */
    this.walletSubs = [];
  }

  /** @param {(s: Status) => void} fn */
  onStatus(fn) { this.statusSubs.push(fn); }

  /** @param {(rows: AddressRow[]) => void} fn */
  onWallet(fn) { this.walletSubs.push(fn); }

  /** @param {Status} s */
  setStatus(s) {
    this.status = s;
    for (const fn of this.statusSubs) fn(s);
  }

  /** @param {AddressRow[]} rows */
  setWallet(rows) {
    this.wallet = rows;
    for (const fn of this.walletSubs) fn(rows);
  }

  /** Whether `address` is one of this wallet's. @param {string} address */
  isMine(address) { return this.wallet.some((r) => r.address === address); }

  /** A refresh that runs at most every `soonMs` (once a second while downloading).
   *  @param {() => unknown} fn @param {number} soonMs @param {typeof import('./format.js').throttle} throttle */
  later(fn, soonMs, throttle) {
    const soon = throttle(fn, soonMs);
    const slow = throttle(fn, 1000);
    return () => (this.downloading ? slow : soon)();
  }
}
