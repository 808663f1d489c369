// @ts-check
// The network lab: real nodes side by side (each the normal node page of its id, in a
// frame), a live map of their connections and messages, the seed's scenario played step by
// step, and faults made on purpose (a node cut off and healed, two miners racing, a double
// spend across a partition).
//
// /lab/?nodes=N starts with N nodes (2 by default); ?pace=MS sets the pause between steps;
// ?first=ID numbers the nodes from ID (4001 by default: the lab's nodes are not the ones
// a user may have open in other tabs as 3001, 3002).
import { LabNode } from './nodes.js';
import { NetworkMap } from './map.js';
import { Relay } from './relay.js';
import { Runner } from './runner.js';
import { seedScenario } from './scenario.js';
import { raceScenario, doubleSpendScenario } from './faults.js';
import { hostileScenario } from './hostile.js';
import { tamperScenario } from './tamper.js';
import { Recorder, readRecording, saveRecording } from './replay.js';
import { Player } from './player.js';
import { until } from './runner.js';

const params = new URLSearchParams(location.search);
/** Nodes the lab starts with: a wallet node and a miner, as in the seed. */
const DEFAULT_NODES = 2;
/** Most nodes the lab runs: each is a whole node with workers in this one tab. */
export const MAX_NODES = 8;
/** The reader's pause between steps. */
const DEFAULT_PACE_MS = 2500;
/** How often the badges and the relay's height are refreshed. */
const REFRESH_MS = 1000;
const FIRST_ID = 4001;
/** The delay "Slow link" puts on each message, either way: slow enough to see. */
const SLOW_LINK_MS = 1500;
/** How long "Restart the relay" keeps it down: long enough to see every node lose it. */
const RESTART_DOWN_S = 3;

/** @param {string} name @param {number} fallback @param {number} max */
function intParam(name, fallback, max) {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const v = Number(raw);
  return Number.isSafeInteger(v) && v >= 0 && v <= max ? v : fallback;
}

/** A button of a node card. @param {string} text @param {string} cls */
function button(text, cls) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = text;
  return b;
}

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

export class Lab {
  constructor() {
    this.relay = new Relay();
    this.map = new NetworkMap(/** @type {any} */ ($('map')), $('legend'));
    /** @type {LabNode[]} */
    this.nodes = [];
    this.firstId = intParam('first', FIRST_ID, 99_999_999);
    /** Whether the nodes connect through the relay's lab links (/lab/link/ID), which the
     *  relay can slow down, drop and take down: only with the lab key (loopback). */
    this.linked = false;
    this.recorder = new Recorder();
    this.player = new Player(this.map);
    /** @type {import('./replay.js').Recording | null} the last recording made or loaded */
    this.recording = null;
    /** Each node's last badge, so a recording holds changes only. @type {Map<string, string>} */
    this.lastBadge = new Map();
    /** Whether the map shows a replay (until "Back to live"). */
    this.showingReplay = false;
    /** Whether the lab took every link down (the relay out). */
    this.outage = false;
    this.runner = new Runner(/** @type {HTMLOListElement} */ ($('narration')), intParam('pace', DEFAULT_PACE_MS, 60_000));
  }

