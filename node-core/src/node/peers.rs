//! What a node keeps about each connected peer: handshake, scores, what it knows, what we
//! asked it for.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use alloc::string::String;

use crate::primitives::hash::BlockHash;
use crate::protocol::{InvItem, Version, MAX_INV_ITEMS};
use crate::util::keyed_map::{KeyedMap, KeyedSet, MapKey};

/// The caller's handle for a connection.
pub type PeerId = u64;

/// Inventory items remembered as known to one peer (not announced to it again): four full
/// `inv`s, kept in a set and an age queue, well under a megabyte per peer. An item
/// forgotten early is at worst announced to it twice.
pub const KNOWN_INVENTORY_CAP: usize = 8_192;
/// Blocks remembered as sent to one peer, to charge it for asking again: a few download
/// windows' worth.
pub const SERVED_BLOCKS_CAP: usize = 4_096;
/// Blocks remembered as ones a peer answered `notfound` for while another peer had
/// announced them: a few download windows' worth.
pub const LACKED_BLOCKS_CAP: usize = 4_096;

/// A set that forgets its oldest members past a capacity: what a peer is known to have.
#[derive(Debug, Clone, Default)]
pub struct RecentSet<T: MapKey> {
    set: KeyedSet<T>,
    order: VecDeque<T>,
    cap: usize,
}

