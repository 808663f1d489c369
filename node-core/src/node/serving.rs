//! Answering what peers ask of us: `getblocks` with the hashes after their locator, and
//! `getdata` with the blocks and transactions, in rounds of bounded bytes.
//!
//! A `getdata` is queued in the peer's [`ServeQueue`](super::peers::ServeQueue), each item
//! once, and answered a round at a time ([`SERVE_ROUND_BYTES`]): when it arrives and at every
//! tick. What we do not have is answered `notfound`.

use alloc::vec::Vec;

use crate::primitives::hash::BlockHash;
use crate::protocol::{InvItem, Message, MAX_INV_ITEMS};

use super::peers::PeerId;
use super::{score, Node};

/// Bytes of `getdata` answers sent to one peer per round. A round runs when its `getdata`
/// arrives and at every tick; what does not fit waits in the peer's queue (at most one
/// `getdata` of items, each item once) for the next round. So one request naming a large
/// block two thousand times queues one copy, and a peer that asks for more than it reads
/// has at most about this much more queued per round (the shell drops a peer whose queue
/// grows past its own byte limit). One maximal block per round: a download of full blocks
/// still gets several a second.
pub const SERVE_ROUND_BYTES: usize = crate::consensus::params::MAX_BLOCK_SIZE;

impl Node {
    /// Answers a `getblocks` with the hashes after the locator, up to the batch size.
    pub(super) fn on_getblocks(
        &mut self,
        id: PeerId,
        locator: &[BlockHash],
        stop: Option<BlockHash>,
    ) {
        let Some(chain) = &self.chain else { return };
        let hashes = chain.hashes_after(locator, stop, self.config.inv_batch.min(MAX_INV_ITEMS));
        if hashes.is_empty() {
            return;
        }
        let items: Vec<InvItem> = hashes.into_iter().map(InvItem::Block).collect();
        if let Some(p) = self.peers.get_mut(&id) {
            for i in &items {
                p.known.insert(*i);
            }
        }
        self.out.send(id, &Message::Inv(items));
    }

    /// Queues what a peer asks for, each item once, and answers a first round of it. A
    /// request for more than one `getdata` holds before the earlier ones went out is
    /// answered `notfound` for the rest; asking twice for one item, or again for a block
    /// sent on this connection, is charged.
    pub(super) fn on_getdata(&mut self, id: PeerId, items: Vec<InvItem>) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let mut refused = Vec::new();
        let mut repeated = false;
        for item in items {
            if p.to_serve.contains(&item) {
                repeated = true;
                continue;
            }
            if let InvItem::Block(h) = item {
                repeated |= p.served_blocks.contains(&h);
            }
            if !p.to_serve.push(item) {
                refused.push(item);
            }
        }
        for item in &refused {
            p.known.remove(item);
        }
        if !refused.is_empty() {
            self.out.send(id, &Message::NotFound(refused));
        }
        if repeated {
            self.penalise(
                id,
                score::REPEATED_REQUEST,
                "asked again for an item it asked for or was sent".into(),
            );
        }
        self.serve(id);
    }

    /// A round for every peer with answers waiting (once a tick).
    pub(super) fn serve_waiting(&mut self) {
        let waiting: Vec<PeerId> = self
            .peers
            .values()
            .filter(|p| !p.to_serve.is_empty())
            .map(|p| p.id)
            .collect();
        for id in waiting {
            self.serve(id);
        }
    }

    /// One round of answers to `id`'s waiting `getdata` items, oldest first, until
    /// [`NodeConfig::serve_round_bytes`](super::NodeConfig::serve_round_bytes) are out
    /// (always at least one item); what we do not have is answered `notfound`.
    fn serve(&mut self, id: PeerId) {
        let Node {
            peers,
            chain,
            mempool,
            config,
            out,
            ..
        } = self;
        let Some(p) = peers.get_mut(&id) else {
            return;
        };
        let mut sent = 0usize;
        let mut missing = Vec::new();
        while sent < config.serve_round_bytes {
            let Some(item) = p.to_serve.pop() else {
                break;
            };
            let message = match item {
                InvItem::Block(h) => chain
                    .as_ref()
                    .and_then(|c| c.body(&h))
                    .map(|b| Message::Block(crate::chain::owned_body(b))),
                InvItem::Tx(t) => mempool.get(&t).map(|tx| Message::Tx(tx.clone())),
            };
            let Some(m) = message else {
                missing.push(item);
                continue;
            };
            p.known.insert(item);
            if let InvItem::Block(h) = item {
                p.served_blocks.insert(h);
            }
            // It will have this block: count it in its height as we know it.
            if let Some(h) = match &m {
                Message::Block(b) => b.coinbase_height(),
                _ => None,
            } {
                p.best_height = p.best_height.max(h);
            }
            sent += out.send(id, &m);
        }
        // It does not have these from us after all; announce them again when we can.
        for item in &missing {
            p.known.remove(item);
        }
        if !missing.is_empty() {
            out.send(id, &Message::NotFound(missing));
        }
    }
}