  /** Adds the next node: its card, its frame, its badge on the map. @returns {LabNode} */
  addNode() {
    if (this.nodes.length >= MAX_NODES) throw new Error(`the lab runs at most ${MAX_NODES} nodes`);
    const id = String(this.firstId + this.nodes.length);
    const card = document.createElement('article');
    card.className = 'node-card';
    card.dataset.node = id;
    const head = document.createElement('header');
    const title = document.createElement('h3');
    title.textContent = `node ${id}`;
    const summary = document.createElement('span');
    summary.className = 'summary';
    summary.textContent = 'starting…';
    const cut = document.createElement('button');
    cut.type = 'button';
    cut.className = 'cut-button';
    cut.textContent = 'Cut off';
    cut.disabled = true;
    const open = document.createElement('a');
    open.href = `/?node=${id}`;
    open.target = '_blank';
    open.textContent = 'open';
    open.title = 'Close the lab first: a node runs in one tab at a time.';
    const slow = button('Slow link', 'slow-button');
    const lossy = button('Lose messages', 'drop-button');
    head.append(title, summary, cut, ...(this.linked ? [slow, lossy] : []), open);
    const frame = document.createElement('iframe');
    const link = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/lab/link/${encodeURIComponent(id)}`;
    frame.src = `/?node=${encodeURIComponent(id)}${this.linked ? `&relay=${encodeURIComponent(link)}` : ''}`;
    frame.title = `node ${id}`;
    frame.loading = 'eager';
    card.append(head, frame);
    $('nodes').append(card);
    const n = new LabNode(id, frame);
    this.nodes.push(n);
    if (!this.showingReplay) this.map.addNode(id);
    this.recorder.nodes.add(id);
    n.ready = n.started().then(() => {
      cut.disabled = false;
      n.on('message', (/** @type {any} */ m) => this.showMessage(id, m.direction === 'out' ? 'out' : 'in', String(m.command)));
      n.on('lab', () => this.refreshNode(n, summary, cut));
      n.on('tip', () => this.refreshNode(n, summary, cut));
      n.on('connection', () => this.refreshNode(n, summary, cut));
      this.refreshNode(n, summary, cut);
      setInterval(() => this.refreshNode(n, summary, cut), REFRESH_MS);
      return n;
    }, (e) => { summary.textContent = String(e.message || e); throw e; });
    cut.addEventListener('click', async () => {
      cut.disabled = true;
      try { await (n.cut ? n.heal() : n.cutOff()); } finally { cut.disabled = false; }
    });
    /** @param {{delayMs: number, drop: boolean}} fault */
    const setFault = (fault) => this.setFault(n, fault)
      .then(() => this.refreshNode(n, summary, cut))
      .catch((e) => { summary.textContent = `the relay refused: ${e.message || e}`; });
    slow.addEventListener('click', () => setFault({ ...n.fault, delayMs: n.fault.delayMs ? 0 : SLOW_LINK_MS }));
    lossy.addEventListener('click', () => setFault({ ...n.fault, drop: !n.fault.drop }));
    $('node-count').textContent = String(this.nodes.length);
    return n;
  }

  /** @param {LabNode} n @param {HTMLElement} summary @param {HTMLButtonElement} cut */
  async refreshNode(n, summary, cut) {
    const s = await n.status().catch(() => null);
    if (!s) return;
    const connected = s.connection === 'open' || s.peers > 0;
    this.showNode(n.id, { height: s.height, connected: connected && !n.cut, cut: n.cut, mining: s.mining }, { slow: n.fault.delayMs > 0, lossy: n.fault.drop });
    summary.textContent = `height ${s.height} · ${n.cut ? 'cut off' : connected ? `${s.peers} peer${s.peers === 1 ? '' : 's'}` : 'connecting'}${s.mining ? ' · mining' : ''} · mempool ${s.mempool}`;
    cut.textContent = n.cut ? 'Heal' : 'Cut off';
    const card = cut.closest('.node-card');
    const slow = card?.querySelector('.slow-button');
    const lossy = card?.querySelector('.drop-button');
    if (slow) slow.textContent = n.fault.delayMs ? 'Fast link' : 'Slow link';
    if (lossy) lossy.textContent = n.fault.drop ? 'Stop losing' : 'Lose messages';
    cut.closest('.node-card')?.classList.toggle('cut', n.cut);
  }

  /** A message of a live node: recorded, and drawn unless a replay has the map.
   *  @param {string} id @param {'in' | 'out'} direction @param {string} command */
  showMessage(id, direction, command) {
    this.recorder.message(id, direction, command);
    if (!this.showingReplay) this.map.message(id, direction, command);
  }

  /** A live node's badge: recorded when it changed, drawn unless a replay has the map.
   *  @param {string} id @param {import('./replay.js').RecordedBadge} badge
   *  @param {{slow: boolean, lossy: boolean}} link */
  showNode(id, badge, link) {
    const key = JSON.stringify(badge);
    if (this.lastBadge.get(id) !== key) {
      this.lastBadge.set(id, key);
      this.recorder.badge(id, badge);
    }
    if (!this.showingReplay) this.map.setNode(id, { ...badge, ...link });
  }

  /** Plays the last recording on the map; the map keeps its last picture until
   *  "Back to live" ([`live`]). @param {number} speed */
  async replay(speed) {
    if (!this.recording || this.player.playing) return;
    this.showingReplay = true;
    $('live').hidden = false;
    const state = $('replay-state');
    state.dataset.state = 'replaying';
    state.textContent = `replaying ${this.recording.events.length} events at ${speed}×…`;
    this.map.root.dataset.replay = 'on';
    try {
      await this.player.play(this.recording, speed);
    } finally {
      this.map.root.dataset.replay = 'off';
      state.dataset.state = 'done';
      state.textContent = `replay done (${this.recording.events.length} events)`;
    }
  }

  /** Gives the map back to the live nodes (stopping a replay still playing). */
  live() {
    this.player.stop();
    this.showingReplay = false;
    $('live').hidden = true;
    this.map.reset(this.nodes.map((n) => n.id));
    this.lastBadge.clear();
    for (const n of this.nodes) n.emit('lab', { kind: 'live' });
  }

  /** Sets what the relay does to `n`'s link. Ending a loss also closes the connection once:
   *  the node reconnects and asks again for what it missed, as after any broken connection.
   *  @param {LabNode} n @param {{delayMs: number, drop: boolean}} fault */
  async setFault(n, fault) {
    const healing = n.fault.drop && !fault.drop;
    // The node closes its side and stays closed until the loss is lifted, so it cannot
    // reconnect into the lossy link meanwhile.
    if (healing) await n.node.disconnect();
    await this.relay.link(n.id, fault);
    n.fault = fault;
    if (healing && !n.cut) await n.node.connect();
  }

  /** Takes every lab link down (the relay out, for the lab's nodes) or brings them back.
   *  @param {boolean} down */
  async setOutage(down) {
    await this.relay.outage(down);
    this.outage = down;
    this.map.setOutage(down);
    if (!down) for (const n of this.nodes) if (!n.cut) await n.node.connect().catch(() => {});
  }

  /** The first `count` nodes, started (added if the lab has fewer). @param {number} count */
  async ensureNodes(count) {
    while (this.nodes.length < count) this.addNode();
    return Promise.all(this.nodes.slice(0, count).map((n) => /** @type {Promise<LabNode>} */ (n.ready)));
  }
}

/** The map panel's record / replay / save / load buttons. @param {Lab} lab */
function wireReplays(lab) {
  const record = /** @type {HTMLButtonElement} */ ($('record'));
  const replay = /** @type {HTMLButtonElement} */ ($('replay'));
  const save = /** @type {HTMLButtonElement} */ ($('save-recording'));
  const state = $('replay-state');
  const ready = () => {
    replay.disabled = !lab.recording || lab.recorder.on;
    save.disabled = !lab.recording || lab.recorder.on;
  };
  record.addEventListener('click', () => {
    if (lab.recorder.on) {
      lab.recorder.end();
      lab.recording = lab.recorder.recording();
      record.textContent = '● Record';
      state.dataset.state = 'recorded';
      state.textContent = `recorded ${lab.recording.events.length} events${lab.recorder.full ? ' (full: later ones were not kept)' : ''}`;
    } else {
      lab.recorder.begin(lab.nodes.map((n) => n.id));
      lab.lastBadge.clear();
      record.textContent = '■ Stop recording';
      state.dataset.state = 'recording';
      state.textContent = 'recording…';
    }
    ready();
  });
  replay.addEventListener('click', () => {
    lab.replay(Number(/** @type {HTMLSelectElement} */ ($('replay-speed')).value) || 1);
  });
  $('live').addEventListener('click', () => lab.live());
  save.addEventListener('click', () => { if (lab.recording) saveRecording(lab.recording); });
  const load = /** @type {HTMLInputElement} */ ($('load-recording'));
  load.addEventListener('change', async () => {
    const file = load.files?.[0];
    load.value = '';
    if (!file) return;
    try {
      lab.recording = await readRecording(file);
      state.dataset.state = 'loaded';
      state.textContent = `loaded ${lab.recording.events.length} events of ${lab.recording.nodes.length} nodes: press Replay`;
    } catch (e) {
      state.dataset.state = 'refused';
      state.textContent = String(/** @type {Error} */ (e).message);
    }
    ready();
  });
}

/** The "Restart the relay" button: the relay process stops (the map shows it not answering,
 *  the nodes lose their connection), stays down RESTART_DOWN_S, starts again from its
 *  database, and the nodes reconnect by themselves. @param {Lab} lab */
function wireRestart(lab) {
  const b = /** @type {HTMLButtonElement} */ ($('relay-restart'));
  b.hidden = !lab.linked;
  b.addEventListener('click', async () => {
    b.disabled = true;
    const note = $('lab-note');
    try {
      note.textContent = await lab.relay.restart(RESTART_DOWN_S);
      await until('the relay to stop', async () => (await lab.relay.status()) === null);
      note.textContent = 'The relay is down: the nodes keep their chains and try to reconnect…';
      await until('the relay to start again', () => lab.relay.status());
      note.textContent = 'The relay started again from its database; the nodes reconnect and catch up.';
    } catch (e) {
      note.textContent = String(/** @type {Error} */ (e).message);
    } finally { b.disabled = false; }
  });
}

async function main() {
  const lab = new Lab();
  /** @type {any} */ (window).lab = lab;
  const refreshRelay = async () => {
    const s = await lab.relay.status();
    lab.map.setRelay(s ? s.height : null);
  };
  setInterval(refreshRelay, REFRESH_MS);
  refreshRelay();
  // The lab key (loopback only) lets the lab put faults on the links; without it the nodes
  // connect straight to /ws and the relay-side faults are hidden.
  lab.linked = await lab.relay.fetchKey().then(() => true, (e) => { $('lab-note').textContent = String(e.message); return false; });
  $('relay-out').hidden = !lab.linked;
  $('play-hostile').hidden = !lab.linked;
  $('play-tamper').hidden = !lab.linked;
  $('relay-out').addEventListener('click', async () => {
    const b = /** @type {HTMLButtonElement} */ ($('relay-out'));
    b.disabled = true;
    try {
      await lab.setOutage(!lab.outage);
      b.textContent = lab.outage ? 'Bring the relay back' : 'Take the relay out';
    } catch (e) {
      $('lab-note').textContent = String(/** @type {Error} */ (e).message);
    } finally { b.disabled = false; }
  });
  wireRestart(lab);
  for (let i = 0; i < intParam('nodes', DEFAULT_NODES, MAX_NODES); i++) lab.addNode();

  const buttons = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('[data-run]')]);
  const runs = { seed: ['The seed\'s scenario', seedScenario], race: ['Two miners race', raceScenario], 'double-spend': ['A double spend across a partition', doubleSpendScenario],
    hostile: ['A hostile relay forges a block', hostileScenario],
    tamper: ['A coin rewritten in a node\'s storage', tamperScenario] };
  lab.runner.onState = (state) => {
    $('run-state').textContent = state;
    document.body.dataset.run = state;
    for (const b of buttons) b.disabled = lab.runner.running;
    /** @type {HTMLButtonElement} */ ($('pause')).disabled = !lab.runner.running;
    /** @type {HTMLButtonElement} */ ($('step')).disabled = !lab.runner.running;
    $('pause').textContent = lab.runner.paused ? 'Resume' : 'Pause';
  };
  lab.runner.onState('idle');
  for (const b of buttons) {
    b.addEventListener('click', () => {
      const [title, make] = runs[/** @type {keyof typeof runs} */ (b.dataset.run)];
      $('run-title').textContent = title;
      lab.runner.play(title, make(lab)).catch((e) => { $('run-state').textContent = `error: ${e.message}`; });
    });
  }
  $('pause').addEventListener('click', () => (lab.runner.paused ? lab.runner.resume() : lab.runner.pause()));
  $('step').addEventListener('click', () => lab.runner.step());
  wireReplays(lab);
  $('add-node').addEventListener('click', () => {
    try { lab.addNode(); } catch (e) { $('run-state').textContent = String(/** @type {Error} */ (e).message); }
  });
  document.body.dataset.ready = 'true';
}

main();
