//! The container of the block index: every indexed block's hash with its [`BlockEntry`].
//!
//! The index is the one part of a relay's memory that must grow with its history (Bitcoin
//! Core keeps every header in memory too), so its cost per block matters. With
//! `body-source` (the relay, the simulator) each block is one 48-byte slot in a dense
//! vector, found through a hash table of 4-byte positions: its hash, height and timestamp,
//! and its parent as the parent's position (a parent is indexed before its children). Its
//! cumulative work is not stored but derived: the network's bits are fixed by genesis, so a
//! block at height h carries (h + 1) blocks' work. The active chain is a vector of positions
//! too ([`Position`], 4 bytes a block): ~58 bytes a block in all, against ~140 when entries
//! and the active chain held hashes.
//!
//! The page module keeps the [`KeyedMap`] (its B-tree code is shared with every other map;
//! a hash table would cost it bytes it does not have), whose positions are the hashes
//! themselves. Both answer the same questions (only the compact index checks that an entry
//! links, as it is the one loaded from stored rows); only iteration order differs (hash order there, slot order here), which nothing in the chain
//! relies on: fork choice breaks ties by hash ([`super::heavier`]).

use super::BlockEntry;
#[cfg(feature = "body-source")]
use crate::primitives::hash::BlockHash;

#[cfg(feature = "body-source")]
pub use compact::{BlockIndex, Position};
#[cfg(not(feature = "body-source"))]
pub use mapped::{BlockIndex, Position};

/// Why an entry cannot join the index: the index holds a tree rooted at genesis, each block
/// one above its parent (and, where work is derived, with its parent's work plus one
/// block's), so a loader that meets one of these has found a corrupt or unlinked row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// Its parent is not indexed.
    ParentMissing,
    /// Its height is not its parent's plus one (or 0 for a block without a parent).
    Height,
    /// Its cumulative work is not its parent's plus one block's.
    Work,
    /// Another block is indexed in a slot this one would need (a second genesis of other
    /// work, or a height the index cannot number).
    Unnumbered,
}

impl core::fmt::Display for Unlinked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Unlinked::ParentMissing => "its parent is not indexed",
            Unlinked::Height => "its height is not its parent's plus one",
            Unlinked::Work => "its work is not its parent's plus one block's",
            Unlinked::Unnumbered => "its height or work cannot be indexed",
        })
    }
}

/// Whether `entry` may hang under `parent` (`None`: a block without a parent).
#[cfg(feature = "body-source")]
fn height_links(entry: &BlockEntry, parent: Option<&BlockEntry>) -> Result<(), Unlinked> {
    match parent {
        None if entry.prev == BlockHash::ZERO && entry.height == 0 => Ok(()),
        None if entry.prev == BlockHash::ZERO => Err(Unlinked::Height),
        None => Err(Unlinked::ParentMissing),
        Some(p) if p.height.checked_add(1) == Some(entry.height) => Ok(()),
        Some(_) => Err(Unlinked::Height),
    }
}

#[cfg(not(feature = "body-source"))]
mod mapped {
    use super::{BlockEntry, Unlinked};
    use crate::primitives::hash::BlockHash;
    use crate::util::keyed_map::KeyedMap;

    /// Where a block sits in the index: here, its hash.
    pub type Position = BlockHash;

    /// The block index over the page module's shared B-tree map.
    #[derive(Debug, Clone, Default)]
    pub struct BlockIndex(KeyedMap<BlockHash, BlockEntry>);

