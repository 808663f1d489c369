//! Side branches: blocks that add no work to the best chain, kept within a budget, and the
//! forgetting of blocks (side branches over budget, or a branch found invalid).
//!
//! A side block is kept only within a byte and count budget ([`MAX_SIDE_BRANCH_BYTES`],
//! [`MAX_SIDE_BRANCH_BLOCKS`]), the lowest-work side branches forgotten first. Forgotten
//! side blocks are not condemned and may be fetched again.

use alloc::vec::Vec;

use super::{heavier, BlockIndex, Chain};
use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::{KeyedMap, KeyedSet};
use crate::util::ordering;

/// Bytes of side-branch bodies (blocks that do not add work to the best chain) kept at most.
/// Honest side branches are the few blocks of a race between miners or the losing side of a
/// partition; 8 MiB holds dozens of full blocks and thousands of small ones.
pub const MAX_SIDE_BRANCH_BYTES: usize = 8 << 20;
/// Side-branch blocks kept at most, whatever their size.
pub const MAX_SIDE_BRANCH_BLOCKS: usize = 2_000;
/// Bytes the heaviest side branch may hold on its own: it may be a heavier chain arriving in
/// order (a healed partition), which stays a side branch until its last block. 64 full
/// blocks past the fork; a deeper fork of full blocks is not followed until headers-first
/// sync (known gap), while its cost to an attacker is that many blocks of proof of work.
pub const MAX_BEST_SIDE_BRANCH_BYTES: usize = 64 << 20;
/// Blocks the heaviest side branch may hold on its own.
pub const MAX_BEST_SIDE_BRANCH_BLOCKS: usize = 20_000;

/// The side-branch blocks (indexed, adding no work to the best chain) and their sizes.
#[derive(Debug, Clone, Default)]
pub(super) struct SideBranches {
    /// Each side block's encoded size.
    sizes: KeyedMap<BlockHash, usize>,
    /// Total bytes of `sizes`.
    bytes: usize,
}

impl SideBranches {
    /// Puts `hash` (of `size` bytes) on the side list.
    pub(super) fn insert(&mut self, hash: BlockHash, size: usize) {
        if self.sizes.insert(hash, size).is_none() {
            self.bytes += size;
        }
    }

    /// Takes `hash` off the side list; whether it was on it.
    pub(super) fn remove(&mut self, hash: &BlockHash) -> bool {
        match self.sizes.remove(hash) {
            Some(size) => {
                self.bytes = self.bytes.saturating_sub(size);
                true
            }
            None => false,
        }
    }

    /// Whether `hash` is a side block.
    pub(super) fn contains(&self, hash: &BlockHash) -> bool {
        self.sizes.contains_key(hash)
    }

    /// Number of side blocks and their bytes.
    pub(super) fn size(&self) -> (usize, usize) {
        (self.sizes.len(), self.bytes)
    }

    fn keys(&self) -> impl Iterator<Item = &BlockHash> + '_ {
        self.sizes.keys()
    }

    /// The next side block to forget, if the side list holds more than its budget: the
    /// lowest-work block outside the heaviest side branch while the others are over the
    /// common budget, else the lowest-work block while the heaviest branch is over its own.
    ///
    /// The heaviest side branch has a budget of its own ([`MAX_BEST_SIDE_BRANCH_BYTES`]): it
    /// is the one that may overtake the tip next (the bits are fixed, so work is height), and
    /// a heavier chain arriving in order is a side branch until its last block. Forgetting
    /// its first blocks under the common budget would drop all of it, every time it came:
    /// two sides of a healed partition deeper than the budget would never agree.
    fn next_to_forget(&self, index: &BlockIndex) -> Option<BlockHash> {
        if self.bytes <= MAX_SIDE_BRANCH_BYTES && self.sizes.len() <= MAX_SIDE_BRANCH_BLOCKS {
            return None;
        }
        let best = self.best_branch(index);
        let best_bytes: usize = best.iter().filter_map(|h| self.sizes.get(h)).sum();
        let other_bytes = self.bytes.saturating_sub(best_bytes);
        let other_count = self.sizes.len().saturating_sub(best.len());
        if other_bytes > MAX_SIDE_BRANCH_BYTES || other_count > MAX_SIDE_BRANCH_BLOCKS {
            self.lowest_block(index, |h| !best.contains(h))
        } else if best_bytes > MAX_BEST_SIDE_BRANCH_BYTES
            || best.len() > MAX_BEST_SIDE_BRANCH_BLOCKS
        {
            self.lowest_block(index, |_| true)
        } else {
            None
        }
    }

    /// The side blocks on the way to the heaviest side block (its side ancestors).
    fn best_branch(&self, index: &BlockIndex) -> KeyedSet<BlockHash> {
        let mut out = KeyedSet::new();
        let mut best: Option<BlockHash> = None;
        for h in self.sizes.keys() {
            if best.is_none_or(|b| heavier(index, h, &b)) {
                best = Some(*h);
            }
        }
        let mut cursor = best;
        while let Some(h) = cursor.filter(|h| self.sizes.contains_key(h)) {
            out.insert(h);
            cursor = index.get(&h).map(|e| e.prev);
        }
        out
    }

    /// The side block with the least work among those `eligible` (ties: the higher hash).
    fn lowest_block(
        &self,
        index: &BlockIndex,
        eligible: impl Fn(&BlockHash) -> bool,
    ) -> Option<BlockHash> {
        self.sizes
            .keys()
            .filter(|h| eligible(h))
            .filter_map(|h| index.get(h).map(|e| (e.chain_work, *h)))
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, h)| h)
    }
}

