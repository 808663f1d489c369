// @ts-check
// The nodes this tab knows of, each with the newest role it was heard with and when.
//
// The node's address book keeps the first word it heard on each node (a tab that was a
// wallet stays a wallet there, and it keeps no time), so the page remembers for itself what
// it hears: connected peers every cycle, "up" and "learned" events as they come. A node the
// book names but this page has not heard from since it opened is shown as such.
import { el } from './dom.js';
import { ago } from './format.js';

/** @typedef {import('./types.js').Snapshot} Snapshot */

/** A node not heard from for this long is greyed out: its role may have changed since, or
 *  it may be gone (tabs come and go; a relay repeats what it knows every few minutes at most). */
export const STALE_MS = 2 * 60 * 1000;

/** @typedef {{nodeId: string, role: string, url: string | null, heardAt: number | null, connected: boolean}} Sighting */

export class KnownNodes {
  constructor() {
    /** @type {Map<string, Sighting>} by node id */
    this.byId = new Map();
  }

  /** Heard from `nodeId` with `role` at `at` (ms): the newest word wins.
   *  @param {string} nodeId @param {string | null | undefined} role @param {string | null | undefined} url @param {number} at */
  heard(nodeId, role, url, at) {
    const was = this.byId.get(nodeId);
    if (was && was.heardAt !== null && was.heardAt > at) return;
    this.byId.set(nodeId, {
      nodeId, role: role || was?.role || '?', url: url || was?.url || null, heardAt: at, connected: was?.connected ?? false,
    });
  }

  /** What one cycle shows: connected peers are heard from now; the book's entries this page
   *  has not heard of are added as never heard. @param {Snapshot} snap */
  update(snap) {
    for (const s of this.byId.values()) s.connected = false;
    for (const p of snap.peers) {
      if (!p.nodeId) continue;
      this.heard(p.nodeId, p.role, p.url, snap.at);
      const s = this.byId.get(p.nodeId);
      if (s) s.connected = true;
    }
    for (const k of snap.known) {
      if (!this.byId.has(k.nodeId)) this.byId.set(k.nodeId, { nodeId: k.nodeId, role: k.role, url: k.url, heardAt: null, connected: false });
    }
  }

  /** The list items, the most recently heard first, stale ones greyed at the end.
   *  @param {number} now @returns {HTMLElement[]} */
  items(now) {
    const all = [...this.byId.values()];
    const fresh = (/** @type {Sighting} */ s) => s.connected || (s.heardAt !== null && now - s.heardAt <= STALE_MS);
    all.sort((a, b) => Number(fresh(b)) - Number(fresh(a)) || (b.heardAt ?? 0) - (a.heardAt ?? 0));
    return all.map((s) => el('li', {
      class: fresh(s) ? null : 'stale', 'data-testid': 'known-node', 'data-node': s.nodeId, 'data-role': s.role,
      title: fresh(s) ? null : 'not heard from lately: its role may have changed, or it may be gone',
    },
    el('b', { text: s.nodeId }), ` ${s.role} `,
    el('span', { class: 'hint', 'data-testid': 'heard' },
      s.connected ? 'connected now' : s.heardAt === null ? 'not heard from since this page opened' : `heard ${ago(now - s.heardAt)}`),
    s.url ? el('span', { class: 'hint', text: ` ${s.url}` }) : null));
  }
}
