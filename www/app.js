// @ts-check
// The page of one node: loads the wasm node, puts it on window.node, and mounts the panels
// (www/ui/: one module per panel, each drawing its part of the page from its own
// subscriptions to the node's events).
//
// The node is this tab: /?node=3001 is node 3001 (the seed's NODE_ID), with its chain and
// wallet in IndexedDB databases named after it. ?relay=ws://host:port/ws connects to another
// relay than this page's origin; ?workers=N sets the mining workers.
import init, { BrowserNode } from './pkg/node_wasm.js';
import { nodeId, pinNodeId, lockNode, relayCheckpoint } from './ui/boot.js';
import { $, banner, message } from './ui/dom.js';
import { Page } from './ui/page.js';
import { mountTopbar, setConnection } from './ui/topbar.js';
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
  if (!(await lockNode(nodeId))) {
    banner(`Node ${nodeId} is already open in another tab of this browser. Open /?node=<another id> for a second node.`, true);
    setConnection({ state: 'closed' });
    return;
  }
  let node;
  try {
    const [assumeValid] = await Promise.all([relayCheckpoint(), init()]);
    node = await BrowserNode.start({
      nodeId,
      workerUrl: new URL('./worker.js', import.meta.url).href,
      assumeValid,
    });
  } catch (e) {
    banner(`The node could not start: ${message(e)}`, true);
    console.error(e);
    return;
  }
  /** @type {any} */ (window).node = node;
  const page = new Page(node);
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

  const status = await node.status();
  $('worker-count').value = String(status.workers);
  if (status.storageWarnings.length) banner(`Storage: ${status.storageWarnings.join(' ')}`, true);
  await page.start();
  window.dispatchEvent(new CustomEvent('node-ready', { detail: { id: node.id } }));
}

main();
