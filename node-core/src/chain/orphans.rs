//! Blocks whose parent is unknown, kept (bounded) until it arrives.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

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
    order: VecDeque<BlockHash>,
    bytes: usize,
}

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
                Some(old) => self.remove(&old),
                None => break,
            }
        }
        self.by_parent.get_or_default(block.header.prev).push(hash);
        self.blocks.insert(hash, block);
        self.order.push_back(hash);
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
            self.order.retain(|h| h != hash);
        }
    }

    /// Takes out the orphans whose parent is `parent`.
    pub(super) fn take_children(&mut self, parent: &BlockHash) -> Vec<Block> {
        let hashes = self.by_parent.remove(parent).unwrap_or_default();
        let mut out = Vec::new();
        for h in hashes {
            if let Some(b) = self.blocks.remove(&h) {
                self.bytes = self.bytes.saturating_sub(b.encoded_size());
                self.order.retain(|x| *x != h);
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
}
