//! The container of the block index: every indexed block's hash with its [`BlockEntry`].
//!
//! The index is the one part of a relay's memory that must grow with its history (Bitcoin
//! Core keeps every header in memory too), so its cost per block matters: a
//! [`KeyedMap`] spends ~160 bytes a block (a 112-byte slab slot and a B-tree entry), about
//! two thirds of a 100,000-block relay's heap. With `body-source` (the relay, the
//! simulator) the index is a dense vector of `(hash, entry)` pairs, 96 bytes each, found
//! through a hash table of 4-byte positions: ~100 bytes a block. The page module keeps the
//! `KeyedMap`, whose B-tree code it shares with every other map (a hash table would cost it
//! bytes it does not have); both answer the same questions, and only iteration order
//! differs (hash order there, insertion order here), which nothing in the chain relies on:
//! fork choice breaks ties by hash ([`super::heavier`]).

#[cfg(not(feature = "body-source"))]
use super::BlockEntry;
#[cfg(not(feature = "body-source"))]
use crate::primitives::hash::BlockHash;
#[cfg(not(feature = "body-source"))]
use crate::util::keyed_map::KeyedMap;

/// The block index's container: the page module's shared B-tree map.
#[cfg(not(feature = "body-source"))]
pub type BlockIndex = KeyedMap<BlockHash, BlockEntry>;

#[cfg(feature = "body-source")]
pub use compact::BlockIndex;

#[cfg(feature = "body-source")]
mod compact {
    use alloc::vec::Vec;
    use core::fmt;
    use core::ops::Index;

    use hashbrown::HashTable;

    use super::super::BlockEntry;
    use crate::primitives::hash::BlockHash;

