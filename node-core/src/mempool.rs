//! The mempool: valid transactions waiting for a block.
//!
//! A transaction enters only if it is valid against the UTXO set plus the outputs of
//! transactions already held (so a payment may spend unconfirmed change), and conflicts with
//! none of them. When the tip moves, confirmed transactions leave, and every remaining one is
//! checked again, so a conflict confirmed by someone else or a reorganisation that removed a
//! parent drops it. Disconnected blocks' transactions come back if still valid.
use alloc::vec::Vec;
use core::fmt;

use crate::chain::TipStep;
use crate::hash::{PubKeyHash, Txid};
use crate::keyed_map::KeyedMap;
use crate::ordering;
use crate::tx::{OutPoint, Transaction, TxOut};
use crate::utxo::UtxoSet;
use crate::validation::{check_inputs, check_transaction, ValidationError};

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MempoolError {
    /// It is already held.
    AlreadyKnown(Txid),
    /// It breaks a consensus rule.
    Invalid(ValidationError),
    /// It spends an output that a held transaction already spends.
    Conflict {
        /// The output both spend.
        outpoint: OutPoint,
        /// The transaction already holding it.
        with: Txid,
    },
    /// The mempool is at its size limit.
    Full(usize),
}

impl fmt::Display for MempoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MempoolError::AlreadyKnown(id) => {
                write!(f, "transaction {id} is already in the mempool")
            }
            MempoolError::Invalid(e) => write!(f, "invalid transaction: {e}"),
            MempoolError::Conflict { outpoint, with } => write!(
                f,
                "output {}:{} is already spent by mempool transaction {with}",
                outpoint.txid, outpoint.vout
            ),
            MempoolError::Full(n) => write!(f, "mempool is full ({n} transactions)"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MempoolError {}

/// What a tip change did to the mempool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TipUpdate {
    /// Transactions no longer valid on the new chain (not the confirmed ones), including
    /// disconnected ones that cannot come back.
    pub dropped: Vec<Txid>,
    /// Transactions of disconnected blocks that are waiting again: peers that only saw them
    /// in a block must be told.
    pub returned: Vec<Txid>,
}

#[derive(Debug, Clone)]
struct Entry {
    tx: Transaction,
    fee: u64,
    seq: u64,
}

/// Valid unconfirmed transactions, kept in arrival order (parents before children).
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    txs: KeyedMap<Txid, Entry>,
    spends: KeyedMap<OutPoint, Txid>,
    next_seq: u64,
    max: usize,
}

impl Mempool {
    /// An empty mempool holding at most `max` transactions.
    pub fn new(max: usize) -> Self {
        Mempool {
            max,
            ..Self::default()
        }
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Whether `txid` is held.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.txs.contains_key(txid)
    }

    /// A held transaction.
    pub fn get(&self, txid: &Txid) -> Option<&Transaction> {
        self.txs.get(txid).map(|e| &e.tx)
    }

