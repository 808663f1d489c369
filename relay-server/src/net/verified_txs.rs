//! Transactions whose signatures a connection task has already checked, by txid.
//!
//! Connection tasks check a `tx`'s signatures before the hub sees it (in parallel, see
//! [`crate::peer_conn`]). The same transaction arrives from many peers — every relay and
//! tab announces what it accepts — and a flood of copies of one valid transaction cost one
//! full signature check each, the most expensive thing the relay does per frame, before
//! any cheap check. A txid is the hash of the whole transaction, signatures included, so a
//! txid whose signatures held once holds them for every copy: it is looked up first.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use node_core::{Transaction, Txid};

/// Txids remembered: more than a full mempool's worth of recent transactions (5,000), at
/// 32 bytes each.
pub const REMEMBERED: usize = 8_192;

/// Recently verified txids, oldest forgotten first.
#[derive(Default)]
pub struct VerifiedTxs {
    inner: Mutex<(HashSet<Txid>, VecDeque<Txid>)>,
}

impl VerifiedTxs {
    /// The txid of `tx` if every input signature holds (remembered, or checked now); the
    /// reason if one does not.
    pub fn check(&self, tx: &Transaction) -> Result<Txid, node_core::ValidationError> {
        let txid = tx.txid();
        if self.contains(&txid) {
            return Ok(txid);
        }
        let verified = node_core::consensus::validation::verify_signatures(tx)?;
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.0.insert(verified) {
            inner.1.push_back(verified);
            if inner.1.len() > REMEMBERED {
                if let Some(old) = inner.1.pop_front() {
                    inner.0.remove(&old);
                }
            }
        }
        Ok(verified)
    }

    /// Whether `txid` was verified recently.
    pub fn contains(&self, txid: &Txid) -> bool {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.0.contains(txid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::{KeyPair, OutPoint, PubKeyHash, TxOut};
    use rand_core::OsRng;

    fn payment(key: &KeyPair, n: u8) -> Transaction {
        let coin = OutPoint {
            txid: Txid::from_hash(node_core::Hash256([n; 32])),
            vout: 0,
        };
        let out = TxOut {
            value: 1,
            pubkey_hash: PubKeyHash([n; 20]),
        };
        Transaction::new_signed(key, &[coin], vec![out])
    }

    #[test]
    fn a_valid_transaction_is_remembered_a_forged_one_never() {
        let cache = VerifiedTxs::default();
        let key = KeyPair::generate(&mut OsRng);
        let good = payment(&key, 1);
        assert_eq!(cache.check(&good), Ok(good.txid()));
        assert!(cache.contains(&good.txid()));
        let mut forged = payment(&key, 2);
        forged.inputs[0].signature[5] ^= 1;
        assert!(cache.check(&forged).is_err());
        assert!(!cache.contains(&forged.txid()));
    }

    #[test]
    fn the_oldest_are_forgotten_past_the_bound() {
        let cache = VerifiedTxs::default();
        let key = KeyPair::generate(&mut OsRng);
        let first = payment(&key, 0);
        let _ = cache.check(&first);
        let mut inner = cache.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for n in 0..REMEMBERED as u64 {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&n.to_be_bytes());
            id[31] = 0xee;
            inner.0.insert(Txid::from_hash(node_core::Hash256(id)));
            inner.1.push_back(Txid::from_hash(node_core::Hash256(id)));
        }
        drop(inner);
        let _ = cache.check(&payment(&key, 3));
        let inner = cache.inner.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(!inner.0.contains(&first.txid()), "the oldest made way");
        assert!(inner.1.len() <= REMEMBERED + 1);
    }
}
