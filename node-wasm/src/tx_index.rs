//! The tab's index of the active chain's newest transactions: the block each one is
//! confirmed in, and the addresses each one paid or spent from.
//!
//! # Overview
//! The page asks "where is my payment?" and "what happened to this address?". Scanning the
//! chain's blocks for every question grows with the chain; this index is kept instead, block
//! by block, as the node reports blocks connected to the active chain
//! ([`TxIndex::connect`]) and tips that moved back ([`TxIndex::truncate_above`]). A block
//! connected at height `h` means every indexed block at `h` or above was disconnected
//! (a reorganisation reports the new branch from its fork point upwards), so the index
//! follows reorganisations without a notification of its own for disconnected blocks.
//!
//! # Bounds
//! It keeps the newest blocks whose transactions number at most [`MAX_INDEXED_TXS`]; older
//! ones are dropped from the bottom, and [`TxIndex::lowest_height`] says where it starts, so
//! the page can say that older history is not shown.
//!
//! Lookups walk the indexed blocks in memory, newest first: maps by txid and by address cost
//! the page module about 3 KB gzipped, and a walk over the bound costs a query well under a
//! millisecond. A block's txids and addresses are worked out on the first query that reaches
//! it and kept, so connecting blocks during a download costs next to nothing.

use std::cell::OnceCell;

use node_core::chain::{BodyRef, Chain};
use node_core::primitives::hash::PubKeyHash;
use node_core::{BlockHash, Txid};

/// Transactions the index keeps: a tab's memory (an entry with its addresses is about 100
/// bytes, so about 2 MB), and far more than a person's payments on this demo chain.
pub const MAX_INDEXED_TXS: usize = 20_000;

/// One indexed block: its place, and (worked out on the first query that needs it) its
/// transactions with the addresses each one touched.
struct IndexedBlock {
    height: u64,
    hash: BlockHash,
    txs: usize,
    detail: OnceCell<Vec<(Txid, Vec<PubKeyHash>)>>,
}

/// The stored block of a hash: the chain's, in the driver; a test's own, in tests.
pub type BlockOf<'c> = dyn Fn(&BlockHash) -> Option<BodyRef<'c>> + 'c;

impl IndexedBlock {
    /// Its transactions and what each touched, hashed once and kept. (Not at connection:
    /// during a download of thousands of blocks no one asks, and the hashing would slow it.)
    fn detail(&self, block_of: &BlockOf<'_>) -> &[(Txid, Vec<PubKeyHash>)] {
        self.detail.get_or_init(|| {
            block_of(&self.hash).map_or_else(Vec::new, |b| {
                b.transactions
                    .iter()
                    .map(|tx| (tx.txid(), touched(tx)))
                    .collect()
            })
        })
    }
}

/// See the module docs.
#[derive(Default)]
pub struct TxIndex {
    /// Ascending heights.
    blocks: Vec<IndexedBlock>,
    txs: usize,
}

/// The addresses `tx` pays or spends from, each once.
pub fn touched(tx: &node_core::primitives::tx::Transaction) -> Vec<PubKeyHash> {
    let mut out: Vec<PubKeyHash> = Vec::new();
    let inputs = tx
        .inputs
        .iter()
        .filter(|_| !tx.is_coinbase())
        .map(|i| PubKeyHash::of_public_key(&i.public_key));
    for pkh in inputs.chain(tx.outputs.iter().map(|o| o.pubkey_hash)) {
        if !out.contains(&pkh) {
            out.push(pkh);
        }
    }
    out
}

impl TxIndex {
    /// The index of a chain loaded from storage: its newest blocks, up to the bound.
    pub fn of_chain(chain: &Chain) -> TxIndex {
        // Each body is read once (from the body file, for all but the newest few).
        let mut newest_first = Vec::new();
        let (mut height, mut count) = (chain.height(), 0);
        while let (Some(hash), Some(block)) = (chain.hash_at(height), chain.body_at(height)) {
            let txs = block.transactions.len();
            newest_first.push((height, hash, txs));
            count += txs;
            if height == 0 || count > MAX_INDEXED_TXS {
                break;
            }
            height -= 1;
        }
        let mut index = TxIndex::default();
        for (height, hash, txs) in newest_first.into_iter().rev() {
            index.connect(height, hash, txs);
        }
        index
    }

    /// Block `hash`, with `txs` transactions, joined the active chain at `height`: blocks
    /// indexed at that height or above were disconnected and leave first. Returns `false`
    /// when the index did not hold the block below (it missed blocks, or this is its first):
    /// it then starts again from this block, and the caller may rebuild it from the chain.
    pub fn connect(&mut self, height: u64, hash: BlockHash, txs: usize) -> bool {
        self.truncate_above(height.checked_sub(1));
        let follows = self
            .blocks
            .last()
            .map_or(height == 0, |b| b.height + 1 == height);
        if !follows {
            self.truncate_above(None);
        }
        self.txs += txs;
        self.blocks.push(IndexedBlock {
            height,
            hash,
            txs,
            detail: OnceCell::new(),
        });
        let mut oldest = 0;
        while self.txs > MAX_INDEXED_TXS && oldest + 1 < self.blocks.len() {
            self.txs -= self.blocks[oldest].txs;
            oldest += 1;
        }
        self.blocks.drain(..oldest);
        follows
    }

    /// The active tip is now at `height` (`None`: no block is left): blocks above it leave.
    pub fn truncate_above(&mut self, height: Option<u64>) {
        while let Some(last) = self.blocks.last() {
            if height.is_some_and(|h| last.height <= h) {
                break;
            }
            self.txs -= last.txs;
            self.blocks.pop();
        }
    }

    /// The height and hash of the block `txid` is confirmed in, if indexed.
    /// (A walk over the bounded index, newest first: a map by txid cost the page module
    /// more than the walk costs a lookup.)
    pub fn place(&self, txid: &Txid, block_of: &BlockOf<'_>) -> Option<(u64, BlockHash)> {
        self.blocks
            .iter()
            .rev()
            .find(|b| b.detail(block_of).iter().any(|(t, _)| t == txid))
            .map(|b| (b.height, b.hash))
    }

    /// The hash of the indexed block at `height`.
    pub fn hash_at(&self, height: u64) -> Option<BlockHash> {
        let first = self.blocks.first()?.height;
        let at = usize::try_from(height.checked_sub(first)?).ok()?;
        self.blocks.get(at).map(|b| b.hash)
    }

    /// The newest `limit` confirmed transactions that paid or spent `pkh`, newest first:
    /// `(height, block hash, txid)`.
    pub fn history(
        &self,
        pkh: &PubKeyHash,
        block_of: &BlockOf<'_>,
        limit: usize,
    ) -> Vec<(u64, BlockHash, Txid)> {
        let mut out = Vec::new();
        for b in self.blocks.iter().rev() {
            for (txid, touched) in b.detail(block_of).iter().rev() {
                if out.len() == limit {
                    return out;
                }
                if touched.contains(pkh) {
                    out.push((b.height, b.hash, *txid));
                }
            }
        }
        out
    }

    /// The lowest indexed height: older transactions are not in the index.
    pub fn lowest_height(&self) -> Option<u64> {
        self.blocks.first().map(|b| b.height)
    }

    /// Transactions indexed.
    pub fn len(&self) -> usize {
        self.txs
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.txs == 0
    }
}
