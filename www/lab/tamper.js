// @ts-check
// Tampered storage: a block in one node's own IndexedDB is rewritten (a payment of 7 coins
// made to say 70), as anyone with the browser's developer tools could. The node's memory
// still holds the block it checked when it arrived; what a restart would trust is storage.
// "Verify my chain" replays the stored chain from genesis, names the first bad block and
// why, and the node refuses it: it stops, drops the stored chain and downloads it again
// from the relay, so it never serves or builds on the forged block. The lab changes the
// database directly (same origin as the node's page): there is no tampering call in the node.
import { until } from './runner.js';
import { base58Bytes } from '../ui/links.js';

/** @typedef {import('./runner.js').Step} Step */
/** @typedef {import('./lab.js').Lab} Lab */
/** @typedef {import('./nodes.js').LabNode} LabNode */

/** What CENTRAL pays the victim, and what the forged record says instead. Both below 128,
 *  so each is one byte in the stored (varint) encoding and the record still decodes. */
const PAID = 7;
const FORGED = 70;
/** Bytes of an address: version, public-key hash, checksum. */
const ADDRESS_BYTES = 25;
/** The node's chain journal (node-wasm/src/storage.rs). */
const JOURNAL = 'journal';

/** @param {string} hex @returns {number[]} */
const hexBytes = (hex) => (hex.match(/../g) ?? []).map((b) => parseInt(b, 16));

/** Where `needle` first occurs in `hay` at or after `from` (-1 if nowhere).
 *  @param {Uint8Array} hay @param {number[]} needle @param {number} from @param {number} to */
function find(hay, needle, from, to) {
  outer: for (let i = from; i + needle.length <= Math.min(hay.length, to); i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** @template T @param {IDBRequest<T>} r @returns {Promise<T>} */
const done = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });

/**
 * Rewrites, in node `id`'s stored chain, the output of `block` that pays `value` to
 * `address` so that it pays `forged`. A stored block is its header (version, then the
 * parent's hash and the Merkle root side by side, found by those 64 bytes) and then its
 * transactions; an output is its value (one byte below 128) then the 20-byte key hash.
 * Returns how many stored copies were changed.
 * @param {string} id @param {{prev: string, merkleRoot: string, size: number}} block
 * @param {string} address @param {number} value @param {number} forged
 */
export async function rewriteStoredOutput(id, block, address, value, forged) {
  const addr = base58Bytes(address);
  if (!addr || addr.length !== ADDRESS_BYTES) throw new Error(`not an address: ${address}`);
  const keyHash = [...addr.slice(1, 21)];
  const header = [...hexBytes(block.prev), ...hexBytes(block.merkleRoot)];
  const db = await done(indexedDB.open(`chain-${id}`));
  try {
    const tx = db.transaction(JOURNAL, 'readwrite');
    const store = tx.objectStore(JOURNAL);
    const [keys, values] = await Promise.all([done(store.getAllKeys()), done(store.getAll())]);
    let changed = 0;
    values.forEach((v, i) => {
      const bytes = new Uint8Array(v);
      for (let at = find(bytes, header, 0, bytes.length); at >= 0; at = find(bytes, header, at + 1, bytes.length)) {
        const out = find(bytes, keyHash, at + header.length, at + block.size);
        if (out > 0 && bytes[out - 1] === value) {
          bytes[out - 1] = forged;
          store.put(bytes, keys[i]);
          changed++;
        }
      }
    });
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
      title: '2. Someone rewrites the block in the node\'s own storage',
      run: async (say) => {
        await victim().node.flush();
        const changed = await rewriteStoredOutput(victim().id, r.block, r.address, PAID, FORGED);
        if (changed === 0) throw new Error(`block #${r.block.height} was not found in node ${victim().id}'s storage`);
        say(`The lab opened node ${victim().id}'s IndexedDB (as anyone with the browser's developer tools can) and rewrote block #${r.block.height}: its payment of ${PAID} coins now says ${FORGED}. The header was left alone, so its proof of work still holds. The node's memory still has the block it checked; a restart would read storage.`);
      },
    },
    {
      title: '3. "Verify my chain" finds the first bad block',
      run: async (say) => {
        const v = await victim().node.verifyChain();
        if (v.ok) throw new Error(`node ${victim().id} found nothing wrong with its storage`);
        say(`Node ${victim().id} read its stored chain back and replayed it from the first block: block #${v.height} ${v.fault.replace(/^block #\d+ /, '')}. Its Merkle root commits to the transactions as they were mined; the rewritten payment no longer hashes to it.`);
        say(`The node does not serve or build on a block it cannot vouch for: it stopped, dropped its stored chain and asks the relay for the chain again, checking every block as it arrives.`);
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
        say(`Node ${victim().id} is back at height ${height} with the real block #${r.block.height}: ${r.address.slice(0, 10)}… holds ${balance} coins, not ${FORGED}. Verifying again finds nothing wrong.`);
      },
    },
  ];
}
