//! Frames on their way to the node: a block or transaction whose signatures the node would
//! check goes to the signature workers (WebCrypto) first, and every frame behind it waits,
//! in order, until they answer or time out.

use node_core::node::peers::PeerId;
use node_core::protocol::{self, Message};
use node_core::Event;

use super::{now_ms, Driver};
use crate::inbound::{Vouched, MAX_WAITING_BYTES};
use crate::peer_text::console_warn;
use crate::verifier::pack_checks;

/// Longest a frame waits for the signature workers before the node checks it itself.
const VERIFY_TIMEOUT_MS: u64 = 10_000;

impl Driver {
    /// Queues a frame for the node; a block or transaction whose signatures the node would
    /// check goes to the signature workers first, and waits (with every frame behind it)
    /// until they answer.
    pub(super) fn receive(&self, peer: PeerId, bytes: Vec<u8>) {
        let id = self.inner.inbound.borrow_mut().take_id();
        let checking = self.submit_signatures(id, &bytes);
        if checking.is_none() && self.inner.inbound.borrow().is_empty() {
            self.handle(Event::Frame { peer, bytes });
            return;
        }
        let abandoned = self
            .inner
            .inbound
            .borrow_mut()
            .push(id, peer, bytes, checking, now_ms());
        if abandoned > 0 {
            // The relay sends faster than the workers check: the node judges (and scores)
            // what was sent, checking those signatures itself.
            console_warn(&format!(
                "node {}: over {MAX_WAITING_BYTES} bytes of frames waited for the signature workers; checking {abandoned} of them in wasm",
                self.inner.node_id
            ));
        }
        self.advance();
    }

    /// Settles, as not vouched for, frames the workers have held longer than
    /// [`VERIFY_TIMEOUT_MS`]: the node checks them itself rather than wait on a stuck worker.
    pub(super) fn expire_checks(&self) {
        let cutoff = now_ms().saturating_sub(VERIFY_TIMEOUT_MS);
        let expired = self.inner.inbound.borrow().checking_since_before(cutoff);
        if expired.is_empty() {
            return;
        }
        console_warn(&format!(
            "node {}: {} signature checks timed out; checking them in wasm",
            self.inner.node_id,
            expired.len()
        ));
        for id in expired {
            self.settle(id, false);
        }
    }

    /// Sends the signatures of a `block` or `tx` frame to the workers as request `id`, when
    /// the node would check them itself (not under assume-valid); returns what they vouch
    /// for if all hold.
    fn submit_signatures(&self, id: u64, bytes: &[u8]) -> Option<Vouched> {
        let pool = self.inner.verifier.as_ref().filter(|p| p.is_working())?;
        if !matches!(protocol::frame_command(bytes), Ok("block" | "tx")) {
            return None;
        }
        let (vouch, checks) = match protocol::decode_frame(bytes).ok()? {
            Message::Block(block) => {
                let height = block.coinbase_height()?;
                let node = self.inner.node.borrow();
                let hash = block.hash();
                // A block the node already has, or refused, costs the workers nothing: the
                // node turns it away without looking at a signature.
                let known = node
                    .chain()
                    .is_some_and(|c| c.contains(&hash) || c.is_invalid(&hash));
                if known || !node.checks_signatures_at(height) {
                    return None;
                }
                drop(node);
                (Vouched::Block(hash), pack_checks(&block.transactions)?)
            }
            Message::Tx(tx) => {
                let txid = tx.txid();
                if self.inner.node.borrow().mempool().contains(&txid) {
                    return None;
                }
                (Vouched::Tx(txid), pack_checks(std::slice::from_ref(&tx))?)
            }
            _ => return None,
        };
        pool.submit(id, &checks).then_some(vouch)
    }

    /// Records the workers' answer for frame `id` and lets the queue move.
    pub(super) fn settle(&self, id: u64, ok: bool) {
        self.inner.inbound.borrow_mut().settle(id, ok);
        self.advance();
    }

    /// Hands the settled frames at the head of the queue to the node, in order. Frames of a
    /// connection that has since closed are dropped.
    fn advance(&self) {
        loop {
            let next = self.inner.inbound.borrow_mut().pop_ready();
            let Some(frame) = next else { break };
            let current = {
                let link = self.inner.link.borrow();
                link.open && link.peer == frame.peer
            };
            if !current {
                continue;
            }
            if frame.verified.is_some() {
                self.inner.vouched.set(self.inner.vouched.get() + 1);
            }
            match frame.verified {
                Some(Vouched::Block(hash)) => {
                    self.inner.node.borrow_mut().note_verified_block(hash)
                }
                Some(Vouched::Tx(txid)) => {
                    self.inner.node.borrow_mut().note_verified_signatures(txid)
                }
                None => {}
            }
            self.handle(Event::Frame {
                peer: frame.peer,
                bytes: frame.bytes,
            });
        }
    }
}
