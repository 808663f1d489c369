// @ts-check
// The network map: the relay in the middle, each lab node around it, an edge for each
// node's connection, and every message travelling along its edge as the node reports it,
// coloured by kind. A node's badge shows its tip height; a cut edge is drawn broken.

const SVG = 'http://www.w3.org/2000/svg';
/** The map's drawing size (the SVG scales to its box). */
const WIDTH = 640;
const HEIGHT = 400;
const RADIUS = 125;
/** How long a message takes to cross its edge on screen: slow enough to follow by eye. */
export const FLIGHT_MS = 900;
/** Most messages drawn in flight at once; more are counted, not drawn (a sync sends hundreds). */
const MAX_IN_FLIGHT = 60;
/** Past this many nodes the badges shrink to dots with their id (a simulated run). */
const CROWDED = 12;
/** The kinds the map colours; every other command is drawn as "other". */
export const KINDS = ['inv', 'getdata', 'block', 'tx'];

/** @param {string} name @param {Record<string, string | number>} attrs @param {string} [text] */
function svg(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The colour class of a command. @param {string} command */
export const kindOf = (command) => (KINDS.includes(command) ? command : 'other');

/** @typedef {{id: string, x: number, y: number, edge: SVGLineElement, badge: SVGGElement, height: SVGTextElement, state: SVGTextElement}} Spot */
/** @typedef {{dot: SVGCircleElement, from: {x: number, y: number}, to: {x: number, y: number}, start: number}} Flight */

export class NetworkMap {
  /** @param {SVGSVGElement} root @param {HTMLElement} legend */
  constructor(root, legend) {
    this.root = root;
    root.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    this.edges = svg('g', { class: 'edges' });
    this.flights = svg('g', { class: 'flights' });
    this.badges = svg('g', { class: 'badges' });
    root.append(this.edges, this.flights, this.badges);
    this.center = { x: WIDTH / 2, y: HEIGHT / 2 };
    const relay = svg('g', { class: 'relay', 'data-testid': 'map-relay' });
    relay.append(svg('rect', { x: this.center.x - 46, y: this.center.y - 26, width: 92, height: 52, rx: 8 }),
      svg('text', { x: this.center.x, y: this.center.y - 6, class: 'name' }, 'relay'));
    this.relayHeight = svg('text', { x: this.center.x, y: this.center.y + 14, class: 'height' }, 'height –');
    relay.append(this.relayHeight);
    this.badges.append(relay);
    /** @type {Map<string, Spot>} */
    this.spots = new Map();
    /** @type {Flight[]} */
    this.inFlight = [];
    /** Messages seen by kind, shown in the legend. @type {Record<string, number>} */
    this.counts = Object.fromEntries([...KINDS, 'other'].map((k) => [k, 0]));
    this.legend = legend;
    this.drawLegend();
    this.frame = 0;
  }

  /** Empties the map and shows `ids` instead (a replay's nodes, or the live ones again).
   *  @param {string[]} ids */
  reset(ids) {
    for (const f of this.inFlight) f.dot.remove();
    this.inFlight = [];
    for (const s of this.spots.values()) { s.edge.remove(); s.badge.remove(); }
    this.spots.clear();
    for (const k of Object.keys(this.counts)) {
      this.counts[k] = 0;
      this.root.removeAttribute(`data-seen-${k}`);
    }
    this.drawLegend();
    for (const id of ids) this.addNode(id);
  }

  /** Adds node `id` to the map (placed around the relay, evenly). @param {string} id */
  addNode(id) {
    if (this.spots.has(id)) return;
    const edge = /** @type {SVGLineElement} */ (svg('line', { class: 'edge down', 'data-node': id }));
    const badge = /** @type {SVGGElement} */ (svg('g', { class: 'node', 'data-testid': 'map-node', 'data-node': id }));
    const height = /** @type {SVGTextElement} */ (svg('text', { class: 'height' }, 'height –'));
    const state = /** @type {SVGTextElement} */ (svg('text', { class: 'state' }, 'starting'));
    badge.append(svg('circle', { r: 34 }), svg('text', { class: 'name', dy: -6 }, id), height, state);
    height.setAttribute('dy', '12');
    state.setAttribute('dy', '52');
    this.edges.append(edge);
    this.badges.append(badge);
    this.spots.set(id, { id, x: 0, y: 0, edge, badge, height, state });
    this.layout();
  }

  /** Places the nodes evenly on a circle around the relay. */
  layout() {
    const n = this.spots.size;
    this.root.classList.toggle('crowded', n > CROWDED);
    let i = 0;
    for (const s of this.spots.values()) {
      const angle = -Math.PI / 2 + (2 * Math.PI * i++) / Math.max(n, 1);
      s.x = this.center.x + RADIUS * 1.45 * Math.cos(angle);
      s.y = this.center.y + RADIUS * Math.sin(angle);
      s.badge.setAttribute('transform', `translate(${s.x.toFixed(1)} ${s.y.toFixed(1)})`);
      for (const [k, v] of [['x1', this.center.x], ['y1', this.center.y], ['x2', s.x], ['y2', s.y]]) {
        s.edge.setAttribute(String(k), Number(v).toFixed(1));
      }
    }
  }

  /** The relay's height. @param {number | null} height */
  setRelay(height) {
    const out = this.root.classList.contains('relay-out');
    this.relayHeight.textContent = height === null ? 'not answering' : `${out ? 'out · ' : ''}height ${height}`;
    this.root.classList.toggle('relay-down', height === null);
  }

  /** The lab took every link down (the relay out) or brought them back. @param {boolean} out */
  setOutage(out) {
    this.root.classList.toggle('relay-out', out);
    this.root.setAttribute('data-relay', out ? 'out' : 'up');
  }

  /** A node's badge: its height, whether it is connected, cut off by the lab, mining.
   *  @param {string} id @param {{height: number, connected: boolean, cut: boolean, mining: boolean, slow?: boolean, lossy?: boolean}} s */
  setNode(id, s) {
    const spot = this.spots.get(id);
    if (!spot) return;
    spot.height.textContent = `height ${s.height}`;
    spot.state.textContent = s.cut ? 'cut off' : s.connected
      ? `${s.mining ? 'mining' : 'connected'}${s.slow ? ' · slow link' : ''}${s.lossy ? ' · losing' : ''}` : 'connecting…';
    spot.edge.setAttribute('class', `edge ${s.cut ? 'cut' : s.connected ? 'up' : 'down'}${s.slow ? ' slow' : ''}${s.lossy ? ' lossy' : ''}`);
    spot.edge.setAttribute('data-fault', [s.slow ? 'slow' : '', s.lossy ? 'lossy' : ''].filter(Boolean).join(' '));
    spot.badge.setAttribute('class', `node${s.cut ? ' cut' : ''}${s.mining ? ' mining' : ''}`);
    spot.badge.setAttribute('data-height', String(s.height));
    spot.badge.setAttribute('data-state', s.cut ? 'cut' : s.connected ? 'up' : 'down');
  }

  /** A message node `id` sent (out: towards the relay) or received (in: from it).
   *  @param {string} id @param {'in' | 'out'} direction @param {string} command */
  message(id, direction, command) {
    const spot = this.spots.get(id);
    if (!spot) return;
    const kind = kindOf(command);
    this.counts[kind] += 1;
    this.root.setAttribute(`data-seen-${kind}`, String(this.counts[kind]));
    this.drawLegend();
    if (this.inFlight.length >= MAX_IN_FLIGHT) return;
    const node = { x: spot.x, y: spot.y };
    const [from, to] = direction === 'out' ? [node, this.center] : [this.center, node];
    const dot = /** @type {SVGCircleElement} */ (svg('circle', { r: kind === 'block' ? 8 : 6, class: `msg ${kind}`, cx: from.x, cy: from.y }));
    dot.append(svg('title', {}, `${command} ${direction === 'out' ? `${id} → relay` : `relay → ${id}`}`));
    this.flights.append(dot);
    this.inFlight.push({ dot, from, to, start: performance.now() });
    if (!this.frame) this.frame = requestAnimationFrame((t) => this.animate(t));
  }

  /** Moves every message along its edge; removes those that arrived. @param {number} now */
  animate(now) {
    this.inFlight = this.inFlight.filter((f) => {
      const t = Math.min(1, (now - f.start) / FLIGHT_MS);
      f.dot.setAttribute('cx', (f.from.x + (f.to.x - f.from.x) * t).toFixed(1));
      f.dot.setAttribute('cy', (f.from.y + (f.to.y - f.from.y) * t).toFixed(1));
      if (t >= 1) f.dot.remove();
      return t < 1;
    });
    this.frame = this.inFlight.length ? requestAnimationFrame((t) => this.animate(t)) : 0;
  }

  drawLegend() {
    this.legend.replaceChildren(...[...KINDS, 'other'].map((k) => {
      const li = document.createElement('li');
      li.className = `kind ${k}`;
      li.dataset.kind = k;
      li.textContent = `${k} ${this.counts[k]}`;
      return li;
    }));
  }
}
