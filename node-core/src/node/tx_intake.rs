//! Transactions coming in: asking peers for the ones they announce, taking them into the
//! mempool (or the orphan pool while a parent is missing), and local payments.
//!
//! What costs nothing is checked first — held, refused lately, already waiting — and the
//! mempool runs its cheap checks before any signature, so a flood of made-up transactions
//! costs no ECDSA. Requests are bounded per peer and in all, and forgotten after the stall
//! timeout, so one peer announcing transactions it never sends cannot stop the others'.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;

use crate::consensus::validation::ValidationError;
use crate::mempool::MempoolError;
use crate::primitives::hash::{BlockHash, PubKeyHash, Txid};
use crate::primitives::keys::KeyPair;
use crate::primitives::tx::{OutPoint, Transaction};
use crate::protocol::{InvItem, Message, MAX_INV_ITEMS};
use crate::util::keyed_map::{KeyedMap, KeyedSet};
use crate::wallet::{self, WalletError};

use super::orphan_txs::{OrphanTxs, MAX_ORPHAN_TXS};
use super::peers::{PeerId, RecentSet};
use super::{score, Node, Notification};

/// Transaction requests outstanding at most, in all: they are forgotten after the stall
/// timeout.
pub const MAX_TX_REQUESTS: usize = 50_000;
/// Transaction requests outstanding with one peer at most: a full mempool's worth.
pub const MAX_TX_REQUESTS_PER_PEER: usize = 5_000;
/// Transactions refused lately, remembered so that a peer repeating one costs a lookup,
/// not a validation: several full mempools' worth.
const RECENT_REJECTS_CAP: usize = 10_000;
/// Transactions whose signatures the shell checked ahead, remembered until they arrive:
/// room for the shell to run well ahead of the node.
const VERIFIED_SIGNATURES_CAP: usize = 20_000;

