//! Block download: which blocks are asked of whom, the `getblocks` that find them, what
//! arrives, and how far the download got.
//!
//! Peers announce blocks (`inv`, often in answer to our `getblocks`); each peer's
//! announcements queue in its [`FetchQueue`](super::peers::FetchQueue) and are asked for in
//! batches of `getdata`, up to [`NodeConfig::max_blocks_in_flight`](super::NodeConfig) at a
//! time, each block of one peer only. A full batch of announcements means the peer has more:
//! the next `getblocks` goes out while this batch downloads.
//!
//! # The download window
//! Blocks that arrive before their parent wait in the chain's bounded orphan pool, which
//! lets the oldest go when full; fetching a let-go block again from the peer that sent it
//! is charged by that peer (an honest relay drops a node that does it often). So the
//! blocks requested and not yet arrived, with the orphans held, never exceed the pool's
//! capacity less a margin ([`WINDOW_MARGIN_SHARE`](super::download::WINDOW_MARGIN_SHARE)): whatever order they arrive in, none
//! is let go. So that the block the others wait on is always asked for:
//! - the blocks a peer owed and did not deliver (it went away or stalled, said `notfound`,
//!   sent a bad body) go first to another peer that announced them, and may take the
//!   margin;
//! - the next block the chain needs, when orphans wait on it and a peer announced it, is
//!   asked for however full the window is;
//! - orphans that wait on nothing in flight or owed while the window is full (blocks far
//!   ahead, from a peer that never sends what comes before them) are written off: they no
//!   longer count, and the pool lets them go first.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use crate::chain::{AcceptOutcome, Chain, TipStep};
use crate::consensus::validation::ValidationError;
use crate::primitives::block::Block;
use crate::primitives::hash::BlockHash;
use crate::protocol::{InvItem, Message, MAX_INV_ITEMS};
use crate::util::keyed_map::KeyedSet;

use super::peers::{Peer, PeerId};
use super::{score, Node, Notification};

/// Blocks re-checked per tick when blocks restored as connected unchecked lose the assumed
/// block that vouched for them: a slice small enough that a tick stays short.
const RECHECK_BLOCKS_PER_TICK: u64 = 20;

impl Node {
    /// The height the node is syncing toward, as far as peers have backed it: a peer's
    /// claimed height counts only up to our height plus the blocks it announced that we are
    /// fetching, and not at all once asking it for blocks brought none. What a peer merely
    /// says about its height never decides what the node validates or when.
    pub(super) fn target_height(&self) -> u64 {
        let ours = self.chain.as_ref().map_or(0, Chain::height);
        self.peers
            .values()
            .filter(|p| p.handshake.is_complete() && !p.claim_unbacked)
            .map(|p| {
                let pending = (p.to_fetch.len() + p.in_flight.len()) as u64;
                p.best_height.min(ours.saturating_add(pending))
            })
            .fold(ours, u64::max)
    }

    /// The height shown as the sync's goal: while blocks are being fetched, the best height
    /// claimed by a peer whose claim is not disproved; otherwise our own. Display only.
    pub(super) fn display_target_height(&self) -> u64 {
        let ours = self.chain.as_ref().map_or(0, Chain::height);
        if !self.is_syncing() {
            return ours;
        }
        self.peers
            .values()
            .filter(|p| p.handshake.is_complete() && !p.claim_unbacked)
            .map(|p| p.best_height)
            .fold(self.target_height(), u64::max)
    }

    /// Asks `id` for block hashes after our tip (or after `from`, a hash it announced).
    pub(super) fn send_getblocks(&mut self, id: PeerId, from: Option<BlockHash>) {
        let mut locator = Vec::new();
        if let Some(h) = from {
            locator.push(h);
        }
        if let Some(c) = &self.chain {
            locator.extend(c.locator());
        }
        locator.truncate(crate::protocol::MAX_LOCATOR);
        if let Some(p) = self.peers.get_mut(&id) {
            p.getblocks_sent = Some(self.now);
        }
        self.out.send(
            id,
            &Message::GetBlocks {
                locator,
                stop: None,
            },
        );
    }