impl<T: MapKey> RecentSet<T> {
    /// An empty set remembering at most `cap` items.
    pub fn new(cap: usize) -> Self {
        RecentSet {
            set: KeyedSet::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    /// Adds an item; returns whether it was new.
    pub fn insert(&mut self, item: T) -> bool {
        if !self.set.insert(item) {
            return false;
        }
        self.order.push_back(item);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Forgets an item (its slot in the age order is reclaimed when it would expire).
    pub fn remove(&mut self, item: &T) {
        self.set.remove(item);
    }

    /// Whether the item is remembered.
    pub fn contains(&self, item: &T) -> bool {
        self.set.contains(item)
    }
}

/// Blocks a peer announced that we still want, in announcement order, bounded: a peer
/// flooding announcements of blocks that do not exist cannot grow it without limit, and
/// membership is a lookup, not a scan.
#[derive(Debug, Clone, Default)]
pub struct FetchQueue {
    order: VecDeque<BlockHash>,
    set: KeyedSet<BlockHash>,
}

impl FetchQueue {
    /// Most blocks queued per peer. The sync asks for the next batch of announcements only
    /// while a whole batch fits (else it asks again once the queue has drained), so an
    /// announcement dropped here is one a peer sent unasked.
    pub const CAP: usize = 20_000;

    /// Queues a hash; false if it was there already or the queue is full.
    pub fn push(&mut self, h: BlockHash) -> bool {
        if self.set.len() >= Self::CAP || !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        true
    }

    /// Queues a hash ahead of all the others (a block others wait on), moving it there if
    /// it was queued already; false if the queue is full.
    pub fn push_front(&mut self, h: BlockHash) -> bool {
        if self.set.contains(&h) {
            self.order.retain(|x| *x != h);
        } else if self.set.len() >= Self::CAP {
            return false;
        }
        self.set.insert(h);
        self.order.push_front(h);
        true
    }

    /// Takes `h` out of the queue, wherever it is; returns whether it was there.
    pub fn remove(&mut self, h: &BlockHash) -> bool {
        if !self.set.remove(h) {
            return false;
        }
        self.order.retain(|x| x != h);
        true
    }

    /// The oldest queued hash, left in the queue.
    pub fn front(&self) -> Option<BlockHash> {
        self.order.front().copied()
    }

    /// The oldest queued hash.
    pub fn pop(&mut self) -> Option<BlockHash> {
        let h = self.order.pop_front()?;
        self.set.remove(&h);
        Some(h)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Number queued.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether `h` is queued.
    pub fn contains(&self, h: &BlockHash) -> bool {
        self.set.contains(h)
    }

    /// Whether `more` hashes would still fit.
    pub fn has_room_for(&self, more: usize) -> bool {
        self.order.len().saturating_add(more) <= Self::CAP
    }
}

/// Items a peer asked for with `getdata` and not yet sent, oldest first, each once: the
/// node answers a request in rounds of bounded bytes, so what does not fit waits here.
#[derive(Debug, Clone, Default)]
pub struct ServeQueue {
    order: VecDeque<InvItem>,
    set: KeyedSet<InvItem>,
}

impl ServeQueue {
    /// Most items waiting per peer: one full `getdata`. A peer asking for more before the
    /// earlier ones went out is answered `notfound` for the rest.
    pub const CAP: usize = MAX_INV_ITEMS;

    /// Queues an item; false if it is waiting already or the queue is full.
    pub fn push(&mut self, item: InvItem) -> bool {
        if self.set.len() >= Self::CAP || !self.set.insert(item) {
            return false;
        }
        self.order.push_back(item);
        true
    }

    /// Whether `item` is waiting.
    pub fn contains(&self, item: &InvItem) -> bool {
        self.set.contains(item)
    }

    /// The oldest waiting item.
    pub fn pop(&mut self) -> Option<InvItem> {
        let item = self.order.pop_front()?;
        self.set.remove(&item);
        Some(item)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Number waiting.
    pub fn len(&self) -> usize {
        self.order.len()
    }
}

/// Handshake state of a connection.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    /// We sent our `version`.
    pub version_sent: bool,
    /// Their `version`, once received.
    pub version: Option<Version>,
    /// They acknowledged ours.
    pub verack_received: bool,
}

impl Handshake {
    /// Both versions exchanged and acknowledged.
    pub fn is_complete(&self) -> bool {
        self.version.is_some() && self.verack_received
    }
}

/// One connected peer.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The caller's handle.
    pub id: PeerId,
    /// We dialled it.
    pub outbound: bool,
    /// The URL we dialled to reach it, when the shell said (inbound connections have none).
    pub dialled: Option<String>,
    /// Its operator named it (the relay's `--peer`, the relay a tab's page came from): the
    /// only kind of peer a node without a chain takes its genesis from.
    pub named: bool,
    /// When it connected.
    pub connected_at: u64,
    /// Handshake progress.
    pub handshake: Handshake,
    /// Misbehaviour score; at the threshold the peer is disconnected.
    pub score: u32,
    /// Blocks requested from it, with when.
    pub in_flight: KeyedMap<BlockHash, u64>,
    /// Blocks it announced that we still want, in announcement order.
    pub to_fetch: FetchQueue,
    /// Inventory it has or we sent it: not announced to it again.
    pub known: RecentSet<InvItem>,
    /// When we sent a `getblocks` still unanswered.
    pub getblocks_sent: Option<u64>,
    /// Its best height as last heard.
    pub best_height: u64,
    /// Outstanding ping nonce and when it was sent.
    pub ping: Option<(u64, u64)>,
    /// When we last sent a ping.
    pub last_ping: u64,
    /// Last round-trip time measured, in ms.
    pub rtt_ms: Option<u64>,
    /// Transactions asked of it and not yet answered.
    pub tx_requests: usize,
    /// Its `getaddr` was answered: once per connection, as an answer is hundreds of entries.
    pub getaddr_answered: bool,
    /// What it asked for and has not been sent yet.
    pub to_serve: ServeQueue,
    /// Blocks sent to it lately on this connection: asking for one again is charged.
    pub served_blocks: RecentSet<BlockHash>,
    /// Blocks it said it does not have (`notfound`) that another peer announced: asked of
    /// that peer instead, and no longer taken from this one's announcements on this
    /// connection.
    pub lacks: RecentSet<BlockHash>,
    /// Asked for the blocks its `version` claimed, it had none we lacked: its height claim
    /// no longer counts toward our sync target (until it announces a block we lack).
    pub claim_unbacked: bool,
}

impl Peer {
    /// A peer that just connected.
    pub fn new(id: PeerId, outbound: bool, now: u64) -> Self {
        Peer {
            id,
            outbound,
            dialled: None,
            named: false,
            connected_at: now,
            handshake: Handshake::default(),
            score: 0,
            in_flight: KeyedMap::new(),
            to_fetch: FetchQueue::default(),
            known: RecentSet::new(KNOWN_INVENTORY_CAP),
            getblocks_sent: None,
            best_height: 0,
            ping: None,
            last_ping: now,
            rtt_ms: None,
            tx_requests: 0,
            getaddr_answered: false,
            to_serve: ServeQueue::default(),
            served_blocks: RecentSet::new(SERVED_BLOCKS_CAP),
            lacks: RecentSet::new(LACKED_BLOCKS_CAP),
            claim_unbacked: false,
        }
    }

    /// Its node id, once it said.
    pub fn node_id(&self) -> Option<&str> {
        self.handshake.version.as_ref().map(|v| v.node_id.as_str())
    }

    /// Oldest outstanding block request time.
    pub fn oldest_request(&self) -> Option<u64> {
        self.in_flight.values().min().copied()
    }

    /// Hashes requested from it.
    pub fn requested(&self) -> Vec<BlockHash> {
        self.in_flight.keys().copied().collect()
    }
}
