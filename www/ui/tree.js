// @ts-check
// The block tree picture: every known block of the last heights, side branches dashed.
import { svgEl } from './dom.js';

/** @typedef {import('./types.js').TreeNode} TreeNode */

/** What each picture shows now: a cycle that brings the same tree draws nothing. */
const drawn = new WeakMap();

/**
 * Draws `nodes` into `svg`; a click on a block calls `pick(hash)`.
 * @param {SVGSVGElement} svg @param {TreeNode[]} nodes @param {string | null} selected
 * @param {(hash: string) => void} pick
 */
export function drawTree(svg, nodes, selected, pick) {
  const shown = `${selected}|${nodes.map((n) => `${n.hash}${n.active ? 'a' : 's'}${n.tip ? 't' : ''}`).join()}`;
  if (drawn.get(svg) === shown) return;
  drawn.set(svg, shown);
  svg.replaceChildren();
  if (nodes.length === 0) {
    svg.removeAttribute('viewBox');
    svg.style.width = '';
    svg.style.height = '';
    const t = svgEl('text', { x: 16, y: 30, class: 'placeholder' });
    t.textContent = 'The block tree appears here: every known block, side branches included.';
    svg.append(t);
    return;
  }
  const W = 70, H = 34, BW = 56, BH = 22, X0 = 16, Y0 = 26;
  const minH = Math.min(...nodes.map((n) => n.height));
  const maxH = Math.max(...nodes.map((n) => n.height));
  // Lanes: the active chain on lane 0; a side branch continues its parent's lane when it
  // can, else takes a new one.
  /** @type {Map<string, number>} */
  const lane = new Map();
  const laneEnd = [Infinity];
  for (const n of nodes) {
    if (n.active) { lane.set(n.hash, 0); continue; }
    const parentLane = lane.get(n.prev);
    if (parentLane !== undefined && parentLane > 0 && laneEnd[parentLane] === n.height - 1) {
      lane.set(n.hash, parentLane);
      laneEnd[parentLane] = n.height;
    } else {
      laneEnd.push(n.height);
      lane.set(n.hash, laneEnd.length - 1);
    }
  }
  /** @param {TreeNode} n */
  const pos = (n) => [X0 + (n.height - minH) * W, Y0 + (lane.get(n.hash) ?? 0) * H];
  const width = X0 * 2 + (maxH - minH) * W + BW;
  const height = Y0 + laneEnd.length * H;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.style.width = `${width}px`;
  svg.style.height = `${height}px`;
  const byHash = new Map(nodes.map((n) => [n.hash, n]));
  for (let h = minH; h <= maxH; h++) {
    const t = svgEl('text', { x: X0 + (h - minH) * W + BW / 2, y: 12, 'text-anchor': 'middle', class: 'height-label' });
    t.textContent = `#${h}`;
    svg.append(t);
  }
  for (const n of nodes) {
    const p = byHash.get(n.prev);
    if (!p) continue;
    const [x1, y1] = pos(p);
    const [x2, y2] = pos(n);
    svg.append(svgEl('path', { class: 'edge', d: `M${x1 + BW},${y1 + BH / 2} C${x1 + BW + 8},${y1 + BH / 2} ${x2 - 8},${y2 + BH / 2} ${x2},${y2 + BH / 2}` }));
  }
  for (const n of nodes) {
    const [x, y] = pos(n);
    const cls = ['block', n.active ? 'active' : 'side', n.tip ? 'tip' : '', n.hash === selected ? 'selected' : ''].join(' ');
    const g = svgEl('g', { class: cls, 'data-hash': n.hash, 'data-testid': n.active ? 'tree-block' : 'tree-side-block' });
    const title = svgEl('title');
    title.textContent = `#${n.height} ${n.hash}${n.active ? '' : ' (side branch)'}`;
    g.append(title, svgEl('rect', { x, y, width: BW, height: BH, rx: 4 }));
    const t = svgEl('text', { x: x + BW / 2, y: y + BH / 2 + 3.5, 'text-anchor': 'middle' });
    t.textContent = n.hash.slice(0, 6);
    g.append(t);
    g.addEventListener('click', () => pick(n.hash));
    svg.append(g);
  }
  // The newest heights stay in view without reading the layout here (which would force the
  // browser to lay out the whole page on every draw, slowing a download): the picture's
  // frame lays it out from the right (style.css, .tree-wrap).
}

/** Marks the selected block in the picture. @param {SVGSVGElement} svg @param {string} hash */
export function markSelected(svg, hash) {
  drawn.delete(svg);
  for (const g of svg.querySelectorAll('g.block')) g.classList.toggle('selected', g.getAttribute('data-hash') === hash);
}
