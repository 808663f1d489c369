//! The active chain: the indexed block at each height, genesis first.
//!
//! Held as [`Position`]s in the block index rather than hashes: on the relay a position is
//! 4 bytes where a hash is 32, which is most of what the active chain costs a 100,000-block
//! node (see `block_index.rs`). Every question therefore goes through the index the
//! positions came from. Active blocks are never removed from the index (only side blocks
//! are forgotten), so their positions stay valid.

use alloc::vec::Vec;

use super::block_index::{BlockIndex, Position};
use crate::primitives::hash::BlockHash;

/// The active chain as positions in a [`BlockIndex`].
#[derive(Debug, Clone, Default)]
pub(super) struct ActiveChain(Vec<Position>);

impl ActiveChain {
    /// A chain of these positions, genesis first.
    pub(super) fn from_positions(positions: Vec<Position>) -> Self {
        Self(positions)
    }

    /// Number of blocks (the tip's height plus one).
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// The hash at `height`.
    pub(super) fn hash_at<'a>(
        &'a self,
        index: &'a BlockIndex,
        height: usize,
    ) -> Option<&'a BlockHash> {
        self.0.get(height).map(|p| index.hash_at(p))
    }

    /// The tip's hash (zero for a chain without blocks, which only exists while building).
    pub(super) fn tip(&self, index: &BlockIndex) -> BlockHash {
        self.0.last().map_or(BlockHash::ZERO, |p| *index.hash_at(p))
    }

    /// Whether `hash` is the block at `height`.
    pub(super) fn has_at(&self, index: &BlockIndex, hash: &BlockHash, height: u64) -> bool {
        usize::try_from(height)
            .ok()
            .and_then(|h| self.hash_at(index, h))
            .is_some_and(|h| h == hash)
    }

    /// Puts an indexed block on top (the relay's index has no position for a block it does
    /// not hold, and then nothing changes).
    pub(super) fn push(&mut self, index: &BlockIndex, hash: &BlockHash) {
        if let Some(p) = index.position(hash) {
            self.0.push(p);
        }
    }

    /// Takes the tip off; its hash.
    pub(super) fn pop(&mut self, index: &BlockIndex) -> Option<BlockHash> {
        self.0.pop().map(|p| *index.hash_at(&p))
    }

    /// The hashes above `height`, up to the tip.
    pub(super) fn hashes_above(&self, index: &BlockIndex, height: usize) -> Vec<BlockHash> {
        index.hashes_at(self.0.get(height.saturating_add(1)..).unwrap_or(&[]))
    }

    /// The hashes from `height` up to the tip.
    pub(super) fn hashes_from<'a>(
        &'a self,
        index: &'a BlockIndex,
        height: usize,
    ) -> impl Iterator<Item = &'a BlockHash> + 'a {
        self.0.iter().skip(height).map(|p| index.hash_at(p))
    }
}
