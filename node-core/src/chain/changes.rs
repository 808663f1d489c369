//! What a chain asks its shell to write, and a whole chain as such writes.
//!
//! Every change to persist is gathered in one [`ChainChanges`], taken with
//! [`super::Chain::take_changes`] and written as one transaction. [`snapshot`] turns a whole
//! state (a chain's, or a store's) into batches that rebuild it, to compact a journal of many
//! small batches.

use alloc::vec::Vec;

use crate::primitives::block::Block;
use crate::primitives::hash::BlockHash;
use crate::primitives::tx::OutPoint;
use crate::utxo::{BlockUndo, UtxoChange, UtxoEntry};

/// What must be written to storage, all together, after a change. Serialisable, so a shell
/// may store a batch as one record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainChanges {
    /// Blocks connected without a signature check (`true`), or checked since (`false`):
    /// stored so that a reload knows which blocks still rest on a vouching block.
    pub unchecked: Vec<(BlockHash, bool)>,
    /// Newly indexed blocks (active or side branch).
    pub blocks: Vec<Block>,
    /// Blocks found invalid after they were indexed: delete them from storage.
    pub removed: Vec<BlockHash>,
    /// Undo data of newly connected blocks.
    pub undo: Vec<(BlockHash, BlockUndo)>,
    /// UTXO writes and deletes, in order.
    pub utxo: Vec<UtxoChange>,
    /// The UTXO set was rebuilt: the stored one must be replaced by `utxo` writes alone.
    pub utxo_reset: bool,
    /// The new active tip, if it moved.
    pub tip: Option<BlockHash>,
    /// Which batch of the chain's changes this is: the shell reports it to
    /// [`super::Chain::stored`] once written, so a UTXO set over stored coins can forget
    /// what it no longer needs to hold. Not stored.
    #[cfg(feature = "body-source")]
    #[serde(skip)]
    pub batch: u64,
}

impl ChainChanges {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.unchecked.is_empty()
            && self.removed.is_empty()
            && self.utxo.is_empty()
            && self.tip.is_none()
            && !self.utxo_reset
    }
}

/// A store's whole state as batches that rebuild it when applied, in order, to an empty
/// store: first the UTXO set and tip, then the blocks (with their undo data) at most
/// `blocks_per_batch` to a batch. Used to compact a journal of many small batches. Lazy: a
/// batch's blocks are copied only when it is taken, so a shell that writes each batch
/// before taking the next never holds a second copy of the whole chain.
pub fn snapshot<'a>(
    blocks: impl Iterator<Item = (&'a BlockHash, &'a Block)> + 'a,
    undo: impl Fn(&BlockHash) -> Option<&'a BlockUndo> + 'a,
    utxo: impl Iterator<Item = (OutPoint, UtxoEntry)>,
    unchecked: impl Iterator<Item = BlockHash>,
    tip: Option<BlockHash>,
    blocks_per_batch: usize,
) -> impl Iterator<Item = ChainChanges> + 'a {
    let first = ChainChanges {
        utxo: utxo.map(|(op, e)| (op, Some(e))).collect(),
        unchecked: unchecked.map(|h| (h, true)).collect(),
        utxo_reset: true,
        tip,
        ..ChainChanges::default()
    };
    let per_batch = blocks_per_batch.max(1);
    let mut blocks = blocks.peekable();
    core::iter::once(first).chain(core::iter::from_fn(move || {
        blocks.peek()?;
        let mut batch = ChainChanges::default();
        for (h, b) in blocks.by_ref().take(per_batch) {
            batch.blocks.push(b.clone());
            if let Some(u) = undo(h) {
                batch.undo.push((*h, u.clone()));
            }
        }
        Some(batch)
    }))
}
