// @ts-check
// Plays a recording (replay.js) on the map: each event at its time, divided by the speed.
// The live nodes keep running meanwhile; the map shows them again when the replay ends.

/** @typedef {import('./replay.js').Recording} Recording */
/** @typedef {import('./map.js').NetworkMap} NetworkMap */

/** Longest wait between two events at any speed: a recording's quiet minutes pass quickly. */
const MAX_GAP_MS = 2000;

export class Player {
  /** @param {NetworkMap} map */
  constructor(map) {
    this.map = map;
    this.playing = false;
    this.cancelled = false;
  }

  /** Plays `recording` at `speed` times its pace; resolves when it ends or is stopped.
   *  @param {Recording} recording @param {number} speed */
  async play(recording, speed) {
    this.playing = true;
    this.cancelled = false;
    this.map.reset(recording.nodes);
    let shown = 0;
    try {
      for (const e of recording.events) {
        const wait = Math.min(MAX_GAP_MS, (e.t - shown) / speed);
        shown = e.t;
        if (wait > 4) await new Promise((r) => setTimeout(r, wait));
        if (this.cancelled) break;
        if (e.message) this.map.message(e.node, e.message.direction, e.message.command);
        else if (e.badge) this.map.setNode(e.node, e.badge);
      }
    } finally {
      this.playing = false;
    }
  }

  stop() { this.cancelled = true; }
}