    /// `peer` went away: the blocks it owed are asked, ahead of anything else, of peers that
    /// announced them; if some were announced by nobody else, the best peer is asked for the
    /// blocks after ours, and they go first once it names them.
    pub(super) fn ask_others_for_what_was_owed(&mut self, peer: &Peer) {
        let owed = self.sync.release(peer);
        if owed.is_empty() {
            return;
        }
        let mut unannounced = false;
        let mut asked = Vec::new();
        // Latest first, each to the front: the oldest request ends up first in line.
        for h in owed.iter().rev() {
            let other = self.peers.values_mut().find(|p| {
                p.handshake.is_complete()
                    && p.known.contains(&InvItem::Block(*h))
                    && !p.lacks.contains(h)
            });
            match other {
                Some(p) => {
                    if !p.to_fetch.push_front(*h) {
                        unannounced = true;
                        continue;
                    }
                    if !asked.contains(&p.id) {
                        asked.push(p.id);
                    }
                }
                None => unannounced = true,
            }
        }
        for id in asked {
            self.fill_block_requests(id);
        }
        if unannounced {
            self.ask_another_peer();
        }
    }

    /// Asks the peer that looks best (peers whose height claim held first; the claim only
    /// orders them) for the blocks after ours: a peer that owed us blocks went away.
    pub(super) fn ask_another_peer(&mut self) {
        let best = self
            .peers
            .values()
            .filter(|p| p.handshake.is_complete())
            .max_by_key(|p| (!p.claim_unbacked, p.best_height))
            .map(|p| p.id);
        if let Some(other) = best {
            self.send_getblocks(other, None);
        }
    }

    /// After a handshake: asks the peer for its chain if it has more work than ours, or
    /// equal work on another branch.
    pub(super) fn ask_for_better_chain(&mut self, id: PeerId, v: &crate::protocol::Version) {
        let our_work = self.chain.as_ref().map_or(0, Chain::tip_work);
        let tip_known = self.chain.as_ref().is_some_and(|c| c.contains(&v.tip));
        let wants_chain =
            v.chain_work > our_work || (self.chain.is_none() && v.genesis != BlockHash::ZERO);
        if wants_chain && self.may_supply_chain(id) {
            self.send_getblocks(id, None);
        } else if !tip_known && v.chain_work == our_work && v.best_height > 0 {
            // Equal work on another branch: learn it, so a longer branch later reorgs fast.
            self.send_getblocks(id, None);
        }
    }

    /// The block part of an `inv` from `id` (`items` is all of it, `blocks` the blocks we
    /// may take from this peer): remembers what it knows, queues the blocks we lack, and
    /// asks for the next batch when this one was full.
    pub(super) fn queue_announced_blocks(
        &mut self,
        id: PeerId,
        items: &[InvItem],
        blocks: &[BlockHash],
    ) {
        let Node {
            peers,
            sync,
            chain,
            genesis,
            config,
            ..
        } = self;
        let Some(p) = peers.get_mut(&id) else {
            return;
        };
        for item in items {
            p.known.insert(*item);
        }
        if blocks.is_empty() {
            return;
        }
        let can_take_blocks = chain.is_some() || genesis.expected.is_some();
        let mut any_fresh = false;
        let mut owed = Vec::new();
        for h in blocks {
            if p.lacks.contains(h) || sync.block_is_known(chain.as_ref(), h) {
                continue;
            }
            any_fresh = true;
            if !can_take_blocks {
                continue;
            }
            if sync.owed.contains(h) {
                owed.push(*h);
            } else {
                p.to_fetch.push(*h);
            }
        }
        // Blocks another peer owed us go first: the blocks after them wait on them.
        for h in owed.iter().rev() {
            p.to_fetch.push_front(*h);
        }
        // An answer to our `getblocks` that names nothing new disproves a claim to be
        // ahead; a block we lack restores it.
        if p.getblocks_sent.is_some() || any_fresh {
            p.claim_unbacked = !any_fresh;
        }
        p.getblocks_sent = None;
        let batch = config.inv_batch.min(MAX_INV_ITEMS);
        // The peer has more: ask for the next batch now, while this one downloads — but
        // only while a whole batch still fits in the queue. Asking past a batch the queue
        // could not take would leave a gap of blocks never fetched, every later block an
        // orphan; once the queue has drained, the stalled-sync check asks again from our
        // best block.
        if blocks.len() >= batch && p.to_fetch.has_room_for(batch) {
            if let Some(last) = blocks.last().copied() {
                self.send_getblocks(id, Some(last));
            }
        }
    }

