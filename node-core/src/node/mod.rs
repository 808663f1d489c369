//! The node as a sans-IO state machine.
//!
//! # Overview
//! One [`Node`] is a whole participant of the network: chain, mempool, peers, sync, relay,
//! mining and wallet behaviour. It never touches a socket, a clock, a disk or a random
//! source. The caller (the relay's hub task, a browser tab's driver, a test network) tells it
//! what happened — a peer connected, a frame arrived, time passed, the user asked for
//! something, a worker found a nonce — passing the current time in milliseconds, and then
//! drains [`Action`]s: frames to send, peers to drop, changes to persist, templates to mine,
//! and [`Notification`]s for logs and the page.
//!
//! # Usage
//! ```text
//! node.handle(now, Event::PeerConnected { peer, outbound: true });
//! node.handle(now, Event::Frame { peer, bytes });
//! node.handle(now, Event::Tick);                  // every few hundred ms
//! while let Some(action) = node.poll_action() { /* carry it out, in order */ }
//! ```
//! Actions must be carried out in order: a `Persist` always comes before the frames that
//! announce what it stores, so nothing is announced that a crash could lose.
//!
//! # Protocol
//! The seed's messages and meaning, with its TODOs done: every block and transaction is
//! validated before it is stored or relayed; the UTXO set is updated per block; `getdata`
//! answers only what exists (`notfound` otherwise); `getblocks` carries a locator so a node
//! on a fork finds the common ancestor; `inv` and `getdata` are batched and several blocks
//! are in flight at once; `addr` spreads the nodes each peer knows; misbehaving peers are
//! scored and dropped.
//!
//! # What lives where
//! The node is a small coordinator: [`Node::handle`] sets the time once per event, hands
//! the event to the part it concerns, and always ends with the after-event step. Each part
//! owns its state in a struct of its own, so a part borrows its fields, the peer set and
//! the `outbox` separately, never all of the node.
//! - `mod.rs`: [`Node`], [`Event`], [`Action`]; event dispatch, the after-event step, the
//!   tick, connects and disconnects, penalties.
//! - `config`: [`NodeConfig`]. `report`: [`Notification`], [`Status`], [`PeerInfo`].
//! - `outbox`: the queue of actions every part writes to.
//! - [`peers`]: what is kept per peer; `score`: its misbehaviour points.
//! - `handshake`: `version`/`verack` and what follows them. `liveness`: deadlines, pings.
//! - `genesis`: getting a chain when there is none. `sync`: block download, accepting
//!   blocks, following the tip.
//! - `announce`: `inv` relay of new blocks and transactions.
//! - `tx_intake`: transaction requests and intake, local payments; `orphan_txs`: the
//!   transactions waiting for a parent.
//! - `serving`: answering `getblocks` and `getdata` in bounded rounds.
//! - `addr_exchange`: `getaddr`/`addr` and dialling learned relays, over [`addr_book`] and
//!   [`dialer`].
//! - `mining`: templates, jobs and mined blocks.
//! - [`shell`]: the [`Shell`](shell::Shell) trait, the one match over actions.
//!
//! May depend on: `primitives`, `consensus`, `chain` (with `mempool`, `wallet`), `protocol`,
//! `util`. Nothing outside `node` depends on its parts but through this module's exports
//! (and `peers::PeerId`, `shell`, `addr_book`).

pub mod addr_book;
mod addr_exchange;
mod announce;
mod config;
pub mod dialer;
mod download;
mod genesis;
mod handshake;
mod liveness;
mod mining;
mod orphan_txs;
mod outbox;
pub mod peer_table;
pub mod peers;
mod report;
mod score;
mod serving;
pub mod shell;
mod sync;
mod tx_intake;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::chain::{Chain, ChainChanges};
use crate::mempool::Mempool;
use crate::primitives::hash::BlockHash;
use crate::protocol::{decode_frame, FrameError, InvItem, Message, PeerAddr};

use addr_exchange::AddrExchange;
use announce::Announcements;
use download::Download;
use genesis::GenesisWait;
use mining::Mining;
use outbox::Outbox;
use peer_table::PeerTable;
use peers::{Peer, PeerId};
use tx_intake::TxIntake;

