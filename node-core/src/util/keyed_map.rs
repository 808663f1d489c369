//! Ordered maps and sets keyed by hashes or outpoints, sharing one B-tree per key kind.
//!
//! The node keeps a dozen ordered maps keyed by block hashes, txids and outpoints, each with
//! its own value type. A `BTreeMap<K, V>` is compiled anew for every `(K, V)` pair, about
//! 6 KB of wasm each, which made B-tree code the largest part of a browser tab's module.
//! [`KeyedMap`] stores values in a slab and keeps only `raw key → slot` in a `BTreeMap`
//! whose types depend on neither the value nor the key: every map, keyed by a hash, an
//! outpoint or an announced item, shares one B-tree instance over [`RawKey`]. Iteration
//! stays in key order, as with `BTreeMap`, so nothing that depends on order changes.
//!
//! # Usage
//! ```
//! # use node_core::util::keyed_map::KeyedMap;
//! # use node_core::{BlockHash, Hash256};
//! let mut m: KeyedMap<BlockHash, &str> = KeyedMap::new();
//! m.insert(BlockHash::from_hash(Hash256([2; 32])), "b");
//! m.insert(BlockHash::from_hash(Hash256([1; 32])), "a");
//! assert_eq!(m.values().copied().collect::<Vec<_>>(), ["a", "b"]);
//! assert_eq!(m.remove(&BlockHash::from_hash(Hash256([2; 32]))), Some("b"));
//! ```

use alloc::collections::btree_map::{self, BTreeMap};
use alloc::vec::Vec;
use core::fmt;
use core::ops::Index;

use crate::primitives::hash::{BlockHash, Hash256, Txid};
use crate::primitives::tx::OutPoint;

/// A key stored in the shared index as its raw form. Maps iterate in raw order, which is
/// the key's own order for hashes and outpoints (an announced item orders by hash, then kind).
pub trait MapKey: Copy + Ord {
    /// The key's raw form.
    fn raw(&self) -> RawKey;
}

/// Every key's raw form: 36 bytes, a hash followed by four zero bytes or an outpoint's txid
/// followed by its output index, held as big-endian words so that comparing the words is
/// comparing the bytes: byte order is the key's order. One raw type means one B-tree
/// instance in the page module for every map, whatever its key (a B-tree instance is ~3 KB
/// of the gzipped module). Words rather than bytes because a B-tree compares keys a few
/// dozen times per lookup: byte-slice comparisons were half of a tab's 100,000-block load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawKey {
    words: [u64; 4],
    tail: u32,
}

impl RawKey {
    fn of(hash: &Hash256, tail: u32) -> RawKey {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&hash.0[i * 8..i * 8 + 8]);
            u64::from_be_bytes(w)
        };
        RawKey {
            words: [word(0), word(1), word(2), word(3)],
            tail,
        }
    }
}

impl MapKey for Hash256 {
    fn raw(&self) -> RawKey {
        RawKey::of(self, 0)
    }
}

impl MapKey for BlockHash {
    fn raw(&self) -> RawKey {
        RawKey::of(&self.to_hash(), 0)
    }
}

impl MapKey for Txid {
    fn raw(&self) -> RawKey {
        RawKey::of(&self.to_hash(), 0)
    }
}

impl MapKey for OutPoint {
    fn raw(&self) -> RawKey {
        RawKey::of(&self.txid.to_hash(), self.vout)
    }
}

/// An ordered map from `K` to `V`: a slab of entries with a `raw key → slot` B-tree. The
/// slab has no holes: a removal moves the last entry into the freed slot, so the map never
/// holds more slots than entries and needs no compaction (code compiled for every value
/// type: it was 6 KB of the page module).
#[derive(Clone)]
pub struct KeyedMap<K: MapKey, V> {
    index: BTreeMap<RawKey, u32>,
    slots: Vec<Option<(K, V)>>,
}

impl<K: MapKey, V> Default for KeyedMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: MapKey, V> KeyedMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        KeyedMap {
            index: BTreeMap::new(),
            slots: Vec::new(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot(&self, i: u32) -> Option<&(K, V)> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &K) -> bool {
        self.index.contains_key(&key.raw())
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        let i = *self.index.get(&key.raw())?;
        self.slot(i).map(|(_, v)| v)
    }

