// @ts-check
// The central node (the relay that served this page), as the lab sees it: /status, and the
// lab's few actions on it (/lab/api: CENTRAL's address, a payment from CENTRAL mined at once,
// a balance). The lab key comes from /lab/key, which the relay answers on loopback only.

/** Longest answer read from the relay: its JSON is a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;

export class LabError extends Error {}

/** @typedef {{height: number, tip: string | null, peers: number}} RelayStatus */

export class Relay {
  constructor() {
    /** @type {string | null} */
    this.key = null;
  }

  /** The relay's /status, or null if it does not answer. @returns {Promise<RelayStatus | null>} */
  async status() {
    try {
      const r = await fetch('/status', { cache: 'no-store' });
      if (!r.ok) return null;
      const s = JSON.parse(await limited(r));
      return { height: Number(s.height), tip: typeof s.tip === 'string' ? s.tip : null, peers: Number(s.peers) };
    } catch {
      return null;
    }
  }

  /** Asks the relay for the lab key (loopback only). @returns {Promise<string>} */
  async fetchKey() {
    const r = await fetch('/lab/key', { cache: 'no-store' });
    const body = JSON.parse(await limited(r));
    if (!r.ok || typeof body.output !== 'string') {
      throw new LabError(`The relay refused the lab key: ${body.error || `HTTP ${r.status}`}. The lab's relay actions work only on the relay's own machine (http://127.0.0.1:PORT/lab/).`);
    }
    this.key = body.output;
    return body.output;
  }

  /** One lab action; the relay's answer. A refused key (the relay restarted) is fetched
   *  again once. @param {object} action @returns {Promise<string>} */
  async act(action) {
    for (let attempt = 0; ; attempt++) {
      const key = this.key ?? await this.fetchKey();
      const r = await fetch('/lab/api', {
        method: 'POST', cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
        body: JSON.stringify(action),
      });
      const body = JSON.parse(await limited(r));
      if (r.ok && typeof body.output === 'string') return body.output;
      if (r.status === 403 && attempt === 0) { this.key = null; continue; }
      throw new LabError(`the relay refused: ${body.error || `HTTP ${r.status}`}`);
    }
  }

  /** CENTRAL, the central node's first address. */
  central() { return this.act({ action: 'central' }); }

  /** CENTRAL pays `amount` to `to`, mined at once. @param {string} to @param {number} amount */
  fund(to, amount) { return this.act({ action: 'fund', to, amount }); }

  /** Sets what the relay does to node `node`'s lab link (all off: whole).
   *  @param {string} node @param {{delayMs?: number, drop?: boolean, down?: boolean, forge?: boolean}} fault */
  link(node, fault) { return this.act({ action: 'link', node, ...fault }); }

  /** Takes every lab link down (the relay out, for the lab's nodes) or up again. @param {boolean} down */
  outage(down) { return this.act({ action: 'outage', down }); }

  /** The relay stops, stays down `downSeconds`, and starts again from its database (a new
   *  process, so a new lab key: `act` fetches it again). @param {number} downSeconds */
  restart(downSeconds) { return this.act({ action: 'restart', downSeconds }); }

  /** The relay's confirmed balance of `address`. @param {string} address */
  async balance(address) { return Number(await this.act({ action: 'balance', address })); }
}

/** The body of `r`, at most MAX_ANSWER_BYTES. @param {Response} r */
async function limited(r) {
  const text = await r.text();
  if (text.length > MAX_ANSWER_BYTES) throw new LabError('the relay answered too much');
  return text;
}
