// @ts-check
// The protocol inspector: every message in and out, newest first.
import { $, el } from './dom.js';
import { time } from './format.js';

/** @typedef {import('./page.js').Page} Page */
/** @typedef {import('./types.js').Message} Message */

/** Most rows kept, in the table and waiting to be drawn. */
const MAX_ROWS = 400;

/** Wires the inspector. @param {Page} page */
export function mountInspector(page) {
  const { node } = page;
  /** @type {(Message | {skipped: number})[]} */
  const pending = [];
  // Messages that arrived faster than the inspector draws and were dropped before drawing.
  let unshown = 0;
  const draw = () => {
    const body = $('messages');
    if (unshown) {
      pending.unshift({ skipped: unshown });
      unshown = 0;
    }
    const rows = pending.splice(0).map((m) => ('skipped' in m ? el('tr', { class: 'skipped' },
      el('td', { colspan: 4, class: 'hint', text: `… ${m.skipped} more messages, not shown` })) : el('tr', {
      class: `${m.direction}${m.refused ? ' refused' : ''}`, 'data-testid': 'message', 'data-command': m.command,
      title: time(m.time),
    },
    el('td', { class: 'dir', text: m.direction === 'in' ? '←' : '→', title: m.direction }),
    el('td', { text: m.peerNode || `#${m.peer}` }),
    el('td', { class: 'cmd', text: m.command }),
    el('td', { class: 'summary' }, m.summary, m.refused ? el('span', { class: 'why', text: `refused: ${m.refused}` }) : null))));
    body.prepend(...rows.reverse());
    while (body.children.length > MAX_ROWS) body.lastChild?.remove();
  };
  const flush = page.throttled(draw, 150);
  const paused = () => $('inspector-pause').checked;
  $('inspector-clear').addEventListener('click', () => $('messages').replaceChildren());
  node.on('messagesSkipped', (/** @type {{count: number}} */ { count }) => {
    if (paused()) return;
    pending.push({ skipped: count });
    flush();
  });
  node.on('message', (/** @type {Message} */ m) => {
    if (paused()) return;
    pending.push(m);
    if (pending.length > MAX_ROWS) {
      const dropped = pending.splice(0, pending.length - MAX_ROWS);
      unshown += dropped.reduce((n, d) => n + ('skipped' in d ? d.skipped : 1), 0);
    }
    flush();
  });
}