    /// The value of `key`, to change in place.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = *self.index.get(&key.raw())?;
        self.slots
            .get_mut(i as usize)
            .and_then(Option::as_mut)
            .map(|(_, v)| v)
    }

    /// Sets the value of `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(v) = self.get_mut(&key) {
            return Some(core::mem::replace(v, value));
        }
        let i = self.vacant_slot();
        self.slots[i as usize] = Some((key, value));
        self.index.insert(key.raw(), i);
        None
    }

    /// A new slot at the end of the slab.
    fn vacant_slot(&mut self) -> u32 {
        self.slots.push(None);
        // A map holds far fewer than 2³² entries; the node's own limits bound them.
        (self.slots.len() - 1) as u32
    }

    /// Removes `key`'s entry; returns its value. The last entry moves into its slot.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.index.remove(&key.raw())?;
        if i as usize >= self.slots.len() {
            return None;
        }
        let entry = self.slots.swap_remove(i as usize);
        // Re-pointed even when the removed slot was empty (a `make` that panicked).
        if let Some(Some((moved, _))) = self.slots.get(i as usize) {
            if let Some(slot) = self.index.get_mut(&moved.raw()) {
                *slot = i;
            }
        }
        entry.map(|(_, v)| v)
    }

    /// The value of `key`, inserting `make()` first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.get(&key.raw()) {
            Some(&i) => i,
            None => {
                let i = self.vacant_slot();
                self.index.insert(key.raw(), i);
                i
            }
        };
        // An indexed slot is full, so `make` only runs for the slot just taken.
        &mut self.slots[i as usize]
            .get_or_insert_with(|| (key, make()))
            .1
    }

    /// The value of `key`, inserting the default first if there is none.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.get_or_insert_with(key, V::default)
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            order: self.index.values(),
            slots: &self.slots,
        }
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The entry with the smallest key.
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.iter().next()
    }

    /// Keeps the entries `keep` says yes to, visiting them in key order.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let mut gone = Vec::new();
        for &i in self.index.values() {
            if let Some((k, v)) = self.slots.get_mut(i as usize).and_then(Option::as_mut) {
                if !keep(k, v) {
                    gone.push(*k);
                }
            }
        }
        for k in gone {
            self.remove(&k);
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
    }

    /// The values in key order, consuming the map.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> {
        self.into_iter().map(|(_, v)| v)
    }
}

/// The entries of a [`KeyedMap`] in key order.
pub struct Iter<'a, K: MapKey, V> {
    order: btree_map::Values<'a, RawKey, u32>,
    slots: &'a [Option<(K, V)>],
}

impl<'a, K: MapKey, V> Iter<'a, K, V> {
    fn entry(&self, i: u32) -> Option<(&'a K, &'a V)> {
        let slots: &'a [Option<(K, V)>] = self.slots;
        slots
            .get(i as usize)
            .and_then(Option::as_ref)
            .map(|(k, v)| (k, v))
    }
}

impl<'a, K: MapKey, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        // Every indexed slot is full, so this never skips.
        let i = *self.order.next()?;
        self.entry(i)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.order.size_hint()
    }
}

impl<K: MapKey, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let i = *self.order.next_back()?;
        self.entry(i)
    }
}

impl<'a, K: MapKey, V> IntoIterator for &'a KeyedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, K: MapKey> IntoIterator for &'a KeyedSet<K> {
    type Item = &'a K;
    type IntoIter = core::iter::Map<Iter<'a, K, ()>, fn((&'a K, &'a ())) -> &'a K>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.iter().map(|(k, _)| k)
    }
}

impl<K: MapKey, V> IntoIterator for KeyedMap<K, V> {
    type Item = (K, V);
    type IntoIter = alloc::vec::IntoIter<(K, V)>;

    /// The entries in key order, consuming the map.
    fn into_iter(self) -> Self::IntoIter {
        let mut slots = self.slots;
        let mut out = Vec::with_capacity(self.index.len());
        for i in self.index.into_values() {
            if let Some(entry) = slots.get_mut(i as usize).and_then(Option::take) {
                out.push(entry);
            }
        }
        out.into_iter()
    }
}

impl<K: MapKey, V> Extend<(K, V)> for KeyedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, items: I) {
        for (k, v) in items {
            self.insert(k, v);
        }
    }
}

impl<K: MapKey, V> FromIterator<(K, V)> for KeyedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(items: I) -> Self {
        let mut m = Self::new();
        m.extend(items);
        m
    }
}

impl<K: MapKey, V> Index<&K> for KeyedMap<K, V> {
    type Output = V;

    /// The value of a key the caller knows is there, as `BTreeMap`'s index does.
    fn index(&self, key: &K) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no entry for a key the map was indexed with"),
        }
    }
}

impl<K: MapKey, V: PartialEq> PartialEq for KeyedMap<K, V> {
    /// Equal when they hold the same entries (slab layout aside).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: MapKey, V: Eq> Eq for KeyedMap<K, V> {}

impl<K: MapKey + fmt::Debug, V: fmt::Debug> fmt::Debug for KeyedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// An ordered set of `K`, sharing the B-tree instance of the maps with the same key kind.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyedSet<K: MapKey> {
    map: KeyedMap<K, ()>,
}

