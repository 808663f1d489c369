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
  /** @type {any} */ (window).node = node;
  watchOwnership(node);
  watchWakes(node);
  const page = new Page(/** @type {any} */ (node));
  mountTopbar(page);
  mountWallet(page);
  mountSend(page);
  mountPayments(page);
  mountBackup(page);
  mountMiner(page);
  mountExplorer(page);
  mountNetwork(page);
  mountInspector(page);
  mountGuide(page);
  mountStorage(page);

  const status = await node.status();
  $('worker-count').value = String(status.workers);
  if (status.storageWarnings.length) banner(`Storage: ${status.storageWarnings.join(' ')}`, true);
  await page.start();
  window.dispatchEvent(new CustomEvent('node-ready', { detail: { id: node.id } }));
}

main();
