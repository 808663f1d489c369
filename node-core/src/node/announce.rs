//! Telling peers what is new: blocks that joined the active chain and transactions that
//! entered the mempool, batched into `inv`s, each item to each peer at most once (its
//! [`Peer::known`](super::peers::Peer::known) set).
//!
//! Blocks connected during a download are announced together at its end, never held longer
//! than [`BLOCK_ANNOUNCE_MAX_HOLD_MS`]; transactions wait up to [`TX_INV_DELAY_MS`] to share
//! an `inv` with others.

use alloc::vec::Vec;

use crate::primitives::hash::{BlockHash, Txid};
use crate::protocol::{InvItem, Message, MAX_INV_ITEMS};
use crate::util::keyed_map::KeyedSet;

use super::outbox::Outbox;
use super::peers::PeerId;
use super::Node;

/// How long a transaction announcement may wait to share an `inv` with others.
const TX_INV_DELAY_MS: u64 = 100;
/// Longest a block announcement waits for a download to end: a peer that announces blocks
/// it never sends must not delay ours.
const BLOCK_ANNOUNCE_MAX_HOLD_MS: u64 = 1_000;

/// Announcements waiting to go out.
#[derive(Default)]
pub(super) struct Announcements {
    /// Connected blocks not yet announced.
    blocks: Vec<BlockHash>,
    /// When the oldest of them was queued.
    blocks_since: Option<u64>,
    /// Transactions to announce, with the peer they came from (not told again).
    txs: Vec<(Txid, Option<PeerId>)>,
    /// When the oldest of them was queued.
    txs_since: u64,
}

impl Announcements {
    /// Queues block `hash`, connected at `now`.
    pub(super) fn queue_block(&mut self, hash: BlockHash, now: u64) {
        self.blocks.push(hash);
        self.blocks_since.get_or_insert(now);
    }

    /// Drops queued blocks a reorganisation disconnected (one pass, however deep).
    pub(super) fn forget_blocks(&mut self, gone: &KeyedSet<BlockHash>) {
        self.blocks.retain(|x| !gone.contains(x));
    }

    /// The blocks to announce now, if any: at once unless a download is under way, then at
    /// its end or after [`BLOCK_ANNOUNCE_MAX_HOLD_MS`]. More than one `inv` holds are cut to
    /// the tip: far behind peers find the rest with `getblocks` from it.
    fn take_blocks_due(&mut self, now: u64, downloading: bool) -> Option<Vec<BlockHash>> {
        let held = self
            .blocks_since
            .is_some_and(|t| now.saturating_sub(t) >= BLOCK_ANNOUNCE_MAX_HOLD_MS);
        if self.blocks.is_empty() || (downloading && !held) {
            return None;
        }
        self.blocks_since = None;
        let mut hashes = core::mem::take(&mut self.blocks);
        if hashes.len() > MAX_INV_ITEMS {
            hashes.drain(..hashes.len() - 1);
        }
        Some(hashes)
    }

    /// Queues transaction `txid` (from `except`, if a peer); returns whether a full `inv`
    /// waits.
    fn queue_tx(&mut self, txid: Txid, except: Option<PeerId>, now: u64) -> bool {
        if self.txs.is_empty() {
            self.txs_since = now;
        }
        self.txs.push((txid, except));
        self.txs.len() >= MAX_INV_ITEMS
    }

    /// The transactions to announce now, if any: once the oldest waited [`TX_INV_DELAY_MS`],
    /// or at once with `anyway`.
    fn take_txs_due(&mut self, now: u64, anyway: bool) -> Option<Vec<(Txid, Option<PeerId>)>> {
        if self.txs.is_empty() || (!anyway && now.saturating_sub(self.txs_since) < TX_INV_DELAY_MS)
        {
            return None;
        }
        Some(core::mem::take(&mut self.txs))
    }
}

/// Sends every handshaken peer an `inv` of the items `items(peer)` it does not know yet,
/// and remembers them as known to it.
fn announce(
    peers: &mut super::peer_table::PeerTable,
    out: &mut Outbox,
    items: impl Fn(PeerId) -> Vec<InvItem>,
) {
    for (id, p) in peers.iter_mut() {
        if !p.handshake.is_complete() {
            continue;
        }
        let fresh: Vec<InvItem> = items(*id)
            .into_iter()
            .filter(|item| p.known.insert(*item))
            .collect();
        if !fresh.is_empty() {
            out.send(*id, &Message::Inv(fresh));
        }
    }
}