pub use addr_exchange::GETADDR_ANSWER_MAX;
pub use config::NodeConfig;
pub use genesis::{BEFORE_GENESIS_MAX_BLOCKS, BEFORE_GENESIS_MAX_BYTES};
pub use mining::{MinedError, MiningJob, TEMPLATE_REFRESH_MS};
pub use orphan_txs::{MAX_ORPHANS_PER_PEER, MAX_ORPHAN_BYTES};
pub use report::{Notification, PeerInfo, Status};
pub use serving::SERVE_ROUND_BYTES;
pub use tx_intake::{SendError, MAX_TX_REQUESTS, MAX_TX_REQUESTS_PER_PEER};

/// Why the node woke up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection opened; `outbound` when this node dialled it.
    PeerConnected {
        /// The caller's handle for it.
        peer: PeerId,
        /// This node dialled.
        outbound: bool,
    },
    /// This node opened a connection to `url`. `named` when its operator named that peer
    /// (the relay's `--peer`, the relay a tab's page came from): only such a peer gives a
    /// node without a chain its genesis. The URL, reached first-hand, goes where no `addr`
    /// flood can evict it. (`PeerConnected { outbound: true }` is an outbound connection
    /// whose shell does not say where to: neither named nor first-hand.)
    Dialled {
        /// The caller's handle for it.
        peer: PeerId,
        /// The URL dialled.
        url: String,
        /// The operator named this peer.
        named: bool,
    },
    /// A connection closed (for any reason, including our own `Disconnect`).
    PeerDisconnected {
        /// Which.
        peer: PeerId,
    },
    /// One frame arrived from a peer.
    Frame {
        /// From whom.
        peer: PeerId,
        /// The frame's bytes, untrusted.
        bytes: Vec<u8>,
    },
    /// Time passed; call every few hundred milliseconds.
    Tick,
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send one frame to one peer.
    Send {
        /// To whom.
        peer: PeerId,
        /// The frame.
        frame: Vec<u8>,
    },
    /// Send the same frame to several peers.
    Broadcast {
        /// To whom.
        peers: Vec<PeerId>,
        /// The frame.
        frame: Vec<u8>,
    },
    /// Close the connection.
    Disconnect {
        /// Which.
        peer: PeerId,
        /// Why, for logs and the page.
        reason: String,
        /// The peer misbehaved (a relay may refuse its address for a while).
        misbehaved: bool,
    },
    /// Write these changes to storage as one transaction, before anything after them.
    Persist(ChainChanges),
    /// Open an outbound connection to a relay learned through `version` or `addr` (once;
    /// the node asks again later if it does not connect). Only with
    /// [`NodeConfig::dial_learned`] above 0.
    Dial {
        /// The relay's WebSocket URL.
        url: String,
    },
    /// Start mining this template, replacing any job before it.
    Mine(MiningJob),
    /// Stop mining: no template is worth mining now.
    StopMining,
    /// Something happened that a user or log may want to see.
    Notify(Notification),
}

/// The node state machine: a coordinator over its parts (see the module documentation).
pub struct Node {
    config: NodeConfig,
    chain: Option<Chain>,
    mempool: Mempool,
    peers: PeerTable,
    genesis: GenesisWait,
    sync: Download,
    announce: Announcements,
    txs: TxIntake,
    addrs: AddrExchange,
    mining: Mining,
    /// The nonce of the next ping.
    next_ping: u64,
    /// The time of the event being handled: set once, as the event enters.
    now: u64,
    /// The block of the next frame whose signatures the shell verified (for that frame only).
    next_block_verified: Option<BlockHash>,
    /// Where the shell stores bodies, for a chain downloaded from its genesis later.
    #[cfg(feature = "stored-bodies")]
    body_source: Option<alloc::sync::Arc<dyn crate::chain::BodySource>>,
    /// Where the shell stores coins, for a chain downloaded from its genesis later.
    #[cfg(feature = "body-source")]
    coin_source: Option<alloc::sync::Arc<dyn crate::utxo::CoinSource>>,
    out: Outbox,
}

