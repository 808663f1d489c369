// @ts-check
// The shapes the node's facade resolves to (node-wasm/src/views.rs): the generated
// node_wasm.d.ts types them `any`, so the panels name them here.

/** @typedef {import('../pkg/node_wasm.js').BrowserNode} BrowserNode */
/** @typedef {{total: number, workers: number[]}} HashRate */
/**
 * @typedef {object} Status
 * @property {string} nodeId
 * @property {number} height
 * @property {string | null} tip
 * @property {number} peers
 * @property {number} mempool
 * @property {boolean} syncing
 * @property {number} targetHeight
 * @property {number} downloadedHeight
 * @property {boolean} mining
 * @property {string | null} miningTo
 * @property {boolean} miningActive
 * @property {HashRate} hashrate
 * @property {number} blocksMined
 * @property {number} workers
 * @property {string} connection
 * @property {string} relay
 * @property {string | null} storageError
 * @property {string[]} storageWarnings
 * @property {string | null} minerError
 * @property {number} verifyWorkers
 * @property {number} signaturesVouched
 * @property {{height: number, hash: string} | null} assumeValid
 */
/** @typedef {{address: string, balance: number, spendable: number}} AddressRow */
/** @typedef {{txid: string, vout: number, address: string}} TxInput */
/** @typedef {{value: number, address: string}} TxOutput */
/** @typedef {{txid: string, coinbase: boolean, inputs: TxInput[], outputs: TxOutput[], fee?: number}} Tx */
/**
 * @typedef {object} Block
 * @property {string} hash
 * @property {number} height
 * @property {string} prev
 * @property {number} time
 * @property {number} bits
 * @property {string} nonce
 * @property {string} merkleRoot
 * @property {number} size
 * @property {boolean} active
 * @property {boolean} powValid
 * @property {Tx[]} txs
 */
/** @typedef {{hash: string, prev: string, height: number, time: number, active: boolean, tip: boolean}} TreeNode */
/** @typedef {{id: number, nodeId: string | null, role: string | null, outbound: boolean, height: number, score: number, rttMs: number | null, url: string}} Peer */
/** @typedef {{nodeId: string, url: string | null, role: string}} KnownNode */
/** @typedef {{state: string, url?: string, attempt?: number, retryInMs?: number | null}} Connection */
/** @typedef {{direction: string, peer: number, peerNode: string | null, command: string, summary: string, refused: string | null, time: number}} Message */

/**
 * One refresh cycle's reads, all of the same moment: every panel draws from the same one.
 * @typedef {object} Snapshot
 * @property {number} at  when it was read (ms since the epoch)
 * @property {Status} status
 * @property {AddressRow[]} wallet
 * @property {Block[]} blocks  the active chain's newest blocks, newest first
 * @property {TreeNode[]} tree  every known block of the last heights, side branches included
 * @property {Peer[]} peers
 * @property {KnownNode[]} known
 * @property {Tx[]} mempool
 */
/**
 * One of the wallet's payments and where it is now (the "payment" event).
 * @typedef {object} Payment
 * @property {string} txid
 * @property {'pending' | 'confirmed' | 'reorganised' | 'dropped'} state
 * @property {number | null} height  the block it is confirmed in
 * @property {number | null} wasHeight  the block that held it before a reorganisation
 * @property {string | null} reason  why it was dropped
 */
/** A transaction and where it is (getTransaction, and each item of addressHistory).
 *  @typedef {{state: 'pending' | 'confirmed', height: number | null, block: string | null, confirmations: number | null, tx: Tx}} TxPlace */
/** @typedef {{indexedFrom: number | null, items: TxPlace[]}} History */

export {};