    /// Block hashes and their entries in a dense vector, found through a table of positions.
    #[derive(Clone, Default)]
    pub struct BlockIndex {
        entries: Vec<(BlockHash, BlockEntry)>,
        /// Positions in `entries`, hashed by their block hash ([`fold`]).
        positions: HashTable<u32>,
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
                .field("blocks", &self.entries.len())
                .finish()
        }
    }

    impl BlockIndex {
        /// An empty index.
        pub fn new() -> Self {
            Self::default()
        }

        /// Number of indexed blocks.
        pub fn len(&self) -> usize {
            self.entries.len()
        }

        /// Whether nothing is indexed.
        pub fn is_empty(&self) -> bool {
            self.entries.is_empty()
        }

        fn position(&self, hash: &BlockHash) -> Option<usize> {
            let entries = &self.entries;
            self.positions
                .find(fold(hash), |&i| entries[i as usize].0 == *hash)
                .map(|&i| i as usize)
        }

        /// The entry of `hash`.
        pub fn get(&self, hash: &BlockHash) -> Option<&BlockEntry> {
            self.position(hash).map(|i| &self.entries[i].1)
        }

        /// Whether `hash` is indexed.
        pub fn contains_key(&self, hash: &BlockHash) -> bool {
            self.position(hash).is_some()
        }

        /// Indexes `hash` (replacing its entry if it was); returns the entry replaced.
        ///
        /// # Panics
        /// With 2^32 blocks indexed (a relay's memory is gone long before).
        pub fn insert(&mut self, hash: BlockHash, entry: BlockEntry) -> Option<BlockEntry> {
            if let Some(i) = self.position(&hash) {
                return Some(core::mem::replace(&mut self.entries[i].1, entry));
            }
            // Each entry is 96 bytes: 2^32 of them (400 GB, every one with its proof of work)
            // cannot be held, so a position always fits.
            let at = u32::try_from(self.entries.len())
                .expect("an index of 2^32 blocks (400 GB) cannot be in memory");
            self.entries.push((hash, entry));
            let entries = &self.entries;
            self.positions
                .insert_unique(fold(&hash), at, |&i| fold(&entries[i as usize].0));
            None
        }

        /// Forgets `hash`; returns its entry. The last entry moves into its place.
        pub fn remove(&mut self, hash: &BlockHash) -> Option<BlockEntry> {
            let entries = &self.entries;
            let found = self
                .positions
                .find_entry(fold(hash), |&i| entries[i as usize].0 == *hash)
                .ok()?;
            let (at, _) = found.remove();
            let at = at as usize;
            let (_, entry) = self.entries.swap_remove(at);
            if let Some((moved, _)) = self.entries.get(at) {
                let from = self.entries.len() as u32;
                if let Some(slot) = self.positions.find_mut(fold(moved), |&i| i == from) {
                    *slot = at as u32;
                }
            }
            Some(entry)
        }

        /// Keeps the entries `keep` says yes to.
        pub fn retain(&mut self, mut keep: impl FnMut(&BlockHash, &mut BlockEntry) -> bool) {
            let gone: Vec<BlockHash> = self
                .entries
                .iter_mut()
                .filter_map(|(h, e)| (!keep(h, e)).then_some(*h))
                .collect();
            for h in gone {
                self.remove(&h);
            }
        }

        /// Every indexed hash (in the order they were indexed, give or take removals).
        pub fn keys(&self) -> impl Iterator<Item = &BlockHash> + '_ {
            self.entries.iter().map(|(h, _)| h)
        }

        /// Every entry.
        pub fn values(&self) -> impl Iterator<Item = &BlockEntry> + '_ {
            self.entries.iter().map(|(_, e)| e)
        }

        /// Every hash with its entry.
        pub fn iter(&self) -> impl Iterator<Item = (&BlockHash, &BlockEntry)> + '_ {
            self.entries.iter().map(|(h, e)| (h, e))
        }
    }

    impl Index<&BlockHash> for BlockIndex {
        type Output = BlockEntry;

        /// # Panics
        /// If `hash` is not indexed (as a map's index does).
        fn index(&self, hash: &BlockHash) -> &BlockEntry {
            self.get(hash)
                .expect("the chain indexes by hashes it found indexed, as with a map's index")
        }
    }

    impl FromIterator<(BlockHash, BlockEntry)> for BlockIndex {
        fn from_iter<I: IntoIterator<Item = (BlockHash, BlockEntry)>>(iter: I) -> Self {
            let mut index = BlockIndex::new();
            for (h, e) in iter {
                index.insert(h, e);
            }
            index
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::primitives::hash::Hash256;

        fn hash(n: u32) -> BlockHash {
            let mut b = [0u8; 32];
            b[28..].copy_from_slice(&n.to_le_bytes());
            BlockHash::from_hash(Hash256(b))
        }

        fn entry(n: u64) -> BlockEntry {
            BlockEntry {
                height: n,
                chain_work: u128::from(n) + 1,
                prev: hash(n as u32 + 1_000_000),
                timestamp: n * 7,
            }
        }

        #[test]
        fn answers_as_a_map_through_inserts_replacements_and_removals() {
            let mut index = BlockIndex::new();
            let mut model = alloc::collections::BTreeMap::new();
            // A deterministic mix: insert 0..300, replace every 7th, remove every 3rd and
            // the last, then insert some back.
            for n in 0..300u32 {
                assert_eq!(index.insert(hash(n), entry(n.into())), None);
                model.insert(hash(n), entry(n.into()));
            }
            for n in (0..300u32).step_by(7) {
                let replaced = index.insert(hash(n), entry(9_000 + u64::from(n)));
                assert_eq!(replaced, model.insert(hash(n), entry(9_000 + u64::from(n))));
            }
            for n in (0..300u32).step_by(3).chain([299]) {
                assert_eq!(index.remove(&hash(n)), model.remove(&hash(n)));
            }
            assert_eq!(index.remove(&hash(3)), None, "removed once");
            for n in (0..90u32).step_by(9) {
                index.insert(hash(n), entry(n.into()));
                model.insert(hash(n), entry(n.into()));
            }
            assert_eq!(index.len(), model.len());
            for n in 0..310u32 {
                assert_eq!(index.get(&hash(n)), model.get(&hash(n)), "block {n}");
            }
            let mut listed: Vec<_> = index.iter().map(|(h, e)| (*h, *e)).collect();
            listed.sort_by_key(|(h, _)| *h);
            let expected: Vec<_> = model.into_iter().collect();
            assert_eq!(listed, expected);
        }

        #[test]
        fn retain_keeps_exactly_what_it_is_told() {
            let mut index: BlockIndex = (0..50u32).map(|n| (hash(n), entry(n.into()))).collect();
            index.retain(|_, e| e.height % 2 == 0);
            assert_eq!(index.len(), 25);
            assert!((0..50u32).all(|n| index.contains_key(&hash(n)) == (n % 2 == 0)));
        }
    }
}