impl Node {
    /// A node with the chain it loaded from storage, or none (it then downloads one).
    pub fn new(config: NodeConfig, mut chain: Option<Chain>) -> Self {
        let mempool = Mempool::new(config.params.max_mempool_txs);
        let height = chain.as_ref().map_or(0, Chain::height);
        // A load may have connected stored blocks it found waiting: persist that first.
        let mut out = Outbox::new(config.trace_messages);
        if let Some(changes) = chain.as_mut().map(Chain::take_changes) {
            out.persist(changes);
        }
        let mut node = Node {
            addrs: AddrExchange::new(config.dial_learned),
            config,
            chain,
            mempool,
            peers: PeerTable::new(),
            genesis: GenesisWait::default(),
            sync: Download::new(height),
            announce: Announcements::default(),
            txs: TxIntake::default(),
            mining: Mining::default(),
            next_ping: 1,
            now: 0,
            next_block_verified: None,
            #[cfg(feature = "stored-bodies")]
            body_source: None,
            #[cfg(feature = "body-source")]
            coin_source: None,
            out,
        };
        // A load that left steps of a long extension (a tab closed mid-download) connects
        // them now, so the node starts at its heaviest stored block.
        node.connect_pending_blocks();
        node
    }

    /// Keeps block bodies and undo data in the shell's storage (read through `source`)
    /// rather than all in memory: for the chain held now and one downloaded later.
    #[cfg(feature = "stored-bodies")]
    pub fn keep_bodies_in(&mut self, source: alloc::sync::Arc<dyn crate::chain::BodySource>) {
        if let Some(chain) = self.chain.as_mut() {
            chain.keep_bodies_in(source.clone());
        }
        self.body_source = Some(source);
    }

    /// Keeps the chain's coins in `source` (the shell's store), with only the changes not yet
    /// reported stored ([`Node::changes_stored`]) in memory: for the chain held now and one
    /// downloaded later.
    #[cfg(feature = "body-source")]
    pub fn keep_coins_in(&mut self, source: alloc::sync::Arc<dyn crate::utxo::CoinSource>) {
        if let Some(chain) = self.chain.as_mut() {
            chain.keep_coins_in(source.clone());
        }
        self.coin_source = Some(source);
    }