/// Why a local payment failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No chain yet: connect to a relay first.
    NoChain,
    /// The wallet could not build it.
    Wallet(WalletError),
    /// The mempool refused it.
    Rejected(MempoolError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NoChain => write!(f, "no blockchain yet: connect to a node to download it"),
            SendError::Wallet(e) => write!(f, "{e}"),
            SendError::Rejected(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}

/// The intake's own state.
pub(super) struct TxIntake {
    /// Transactions requested, from whom and when.
    requested: KeyedMap<Txid, (PeerId, u64)>,
    recent_rejects: RecentSet<Txid>,
    /// Transactions whose signatures the shell already checked (in parallel, off this task).
    verified_signatures: RecentSet<Txid>,
    /// Transactions whose inputs we have not seen yet (their parent is still on its way).
    pub(super) orphans: OrphanTxs,
    /// Transactions accepted since orphans were last retried.
    arrived: Vec<Txid>,
    /// The tip when orphans were last checked against the UTXO set.
    orphans_checked_at: Option<BlockHash>,
}

impl Default for TxIntake {
    fn default() -> Self {
        TxIntake {
            requested: KeyedMap::new(),
            recent_rejects: RecentSet::new(RECENT_REJECTS_CAP),
            verified_signatures: RecentSet::new(VERIFIED_SIGNATURES_CAP),
            orphans: OrphanTxs::default(),
            arrived: Vec::new(),
            orphans_checked_at: None,
        }
    }
}

impl TxIntake {
    /// Forgets every request `peer` was answering: whoever announces them next is asked.
    pub(super) fn release(&mut self, peer: PeerId) {
        self.requested.retain(|_, (p, _)| *p != peer);
    }
}

impl Node {
    /// Most transactions kept waiting for their parents.
    pub const MAX_ORPHAN_TXS: usize = MAX_ORPHAN_TXS;

    /// The transactions of an `inv` from `id`: asks for the ones we want, each once,
    /// within the request bounds. Fetched even before we have the chain they spend from:
    /// they wait with the orphans and enter the mempool once the sync brought their inputs.
    pub(super) fn request_announced_txs(&mut self, id: PeerId, txs: &[Txid]) {
        let Node {
            peers,
            txs: intake,
            mempool,
            out,
            now,
            ..
        } = self;
        let Some(p) = peers.get_mut(&id) else {
            return;
        };
        let room = MAX_TX_REQUESTS_PER_PEER
            .saturating_sub(p.tx_requests)
            .min(MAX_TX_REQUESTS.saturating_sub(intake.requested.len()));
        let mut wanted: Vec<Txid> = Vec::new();
        let mut asking: KeyedSet<Txid> = KeyedSet::new();
        for t in txs {
            let fresh = !mempool.contains(t)
                && !intake.recent_rejects.contains(t)
                && !intake.requested.contains_key(t)
                && !intake.orphans.contains(t);
            if fresh && asking.insert(*t) {
                wanted.push(*t);
            }
        }
        wanted.truncate(room);
        if wanted.is_empty() {
            return;
        }
        for t in &wanted {
            intake.requested.insert(*t, (id, *now));
        }
        p.tx_requests += wanted.len();
        out.send(
            id,
            &Message::GetData(wanted.into_iter().map(InvItem::Tx).collect()),
        );
    }

    /// A transaction request is over (answered, refused, or expired): it no longer counts
    /// against the peer asked.
    pub(super) fn tx_request_done(&mut self, txid: &Txid) {
        if let Some((peer, _)) = self.txs.requested.remove(txid) {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.tx_requests = p.tx_requests.saturating_sub(1);
            }
        }
    }

    /// Forgets requests older than the stall timeout.
    pub(super) fn expire_tx_requests(&mut self) {
        let stale = self.now.saturating_sub(self.config.stall_timeout_ms);
        let expired: Vec<Txid> = self
            .txs
            .requested
            .iter()
            .filter(|(_, (_, t))| *t < stale)
            .map(|(id, _)| *id)
            .collect();
        for txid in expired {
            self.tx_request_done(&txid);
        }
    }

    /// After a handshake, offers our mempool (as BIP35 lets peers ask): after a reconnect
    /// or a relay restart, transactions still waiting are not lost.
    pub(super) fn offer_mempool(&mut self, id: PeerId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        for chunk in self.mempool.txids().chunks(MAX_INV_ITEMS) {
            let items: Vec<InvItem> = chunk.iter().map(|t| InvItem::Tx(*t)).collect();
            for i in &items {
                p.known.insert(*i);
            }
            self.out.send(id, &Message::Inv(items));
        }
    }

    /// A transaction from a peer.
    pub(super) fn on_tx(&mut self, id: PeerId, tx: Transaction) {
        let txid = tx.txid();
        self.tx_request_done(&txid);
        if let Some(p) = self.peers.get_mut(&id) {
            p.known.insert(InvItem::Tx(txid));
        }
        if self.mempool.contains(&txid)
            || self.txs.recent_rejects.contains(&txid)
            || self.txs.orphans.contains(&txid)
        {
            return;
        }
        match self.accept_tx(tx.clone(), Some(id), false) {
            Ok(_) => self.retry_orphan_txs(),
            Err(MempoolError::AlreadyKnown(_)) => {}
            Err(MempoolError::Invalid(ValidationError::MissingInput(missing))) => {
                self.keep_orphan_tx(tx, Some(id), missing);
            }
            Err(e) => {
                self.out.send(
                    id,
                    &Message::Reject {
                        hash: txid.to_hash(),
                        reason: e.to_string(),
                    },
                );
                if let MempoolError::Invalid(v) = &e {
                    let points = match v {
                        ValidationError::BadSignature { .. } => score::BAD_SIGNATURE,
                        _ => score::INVALID_TX,
                    };
                    self.penalise(id, points, format!("invalid tx {txid}: {v}"));
                }
            }
        }
    }

    /// Keeps a transaction whose input `missing` is not known yet, until its parent comes,
    /// unless the chain shows it already spent its inputs (nothing to wait for).
    fn keep_orphan_tx(&mut self, tx: Transaction, from: Option<PeerId>, missing: OutPoint) {
        let txid = tx.txid();
        let confirmed = self.chain.as_ref().is_some_and(|c| {
            (0..tx.outputs.len() as u32)
                .any(|vout| c.utxo().get(&OutPoint { txid, vout }).is_some())
        });
        if !confirmed {
            self.txs.orphans.keep(tx, from, missing);
        }
    }

    /// Retries orphans if transactions arrived since the last retry (after every event).
    pub(super) fn retry_orphans_after_arrivals(&mut self) {
        if self.txs.arrived.is_empty() {
            return;
        }
        if self.txs.orphans.is_empty() {
            self.txs.arrived.clear();
        } else {
            self.retry_orphan_txs();
        }
    }

    /// Retries the orphans whose parent arrived: the children of transactions accepted
    /// since the last retry, and (when the tip moved) those whose awaited output a block
    /// confirmed, found by a lookup each. Work in the number of orphans that can now get
    /// in, never every orphan for every transaction.
    pub(super) fn retry_orphan_txs(&mut self) {
        let mut ready: Vec<Txid> = Vec::new();
        if let Some(chain) = &self.chain {
            let tip = Some(chain.tip());
            if tip != self.txs.orphans_checked_at {
                self.txs.orphans_checked_at = tip;
                ready = self.txs.orphans.ready(|o| chain.utxo().get(o).is_some());
            }
        }
        loop {
            for parent in core::mem::take(&mut self.txs.arrived) {
                if let Some(children) = self.txs.orphans.take_children_of(&parent) {
                    ready.extend(children);
                }
            }
            let Some(txid) = ready.pop() else {
                return;
            };
            let Some(orphan) = self.txs.orphans.remove(&txid) else {
                continue;
            };
            match self.accept_tx(orphan.tx.clone(), orphan.from, true) {
                Ok(_) => {}
                Err(MempoolError::Invalid(ValidationError::MissingInput(missing))) => {
                    self.keep_orphan_tx(orphan.tx, orphan.from, missing);
                }
                Err(_) => {}
            }
        }
    }

    /// Accepts a transaction into the mempool and queues its announcement; `retry` marks a
    /// waiting orphan tried again, whose failures were already reported once.
    fn accept_tx(
        &mut self,
        tx: Transaction,
        from: Option<PeerId>,
        retry: bool,
    ) -> Result<Txid, MempoolError> {
        let txid = tx.txid();
        let Some(chain) = &self.chain else {
            return Err(MempoolError::Invalid(ValidationError::MissingInput(
                tx.inputs
                    .first()
                    .map(|i| i.prev)
                    .unwrap_or(OutPoint { txid, vout: 0 }),
            )));
        };
        let verify = !self.txs.verified_signatures.contains(&txid);
        match self.mempool.accept_checked(tx, chain.utxo(), verify) {
            Ok(txid) => {
                self.txs.arrived.push(txid);
                self.mining.mempool_changed();
                self.out.notify(Notification::TxAccepted { txid, from });
                self.announce_tx(txid, from);
                Ok(txid)
            }
            Err(e) => {
                // A transaction whose parent we have not seen yet may be fine later: only
                // definitive refusals are remembered.
                let definitive = !matches!(
                    e,
                    MempoolError::AlreadyKnown(_)
                        | MempoolError::Full(_)
                        | MempoolError::Invalid(ValidationError::MissingInput(_))
                );
                if definitive {
                    self.txs.recent_rejects.insert(txid);
                }
                if !matches!(e, MempoolError::AlreadyKnown(_)) && !retry {
                    self.out.notify(Notification::TxRejected {
                        txid,
                        reason: e.to_string(),
                        from,
                    });
                }
                Err(e)
            }
        }
    }

    /// The shell checked every input signature of transaction `txid` (for instance in the
    /// connection's own task, so that many are checked in parallel): the mempool need not
    /// check them again. A txid fixes every byte of the transaction, signatures included.
    pub fn note_verified_signatures(&mut self, txid: Txid) {
        self.txs.verified_signatures.insert(txid);
    }

    /// Builds, signs and submits a payment of `amount` from `key` to `to`.
    pub fn send_payment(
        &mut self,
        now: u64,
        key: &KeyPair,
        to: PubKeyHash,
        amount: u64,
        fee: u64,
    ) -> Result<Txid, SendError> {
        let chain = self.chain.as_ref().ok_or(SendError::NoChain)?;
        let tx = wallet::build_payment(key, to, amount, fee, chain.utxo(), &self.mempool)
            .map_err(SendError::Wallet)?;
        self.submit_transaction(now, tx)
            .map_err(SendError::Rejected)
    }

    /// Adds a transaction made here (or handed over by a CLI) and announces it.
    pub fn submit_transaction(&mut self, now: u64, tx: Transaction) -> Result<Txid, MempoolError> {
        self.now = now;
        let result = self.accept_tx(tx, None, false);
        self.after_event();
        result
    }
}