/// Empty, whatever the key (a derive would ask `K: Default`, which hashes are not).
impl<K: MapKey> Default for KeyedSet<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: MapKey> KeyedSet<K> {
    /// An empty set.
    pub const fn new() -> Self {
        KeyedSet {
            map: KeyedMap::new(),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds `key`; returns whether it was new.
    pub fn insert(&mut self, key: K) -> bool {
        self.map.insert(key, ()).is_none()
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&mut self, key: &K) -> bool {
        self.map.remove(key).is_some()
    }

    /// Whether `key` is a member.
    pub fn contains(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    /// Members in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &K> + '_ {
        self.map.keys()
    }

    /// Keeps the members `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.map.retain(|k, _| keep(k));
    }

    /// Removes every member.
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

impl<K: MapKey> Extend<K> for KeyedSet<K> {
    fn extend<I: IntoIterator<Item = K>>(&mut self, items: I) {
        for k in items {
            self.insert(k);
        }
    }
}

impl<K: MapKey> FromIterator<K> for KeyedSet<K> {
    fn from_iter<I: IntoIterator<Item = K>>(items: I) -> Self {
        let mut s = Self::new();
        s.extend(items);
        s
    }
}

impl<K: MapKey> IntoIterator for KeyedSet<K> {
    type Item = K;
    type IntoIter = core::iter::Map<alloc::vec::IntoIter<(K, ())>, fn((K, ())) -> K>;

    /// The members in order, consuming the set.
    fn into_iter(self) -> Self::IntoIter {
        self.map.into_iter().map(|(k, ())| k)
    }
}

impl<K: MapKey + fmt::Debug> fmt::Debug for KeyedSet<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn raw_keys_order_as_their_keys_do() {
        use crate::primitives::hash::{Hash256, Txid};
        use crate::primitives::tx::OutPoint;
        let hashes = [[0u8; 32], [1; 32], [0xff; 32], {
            let mut h = [0u8; 32];
            h[31] = 1;
            h
        }];
        let mut points = Vec::new();
        for h in hashes {
            for vout in [0u32, 1, 255, 256, u32::MAX] {
                points.push(OutPoint {
                    txid: Txid::from_hash(Hash256(h)),
                    vout,
                });
            }
        }
        for a in &points {
            for b in &points {
                assert_eq!(a.cmp(b), a.raw().cmp(&b.raw()), "{a:?} {b:?}");
                assert_eq!(
                    a.txid.to_hash().cmp(&b.txid.to_hash()),
                    a.txid.to_hash().raw().cmp(&b.txid.to_hash().raw())
                );
            }
        }
    }

    use super::*;
    use alloc::collections::BTreeSet;

    fn key(n: u8) -> BlockHash {
        let mut b = [0u8; 32];
        b[0] = n;
        BlockHash::from_hash(Hash256(b))
    }

    #[test]
    fn behaves_like_a_btree_map_under_churn() {
        let mut ours: KeyedMap<BlockHash, u32> = KeyedMap::new();
        let mut model: BTreeMap<BlockHash, u32> = BTreeMap::new();
        // A fixed pseudo-random walk of inserts, replaces and removes, moving entries around.
        let mut x = 12345u32;
        for step in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let k = key((x >> 16) as u8);
            match x % 3 {
                0 => assert_eq!(ours.remove(&k), model.remove(&k)),
                _ => assert_eq!(ours.insert(k, step), model.insert(k, step)),
            }
            assert_eq!(ours.len(), model.len());
        }
        assert!(ours.iter().eq(model.iter()));
        assert!(ours.iter().rev().eq(model.iter().rev()));
        assert_eq!(ours.get(&key(7)), model.get(&key(7)));
        ours.retain(|k, v| {
            *v += 1;
            k.to_hash().0[0] % 2 == 0
        });
        model.retain(|k, v| {
            *v += 1;
            k.to_hash().0[0] % 2 == 0
        });
        assert!(ours.clone().into_iter().eq(model.clone()));
        assert_eq!(ours.first_key_value(), model.first_key_value());
    }

    #[test]
    fn removals_keep_every_entry_reachable() {
        let mut m: KeyedMap<BlockHash, u8> = KeyedMap::new();
        for n in 0..=255u8 {
            m.insert(key(n), n);
        }
        for n in 0..250u8 {
            m.remove(&key(n));
        }
        assert!(m.slots.len() < 256, "the slab holds no holes");
        assert_eq!(m.len(), 6);
        for n in 250..=255u8 {
            assert_eq!(m[&key(n)], n);
        }
        m.insert(key(1), 1);
        assert_eq!(m.keys().next(), Some(&key(1)));
    }

    #[test]
    fn get_or_default_inserts_once() {
        let mut m: KeyedMap<BlockHash, Vec<u8>> = KeyedMap::new();
        m.get_or_default(key(3)).push(1);
        m.get_or_default(key(3)).push(2);
        assert_eq!(m.get(&key(3)), Some(&alloc::vec![1, 2]));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn sets_match_btree_sets() {
        let items = [5u8, 1, 5, 9, 0, 1];
        let ours: KeyedSet<BlockHash> = items.iter().map(|&n| key(n)).collect();
        let model: BTreeSet<BlockHash> = items.iter().map(|&n| key(n)).collect();
        assert!(ours.iter().eq(model.iter()));
        assert_eq!(ours.len(), 4);
        assert!(ours.contains(&key(9)) && !ours.contains(&key(2)));
        assert!(ours.into_iter().eq(model));
    }
}