    /// Keeps up to `max_blocks_in_flight` block requests outstanding with `id`, within the
    /// download window but for blocks owed by another peer, which go first.
    pub(super) fn fill_block_requests(&mut self, id: PeerId) {
        let Node {
            peers,
            sync,
            chain,
            config,
            out,
            now,
            ..
        } = self;
        let Some(p) = peers.get_mut(&id) else {
            return;
        };
        let max = config.max_blocks_in_flight.max(1);
        let mut room = sync.room(chain.as_ref());
        // The window is full: the next block the chain needs, which orphans wait on, is
        // asked for all the same, else the orphans that fill it could wait for ever.
        let mut needed = Vec::new();
        if room.window == 0 {
            if let Some(c) = chain.as_ref() {
                let next = c.best_height().saturating_add(1);
                for (height, h) in c.orphan_roots() {
                    if height == next
                        && !needed.contains(&h)
                        && p.to_fetch.contains(&h)
                        && !p.lacks.contains(&h)
                        && !sync.block_is_known(Some(c), &h)
                    {
                        needed.push(h);
                    }
                }
            }
        }
        let urgent =
            !needed.is_empty() || p.to_fetch.front().is_some_and(|h| sync.owed.contains(&h));
        // Refill in batches, once half of what may be in flight has arrived: one getdata
        // per batch rather than one per block, and the pipe never runs dry. Blocks others
        // wait on do not wait.
        if p.in_flight.len() > max / 2 && !urgent {
            return;
        }
        let mut batch = Vec::new();
        for h in needed {
            if p.in_flight.len() >= max {
                break;
            }
            p.to_fetch.remove(&h);
            room.pool = room.pool.saturating_sub(1);
            p.in_flight.insert(h, *now);
            sync.requested.insert(h, id);
            batch.push(InvItem::Block(h));
        }
        while p.in_flight.len() < max {
            let Some(h) = p.to_fetch.front() else {
                break;
            };
            if p.lacks.contains(&h) || sync.block_is_known(chain.as_ref(), &h) {
                p.to_fetch.pop();
                continue;
            }
            let owed = sync.owed.contains(&h);
            let left = if owed { room.pool } else { room.window };
            if left == 0 {
                sync.starved = true;
                break;
            }
            p.to_fetch.pop();
            room.window = room.window.saturating_sub(1);
            room.pool = room.pool.saturating_sub(1);
            p.in_flight.insert(h, *now);
            sync.requested.insert(h, id);
            batch.push(InvItem::Block(h));
        }
        if !batch.is_empty() {
            out.send(id, &Message::GetData(batch));
        }
    }

    /// Refills the peers whose queued blocks waited for room in the window, once there is
    /// some or the next block needed may have changed (after every event: a block that
    /// arrived, connected or was let go).
    pub(super) fn refill_starved_peers(&mut self) {
        if !self.sync.starved {
            return;
        }
        let Some(chain) = self.chain.as_ref() else {
            return;
        };
        let now_at = (chain.best_height(), chain.orphan_mark());
        if self.sync.room(Some(chain)).window == 0 && self.sync.refilled_at == now_at {
            return;
        }
        self.sync.refilled_at = now_at;
        self.sync.starved = false;
        let waiting: Vec<PeerId> = self
            .peers
            .values()
            .filter(|p| !p.to_fetch.is_empty())
            .map(|p| p.id)
            .collect();
        for id in waiting {
            self.fill_block_requests(id);
        }
    }