    /// The next action to carry out, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop()
    }

    /// All pending actions, in order.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        self.out.drain()
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The chain, once there is one.
    pub fn chain(&self) -> Option<&Chain> {
        self.chain.as_ref()
    }

    /// The shell wrote the chain's changes up to batch `batch` ([`ChainChanges::batch`]):
    /// a UTXO set over stored coins lets go of what they changed.
    #[cfg(feature = "body-source")]
    pub fn changes_stored(&mut self, batch: u64) {
        if let Some(chain) = &mut self.chain {
            chain.stored(batch);
        }
    }

    /// The mempool.
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// Confirmed balance of `owner` on the active chain.
    pub fn balance(&self, owner: &crate::primitives::hash::PubKeyHash) -> u64 {
        self.chain.as_ref().map_or(0, |c| c.utxo().balance(owner))
    }

    /// Whether the node is downloading: it has no chain yet but knows which to fetch, or
    /// peers announced blocks it is fetching (see `Node::target_height`: a height a peer
    /// only claims does not make the node sync).
    pub fn is_syncing(&self) -> bool {
        let height = self.chain.as_ref().map_or(0, Chain::height);
        self.chain.is_none() && self.genesis.expected.is_some() || height < self.target_height()
    }

    /// The node's summary.
    pub fn status(&self) -> Status {
        Status {
            node_id: self.config.node_id.clone(),
            height: self.chain.as_ref().map_or(0, Chain::height),
            tip: self.chain.as_ref().map(Chain::tip),
            genesis: self.chain.as_ref().map(Chain::genesis_hash),
            peers: self
                .peers
                .values()
                .filter(|p| p.handshake.is_complete())
                .count(),
            mempool: self.mempool.len(),
            syncing: self.is_syncing(),
            target_height: self.display_target_height(),
            mining_to: self.mining.paying_to(),
            mining_active: self.mining.is_active(),
            orphans: self.chain.as_ref().map_or(0, Chain::orphan_count),
            downloaded_height: self.chain.as_ref().map_or(0, Chain::best_height),
        }
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.peers
            .values()
            .map(|p| PeerInfo {
                id: p.id,
                node_id: p.node_id().map(String::from),
                role: p.handshake.version.as_ref().map(|v| v.role),
                outbound: p.outbound,
                height: p.best_height,
                score: p.score,
                rtt_ms: p.rtt_ms,
            })
            .collect()
    }

    /// Bytes of blocks held before the genesis they build on (at most
    /// [`BEFORE_GENESIS_MAX_BYTES`]).
    pub fn held_before_genesis(&self) -> usize {
        self.genesis.held_bytes()
    }

    /// Nodes known through `addr` and handshakes: relays this node dialled itself first
    /// (most recently met first), then what peers told, in the order it arrived. A node
    /// failing over tries them in this order.
    pub fn known_addrs(&self) -> Vec<PeerAddr> {
        self.addrs.book.all()
    }

    /// The shell checked every input signature of the block in the very next frame it hands
    /// over (hash `hash`; natively, in parallel with validation): connecting it need not
    /// check them again. The note lasts for that one event, and speaks only for that frame's
    /// body (see [`Chain::note_signatures_verified`]). Ignored before a chain exists.
    pub fn note_verified_block(&mut self, hash: BlockHash) {
        self.next_block_verified = Some(hash);
    }

    /// Whether a block at `height` would have its signatures checked (not under
    /// assume-valid): a shell verifying signatures ahead asks this to skip wasted work.
    pub fn checks_signatures_at(&self, height: u64) -> bool {
        self.chain
            .as_ref()
            .is_none_or(|c| c.checks_signatures_at(height))
    }

    /// Whether peer `id` may give this node blocks: anyone once there is a chain; before,
    /// only a peer its operator named. Until the genesis is in, nobody else is asked for
    /// blocks, so a block from anybody else is unrequested.
    fn may_supply_chain(&self, id: PeerId) -> bool {
        self.chain.is_some() || self.peers.get(&id).is_some_and(|p| p.named)
    }

    // ----- events -------------------------------------------------------------------------

    /// Feeds one event in, at time `now` (ms); then drain actions.
    pub fn handle(&mut self, now: u64, event: Event) {
        self.now = now;
        match event {
            Event::PeerConnected { peer, outbound } => self.peer_connected(peer, outbound, None),
            Event::Dialled { peer, url, named } => {
                self.peer_connected(peer, true, Some((url, named)))
            }
            Event::PeerDisconnected { peer } => self.peer_disconnected(peer, "connection closed"),
            Event::Frame { peer, bytes } => self.frame_received(peer, &bytes),
            Event::Tick => self.tick(),
        }
        self.after_event();
        // A signature note speaks for the frame it came with, never a later one.
        self.next_block_verified = None;
    }

    /// Work common to the end of every event (and of every local command that changes the
    /// chain or the mempool).
    fn after_event(&mut self) {
        self.connect_pending_blocks();
        self.refill_starved_peers();
        self.retry_orphans_after_arrivals();
        self.flush_block_announcements();
        self.flush_tx_announcements(false);
        self.report_progress();
        self.update_mining();
    }

    fn peer_connected(&mut self, id: PeerId, outbound: bool, dialled: Option<(String, bool)>) {
        let mut peer = Peer::new(id, outbound, self.now);
        if let Some((url, named)) = dialled {
            peer.dialled = Some(url);
            peer.named = named;
        }
        self.peers.insert(id, peer);
        if outbound {
            self.send_version(id);
        }
    }

    fn peer_disconnected(&mut self, id: PeerId, reason: &str) {
        let Some(peer) = self.peers.remove(&id) else {
            return;
        };
        if peer.tx_requests > 0 {
            self.txs.release(id);
        }
        self.addrs.book.source_gone(id);
        if self.genesis.probe.is_some_and(|(p, _)| p == id) {
            self.genesis.probe = None;
        }
        self.out.notify(Notification::PeerDown {
            peer: id,
            reason: reason.into(),
        });
        // Ask someone else for what this peer owed us, first.
        self.ask_others_for_what_was_owed(&peer);
    }

    /// Drops a peer now: its state goes, and the caller is told to close the connection.
    fn disconnect(&mut self, id: PeerId, reason: String, misbehaved: bool) {
        if !self.peers.contains_key(&id) {
            return;
        }
        self.out.push(Action::Disconnect {
            peer: id,
            reason: reason.clone(),
            misbehaved,
        });
        self.peer_disconnected(id, &reason);
    }

    /// Adds `points` to a peer's score, dropping it at the ban score.
    fn penalise(&mut self, id: PeerId, points: u32, reason: String) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.score = peer.score.saturating_add(points);
        let score = peer.score;
        self.out.notify(Notification::PeerPenalised {
            peer: id,
            score,
            reason: reason.clone(),
        });
        if score >= self.config.ban_score {
            self.disconnect(id, format!("misbehaving: {reason}"), true);
        }
    }

    fn frame_received(&mut self, id: PeerId, bytes: &[u8]) {
        if !self.peers.contains_key(&id) {
            return;
        }
        let message = match decode_frame(bytes) {
            Ok(m) => m,
            Err(e) => {
                if self.out.tracing() {
                    self.out.notify(Notification::MessageIn {
                        peer: id,
                        command: "?".into(),
                        summary: format!("{} bytes", bytes.len()),
                        refused: Some(e.to_string()),
                    });
                }
                let points = match e {
                    FrameError::BadMagic(_) => score::WRONG_NETWORK,
                    FrameError::TooLarge(_)
                    | FrameError::ListTooLong { .. }
                    | FrameError::StringTooLong(_) => score::OVERSIZED,
                    _ => score::MALFORMED,
                };
                self.penalise(id, points, e.to_string());
                return;
            }
        };
        if self.out.tracing() {
            self.out.notify(Notification::MessageIn {
                peer: id,
                command: message.command().into(),
                summary: message.summary(),
                refused: None,
            });
        }
        let complete = self
            .peers
            .get(&id)
            .is_some_and(|p| p.handshake.is_complete());
        match message {
            Message::Version(v) => self.on_version(id, v),
            Message::Verack => self.on_verack(id),
            other if !complete => {
                let what = format!("{} before the handshake", other.command());
                self.penalise(id, score::BEFORE_HANDSHAKE, what);
            }
            Message::GetBlocks { locator, stop } => self.on_getblocks(id, &locator, stop),
            Message::Inv(items) => self.on_inv(id, items),
            Message::GetData(items) => self.on_getdata(id, items),
            Message::Block(block) => self.on_block(id, block),
            Message::Tx(tx) => self.on_tx(id, tx),
            Message::NotFound(items) => self.on_notfound(id, items),
            Message::GetAddr => self.on_getaddr(id),
            Message::Addr(addrs) => self.on_addr(id, addrs),
            Message::Ping(n) => {
                self.out.send(id, &Message::Pong(n));
            }
            Message::Pong(n) => self.on_pong(id, n),
            Message::Reject { hash, reason } => self.out.notify(Notification::RejectReceived {
                peer: id,
                hash,
                reason,
            }),
        }
    }

    /// An `inv`: the genesis probe, the blocks to queue (and the next `getblocks`), the
    /// transactions to ask for, then the next block requests.
    fn on_inv(&mut self, id: PeerId, items: Vec<InvItem>) {
        let mut blocks = Vec::new();
        let mut txs = Vec::new();
        for item in &items {
            match item {
                InvItem::Block(h) => blocks.push(*h),
                InvItem::Tx(t) => txs.push(*t),
            }
        }
        if !self.may_supply_chain(id) {
            // No chain yet, and this peer cannot give us one: its blocks wait for a peer
            // the operator named.
            blocks.clear();
        }
        if !self.probe_for_genesis(id, &blocks) {
            return;
        }
        self.queue_announced_blocks(id, &items, &blocks);
        self.request_announced_txs(id, &txs);
        self.fill_block_requests(id);
    }

    /// A `notfound`: those requests are over.
    fn on_notfound(&mut self, id: PeerId, items: Vec<InvItem>) {
        for item in items {
            match item {
                InvItem::Block(h) => self.block_not_found(id, h),
                InvItem::Tx(t) => self.tx_request_done(&t),
            }
        }
    }

    /// Time passed: deadlines, answers waiting, pings, expired requests, a stalled sync,
    /// dialling, assume-valid upkeep.
    fn tick(&mut self) {
        let pings = self.check_liveness();
        self.serve_waiting();
        self.send_pings(pings);
        self.expire_tx_requests();
        self.expire_genesis_probe();
        self.resume_stalled_sync();
        self.dial_learned();
        self.check_skipped_signatures();
    }
}
