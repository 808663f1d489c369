//! The download's bookkeeping: which block is awaited from which peer, the blocks a peer
//! owed and did not deliver, and how much room the download window leaves (see the module
//! docs of `sync` for the window's rules).

use alloc::vec::Vec;

use crate::chain::{Chain, OrphanMark};
use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::KeyedMap;

use super::peers::{Peer, PeerId, RecentSet};

/// The share of the orphan pool's capacity kept out of the download window (a quarter): room
/// for the requests that pass the window (blocks a dropped peer owed that nobody else had
/// announced yet, asked for once someone does) and for orphans nobody asked for (a block
/// mined and announced while the download is far behind).
pub const WINDOW_MARGIN_SHARE: usize = 4;

/// Blocks remembered as owed by a peer that did not deliver them, to be asked of the next
/// peer announcing them ahead of its other blocks: a few peers' blocks in flight.
pub const OWED_BLOCKS_CAP: usize = 1_024;

/// How many more blocks may be requested.
#[derive(Debug, Clone, Copy)]
pub(super) struct Room {
    /// Within the window: any block.
    pub(super) window: usize,
    /// Within the orphan pool's whole capacity: blocks another peer owed.
    pub(super) pool: usize,
}

/// The download's own state: what is asked of whom.
pub(super) struct Download {
    /// Blocks requested, and from whom.
    pub(super) requested: KeyedMap<BlockHash, PeerId>,
    /// Blocks a peer owed and did not deliver: asked of another ahead of anything else and
    /// whether or not the window has room, as the blocks after them wait on them.
    pub(super) owed: RecentSet<BlockHash>,
    /// Orphans that arrived before this mark no longer count in the window: they waited
    /// while the window was full on no block in flight or owed, so nothing the download
    /// would ask for could connect them.
    pub(super) written_off: OrphanMark,
    /// A peer's queued blocks waited for room in the window: refill once there is some, or
    /// once the chain or the orphans moved (the next block needed may be another).
    pub(super) starved: bool,
    /// The best height and orphan mark when peers were last refilled.
    pub(super) refilled_at: (u64, OrphanMark),
    /// The height last reported in [`Notification::SyncProgress`].
    pub(super) last_progress: u64,
}

impl Download {
    /// A download starting at `height`.
    pub(super) fn new(height: u64) -> Self {
        Download {
            requested: KeyedMap::new(),
            owed: RecentSet::new(OWED_BLOCKS_CAP),
            written_off: 0,
            starved: false,
            refilled_at: (0, 0),
            last_progress: height,
        }
    }

    /// Blocks that may still be requested: within the window (the orphan pool's capacity
    /// less [`WINDOW_MARGIN_SHARE`] of it), and within the whole capacity (blocks owed by
    /// another peer), less the blocks in flight and the orphans held but those written off.
    pub(super) fn room(&self, chain: Option<&Chain>) -> Room {
        let Some(chain) = chain else {
            // No chain yet: no orphan pool either; the genesis wait bounds what is held.
            return Room {
                window: usize::MAX,
                pool: usize::MAX,
            };
        };
        let capacity = chain.orphan_capacity();
        let window = capacity
            .saturating_sub(capacity / WINDOW_MARGIN_SHARE)
            .max(1);
        let used = self.requested.len() + chain.orphans_since(self.written_off);
        Room {
            window: window.saturating_sub(used),
            pool: capacity.saturating_sub(used),
        }
    }

    /// Whether the orphans counted in the window wait on no block in flight, nor on one
    /// owed and queued to be asked of another peer: nothing the download is about to ask
    /// for connects them.
    pub(super) fn orphans_are_stranded(
        &self,
        chain: &Chain,
        peers: &super::peer_table::PeerTable,
    ) -> bool {
        chain
            .orphan_roots_since(self.written_off)
            .iter()
            .all(|root| {
                let awaited = self.requested.contains_key(root);
                let owed_and_queued =
                    self.owed.contains(root) && peers.values().any(|p| p.to_fetch.contains(root));
                !awaited && !owed_and_queued
            })
    }

    /// Whether any block is being downloaded.
    pub(super) fn is_downloading(&self) -> bool {
        !self.requested.is_empty()
    }

    /// Whether we have, wait for, or refused block `h` already.
    pub(super) fn block_is_known(&self, chain: Option<&Chain>, h: &BlockHash) -> bool {
        self.requested.contains_key(h)
            || chain.is_some_and(|c| c.contains(h) || c.is_orphan(h) || c.is_invalid(h))
    }

    /// Forgets the requests `peer` was answering; returns those blocks, oldest request
    /// first, remembered as owed.
    pub(super) fn release(&mut self, peer: &Peer) -> Vec<BlockHash> {
        let mut owed: Vec<(u64, BlockHash)> = Vec::new();
        for (h, at) in &peer.in_flight {
            if self.requested.get(h) == Some(&peer.id) {
                self.requested.remove(h);
                self.owed.insert(*h);
                owed.push((*at, *h));
            }
        }
        // One shared sort routine (util::ordering): a stable sort of its own cost the page
        // module ~1.5 KB gzipped.
        crate::util::ordering::sorted_by_key(owed, |(at, _)| *at)
            .into_iter()
            .map(|(_, h)| h)
            .collect()
    }

    /// Block `h` is no longer awaited from `id`; returns whether it was.
    pub(super) fn settle(&mut self, h: &BlockHash, id: PeerId) -> bool {
        let was = self.requested.get(h) == Some(&id);
        if was {
            self.requested.remove(h);
        }
        was
    }
}
