// @ts-check
// Which tab holds this node, said plainly; and the moments a tab comes back (online again,
// resumed after a freeze, shown again) passed to the node so it reconnects at once.
import { banner } from './dom.js';
import { time } from './format.js';

/** @typedef {import('./remote-node.js').RemoteNode} RemoteNode */

/** How long the note "this tab now holds the node" stays. */
const TOOK_OVER_NOTE_MS = 10_000;

/** Shows, while this tab is a view, which tab holds the node; and says so when this tab
 *  takes it over. @param {RemoteNode} node */
export function watchOwnership(node) {
  const show = () => {
    if (node.mode !== 'view') return;
    const since = node.holder ? ` (opened at ${time(node.holder.opened)})` : '';
    banner(`Node ${node.id} is held by another tab of this browser${since}. This tab shows it and acts through that tab; when that tab closes, this one takes the node over.`);
    document.body.dataset.nodeMode = 'view';
  };
  show();
  node.onMode((mode) => {
    if (mode === 'view') { show(); return; }
    document.body.dataset.nodeMode = mode;
    banner(`This tab now holds node ${node.id} (the tab that held it closed).`);
    setTimeout(() => { if (node.mode === 'owner') banner(''); }, TOOK_OVER_NOTE_MS);
  });
  if (node.mode === 'owner') document.body.dataset.nodeMode = 'owner';
}

/** Tells the node when the tab comes back: online again, resumed after being frozen, or
 *  shown again after being hidden (when browsers throttle or freeze it).
 *  @param {RemoteNode} node */
export function watchWakes(node) {
  addEventListener('online', () => node.wake('the browser is back online'));
  document.addEventListener('resume', () => node.wake('the tab was resumed after a freeze'));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') node.wake('the tab is shown again');
  });
  addEventListener('pageshow', (e) => { if (e.persisted) node.wake('the tab came back from the back-forward cache'); });
}