    impl BlockIndex {
        /// An empty index.
        pub fn new() -> Self {
            Self::default()
        }
        /// Number of indexed blocks.
        pub fn len(&self) -> usize {
            self.0.len()
        }
        /// Whether nothing is indexed.
        pub fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        /// The entry of `hash`.
        #[inline]
        pub fn get(&self, hash: &BlockHash) -> Option<BlockEntry> {
            self.0.get(hash).copied()
        }
        /// The entry of a block known to be indexed.
        ///
        /// # Panics
        /// If `hash` is not indexed (as a map's `[]` does).
        #[inline]
        pub fn entry(&self, hash: &BlockHash) -> BlockEntry {
            self.0[hash]
        }
        /// Whether `hash` is indexed.
        #[inline]
        pub fn contains_key(&self, hash: &BlockHash) -> bool {
            self.0.contains_key(hash)
        }
        /// Where `hash` sits: the page's positions are the hashes themselves, so every hash
        /// has one (ask [`BlockIndex::contains_key`] whether it is indexed).
        #[inline]
        pub fn position(&self, hash: &BlockHash) -> Option<Position> {
            Some(*hash)
        }
        /// The hash at a position [`BlockIndex::position`] gave.
        #[inline]
        pub fn hash_at<'a>(&'a self, at: &'a Position) -> &'a BlockHash {
            at
        }
        /// The hashes at these positions.
        #[inline]
        pub fn hashes_at(&self, at: &[Position]) -> alloc::vec::Vec<BlockHash> {
            at.to_vec()
        }
        /// Indexes `hash` (replacing its entry if it was); returns the entry replaced.
        /// Never refuses: the page only indexes blocks the chain linked itself (a tab
        /// rebuilds its index from stored blocks, walking down from genesis), and every byte
        /// of its module counts.
        pub fn insert(
            &mut self,
            hash: BlockHash,
            entry: BlockEntry,
        ) -> Result<Option<BlockEntry>, Unlinked> {
            Ok(self.0.insert(hash, entry))
        }
        /// Forgets `hash`; returns its entry. Its descendants must go too (the chain
        /// forgets whole subtrees).
        pub fn remove(&mut self, hash: &BlockHash) -> Option<BlockEntry> {
            self.0.remove(hash)
        }
        /// Keeps the entries `keep` says yes to (whole subtrees, as [`BlockIndex::remove`]).
        pub fn retain(&mut self, mut keep: impl FnMut(&BlockHash, &BlockEntry) -> bool) {
            self.0.retain(|h, e| keep(h, e));
        }
        /// Every indexed hash.
        pub fn keys(&self) -> impl Iterator<Item = &BlockHash> + '_ {
            self.0.keys()
        }
        /// Every hash with its entry.
        pub fn iter(&self) -> impl Iterator<Item = (BlockHash, BlockEntry)> + '_ {
            self.0.iter().map(|(h, e)| (*h, *e))
        }
    }
}

#[cfg(feature = "body-source")]
mod compact {
    use alloc::vec::Vec;
    use core::fmt;

    use hashbrown::HashTable;

    use super::{height_links, BlockEntry, Unlinked};
    use crate::primitives::hash::BlockHash;

    /// Where a block sits in the index: its slot. Stable while the block is indexed.
    pub type Position = u32;

    /// The parent position of a block without a parent (genesis).
    const NO_PARENT: u32 = u32::MAX;
    /// The parent position of a slot emptied by a removal.
    const VACANT: u32 = u32::MAX - 1;
    /// Positions stop below the two markers.
    const MAX_SLOTS: usize = VACANT as usize;

    /// One indexed block: 48 bytes.
    #[derive(Clone, Copy)]
    struct Slot {
        hash: BlockHash,
        timestamp: u64,
        height: u32,
        /// The parent's slot, [`NO_PARENT`] or [`VACANT`].
        prev: u32,
    }

    /// Indexed blocks in a dense vector of slots, found through a table of positions.
    #[derive(Clone, Default)]
    pub struct BlockIndex {
        slots: Vec<Slot>,
        /// Positions in `slots`, hashed by their block hash ([`fold`]).
        positions: HashTable<u32>,
        /// Slots emptied by removals. They are not reused: a block that still named one as
        /// its parent would then name whichever block came next, where with the slot kept
        /// empty it names no block at all (as a forgotten parent's hash did). Only side
        /// blocks are forgotten, each with its proof of work, and a restart compacts them.
        vacant: usize,
        /// One block's work: the first block without a parent fixes it (genesis's bits).
        block_work: u128,
    }

    /// A table hash of a block hash: its four words folded. Block hashes are SHA-256
    /// outputs, already uniform except for the leading zero bits proof of work asks for,
    /// which folding mixes away; a peer cannot pick them without redoing the work.
    fn fold(hash: &BlockHash) -> u64 {
        hash.as_bytes()
            .chunks_exact(8)
            .map(|w| {
                let mut word = [0u8; 8];
                word.copy_from_slice(w);
                u64::from_le_bytes(word)
            })
            .fold(0, |acc, w| acc.rotate_left(17) ^ w)
    }

