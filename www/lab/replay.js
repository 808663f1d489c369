// @ts-check
// Recordings of the map: every message each node sent or received and every change of a
// node's badge, with its time, so a run can be played again on the map (faster or slower),
// saved to a file, and loaded back. Anything that writes the same JSON can be watched too
// (the simulator, say):
//
//   {"format": "blockchain-lab-recording", "version": 1, "nodes": ["4001", ...],
//    "events": [{"t": ms since the start, "node": "4001",
//                "message": {"direction": "in" | "out", "command": "inv"}}
//             | {"t": ..., "node": "4001",
//                "badge": {"height": 3, "connected": true, "cut": false, "mining": false}}]}
//
// Events are in time order; a loaded file is checked whole before anything is drawn.

export const FORMAT = 'blockchain-lab-recording';
const VERSION = 1;
/** Most events a recording keeps: a long sync sends thousands of messages; the map needs
 *  no more to tell the story, and the page stays small. */
export const MAX_EVENTS = 50_000;
/** Most nodes a recording may name: room for a 50-node simulated run. */
export const MAX_NODES = 200;
/** Longest file read, in bytes. */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
const NODE_ID = /^[A-Za-z0-9_-]{1,32}$/;
const COMMAND = /^[a-z]{1,12}$/;

/** @typedef {{direction: 'in' | 'out', command: string}} RecordedMessage */
/** @typedef {{height: number, connected: boolean, cut: boolean, mining: boolean}} RecordedBadge */
/** @typedef {{t: number, node: string, message?: RecordedMessage, badge?: RecordedBadge}} RecordedEvent */
/** @typedef {{format: string, version: number, nodes: string[], events: RecordedEvent[]}} Recording */

export class RecordingError extends Error {}

export class Recorder {
  constructor() {
    this.on = false;
    this.start = 0;
    /** @type {RecordedEvent[]} */
    this.events = [];
    /** @type {Set<string>} */
    this.nodes = new Set();
    this.full = false;
  }

  /** Starts a new recording. @param {string[]} nodes the nodes already there */
  begin(nodes) {
    this.on = true;
    this.start = performance.now();
    this.events = [];
    this.nodes = new Set(nodes);
    this.full = false;
  }

  end() { this.on = false; }

  /** @param {string} node @param {'in' | 'out'} direction @param {string} command */
  message(node, direction, command) { this.push({ t: this.now(), node, message: { direction, command } }); }

  /** @param {string} node @param {RecordedBadge} badge */
  badge(node, badge) { this.push({ t: this.now(), node, badge: { ...badge } }); }

  now() { return Math.round(performance.now() - this.start); }

  /** @param {RecordedEvent} e */
  push(e) {
    if (!this.on) return;
    if (this.events.length >= MAX_EVENTS) { this.full = true; return; }
    this.nodes.add(e.node);
    this.events.push(e);
  }

  /** The recording so far. @returns {Recording} */
  recording() {
    return { format: FORMAT, version: VERSION, nodes: [...this.nodes], events: this.events.slice() };
  }
}

/** Checks a recording read from a file; throws RecordingError saying what is wrong.
 *  @param {unknown} data @returns {Recording} */
export function checkRecording(data) {
  const fail = (/** @type {string} */ why) => { throw new RecordingError(`Not a lab recording: ${why}.`); };
  if (!data || typeof data !== 'object') fail('not a JSON object');
  const r = /** @type {any} */ (data);
  if (r.format !== FORMAT) fail(`format is not "${FORMAT}"`);
  if (r.version !== VERSION) fail(`version ${String(r.version).slice(0, 20)} is not ${VERSION}`);
  if (!Array.isArray(r.nodes) || r.nodes.length > MAX_NODES) fail(`nodes must be a list of at most ${MAX_NODES}`);
  for (const n of r.nodes) if (typeof n !== 'string' || !NODE_ID.test(n)) fail('a node id is not 1 to 32 letters, digits, - or _');
  if (!Array.isArray(r.events) || r.events.length > MAX_EVENTS) fail(`events must be a list of at most ${MAX_EVENTS}`);
  const nodes = new Set(r.nodes);
  let last = 0;
  for (const [i, e] of r.events.entries()) {
    const at = `event ${i}`;
    if (!e || typeof e !== 'object') fail(`${at} is not an object`);
    if (!Number.isFinite(e.t) || e.t < last) fail(`${at}: times must be numbers in order`);
    last = e.t;
    if (!nodes.has(e.node)) fail(`${at} names a node not in "nodes"`);
    if (e.message) {
      if (e.message.direction !== 'in' && e.message.direction !== 'out') fail(`${at}: direction must be "in" or "out"`);
      if (typeof e.message.command !== 'string' || !COMMAND.test(e.message.command)) fail(`${at}: a command is 1 to 12 lower-case letters`);
    } else if (e.badge) {
      const b = e.badge;
      if (!Number.isSafeInteger(b.height) || b.height < 0) fail(`${at}: height must be a whole number`);
      for (const k of ['connected', 'cut', 'mining']) if (typeof b[k] !== 'boolean') fail(`${at}: ${k} must be true or false`);
    } else {
      fail(`${at} has neither a message nor a badge`);
    }
  }
  return /** @type {Recording} */ (r);
}

/** Reads and checks a recording file. @param {File} file @returns {Promise<Recording>} */
export async function readRecording(file) {
  if (file.size > MAX_FILE_BYTES) throw new RecordingError(`The file is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB.`);
  let data;
  try {
    data = JSON.parse(await file.text());
  } catch {
    throw new RecordingError('Not a lab recording: the file is not JSON.');
  }
  return checkRecording(data);
}

/** Offers `recording` as a file download. @param {Recording} recording */
export function saveRecording(recording) {
  const blob = new Blob([JSON.stringify(recording)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `lab-recording-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