    /// Which held transaction spends `outpoint`, if any.
    pub fn spender_of(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    /// The output `outpoint` names, if a held transaction created it.
    pub fn output(&self, outpoint: &OutPoint) -> Option<TxOut> {
        self.txs
            .get(&outpoint.txid)
            .and_then(|e| e.tx.outputs.get(outpoint.vout as usize))
            .copied()
    }

    /// Held transactions in arrival order with their fees.
    pub fn in_order(&self) -> Vec<(&Transaction, u64)> {
        let v: Vec<&Entry> = self.txs.values().collect();
        ordering::sorted_by_key(v, |e| e.seq)
            .into_iter()
            .map(|e| (&e.tx, e.fee))
            .collect()
    }

    /// Held txids in arrival order.
    pub fn txids(&self) -> Vec<Txid> {
        let v: Vec<(&Txid, &Entry)> = self.txs.iter().collect();
        ordering::sorted_by_key(v, |(_, e)| e.seq)
            .into_iter()
            .map(|(id, _)| *id)
            .collect()
    }

    /// Unconfirmed outputs paying `owner` that no held transaction spends.
    pub fn unspent_outputs_of(&self, owner: &PubKeyHash) -> Vec<(OutPoint, TxOut)> {
        let mut out = Vec::new();
        for (txid, e) in &self.txs {
            for (vout, o) in e.tx.outputs.iter().enumerate() {
                let op = OutPoint {
                    txid: *txid,
                    vout: vout as u32,
                };
                if o.pubkey_hash == *owner && !self.spends.contains_key(&op) {
                    out.push((op, *o));
                }
            }
        }
        out
    }

    /// Validates `tx` against `utxo` plus held transactions and adds it.
    pub fn accept(&mut self, tx: Transaction, utxo: &UtxoSet) -> Result<Txid, MempoolError> {
        self.accept_checked(tx, utxo, true)
    }

    /// `accept`, optionally trusting signatures checked before: a signature's validity
    /// depends only on the transaction's bytes (which its txid fixes) and the public key, which
    /// is still matched to the spent output here.
    pub fn accept_checked(
        &mut self,
        tx: Transaction,
        utxo: &UtxoSet,
        verify_signatures: bool,
    ) -> Result<Txid, MempoolError> {
        let txid = tx.txid();
        if self.txs.contains_key(&txid) {
            return Err(MempoolError::AlreadyKnown(txid));
        }
        if tx.is_coinbase() {
            return Err(MempoolError::Invalid(ValidationError::CoinbaseOutsideBlock));
        }
        check_transaction(&tx).map_err(MempoolError::Invalid)?;
        for input in &tx.inputs {
            if let Some(with) = self.spends.get(&input.prev) {
                return Err(MempoolError::Conflict {
                    outpoint: input.prev,
                    with: *with,
                });
            }
        }
        let fee = check_inputs(
            &tx,
            |op| utxo.get(op).map(|e| e.output).or_else(|| self.output(op)),
            verify_signatures,
        )
        .map_err(MempoolError::Invalid)?;
        if self.txs.len() >= self.max {
            return Err(MempoolError::Full(self.max));
        }
        for input in &tx.inputs {
            self.spends.insert(input.prev, txid);
        }
        self.txs.insert(
            txid,
            Entry {
                tx,
                fee,
                seq: self.next_seq,
            },
        );
        self.next_seq += 1;
        Ok(txid)
    }

    /// Follows a tip change: confirmed transactions leave, disconnected ones come back, and
    /// whatever is no longer valid against the new `utxo` is dropped.
    ///
    /// A transaction enters a mempool only fully checked: those of a disconnected block
    /// whose signatures were never checked (`signatures_checked` false: it was connected
    /// under assume-valid) have them checked now. Held ones were checked when they came.
    pub fn update_for_tip_change(
        &mut self,
        steps: &[TipStep],
        utxo: &UtxoSet,
        signatures_checked: impl Fn(&crate::hash::BlockHash) -> bool,
    ) -> TipUpdate {
        // Blocks only added to an empty mempool (a download): nothing to remove or re-check.
        if self.txs.is_empty() && steps.iter().all(|s| matches!(s, TipStep::Connected(_))) {
            return TipUpdate::default();
        }
        let mut returning = Vec::new();
        for step in steps {
            match step {
                TipStep::Connected(block) => {
                    for tx in &block.transactions {
                        let id = tx.txid();
                        self.remove(&id);
                        returning.retain(|(t, _): &(Transaction, bool)| t.txid() != id);
                    }
                }
                TipStep::Disconnected(block) => {
                    // Blocks leave tip first; put each one's transactions ahead of the later
                    // blocks' so parents are re-added before their children.
                    let verify = !signatures_checked(&block.hash());
                    returning.splice(
                        0..0,
                        block
                            .transactions
                            .iter()
                            .skip(1)
                            .map(|t| (t.clone(), verify)),
                    );
                }
            }
        }
        // Re-check everything against the new set, oldest first, with the returning
        // transactions ahead of the ones that were only in the mempool.
        let held: Vec<Entry> = core::mem::take(&mut self.txs).into_values().collect();
        let held = ordering::sorted_by_key(held, |e| e.seq);
        self.spends.clear();
        let mut dropped = Vec::new();
        let mut returned = Vec::new();
        for (tx, verify) in returning {
            let id = tx.txid();
            match self.accept_checked(tx, utxo, verify) {
                Ok(_) => returned.push(id),
                Err(MempoolError::AlreadyKnown(_)) => {}
                Err(_) => {
                    // It was confirmed on the old branch and cannot be on the new one (it
                    // spends a coinbase or a conflict the new branch replaced).
                    dropped.push(id);
                }
            }
        }
        for e in held {
            let id = e.tx.txid();
            if let Err(err) = self.accept_checked(e.tx, utxo, false) {
                if !matches!(err, MempoolError::AlreadyKnown(_)) {
                    dropped.push(id);
                }
            }
        }
        TipUpdate { dropped, returned }
    }

    fn remove(&mut self, txid: &Txid) {
        if let Some(e) = self.txs.remove(txid) {
            for input in &e.tx.inputs {
                self.spends.remove(&input.prev);
            }
        }
    }
}
