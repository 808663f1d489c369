// @ts-check
// The protocol inspector: every message in and out, newest first.
//
// Only the rows in view are in the page (a window of VISIBLE_ROWS over the kept messages,
// moved as the box scrolls): while the chain downloads, hundreds of messages come each
// second, and a table of hundreds of rows each shifted down by the newest, laid out and
// painted again, kept the page's thread busy for over 100 ms at a time.
import { $, el } from './dom.js';
import { time } from './format.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {Message | {skipped: number}} Row */

/** Most rows kept, in the table and waiting to be drawn. */
const MAX_ROWS = 400;
/** Rows drawn at once: as many as the box (style.css, .inspector-scroll: 300 px) shows
 *  under the table's head. */
const VISIBLE_ROWS = 13;
/** The height of one row, in CSS pixels (style.css, .messages td). */
const ROW_PX = 21;

/** Wires the inspector. @param {Page} page */
export function mountInspector(page) {
  const { node } = page;
  const box = $('inspector-box');
  const body = $('messages');
  const spacer = $('messages-spacer');
  /** @type {Row[]} newest first */
  let rows = [];
  /** @type {Row[]} oldest first, not yet in `rows` */
  const pending = [];
  /** The first row drawn, and how many rows were kept, when last drawn. */
  let drawnFrom = -1;
  let drawnOf = -1;

  /** Draws the rows in view. @param {boolean} changed whether the rows changed */
  const drawWindow = (changed) => {
    const from = Math.min(Math.floor(box.scrollTop / ROW_PX), Math.max(0, rows.length - VISIBLE_ROWS));
    if (!changed && from === drawnFrom && rows.length === drawnOf) return;
    drawnFrom = from;
    drawnOf = rows.length;
    spacer.style.height = `${Math.max(0, rows.length - VISIBLE_ROWS) * ROW_PX}px`;
    body.replaceChildren(...rows.slice(from, from + VISIBLE_ROWS).map(rowOf));
  };

  const draw = () => {
    if (pending.length === 0) return;
    const added = pending.splice(0).reverse();
    rows = added.concat(rows);
    if (rows.length > MAX_ROWS) rows.length = MAX_ROWS;
    // Scrolled down to older messages: they stay where they are.
    if (box.scrollTop > 0) box.scrollTop += added.length * ROW_PX;
    drawWindow(true);
  };
  const flush = page.throttled(draw, 150);
  let scrolling = false;
  box.addEventListener('scroll', () => {
    if (scrolling) return;
    scrolling = true;
    requestAnimationFrame(() => { scrolling = false; drawWindow(false); });
  }, { passive: true });
  const paused = () => $('inspector-pause').checked;
  $('inspector-clear').addEventListener('click', () => {
    rows = [];
    pending.length = 0;
    drawWindow(true);
  });
  /** @param {Row} row */
  const add = (row) => {
    pending.push(row);
    if (pending.length > MAX_ROWS) {
      // More than the inspector keeps came before a draw: the oldest become one row.
      const dropped = pending.splice(0, pending.length - MAX_ROWS + 1);
      pending.unshift({ skipped: dropped.reduce((n, d) => n + ('skipped' in d ? d.skipped : 1), 0) });
    }
    flush();
  };
  node.on('messagesSkipped', (/** @type {{count: number}} */ { count }) => {
    if (!paused()) add({ skipped: count });
  });
  node.on('message', (/** @type {Message} */ m) => {
    if (!paused()) add(m);
  });
}

/** One row of the table. @param {Row} m */
function rowOf(m) {
  if ('skipped' in m) {
    return el('tr', { class: 'skipped' }, el('td', { colspan: 4, class: 'hint', text: `… ${m.skipped} more messages, not shown` }));
  }
  const summary = m.refused ? `${m.summary} · refused: ${m.refused}` : m.summary;
  return el('tr', {
    class: `${m.direction}${m.refused ? ' refused' : ''}`, 'data-testid': 'message', 'data-command': m.command,
    title: `${time(m.time)} · ${summary}`,
  },
  el('td', { class: 'dir', text: m.direction === 'in' ? '←' : '→', title: m.direction }),
  el('td', { text: m.peerNode || `#${m.peer}` }),
  el('td', { class: 'cmd', text: m.command }),
  el('td', { class: 'summary', text: summary }));
}
