//! Transactions waiting for a parent: kept until the output they spend appears, bounded in
//! count, bytes and per sender, and indexed by the parent they wait for so that a parent
//! that arrives retries only its own children.
//!
//! Nothing about an orphan is verified (its inputs are unknown), so the bounds are what keep
//! a peer that sends made-up children from filling memory.

use alloc::vec::Vec;

use crate::primitives::hash::Txid;
use crate::primitives::tx::{OutPoint, Transaction};
use crate::util::keyed_map::KeyedMap;

use super::peers::PeerId;

/// Most transactions kept waiting for their parents.
pub const MAX_ORPHAN_TXS: usize = 500;
/// Orphan transactions kept at most, in bytes: a few hundred typical transactions' worth
/// leaves room for large ones without letting them grow the pool past a couple of megabytes.
pub const MAX_ORPHAN_BYTES: usize = 2 << 20;
/// Orphan transactions one peer may have waiting: a fifth of the pool.
pub const MAX_ORPHANS_PER_PEER: usize = 100;

/// A transaction waiting for a parent.
#[derive(Debug, Clone)]
pub(super) struct OrphanTx {
    pub(super) tx: Transaction,
    pub(super) from: Option<PeerId>,
    /// The input found missing (the first; another may be missing once it comes).
    pub(super) waiting_for: OutPoint,
    /// Encoded bytes.
    size: usize,
}

/// The orphan pool; see the module documentation.
#[derive(Default)]
pub(super) struct OrphanTxs {
    by_id: KeyedMap<Txid, OrphanTx>,
    /// Orphans by the txid of the output they wait for.
    by_parent: KeyedMap<Txid, Vec<Txid>>,
    bytes: usize,
}

impl OrphanTxs {
    /// Whether no orphan waits.
    pub(super) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether `txid` waits here.
    pub(super) fn contains(&self, txid: &Txid) -> bool {
        self.by_id.contains_key(txid)
    }

    /// Keeps `tx`, which waits for `missing`, unless its sender has its share waiting
    /// already; evicts the smallest txids while the pool is full (arbitrary, but no sender
    /// can choose what is evicted without grinding hashes).
    pub(super) fn keep(&mut self, tx: Transaction, from: Option<PeerId>, missing: OutPoint) {
        if from.is_some()
            && self.by_id.values().filter(|o| o.from == from).count() >= MAX_ORPHANS_PER_PEER
        {
            return;
        }
        let txid = tx.txid();
        let size = crate::primitives::codec::encode(&tx).len();
        while !self.by_id.is_empty()
            && (self.by_id.len() >= MAX_ORPHAN_TXS || self.bytes + size > MAX_ORPHAN_BYTES)
        {
            let first = self.by_id.keys().next().copied();
            if let Some(first) = first {
                self.remove(&first);
            }
        }
        self.by_parent.get_or_default(missing.txid).push(txid);
        self.bytes += size;
        self.by_id.insert(
            txid,
            OrphanTx {
                tx,
                from,
                waiting_for: missing,
                size,
            },
        );
    }

    /// Takes `txid` out of the pool.
    pub(super) fn remove(&mut self, txid: &Txid) -> Option<OrphanTx> {
        let orphan = self.by_id.remove(txid)?;
        self.bytes -= orphan.size;
        let parent = orphan.waiting_for.txid;
        if let Some(children) = self.by_parent.get_mut(&parent) {
            children.retain(|c| c != txid);
            if children.is_empty() {
                self.by_parent.remove(&parent);
            }
        }
        Some(orphan)
    }

    /// The orphans waiting for an output of `parent` (they stay in the pool until removed).
    pub(super) fn take_children_of(&mut self, parent: &Txid) -> Option<Vec<Txid>> {
        self.by_parent.remove(parent)
    }

    /// The orphans whose awaited output `exists` says now exists.
    pub(super) fn ready(&self, exists: impl Fn(&OutPoint) -> bool) -> Vec<Txid> {
        self.by_id
            .iter()
            .filter(|(_, o)| exists(&o.waiting_for))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Bytes held.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }

    /// Orphans held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::Hash256;
    use crate::primitives::tx::{TxIn, TxOut};

    fn child(n: u32, parent: Txid) -> Transaction {
        Transaction {
            coinbase: None,
            inputs: alloc::vec![TxIn {
                prev: OutPoint {
                    txid: parent,
                    vout: n
                },
                signature: Vec::new(),
                public_key: Vec::new(),
            }],
            outputs: alloc::vec![TxOut {
                value: u64::from(n),
                pubkey_hash: Default::default(),
            }],
        }
    }

    fn parent(n: u8) -> Txid {
        Txid::from_hash(Hash256([n; 32]))
    }

    #[test]
    fn a_parent_finds_its_children_and_removal_forgets_them() {
        let mut pool = OrphanTxs::default();
        let (a, b) = (child(0, parent(1)), child(1, parent(1)));
        let waits = OutPoint {
            txid: parent(1),
            vout: 0,
        };
        pool.keep(a.clone(), Some(1), waits);
        pool.keep(b.clone(), Some(1), waits);
        assert_eq!(pool.len(), 2);
        pool.remove(&a.txid());
        assert_eq!(
            pool.take_children_of(&parent(1)),
            Some(alloc::vec![b.txid()])
        );
        pool.remove(&b.txid());
        assert!(pool.is_empty());
        assert_eq!(pool.bytes(), 0);
    }

    #[test]
    fn one_peer_fills_at_most_its_share() {
        let mut pool = OrphanTxs::default();
        let waits = OutPoint {
            txid: parent(2),
            vout: 0,
        };
        for n in 0..(MAX_ORPHANS_PER_PEER as u32 + 10) {
            pool.keep(child(n, parent(2)), Some(9), waits);
        }
        assert_eq!(pool.len(), MAX_ORPHANS_PER_PEER);
        pool.keep(child(10_000, parent(2)), Some(8), waits);
        assert_eq!(pool.len(), MAX_ORPHANS_PER_PEER + 1);
    }

    #[test]
    fn a_full_pool_evicts_to_stay_within_its_count() {
        let mut pool = OrphanTxs::default();
        let waits = OutPoint {
            txid: parent(3),
            vout: 0,
        };
        for n in 0..(MAX_ORPHAN_TXS as u32 + 50) {
            pool.keep(child(n, parent(3)), None, waits);
        }
        assert_eq!(pool.len(), MAX_ORPHAN_TXS);
        let children = pool.take_children_of(&parent(3)).unwrap_or_default();
        assert_eq!(children.len(), MAX_ORPHAN_TXS);
    }
}