impl Chain {
    /// Forgets the lowest-work side branches while they hold more than the budget (see
    /// [`SideBranches::next_to_forget`]). They are not condemned: a peer may send them again
    /// if they ever lead somewhere.
    pub(super) fn trim_side_branches(&mut self) {
        while let Some(victim) = self.side.next_to_forget(&self.index) {
            // Everything built on a side block is on a side branch too (a block on the
            // best branch would have taken its ancestors off the side list).
            let gone = self.with_descendants(&[victim], self.side.keys());
            self.drop_blocks(&gone, false);
        }
    }

    /// Puts every indexed block that neither is active nor leads to the best block on the
    /// side-branch list (after a load), and trims it to the budget.
    pub(super) fn classify_side_blocks(&mut self) {
        // Only the best block's ancestors off the active chain: active ones are skipped
        // anyway, and a set of the whole ancestry would cost memory for every block.
        let mut on_best: KeyedSet<BlockHash> = KeyedSet::new();
        let mut cursor = self.best_block();
        while !self.is_active(&cursor) {
            let Some(e) = self.index.get(&cursor) else {
                break;
            };
            on_best.insert(cursor);
            cursor = e.prev;
        }
        let side: Vec<(BlockHash, usize)> = self
            .index
            .keys()
            .filter(|h| !on_best.contains(*h) && !self.is_active(h))
            .map(|h| (*h, self.bodies.block(h).map_or(0, |b| b.encoded_size())))
            .collect();
        for (h, size) in side {
            self.side.insert(h, size);
        }
        self.trim_side_branches();
    }

    /// Ancestors of `hash` that were side blocks are on the best branch now.
    pub(super) fn unmark_side_ancestors(&mut self, hash: BlockHash) {
        let mut cursor = self.index.get(&hash).map(|e| e.prev);
        while let Some(h) = cursor {
            if !self.side.remove(&h) {
                break;
            }
            cursor = self.index.get(&h).map(|e| e.prev);
        }
    }

    /// Drops `bad` blocks and everything indexed on top of them; remembers them as invalid
    /// when the failure proves the header bad (otherwise a correct body may still come).
    /// One pass over the blocks above the lowest bad one, in height order: linear in the
    /// index, however deep the branch.
    pub(super) fn forget_branch(&mut self, bad: &[BlockHash], condemn: bool) {
        let gone = self.with_descendants(bad, self.index.keys());
        self.drop_blocks(&gone, condemn);
    }

    /// `roots` and every block among `candidates` built on one of them: one pass over the
    /// candidates above the lowest root, in height order.
    fn with_descendants<'a>(
        &self,
        roots: &[BlockHash],
        candidates: impl Iterator<Item = &'a BlockHash>,
    ) -> KeyedSet<BlockHash> {
        let mut gone = KeyedSet::new();
        gone.extend(roots.iter().copied());
        let Some(lowest) = roots
            .iter()
            .filter_map(|h| self.index.get(h))
            .map(|e| e.height)
            .min()
        else {
            return gone;
        };
        let above: Vec<(u64, BlockHash)> = candidates
            .filter_map(|h| self.index.get(h).map(|e| (e.height, *h)))
            .filter(|(height, _)| *height > lowest)
            .collect();
        for (_, h) in ordering::sorted_by_key(above, |(height, _)| *height) {
            if self.index.get(&h).is_some_and(|e| gone.contains(&e.prev)) {
                gone.insert(h);
            }
        }
        gone
    }

    /// Removes indexed blocks (none of them active) from memory and storage.
    fn drop_blocks(&mut self, gone: &KeyedSet<BlockHash>, condemn: bool) {
        for h in gone {
            self.index.remove(h);
            self.bodies.remove(h);
            self.assume_valid.unchecked.remove(h);
            self.side.remove(h);
            if condemn {
                self.invalid.insert(*h);
            }
        }
        if self.assume_valid.held.is_some_and(|h| gone.contains(&h)) {
            self.assume_valid.held = None;
            let best = self.heaviest_indexed();
            if best != self.tip() {
                self.assume_valid.held = Some(best);
            }
        }
        if condemn {
            self.assume_valid.note_condemned(gone);
        }
        self.changes.blocks.retain(|b| !gone.contains(&b.hash()));
        self.changes.removed.extend(gone.iter().copied());
    }
}