impl Node {
    /// Announces newly connected blocks when they are due.
    pub(super) fn flush_block_announcements(&mut self) {
        let downloading = self.sync.is_downloading();
        if let Some(hashes) = self.announce.take_blocks_due(self.now, downloading) {
            announce(&mut self.peers, &mut self.out, |_| {
                hashes.iter().map(|h| InvItem::Block(*h)).collect()
            });
        }
    }

    /// Queues a transaction announcement; sent in batches, one `inv` per peer rather than
    /// one per transaction.
    pub(super) fn announce_tx(&mut self, txid: Txid, except: Option<PeerId>) {
        if self.announce.queue_tx(txid, except, self.now) {
            self.flush_tx_announcements(true);
        }
    }

    /// Sends the queued transaction announcements when due (or at once with `anyway`).
    pub(super) fn flush_tx_announcements(&mut self, anyway: bool) {
        if let Some(pending) = self.announce.take_txs_due(self.now, anyway) {
            announce(&mut self.peers, &mut self.out, |id| {
                pending
                    .iter()
                    .filter(|(_, except)| *except != Some(id))
                    .map(|(t, _)| InvItem::Tx(*t))
                    .collect()
            });
        }
    }

    /// After a handshake: our tip may have moved while it was under way, after our
    /// `version` went out and before the peer could receive announcements. Tell it now.
    pub(super) fn announce_tip_to(&mut self, id: PeerId, their_tip: BlockHash) {
        let Some(tip) = self.chain.as_ref().map(crate::chain::Chain::tip) else {
            return;
        };
        let item = InvItem::Block(tip);
        let fresh = self
            .peers
            .get_mut(&id)
            .is_some_and(|p| tip != their_tip && p.known.insert(item));
        if fresh {
            self.out.send(id, &Message::Inv(alloc::vec![item]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::Hash256;

    fn block(n: u8) -> BlockHash {
        BlockHash::from_hash(Hash256([n; 32]))
    }

    #[test]
    fn blocks_wait_for_a_download_but_not_past_the_hold_limit() {
        let mut a = Announcements::default();
        a.queue_block(block(1), 1_000);
        assert_eq!(a.take_blocks_due(1_500, true), None);
        let due = 1_000 + BLOCK_ANNOUNCE_MAX_HOLD_MS;
        assert_eq!(a.take_blocks_due(due, true), Some(alloc::vec![block(1)]));
        assert_eq!(a.take_blocks_due(due, false), None);
    }

    #[test]
    fn more_blocks_than_one_inv_holds_are_cut_to_the_tip() {
        let mut a = Announcements::default();
        for n in 0..=MAX_INV_ITEMS {
            a.queue_block(BlockHash::from_hash(Hash256([(n % 251) as u8; 32])), 0);
        }
        let last = BlockHash::from_hash(Hash256([(MAX_INV_ITEMS % 251) as u8; 32]));
        assert_eq!(a.take_blocks_due(0, false), Some(alloc::vec![last]));
    }

    #[test]
    fn a_disconnected_block_is_not_announced() {
        let mut a = Announcements::default();
        a.queue_block(block(1), 0);
        a.queue_block(block(2), 0);
        let mut gone = KeyedSet::new();
        gone.insert(block(2));
        a.forget_blocks(&gone);
        assert_eq!(a.take_blocks_due(0, false), Some(alloc::vec![block(1)]));
    }

    #[test]
    fn transactions_wait_to_share_an_inv_unless_told_otherwise() {
        let mut a = Announcements::default();
        let tx = Txid::from_hash(Hash256([3; 32]));
        assert!(!a.queue_tx(tx, None, 50));
        assert_eq!(a.take_txs_due(50 + TX_INV_DELAY_MS - 1, false), None);
        assert_eq!(a.take_txs_due(50, true), Some(alloc::vec![(tx, None)]));
    }
}
