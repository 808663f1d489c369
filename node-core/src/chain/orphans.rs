//! Blocks whose parent is unknown, kept (bounded) until it arrives.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::Chain;
use crate::primitives::block::Block;
use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::KeyedMap;

/// Bytes of orphan blocks kept at most: 16 full blocks, far more than a download keeps
/// ahead of its parents (blocks arrive nearly in order), and a bound on what a peer sending
/// parentless blocks can make a node hold whatever the count limit says.
pub const MAX_ORPHAN_BYTES: usize = 16 << 20;

/// Blocks whose parent is unknown, bounded in count and bytes, oldest evicted first.
#[derive(Debug, Clone, Default)]
pub(super) struct OrphanPool {
    blocks: KeyedMap<BlockHash, Block>,
    by_parent: KeyedMap<BlockHash, Vec<BlockHash>>,
    /// Held blocks, oldest first, each with its [`OrphanMark`] of arrival.
    order: VecDeque<(OrphanMark, BlockHash)>,
    /// The mark the next block to arrive gets.
    next: OrphanMark,
    bytes: usize,
}

/// When an orphan arrived, as a count of arrivals: `OrphanPool::held_since` counts the
/// blocks that arrived at or after a mark and are still held (the oldest leave first).
pub type OrphanMark = u64;

impl OrphanPool {
    /// Keeps `block` (at most `max` blocks and [`MAX_ORPHAN_BYTES`], evicting the oldest).
    pub(super) fn insert(&mut self, block: Block, max: usize) {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) || max == 0 {
            return;
        }
        let size = block.encoded_size();
        while self.blocks.len() >= max || self.bytes.saturating_add(size) > MAX_ORPHAN_BYTES {
            match self.order.pop_front() {
                Some((_, old)) => self.remove(&old),
                None => break,
            }
        }
        self.by_parent.get_or_default(block.header.prev).push(hash);
        self.blocks.insert(hash, block);
        self.order.push_back((self.next, hash));
        self.next += 1;
        self.bytes += size;
    }

    fn remove(&mut self, hash: &BlockHash) {
        if let Some(b) = self.blocks.remove(hash) {
            self.bytes = self.bytes.saturating_sub(b.encoded_size());
            if let Some(children) = self.by_parent.get_mut(&b.header.prev) {
                children.retain(|h| h != hash);
                if children.is_empty() {
                    self.by_parent.remove(&b.header.prev);
                }
            }
            self.order.retain(|(_, h)| h != hash);
        }
    }

    /// Takes out the orphans whose parent is `parent`.
    pub(super) fn take_children(&mut self, parent: &BlockHash) -> Vec<Block> {
        let hashes = self.by_parent.remove(parent).unwrap_or_default();
        let mut out = Vec::new();
        for h in hashes {
            if let Some(b) = self.blocks.remove(&h) {
                self.bytes = self.bytes.saturating_sub(b.encoded_size());
                self.order.retain(|(_, x)| *x != h);
                out.push(b);
            }
        }
        out
    }

    /// Follows parents inside the pool down to the first one that is not in it.
    pub(super) fn missing_root(&self, mut hash: BlockHash) -> BlockHash {
        let mut steps = 0;
        while let Some(b) = self.blocks.get(&hash) {
            hash = b.header.prev;
            steps += 1;
            if steps > self.blocks.len() {
                break;
            }
        }
        hash
    }

    /// Whether `hash` waits here.
    pub(super) fn contains(&self, hash: &BlockHash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Number of blocks waiting.
    pub(super) fn len(&self) -> usize {
        self.blocks.len()
    }

    /// The mark of the next block to arrive.
    pub(super) fn mark(&self) -> OrphanMark {
        self.next
    }

    /// Blocks held that arrived at or after `mark`.
    pub(super) fn held_since(&self, mark: OrphanMark) -> usize {
        self.order.len() - self.order.partition_point(|(m, _)| *m < mark)
    }

    /// The parents missing under the blocks held that arrived at or after `mark`: the
    /// blocks they wait on.
    pub(super) fn roots_since(&self, mark: OrphanMark) -> Vec<BlockHash> {
        let first = self.order.partition_point(|(m, _)| *m < mark);
        self.order
            .range(first..)
            .filter_map(|(_, h)| self.blocks.get(h))
            .map(|b| b.header.prev)
            .filter(|prev| !self.blocks.contains_key(prev))
            .collect()
    }

    /// The parents missing under the blocks held, each with the height the block waiting
    /// on it claims (its coinbase's) less one.
    pub(super) fn roots(&self) -> Vec<(u64, BlockHash)> {
        self.order
            .iter()
            .filter_map(|(_, h)| self.blocks.get(h))
            .filter(|b| !self.blocks.contains_key(&b.header.prev))
            .map(|b| {
                let height = b.coinbase_height().unwrap_or(0).saturating_sub(1);
                (height, b.header.prev)
            })
            .collect()
    }

    /// How many blocks the pool holds before it evicts: `max`, or fewer when the blocks
    /// it holds are so large that [`MAX_ORPHAN_BYTES`] comes first.
    pub(super) fn capacity(&self, max: usize) -> usize {
        match self.bytes.checked_div(self.blocks.len()) {
            Some(average) if average > 0 => max.min(MAX_ORPHAN_BYTES / average),
            _ => max,
        }
    }
}

/// What the chain says of its orphan pool.
impl Chain {
    /// Whether a block is waiting in the orphan pool.
    pub fn is_orphan(&self, hash: &BlockHash) -> bool {
        self.orphans.contains(hash)
    }
    /// Number of blocks in the orphan pool.
    pub fn orphan_count(&self) -> usize {
        self.orphans.len()
    }
    /// The orphan pool's mark for the next block to arrive in it (see
    /// [`Chain::orphans_since`]).
    pub fn orphan_mark(&self) -> OrphanMark {
        self.orphans.mark()
    }
    /// Orphans held that arrived at or after `mark`: a download counts only these once it
    /// has written older ones off.
    pub fn orphans_since(&self, mark: OrphanMark) -> usize {
        self.orphans.held_since(mark)
    }
    /// The missing parents of the orphans that arrived at or after `mark`: the blocks they
    /// wait on.
    pub fn orphan_roots_since(&self, mark: OrphanMark) -> Vec<BlockHash> {
        self.orphans.roots_since(mark)
    }
    /// The missing parents of the orphans: the blocks they wait on, each with the height
    /// the orphan waiting on it claims, less one (a claim, checked only once it connects).
    pub fn orphan_roots(&self) -> Vec<(u64, BlockHash)> {
        self.orphans.roots()
    }
    /// Orphans the pool holds before it evicts one: [`ChainParams::max_orphans`](crate::consensus::params::ChainParams::max_orphans), or fewer
    /// when blocks the size of those it holds would reach [`MAX_ORPHAN_BYTES`] first.
    pub fn orphan_capacity(&self) -> usize {
        self.orphans.capacity(self.params.max_orphans)
    }
    /// For an orphan, the earliest missing ancestor to ask peers for.
    pub fn missing_ancestor(&self, orphan: &BlockHash) -> BlockHash {
        self.orphans.missing_root(*orphan)
    }
}