    /// A block `id` says it does not have: the request is over. When another peer
    /// announced it, that peer is asked instead, and `id`'s announcements of it are no
    /// longer taken on this connection: else a peer that announced real blocks before an
    /// honest one did, and answered `notfound` and announced them again over and over,
    /// would keep them awaited from itself (never long enough to time out) and never
    /// fetched from anyone.
    pub(super) fn block_not_found(&mut self, id: PeerId, h: BlockHash) {
        let was_requested = self.sync.settle(&h, id);
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.in_flight.remove(&h);
        if was_requested {
            p.known.remove(&InvItem::Block(h));
            if self.refetch_elsewhere(h, id) {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.lacks.insert(h);
                }
            }
        }
    }

    /// A block from `id`.
    pub(super) fn on_block(&mut self, id: PeerId, block: Block) {
        let hash = block.hash();
        let was_requested = self.sync.settle(&hash, id);
        self.sync.owed.remove(&hash);
        if let Some(p) = self.peers.get_mut(&id) {
            p.in_flight.remove(&hash);
            p.known.insert(InvItem::Block(hash));
        }
        if self.chain.is_none() {
            self.adopt_genesis(id, block);
        } else if !was_requested && self.adds_no_work(&block, &hash) {
            // Nobody asked for it and it cannot move the tip: not worth a check, a byte of
            // memory or a write. Honest peers announce blocks and wait for `getdata`.
            self.penalise(
                id,
                score::UNREQUESTED_LOW_WORK,
                format!("unrequested block {hash} that adds no work"),
            );
        } else {
            if self.next_block_verified.take() == Some(hash) {
                if let Some(chain) = self.chain.as_mut() {
                    chain.note_signatures_verified(hash);
                }
            }
            let outcome = self.accept_block(block, Some(id));
            self.block_outcome(id, hash, was_requested, outcome);
        }
        self.fill_block_requests(id);
    }

    /// Whether `block` (not on the chain, not waiting) meets its proof of work but would not
    /// add work to the best chain.
    fn adds_no_work(&self, block: &Block, hash: &BlockHash) -> bool {
        self.chain.as_ref().is_some_and(|c| {
            !c.contains(hash)
                && !c.is_orphan(hash)
                && c.proves_work(&block.header)
                && !c.would_add_work(&block.header)
        })
    }

    /// What follows from accepting (or refusing) block `hash` from `id`.
    fn block_outcome(
        &mut self,
        id: PeerId,
        hash: BlockHash,
        was_requested: bool,
        outcome: Result<AcceptOutcome, ValidationError>,
    ) {
        match outcome {
            Ok(AcceptOutcome::Orphan { missing }) => {
                if !was_requested {
                    self.penalise(
                        id,
                        score::UNREQUESTED_ORPHAN,
                        "unrequested orphan block".into(),
                    );
                }
                let waiting = self.sync.requested.contains_key(&missing);
                let asked = self
                    .peers
                    .get(&id)
                    .is_some_and(|p| p.getblocks_sent.is_some());
                // While other blocks are downloading, the gap below this one may be among
                // them: asking now would announce again, and have fetched again, blocks
                // the orphan pool let go of.
                if !waiting && !asked && !self.sync.is_downloading() {
                    self.send_getblocks(id, None);
                }
            }
            Ok(AcceptOutcome::AlreadyKnown) if !was_requested => {
                self.penalise(
                    id,
                    score::UNREQUESTED_KNOWN_BLOCK,
                    "unrequested block we already have".into(),
                );
            }
            Ok(AcceptOutcome::TipChanged(_)) => {
                let height = self.chain.as_ref().map_or(0, Chain::height);
                if let Some(p) = self.peers.get_mut(&id) {
                    p.best_height = p.best_height.max(height);
                }
            }
            Ok(_) => {}
            Err(e) => {
                let points = match e {
                    ValidationError::TimestampInFuture { .. } => score::FUTURE_BLOCK,
                    _ => score::INVALID_BLOCK,
                };
                if !crate::consensus::validation::condemns_header(&e) {
                    // The body, not the header, failed: the real block may still come from
                    // a peer that announced it.
                    self.refetch_elsewhere(hash, id);
                }
                self.out.send(
                    id,
                    &Message::Reject {
                        hash: hash.to_hash(),
                        reason: e.to_string(),
                    },
                );
                self.penalise(id, points, format!("invalid block {hash}: {e}"));
            }
        }
    }

    /// Asks another peer that announced block `hash` for it, ahead of its other blocks
    /// (`from` did not deliver it, or its body failed checks that do not condemn the
    /// header); returns whether one was found with room for it in its queue.
    fn refetch_elsewhere(&mut self, hash: BlockHash, from: PeerId) -> bool {
        let other = self.peers.values_mut().find(|p| {
            p.id != from
                && p.handshake.is_complete()
                && p.known.contains(&InvItem::Block(hash))
                && !p.lacks.contains(&hash)
        });
        let Some(p) = other else {
            return false;
        };
        let queued = p.to_fetch.push_front(hash);
        let other = p.id;
        if queued {
            self.sync.owed.insert(hash);
        }
        self.fill_block_requests(other);
        queued
    }

    /// Validates a block from a peer or from this node, persists what changed, and updates
    /// the mempool, announcements and notifications.
    pub(super) fn accept_block(
        &mut self,
        block: Block,
        from: Option<PeerId>,
    ) -> Result<AcceptOutcome, ValidationError> {
        let vouched = self.mempool_checked_its_signatures(&block);
        let Some(chain) = self.chain.as_mut() else {
            return Err(ValidationError::UnknownParent(block.header.prev));
        };
        let hash = block.hash();
        if vouched {
            chain.note_signatures_verified(hash);
        }
        let result = chain.accept_block(block, self.now);
        self.out.persist(chain.take_changes());
        match &result {
            Ok(AcceptOutcome::TipChanged(steps)) => self.after_tip_change(steps),
            Ok(AcceptOutcome::SideChain) => self.out.notify(Notification::SideBlock { hash }),
            Ok(_) => {}
            Err(e) => self.out.notify(Notification::BlockRejected {
                hash,
                reason: e.to_string(),
                from,
            }),
        }
        result
    }

    /// Whether every transaction of `block` but its coinbase is in the mempool, whose
    /// transactions all had their signatures checked on the way in: a signature depends on
    /// its transaction alone and the txid commits to all of it, so the block need not check
    /// them again (Bitcoin Core's signature cache). A relay that carried a block's payments
    /// checks each signature once, not twice.
    fn mempool_checked_its_signatures(&self, block: &Block) -> bool {
        let mut payments = block.transactions.iter().skip(1).peekable();
        !self.mempool.is_empty()
            && payments.peek().is_some()
            && payments.all(|tx| self.mempool.contains(&tx.txid()))
    }

    /// The active chain moved by `steps`: the mempool follows, the connected blocks are
    /// queued for announcement, and the transactions the move returned are announced again.
    pub(super) fn after_tip_change(&mut self, steps: &[TipStep]) {
        let Some(chain) = self.chain.as_ref() else {
            return;
        };
        let update = self
            .mempool
            .update_for_tip_change(steps, chain.utxo(), |h| !chain.connected_unchecked(h));
        self.mining.mempool_changed();
        let mut reorg_depth = 0;
        let mut gone = KeyedSet::new();
        let mut notes = Vec::new();
        for step in steps {
            match step {
                TipStep::Connected(b) => {
                    let hash = b.hash();
                    self.announce.queue_block(hash, self.now);
                    notes.push(Notification::BlockConnected {
                        hash,
                        height: b.coinbase_height().unwrap_or(0),
                        txs: b.transactions.len(),
                    });
                }
                TipStep::Disconnected(b) => {
                    reorg_depth += 1;
                    gone.insert(b.hash());
                }
            }
        }
        if !gone.is_empty() {
            self.announce.forget_blocks(&gone);
        }
        notes.push(Notification::TipChanged {
            tip: chain.tip(),
            height: chain.height(),
            reorg_depth,
        });
        for txid in update.dropped {
            notes.push(Notification::TxRejected {
                txid,
                reason: "no longer valid on the new chain".into(),
                from: None,
            });
        }
        for n in notes {
            self.out.notify(n);
        }
        for txid in update.returned {
            // Peers we told before may have dropped it when they confirmed it, or been
            // answered `notfound`: tell everyone again.
            for p in self.peers.values_mut() {
                p.known.remove(&InvItem::Tx(txid));
            }
            self.announce_tx(txid, None);
        }
        if !self.txs.orphans.is_empty() {
            self.retry_orphan_txs();
        }
    }

    /// Connects, a step at a time, what an earlier step of a long extension left (see
    /// [`crate::chain::CONNECT_STEP_BLOCKS`]), handing each step's writes and tip changes
    /// over before the next: by the end of the event the tip is the heaviest valid block,
    /// as always.
    pub(super) fn connect_pending_blocks(&mut self) {
        while let Some(steps) = self.chain.as_mut().and_then(Chain::connect_next_step) {
            if let Some(chain) = self.chain.as_mut() {
                self.out.persist(chain.take_changes());
            }
            self.after_tip_change(&steps);
        }
    }

    /// If we are behind and nothing is being downloaded or asked for (blocks were evicted
    /// from the orphan pool, a peer went away), ask the best peer again. If the window is
    /// full of orphans that wait on nothing in flight or owed, and no `getblocks` is
    /// unanswered, they are written off and the queued blocks asked for.
    pub(super) fn resume_stalled_sync(&mut self) {
        let asking = self.peers.values().any(|p| p.getblocks_sent.is_some());
        if let Some(chain) = &self.chain {
            if !asking
                && self.sync.room(Some(chain)).window == 0
                && self.sync.orphans_are_stranded(chain, &self.peers)
            {
                self.sync.written_off = chain.orphan_mark();
                self.sync.starved = true;
                self.sync.refilled_at = (u64::MAX, 0);
                self.refill_starved_peers();
            }
        }
        if self.sync.is_downloading() {
            return;
        }
        let ours = self.chain.as_ref().map_or(0, Chain::height);
        let best = self
            .peers
            .values()
            .filter(|p| p.handshake.is_complete() && p.best_height > ours && !p.claim_unbacked)
            .max_by_key(|p| p.best_height);
        let Some(best) = best else { return };
        if best.getblocks_sent.is_some() || !best.to_fetch.is_empty() {
            return;
        }
        let id = best.id;
        self.send_getblocks(id, None);
    }

    /// Assume-valid upkeep, once a tick. Gives up waiting for the assumed block when the
    /// download stalled without it (what was held then connects with every signature
    /// checked), and checks blocks restored as connected unchecked that no assumed block
    /// vouches for now, a slice per tick while nothing downloads. Nothing a peer claims
    /// (its height, say) decides when either happens.
    pub(super) fn check_skipped_signatures(&mut self) {
        let downloading = self.sync.is_downloading();
        let Some(chain) = self.chain.as_mut() else {
            return;
        };
        if let Some(steps) = chain.give_up_on_assumed_block_if_stalled(self.now, downloading) {
            self.out.persist(chain.take_changes());
            if !steps.is_empty() {
                self.after_tip_change(&steps);
            }
            return;
        }
        if chain.recheck_from().is_none() || downloading {
            return;
        }
        let result = chain.check_skipped_signatures(RECHECK_BLOCKS_PER_TICK);
        self.out.persist(chain.take_changes());
        if let Err((hash, e, steps)) = result {
            self.out.notify(Notification::BlockRejected {
                hash,
                reason: e.to_string(),
                from: None,
            });
            self.after_tip_change(&steps);
        }
    }

    /// Reports download progress when the height moved (work over all peers only then:
    /// this runs after every event).
    pub(super) fn report_progress(&mut self) {
        let Some(chain) = &self.chain else { return };
        // How far the download got, counting blocks held for the assume-valid block.
        let height = chain.best_height();
        if height == self.sync.last_progress {
            return;
        }
        let target = self.display_target_height();
        let step = (target / 100).max(1);
        if height >= target || height.abs_diff(self.sync.last_progress) >= step {
            self.sync.last_progress = height;
            self.out
                .notify(Notification::SyncProgress { height, target });
        }
    }
}
