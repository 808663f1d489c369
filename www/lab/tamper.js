// @ts-check
// Tampered storage: a coin in one node's own IndexedDB is rewritten (the 7 coins a block paid
// it made to say 70), as anyone with the browser's developer tools could. The node keeps its
// block bodies in a file its worker holds open, out of the page's reach; its chain journal
// in IndexedDB, with the UTXO set a restart takes as it is, is not. The node's memory still
// holds the coin as the checked block made it; what a restart would trust is storage.
// "Verify my chain" replays the stored chain from genesis and finds that the stored UTXO set
// is not the one its blocks create; the node refuses it: it stops, drops the stored chain and
// downloads it again from the relay, so it never spends or reports the forged coin. The lab
// changes the database directly (same origin as the node's page): there is no tampering
// call in the node.
import { until } from './runner.js';
import { base58Bytes } from '../ui/links.js';

/** @typedef {import('./runner.js').Step} Step */
/** @typedef {import('./lab.js').Lab} Lab */
/** @typedef {import('./nodes.js').LabNode} LabNode */

/** What CENTRAL pays the victim, and what the forged coin says instead. Both below 128,
 *  so each is one byte in the stored (varint) encoding and the record still decodes. */
const PAID = 7;
const FORGED = 70;
/** Bytes of an address: version, public-key hash, checksum. */
const ADDRESS_BYTES = 25;
/** The node's chain journal (node-wasm/src/storage.rs). */
const JOURNAL = 'journal';

/** Where `needle` last occurs in `hay` (-1 if nowhere).
 *  @param {Uint8Array} hay @param {number[]} needle */
function findLast(hay, needle) {
  outer: for (let i = hay.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** @template T @param {IDBRequest<T>} r @returns {Promise<T>} */
const done = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });

/**
 * Rewrites, in node `id`'s chain journal, the newest stored coin that pays `value` to
 * `address` so that it pays `forged`. Each journal record is a list of batches of changes;
 * a batch's UTXO writes are an outpoint then the entry: its value (one byte below 128), the
 * 20-byte key hash, the height of its block, whether a coinbase made it. Block bodies are
 * not in the journal, so a key hash there is a coin. Returns how many were changed (0 or 1).
 * @param {string} id @param {string} address @param {number} value @param {number} forged
 */
export async function rewriteStoredCoin(id, address, value, forged) {
  const addr = base58Bytes(address);
  if (!addr || addr.length !== ADDRESS_BYTES) throw new Error(`not an address: ${address}`);
  const keyHash = [...addr.slice(1, 21)];
  const db = await done(indexedDB.open(`chain-${id}`));
  try {
    const tx = db.transaction(JOURNAL, 'readwrite');
    const store = tx.objectStore(JOURNAL);
    const [keys, values] = await Promise.all([done(store.getAllKeys()), done(store.getAll())]);
    let changed = 0;
    for (let i = values.length - 1; i >= 0 && changed === 0; i--) {
      const bytes = new Uint8Array(values[i]);
      const at = findLast(bytes, keyHash);
      if (at > 0 && bytes[at - 1] === value) {
        bytes[at - 1] = forged;
        store.put(bytes, keys[i]);
        changed++;
      }
    }
    await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); tx.onabort = () => reject(tx.error); });
    return changed;
  } finally {
    db.close();
  }
}

/** The steps. @param {Lab} lab @returns {Step[]} */
export function tamperScenario(lab) {
  /** @type {{victim?: LabNode, address: string, block: any, height: number, balance: number}} */
  const r = { address: '', block: null, height: 0, balance: 0 };
  const victim = () => /** @type {LabNode} */ (r.victim);
  return [
    {
      title: '1. A block pays a node',
      run: async (say) => {
        if (!lab.linked) throw new Error('this needs the relay\'s lab links: open the lab on the relay\'s own machine (127.0.0.1)');
        const nodes = await lab.ensureNodes(2);
        for (const n of lab.nodes) if (n.cut) await n.heal();
        r.victim = nodes[1];
        r.address = await victim().node.createWallet();
        await lab.relay.fund(r.address, PAID);
        r.height = (await until('the relay to answer', () => lab.relay.status())).height;
        await until(`node ${victim().id} to reach height ${r.height}`, async () => (await victim().status()).height >= r.height);
        [r.block] = await victim().node.printChain(1);
        r.balance = await victim().node.getBalance(r.address);
        say(`CENTRAL paid ${PAID} coins to node ${victim().id}'s new address ${r.address.slice(0, 10)}… in block #${r.block.height}; the node checked the block, stored it, and shows a balance of ${r.balance}.`);
      },
    },
    {
      title: '2. Someone rewrites the coin in the node\'s own storage',
      run: async (say) => {
        await victim().node.flush();
        const changed = await rewriteStoredCoin(victim().id, r.address, PAID, FORGED);
        if (changed === 0) throw new Error(`the coin of block #${r.block.height} was not found in node ${victim().id}'s storage`);
        say(`The lab opened node ${victim().id}'s IndexedDB (as anyone with the browser's developer tools can) and rewrote the coin block #${r.block.height} paid to ${r.address.slice(0, 10)}… in the stored UTXO set: its ${PAID} coins now say ${FORGED}. The blocks were left alone (their bodies are in a file the node's worker holds open, out of the page's reach), so each still matches its header. The node's memory still has the coin the block made; a restart would read storage.`);
      },
    },
    {
      title: '3. "Verify my chain" finds that storage does not add up',
      run: async (say) => {
        const v = await victim().node.verifyChain();
        if (v.ok) throw new Error(`node ${victim().id} found nothing wrong with its storage`);
        say(`Node ${victim().id} read its stored chain back and replayed it from the first block: block #${v.height} ${v.fault.replace(/^block #\d+ /, '')}. Every block still matches its header, and replayed they pay ${r.address.slice(0, 10)}… ${PAID} coins, not the ${FORGED} its storage says.`);
        say(`The node does not spend, count or build on coins it cannot vouch for: it stopped, dropped its stored chain and asks the relay for the chain again, checking every block as it arrives.`);
      },
    },
    {
      title: '4. Repaired from the network',
      run: async (say) => {
        const height = (await until('the relay to answer', () => lab.relay.status())).height;
        await until(`node ${victim().id} to download the chain again to height ${height}`, async () => (await victim().status()).height >= height);
        const balance = await victim().node.getBalance(r.address);
        const again = await victim().node.verifyChain();
        if (!again.ok) throw new Error(`node ${victim().id}'s storage still fails: ${again.fault}`);
        say(`Node ${victim().id} is back at height ${height}, its coins again the ones its blocks make: ${r.address.slice(0, 10)}… holds ${balance} coins, not ${FORGED}. Verifying again finds nothing wrong.`);
      },
    },
  ];
}