    impl fmt::Debug for BlockIndex {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("BlockIndex")
                .field("blocks", &self.len())
                .finish()
        }
    }

    impl BlockIndex {
        /// An empty index.
        pub fn new() -> Self {
            Self::default()
        }

        /// The index of stored rows in any order: they are indexed parents first (by
        /// height), and a row that does not link ([`Unlinked`]) is left out, with every row
        /// under it — as a block not reachable from genesis would never have been indexed.
        /// A second row of a block already indexed is left out too: replacing the first
        /// would move the block under another parent, away from the rows linked under it
        /// (a cycle, when that parent is one of them). Sized once, so a 100,000-block
        /// index carries no growth slack.
        pub fn linked_from(mut rows: Vec<(BlockHash, BlockEntry)>) -> (Self, usize) {
            rows.sort_unstable_by_key(|(_, e)| e.height);
            let mut index = BlockIndex {
                slots: Vec::with_capacity(rows.len()),
                positions: HashTable::with_capacity(rows.len()),
                ..Self::default()
            };
            let mut dropped = 0;
            for (hash, entry) in rows {
                if index.contains_key(&hash) || index.insert(hash, entry).is_err() {
                    dropped += 1;
                }
            }
            (index, dropped)
        }

        /// Number of indexed blocks.
        pub fn len(&self) -> usize {
            self.slots.len() - self.vacant
        }

        /// Whether nothing is indexed.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Where `hash` sits, if indexed.
        pub fn position(&self, hash: &BlockHash) -> Option<Position> {
            let slots = &self.slots;
            self.positions
                .find(fold(hash), |&i| slots[i as usize].hash == *hash)
                .copied()
        }

        /// The hash at a position [`BlockIndex::position`] gave.
        ///
        /// # Panics
        /// If no block was ever indexed there (positions come from the index itself).
        pub fn hash_at<'a>(&'a self, at: &'a Position) -> &'a BlockHash {
            &self.slots[*at as usize].hash
        }

        /// The hashes at these positions.
        pub fn hashes_at(&self, at: &[Position]) -> Vec<BlockHash> {
            at.iter().map(|p| *self.hash_at(p)).collect()
        }

        fn entry_at(&self, at: u32) -> BlockEntry {
            let slot = &self.slots[at as usize];
            BlockEntry {
                height: u64::from(slot.height),
                chain_work: self.work_at(u64::from(slot.height)),
                prev: match slot.prev {
                    NO_PARENT | VACANT => BlockHash::ZERO,
                    p => self.slots[p as usize].hash,
                },
                timestamp: slot.timestamp,
            }
        }

        /// The cumulative work of a block at `height`.
        fn work_at(&self, height: u64) -> u128 {
            self.block_work
                .saturating_mul(u128::from(height).saturating_add(1))
        }

        /// The entry of `hash`.
        pub fn get(&self, hash: &BlockHash) -> Option<BlockEntry> {
            self.position(hash).map(|i| self.entry_at(i))
        }

        /// The entry of a block known to be indexed.
        ///
        /// # Panics
        /// If `hash` is not indexed (as a map's `[]` does).
        pub fn entry(&self, hash: &BlockHash) -> BlockEntry {
            self.get(hash)
                .expect("the chain asks only for blocks it found indexed")
        }

        /// Whether `hash` is indexed.
        pub fn contains_key(&self, hash: &BlockHash) -> bool {
            self.position(hash).is_some()
        }

        /// Indexes `hash` under its parent (replacing its entry if it was); returns the
        /// entry replaced. The entry's work must be its parent's plus one block's.
        pub fn insert(
            &mut self,
            hash: BlockHash,
            entry: BlockEntry,
        ) -> Result<Option<BlockEntry>, Unlinked> {
            let parent_at = match entry.prev {
                BlockHash::ZERO => None,
                prev => Some(self.position(&prev).ok_or(Unlinked::ParentMissing)?),
            };
            height_links(&entry, parent_at.map(|p| self.entry_at(p)).as_ref())?;
            let height = u32::try_from(entry.height).map_err(|_| Unlinked::Unnumbered)?;
            let block_work = match parent_at {
                None if self.block_work == 0 => entry.chain_work,
                _ => self.block_work,
            };
            if block_work.saturating_mul(u128::from(height) + 1) != entry.chain_work {
                return Err(Unlinked::Work);
            }
            self.block_work = block_work;
            let slot = Slot {
                hash,
                timestamp: entry.timestamp,
                height,
                prev: parent_at.unwrap_or(NO_PARENT),
            };
            if let Some(at) = self.position(&hash) {
                let replaced = self.entry_at(at);
                self.slots[at as usize] = slot;
                return Ok(Some(replaced));
            }
            if self.slots.len() >= MAX_SLOTS {
                return Err(Unlinked::Unnumbered);
            }
            let at = self.slots.len() as u32;
            self.slots.push(slot);
            let slots = &self.slots;
            self.positions
                .insert_unique(fold(&hash), at, |&i| fold(&slots[i as usize].hash));
            Ok(None)
        }

        /// Forgets `hash`; returns its entry. Its descendants should go too (the chain
        /// forgets whole subtrees); one left behind names no parent.
        pub fn remove(&mut self, hash: &BlockHash) -> Option<BlockEntry> {
            let slots = &self.slots;
            let found = self
                .positions
                .find_entry(fold(hash), |&i| slots[i as usize].hash == *hash)
                .ok()?;
            let (at, _) = found.remove();
            let entry = self.entry_at(at);
            let slot = &mut self.slots[at as usize];
            slot.prev = VACANT;
            slot.hash = BlockHash::ZERO;
            self.vacant += 1;
            Some(entry)
        }

        /// Keeps the entries `keep` says yes to (whole subtrees, as [`BlockIndex::remove`]).
        pub fn retain(&mut self, mut keep: impl FnMut(&BlockHash, &BlockEntry) -> bool) {
            let gone: Vec<BlockHash> = self
                .iter()
                .filter_map(|(h, e)| (!keep(&h, &e)).then_some(h))
                .collect();
            for h in gone {
                self.remove(&h);
            }
        }

        /// Every indexed hash (in slot order).
        pub fn keys(&self) -> impl Iterator<Item = &BlockHash> + '_ {
            self.slots
                .iter()
                .filter(|s| s.prev != VACANT)
                .map(|s| &s.hash)
        }

        /// Every hash with its entry.
        pub fn iter(&self) -> impl Iterator<Item = (BlockHash, BlockEntry)> + '_ {
            (0..self.slots.len() as u32)
                .filter(|&i| self.slots[i as usize].prev != VACANT)
                .map(|i| (self.slots[i as usize].hash, self.entry_at(i)))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::primitives::hash::Hash256;

        const WORK: u128 = 1 << 20;

        fn hash(n: u32) -> BlockHash {
            let mut b = [0u8; 32];
            b[28..].copy_from_slice(&n.to_le_bytes());
            b[0] = 1;
            BlockHash::from_hash(Hash256(b))
        }

        /// Block `n` of a tree where block n's parent is n / 2 (block 0 is genesis).
        fn entry(n: u32, timestamp: u64) -> BlockEntry {
            let height = (n + 1).ilog2();
            BlockEntry {
                height: height.into(),
                chain_work: WORK * (u128::from(height) + 1),
                prev: if n == 0 {
                    BlockHash::ZERO
                } else {
                    hash((n - 1) / 2)
                },
                timestamp,
            }
        }

        #[test]
        fn answers_as_a_map_through_inserts_replacements_and_removals() {
            let mut index = BlockIndex::new();
            let mut model = alloc::collections::BTreeMap::new();
            for n in 0..300u32 {
                assert_eq!(index.insert(hash(n), entry(n, n.into())), Ok(None));
                model.insert(hash(n), entry(n, n.into()));
            }
            for n in (0..300u32).step_by(7) {
                let replaced = index.insert(hash(n), entry(n, 9_000 + u64::from(n)));
                assert_eq!(
                    replaced,
                    Ok(model.insert(hash(n), entry(n, 9_000 + u64::from(n))))
                );
            }
            // Leaves only (children of n are 2n+1 and 2n+2): 150..300 have none below 300.
            for n in (150..300u32).step_by(3).chain([299]) {
                assert_eq!(index.remove(&hash(n)), model.remove(&hash(n)));
            }
            assert_eq!(index.remove(&hash(150)), None, "removed once");
            for n in (150..200u32).step_by(9) {
                assert_eq!(index.insert(hash(n), entry(n, n.into())), Ok(None));
                model.insert(hash(n), entry(n, n.into()));
            }
            assert_eq!(index.len(), model.len());
            for n in 0..310u32 {
                assert_eq!(
                    index.get(&hash(n)),
                    model.get(&hash(n)).copied(),
                    "block {n}"
                );
            }
            let mut listed: Vec<_> = index.iter().collect();
            listed.sort_by_key(|(h, _)| *h);
            let expected: Vec<_> = model.into_iter().collect();
            assert_eq!(listed, expected);
        }

        #[test]
        fn an_entry_that_does_not_link_is_refused() {
            let mut index = BlockIndex::new();
            assert_eq!(
                index.insert(hash(1), entry(1, 0)),
                Err(Unlinked::ParentMissing)
            );
            index.insert(hash(0), entry(0, 0)).expect("genesis");
            let mut tall = entry(1, 0);
            tall.height = 5;
            tall.chain_work = WORK * 6;
            assert_eq!(index.insert(hash(1), tall), Err(Unlinked::Height));
            let mut heavy = entry(1, 0);
            heavy.chain_work += 1;
            assert_eq!(index.insert(hash(1), heavy), Err(Unlinked::Work));
            let mut second_genesis = entry(0, 0);
            second_genesis.chain_work = WORK * 2;
            assert_eq!(index.insert(hash(7), second_genesis), Err(Unlinked::Work));
            assert_eq!(index.len(), 1, "nothing unlinked joined");
        }

        #[test]
        fn rows_in_any_order_load_parents_first_and_unlinked_ones_are_left_out() {
            let mut rows: Vec<_> = (0..100u32).rev().map(|n| (hash(n), entry(n, 0))).collect();
            // A row claiming a parent nobody has, and one under it.
            let mut stray = entry(200, 0);
            stray.prev = hash(5_000);
            rows.push((hash(200), stray));
            let (index, dropped) = BlockIndex::linked_from(rows);
            assert_eq!((index.len(), dropped), (100, 1));
            assert_eq!(index.get(&hash(99)), Some(entry(99, 0)));
        }

        #[test]
        fn positions_stay_put_while_blocks_come_and_go() {
            let mut index = BlockIndex::new();
            for n in 0..20u32 {
                index.insert(hash(n), entry(n, 0)).expect("linked");
            }
            let at: Vec<_> = (0..20u32).map(|n| index.position(&hash(n))).collect();
            for n in 10..20u32 {
                index.remove(&hash(n));
            }
            for n in 10..15u32 {
                index.insert(hash(n), entry(n, 0)).expect("linked");
            }
            for n in 0..10u32 {
                assert_eq!(
                    index.position(&hash(n)),
                    at[n as usize],
                    "block {n} kept its slot"
                );
                let p = index.position(&hash(n)).expect("indexed");
                assert_eq!(*index.hash_at(&p), hash(n));
            }
            assert_eq!(index.len(), 15);
        }

        #[test]
        fn a_child_left_behind_by_a_removal_names_no_parent_not_the_next_block() {
            let mut index = BlockIndex::new();
            for n in 0..4u32 {
                index.insert(hash(n), entry(n, 0)).expect("linked");
            }
            // Block 3's parent is block 1; forget block 1 alone, then index another block.
            index.remove(&hash(1));
            index.insert(hash(2 + 100), entry(2, 0)).expect("linked");
            let orphaned = index.get(&hash(3)).expect("still indexed");
            assert_eq!(orphaned.prev, BlockHash::ZERO);
            assert!(index.iter().all(|(_, e)| e.prev != hash(2 + 100)));
        }
    }
}
