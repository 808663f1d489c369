//! What a node's storage holds, and how batches of [`ChainChanges`] fold into it.
//!
//! A shell persists the chain by writing each batch of changes whole (one transaction); to
//! restart it folds what it wrote, in order, into a [`StoredChain`] and turns that into a
//! [`Chain`] without revalidating. The simulator keeps one in memory per node; the browser
//! tab keeps its batches as an append-only journal in IndexedDB and folds them on load, which
//! is why a batch is serialisable: writing one record per batch, rather than one per block
//! and UTXO entry, is what keeps a tab's initial sync fast.
//!
//! # Usage
//! ```
//! # use node_core::store::StoredChain;
//! # use node_core::chain::ChainChanges;
//! # use node_core::ChainParams;
//! let mut stored = StoredChain::default();
//! stored.apply(&ChainChanges::default());
//! assert!(stored.load(ChainParams::default()).is_none()); // nothing stored yet
//! ```
use alloc::vec::Vec;

use crate::chain::{snapshot, Chain, ChainChanges, ChainError};
use crate::consensus::params::ChainParams;
use crate::primitives::block::Block;
use crate::primitives::hash::BlockHash;
use crate::primitives::tx::OutPoint;
use crate::util::keyed_map::{KeyedMap, KeyedSet};
use crate::utxo::{BlockUndo, UtxoEntry, UtxoSet};

/// Everything persisted: enough to restart a node without downloading again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredChain {
    /// Blocks by hash (active and side branches).
    pub blocks: KeyedMap<BlockHash, Block>,
    /// Undo data by block.
    pub undo: KeyedMap<BlockHash, BlockUndo>,
    /// The UTXO set of the tip.
    pub utxo: KeyedMap<OutPoint, UtxoEntry>,
    /// The active tip, once a chain was stored.
    pub tip: Option<BlockHash>,
    /// Blocks connected without a signature check (see [`ChainChanges::unchecked`]).
    pub unchecked: KeyedSet<BlockHash>,
}

impl StoredChain {
    /// Applies one batch of changes, as one transaction would.
    pub fn apply(&mut self, c: &ChainChanges) {
        for b in &c.blocks {
            self.blocks.insert(b.hash(), b.clone());
        }
        for h in &c.removed {
            self.blocks.remove(h);
            self.undo.remove(h);
            self.unchecked.remove(h);
        }
        for (h, unchecked) in &c.unchecked {
            if *unchecked {
                self.unchecked.insert(*h);
            } else {
                self.unchecked.remove(h);
            }
        }
        for (h, u) in &c.undo {
            self.undo.insert(*h, u.clone());
        }
        if c.utxo_reset {
            self.utxo.clear();
        }
        for (op, e) in &c.utxo {
            match e {
                Some(e) => self.utxo.insert(*op, *e),
                None => self.utxo.remove(op),
            };
        }
        if let Some(t) = c.tip {
            self.tip = Some(t);
        }
    }

    /// Applies one batch, taking its blocks instead of cloning them (loading a journal).
    pub fn apply_owned(&mut self, mut c: ChainChanges) {
        let blocks = core::mem::take(&mut c.blocks);
        self.apply(&c);
        for b in blocks {
            let hash = b.hash();
            if !c.removed.contains(&hash) {
                self.blocks.insert(hash, b);
            }
        }
    }

    /// Rebuilds the chain without revalidating; `None` when no chain was stored.
    pub fn load(&self, params: ChainParams) -> Option<Chain> {
        self.clone().into_chain(params).ok().flatten()
    }

    /// Rebuilds the chain without revalidating, saying why what was stored cannot be used.
    pub fn into_chain(self, params: ChainParams) -> Result<Option<Chain>, ChainError> {
        let Some(tip) = self.tip else {
            return Ok(None);
        };
        let mut chain = Chain::from_stored(
            params,
            self.blocks.into_values().collect(),
            tip,
            UtxoSet::from_entries(self.utxo),
            self.undo.into_iter().collect(),
        )?;
        chain.restore_unchecked(self.unchecked);
        Ok(Some(chain))
    }

    /// The whole state as batches that rebuild it when applied to an empty store (see
    /// [`crate::chain::snapshot`]).
    pub fn snapshot(&self, blocks_per_batch: usize) -> Vec<ChainChanges> {
        snapshot(
            self.blocks.iter(),
            |h| self.undo.get(h),
            self.utxo.iter().map(|(op, e)| (*op, *e)),
            self.unchecked.iter().copied(),
            self.tip,
            blocks_per_batch,
        )
        .collect()
    }
}
