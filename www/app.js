// @ts-check
// The page of one node: starts the node in its own worker (www/node-worker.js), puts the
// page's proxy of it on window.node (www/ui/remote-node.js: the same calls and events), and
// mounts the panels (www/ui/: one module per panel, each drawing its part of the page from
// its own subscriptions to the node's events). The page's thread only draws.
//
// /?node=3001 is node 3001 (the seed's NODE_ID), with its chain and wallet in IndexedDB
// databases named after it. One tab owns a node at a time; another tab of the same node is
// a live view of it and takes it over when the owner's tab closes. ?relay=ws://host:port/ws connects to another
// relay than this page's origin; ?workers=N sets the mining workers.
import { nodeId, pinNodeId, relayCheckpoint } from './ui/boot.js';
import { RemoteNode } from './ui/remote-node.js';
import { watchOwnership, watchWakes } from './ui/ownership.js';
import { mountStorage } from './ui/storage.js';
import { $, banner, message } from './ui/dom.js';
import { Page } from './ui/page.js';
import { mountTopbar } from './ui/topbar.js';
import { mountWallet } from './ui/wallet.js';
import { mountSend } from './ui/send.js';
import { mountPayments } from './ui/payments.js';
import { mountBackup } from './ui/backup-panel.js';
import { mountMiner } from './ui/miner.js';
import { mountExplorer } from './ui/explorer.js';
import { mountNetwork } from './ui/network.js';
import { mountInspector } from './ui/inspector.js';
import { mountGuide } from './ui/guide.js';

/** Resolves in a later task of the page's thread (a message to itself: timers are held back
 *  to once a second in a background tab). */
const nextTask = () => new Promise((resolve) => {
  const channel = new MessageChannel();
  channel.port1.onmessage = () => { channel.port1.close(); resolve(undefined); };
  channel.port2.postMessage(null);
});

async function main() {
  $('node-id').textContent = nodeId;
  document.title = `Node ${nodeId}`;
  if (pinNodeId()) $('node-id').title = 'no ?node= in the address: using the default';
  const node = new RemoteNode(nodeId);
  try {
    const assumeValid = await relayCheckpoint();
    await node.start({
      workerUrl: new URL('./worker.js', import.meta.url).href,
      verifyWorkerUrl: new URL('./verify-worker.js', import.meta.url).href,
      assumeValid,
    });
  } catch (e) {
    banner(`The node could not start: ${message(e)}`, true);
    console.error(e);
    return;
  }
  watchOwnership(node);
  watchWakes(node);
  const page = new Page(/** @type {any} */ (node));
  // Each panel is mounted in a task of its own: the page's thread stays free for input
  // while the node, already started in its worker, downloads the chain.
  for (const mount of [mountTopbar, mountWallet, mountSend, mountPayments, mountBackup, mountMiner,
    mountExplorer, mountNetwork, mountInspector, mountGuide, mountStorage]) {
    mount(page);
    await nextTask();
  }
  // Scripts and tests take window.node as the sign that the page is wired: set once every
  // panel listens.
  /** @type {any} */ (window).node = node;

  const status = await node.status();
  $('worker-count').value = String(status.workers);
  if (status.storageWarnings.length) banner(`Storage: ${status.storageWarnings.join(' ')}`, true);
  await page.start();
  window.dispatchEvent(new CustomEvent('node-ready', { detail: { id: node.id } }));
}

main();
