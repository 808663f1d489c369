//! The mempool: valid transactions waiting for a block.
//!
//! A transaction enters only if it is valid against the UTXO set plus the outputs of
//! transactions already held (so a payment may spend unconfirmed change), and conflicts with
//! none of them. When the tip moves, confirmed transactions leave, and every remaining one is
//! checked again, so a conflict confirmed by someone else or a reorganisation that removed a
//! parent drops it. Disconnected blocks' transactions come back if still valid.
//!
//! # Cost
//! Everything a peer can make the mempool do is bounded by what it sends:
//! - Intake runs the cheap checks first — already held, structure and size, conflicts, every
//!   input known, room left, keys and amounts — and verifies signatures last, so a flood of
//!   transactions with made-up signatures spending unknown or already-spent outputs costs no
//!   signature check ([`Mempool::signature_checks`] counts them).
//! - A block that only extends the tip removes what it confirmed and what conflicts with it
//!   (with their descendants): work in the size of the block, not of the mempool. Only a
//!   reorganisation, which costs more work than the tip, re-checks everything held.
//! - Arrival order is kept as it happens, so a block template takes what fits in order
//!   without sorting the whole mempool.
//! - It holds at most `max` transactions and [`MAX_MEMPOOL_BYTES`] of them.
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::chain::TipStep;
use crate::consensus::validation::{
    check_inputs, check_transaction, verify_signatures, ValidationError,
};
use crate::primitives::hash::{PubKeyHash, Txid};
use crate::primitives::tx::{OutPoint, Transaction, TxOut};
use crate::util::keyed_map::KeyedMap;
use crate::util::keyed_map::KeyedSet;
use crate::util::ordering;
use crate::utxo::UtxoSet;

/// Bytes of transactions held at most: sixteen full blocks of backlog. The count limit alone
/// would let 100 KB transactions take half a gigabyte of a browser tab.
pub const MAX_MEMPOOL_BYTES: usize = 16 << 20;

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
    size: usize,
}

/// Valid unconfirmed transactions, kept in arrival order (parents before children).
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    txs: KeyedMap<Txid, Entry>,
    spends: KeyedMap<OutPoint, Txid>,
    /// Arrival order as `(seq, txid)`; entries of transactions that left are skipped, and
    /// compacted away once they are half of it.
    order: VecDeque<(u64, Txid)>,
    next_seq: u64,
    max: usize,
    bytes: usize,
    signature_checks: u64,
    checks: u64,
}

impl Mempool {
    /// An empty mempool holding at most `max` transactions.
    pub fn new(max: usize) -> Self {
        Mempool {
            max,
            ..Self::default()
        }
    }

    /// Input signatures verified so far: what peers made this mempool spend on ECDSA.
    pub fn signature_checks(&self) -> u64 {
        self.signature_checks
    }

    /// Transactions checked for entry so far (not counting ones already held): the
    /// mempool's work, for tests and measurements that bound it.
    pub fn transactions_checked(&self) -> u64 {
        self.checks
    }

    /// Encoded bytes of the transactions held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The fee a held transaction pays.
    pub fn fee_of(&self, txid: &Txid) -> Option<u64> {
        self.txs.get(txid).map(|e| e.fee)
    }

