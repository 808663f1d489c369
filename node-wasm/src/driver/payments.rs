//! Each of the wallet's own payments followed through its life, and the transaction index
//! behind `getTransaction` and `addressHistory` kept as blocks connect and disconnect.
//!
//! A payment is *pending* while it waits in the mempool (a miner makes a block only once
//! enough transactions wait: the seed's two-transaction rule), *confirmed* in block #N,
//! *reorganised* when the block it was in left the active chain and it waits again, and
//! *dropped* when it is neither in a block nor waiting (a reorganisation made it invalid).
//! After every tip change and every accepted or refused transaction the state of each
//! payment is worked out again from the chain and the mempool, and a "payment" event is
//! emitted for each one whose state changed.

use node_core::{Notification, Txid};

use super::Driver;
use crate::tx_index::TxIndex;
use wasm_bindgen::JsValue;

use crate::views::{number, object, text};

/// Own payments followed: the newest ones a person made in this tab's session (each is
/// looked up in the index on every tip change).
pub(super) const MAX_TRACKED_PAYMENTS: usize = 50;

/// Where a payment is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PaymentState {
    /// Waiting in the mempool, never confirmed yet.
    Pending,
    /// In the active chain's block at this height.
    Confirmed { height: u64 },
    /// Waiting again: the block at this height that held it was replaced.
    Reorganised { was_height: u64 },
    /// Gone: neither in the active chain nor waiting.
    Dropped,
}

/// Where a transaction is now.
pub(super) enum Place {
    /// In the active chain's block at this height, with this hash.
    Confirmed(u64, node_core::BlockHash),
    /// Waiting in the mempool.
    Waiting,
    /// Neither (or confirmed below what the index keeps).
    Unknown,
}

/// One of the wallet's payments and its last state shown to the page.
pub(super) struct TrackedPayment {
    pub txid: Txid,
    pub state: PaymentState,
    /// Why it was dropped, as the node said.
    pub reason: Option<String>,
}

impl Driver {
    /// Keeps the index in step with the active chain, and the payments' states with both.
    pub(super) fn follow_payments(&self, n: &Notification) {
        match n {
            Notification::BlockConnected { hash, height, txs } => {
                let mut index = self.inner.index.borrow_mut();
                if !index.connect(*height, *hash, *txs) {
                    // Blocks it missed (the genesis, say, which arrives without this
                    // notification): the chain has them.
                    if let Some(chain) = self.inner.node.borrow().chain() {
                        *index = TxIndex::of_chain(chain);
                    }
                }
            }
            Notification::TipChanged { height, .. } => {
                let mut index = self.inner.index.borrow_mut();
                index.truncate_above(Some(*height));
                if index.is_empty() {
                    if let Some(chain) = self.inner.node.borrow().chain() {
                        *index = TxIndex::of_chain(chain);
                    }
                }
                drop(index);
                self.update_payments();
            }
            Notification::TxRejected { txid, reason, .. } => {
                if let Some(p) = self
                    .inner
                    .payments
                    .borrow_mut()
                    .iter_mut()
                    .find(|p| p.txid == *txid)
                {
                    p.reason = Some(reason.clone());
                }
                self.update_payments();
            }
            Notification::TxAccepted { .. } => self.update_payments(),
            _ => {}
        }
    }

    /// Starts following a payment this tab just made.
    /// Emits its first "payment" event: pending, and why it waits.
    pub(super) fn track_payment(&self, txid: Txid) {
        let payment = TrackedPayment {
            txid,
            state: PaymentState::Pending,
            reason: None,
        };
        let view = self.payment_view(&payment);
        {
            let mut payments = self.inner.payments.borrow_mut();
            payments.push(payment);
            if payments.len() > MAX_TRACKED_PAYMENTS {
                payments.remove(0);
            }
        }
        self.emit("payment", &view);
    }

    /// Whether `txid` is one of this tab's own payments.
    pub(super) fn is_own_payment(&self, txid: &Txid) -> bool {
        self.inner.payments.borrow().iter().any(|p| p.txid == *txid)
    }

    /// Where `txid` is now: confirmed in an indexed active block, waiting, or neither.
    pub(super) fn place_of(&self, txid: &Txid) -> Place {
        let node = self.inner.node.borrow();
        let chain = node.chain();
        let block_of = |h: &node_core::BlockHash| chain.and_then(|c| c.body(h));
        let active = self
            .inner
            .index
            .borrow()
            .place(txid, &block_of)
            .filter(|(h, hash)| chain.and_then(|c| c.hash_at(*h)) == Some(*hash));
        match active {
            Some((height, hash)) => Place::Confirmed(height, hash),
            None if node.mempool().contains(txid) => Place::Waiting,
            None => Place::Unknown,
        }
    }

    /// Works out every payment's state again; emits "payment" for those that changed.
    fn update_payments(&self) {
        let mut changed = Vec::new();
        {
            let mut payments = self.inner.payments.borrow_mut();
            for p in payments.iter_mut() {
                let now = match (self.place_of(&p.txid), &p.state) {
                    (Place::Confirmed(height, _), _) => PaymentState::Confirmed { height },
                    (Place::Waiting, PaymentState::Confirmed { height }) => {
                        PaymentState::Reorganised {
                            was_height: *height,
                        }
                    }
                    (Place::Waiting, PaymentState::Reorganised { was_height }) => {
                        PaymentState::Reorganised {
                            was_height: *was_height,
                        }
                    }
                    (Place::Waiting, _) => PaymentState::Pending,
                    (Place::Unknown, _) => PaymentState::Dropped,
                };
                if now != p.state {
                    p.state = now;
                    changed.push(self.payment_view(p));
                }
            }
        }
        for view in changed {
            self.emit("payment", &view);
        }
    }

    /// The page's view of a payment's state now: `{txid, state: "pending" | "confirmed" |
    /// "reorganised" | "dropped", height, wasHeight, reason}` (`height`: the block it is
    /// confirmed in; `wasHeight`: the block that held it before a reorganisation; `reason`:
    /// why it was dropped). The page adds what it reads anyway (confirmations from the tip,
    /// the mempool's size): each field here costs the page module.
    pub(super) fn payment_view(&self, p: &TrackedPayment) -> JsValue {
        let (state, height, was_height) = match p.state {
            PaymentState::Pending => ("pending", None, None),
            PaymentState::Confirmed { height } => ("confirmed", Some(height), None),
            PaymentState::Reorganised { was_height } => ("reorganised", None, Some(was_height)),
            PaymentState::Dropped => ("dropped", None, None),
        };
        object(&[
            ("txid", JsValue::from_str(&p.txid.to_string())),
            ("state", JsValue::from_str(state)),
            ("height", number(height)),
            ("wasHeight", number(was_height)),
            ("reason", text(p.reason.clone())),
        ])
    }
}