    /// Held entries in arrival order.
    fn entries_in_order(&self) -> impl Iterator<Item = (&Txid, &Entry)> + '_ {
        self.order.iter().filter_map(|(seq, txid)| {
            self.txs
                .get(txid)
                .filter(|e| e.seq == *seq)
                .map(|e| (txid, e))
        })
    }

    /// Transactions for a block of at most `budget` bytes of them: held ones in arrival order
    /// (parents before children) up to the first that does not fit, with their total fee.
    /// Work in the number taken, not the number held.
    pub fn select_for_block(&self, budget: usize) -> (Vec<Transaction>, u64) {
        let mut size = 0usize;
        let mut fees = 0u64;
        let mut txs = Vec::new();
        for (_, e) in self.entries_in_order() {
            if size + e.size > budget {
                break;
            }
            size += e.size;
            fees = fees.saturating_add(e.fee);
            txs.push(e.tx.clone());
        }
        (txs, fees)
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
        self.entries_in_order()
            .map(|(_, e)| (&e.tx, e.fee))
            .collect()
    }

    /// Held txids in arrival order.
    pub fn txids(&self) -> Vec<Txid> {
        self.entries_in_order().map(|(id, _)| *id).collect()
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
    ///
    /// Checks run cheapest first and signatures last: a transaction that is held already,
    /// malformed, in conflict, spending an output nobody knows, or arriving at a full mempool
    /// is refused without a single signature check.
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
        self.checks += 1;
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
        let lookup = |op: &OutPoint| utxo.get(op).map(|e| e.output).or_else(|| self.output(op));
        if let Some(missing) = tx.inputs.iter().find(|i| lookup(&i.prev).is_none()) {
            return Err(MempoolError::Invalid(ValidationError::MissingInput(
                missing.prev,
            )));
        }
        let size = crate::primitives::codec::encode(&tx).len();
        if self.txs.len() >= self.max || self.bytes + size > MAX_MEMPOOL_BYTES {
            return Err(MempoolError::Full(self.max));
        }
        // Keys and amounts, still without signatures.
        let fee = check_inputs(&tx, lookup, false).map_err(MempoolError::Invalid)?;
        if verify_signatures {
            self.signature_checks += tx.inputs.len() as u64;
            verify_signatures_of(&tx).map_err(MempoolError::Invalid)?;
        }
        for input in &tx.inputs {
            self.spends.insert(input.prev, txid);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.txs.insert(txid, Entry { tx, fee, seq, size });
        self.bytes += size;
        self.order.push_back((seq, txid));
        Ok(txid)
    }

    /// Follows a tip change: confirmed transactions leave, disconnected ones come back, and
    /// whatever is no longer valid against the new `utxo` is dropped.
    ///
    /// Blocks that only extend the tip cost work in their own size: what they confirm
    /// leaves, and what spends an output they spent leaves with everything built on it; every
    /// other held transaction stays valid (its inputs are untouched or now confirmed). A
    /// reorganisation re-checks everything, and the transactions of disconnected blocks come
    /// back only with their signatures checked, as any transaction entering the mempool: a
    /// block connected without signature checks (assume-valid) vouches for nothing here.
    /// Blocks whose signatures were checked when they connected (`signatures_checked`) need
    /// no second check: a signature's validity depends only on the transaction's bytes.
    pub fn update_for_tip_change(
        &mut self,
        steps: &[TipStep],
        utxo: &UtxoSet,
        signatures_checked: impl Fn(&crate::primitives::hash::BlockHash) -> bool,
    ) -> TipUpdate {
        if steps.iter().all(|s| matches!(s, TipStep::Connected(_))) {
            let mut dropped = Vec::new();
            if self.txs.is_empty() {
                return TipUpdate::default();
            }
            for step in steps {
                let TipStep::Connected(block) = step else {
                    continue;
                };
                for tx in &block.transactions {
                    let id = tx.txid();
                    if self.txs.contains_key(&id) {
                        self.remove(&id);
                        continue;
                    }
                    for input in &tx.inputs {
                        if let Some(holder) = self.spends.get(&input.prev).copied() {
                            self.remove_with_descendants(holder, &mut dropped);
                        }
                    }
                }
            }
            return TipUpdate {
                dropped,
                returned: Vec::new(),
            };
        }
        let mut confirmed: KeyedSet<Txid> = KeyedSet::new();
        // Disconnected blocks come tip first; their transactions return oldest block first,
        // so parents are re-added before their children.
        let mut disconnected = Vec::new();
        for step in steps {
            match step {
                TipStep::Connected(block) => {
                    for tx in &block.transactions {
                        confirmed.insert(tx.txid());
                    }
                }
                TipStep::Disconnected(block) => disconnected.push(block),
            }
        }
        let returning: Vec<(Transaction, bool)> = disconnected
            .iter()
            .rev()
            .flat_map(|b| {
                let verify = !signatures_checked(&b.hash());
                b.transactions.iter().skip(1).map(move |t| (t, verify))
            })
            .filter(|(t, _)| !confirmed.contains(&t.txid()))
            .map(|(t, verify)| (t.clone(), verify))
            .collect();
        // Re-check everything against the new set, oldest first, with the returning
        // transactions ahead of the ones that were only in the mempool.
        let held: Vec<Entry> = core::mem::take(&mut self.txs).into_values().collect();
        let held = ordering::sorted_by_key(held, |e| e.seq);
        self.spends.clear();
        self.order.clear();
        self.bytes = 0;
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
            if confirmed.contains(&id) {
                continue;
            }
            if let Err(err) = self.accept_checked(e.tx, utxo, false) {
                if !matches!(err, MempoolError::AlreadyKnown(_)) {
                    dropped.push(id);
                }
            }
        }
        TipUpdate { dropped, returned }
    }

    /// Removes `txid` and every held transaction built on it, listing them in `dropped`.
    fn remove_with_descendants(&mut self, txid: Txid, dropped: &mut Vec<Txid>) {
        let mut work = alloc::vec![txid];
        while let Some(id) = work.pop() {
            let Some(outputs) = self.txs.get(&id).map(|e| e.tx.outputs.len()) else {
                continue;
            };
            for vout in 0..outputs as u32 {
                if let Some(child) = self.spends.get(&OutPoint { txid: id, vout }) {
                    work.push(*child);
                }
            }
            self.remove(&id);
            dropped.push(id);
        }
    }

    fn remove(&mut self, txid: &Txid) {
        if let Some(e) = self.txs.remove(txid) {
            for input in &e.tx.inputs {
                self.spends.remove(&input.prev);
            }
            self.bytes -= e.size;
        }
        // Left entries are skipped by readers; drop them once they are half the record.
        if self.order.len() > 2 * self.txs.len() + 64 {
            let txs = &self.txs;
            self.order
                .retain(|(seq, id)| txs.get(id).is_some_and(|e| e.seq == *seq));
        }
    }
}

/// Every input signature of `tx`.
fn verify_signatures_of(tx: &Transaction) -> Result<(), ValidationError> {
    verify_signatures(tx).map(|_| ())
}
