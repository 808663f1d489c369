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

pub mod addr_book;
pub mod dialer;
pub mod peers;
pub mod shell;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::chain::{AcceptOutcome, Chain, ChainChanges, TipStep};
use crate::consensus::params::ChainParams;
use crate::consensus::pow;
use crate::consensus::validation::ValidationError;
use crate::mempool::{Mempool, MempoolError};
use crate::node::addr_book::AddrBook;
use crate::node::dialer::Dialer;
use crate::node::peers::{Peer, PeerId, RecentSet};
use crate::primitives::block::Block;
use crate::primitives::hash::{BlockHash, Hash256, PubKeyHash, Txid};
use crate::primitives::keys::KeyPair;
use crate::primitives::tx::{OutPoint, Transaction};
use crate::protocol::{
    decode_frame, encode_frame, FrameError, InvItem, Message, PeerAddr, Role, Version,
    MAX_INV_ITEMS, PROTOCOL_VERSION,
};
use crate::util::keyed_map::{KeyedMap, KeyedSet};
use crate::wallet::{self, WalletError};

/// Settings of one node; the defaults suit the seed's network.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The seed's NODE_ID.
    pub node_id: String,
    /// What this node announces itself as.
    pub role: Role,
    /// Where this node accepts connections (relays).
    pub listen_url: Option<String>,
    /// Random per process, to notice a connection to itself.
    pub nonce: u64,
    /// Consensus parameters.
    pub params: ChainParams,
    /// Transactions in the mempool before a miner builds a block (the seed's 2).
    pub mining_threshold: usize,
    /// Blocks requested from one peer at once.
    pub max_blocks_in_flight: usize,
    /// Hashes sent in answer to one `getblocks`.
    pub inv_batch: usize,
    /// A peer that leaves a block request unanswered this long is dropped.
    pub stall_timeout_ms: u64,
    /// A peer that has not finished the handshake after this long is dropped.
    pub handshake_timeout_ms: u64,
    /// How often an idle peer is pinged.
    pub ping_interval_ms: u64,
    /// A ping unanswered this long drops the peer.
    pub ping_timeout_ms: u64,
    /// Misbehaviour score at which a peer is disconnected.
    pub ban_score: u32,
    /// Emit a notification for every message in and out (the page's protocol inspector).
    pub trace_messages: bool,
    /// Software name sent in `version`.
    pub user_agent: String,
    /// Outbound connections to keep by dialling relays learned through `version` and
    /// `addr` ([`Action::Dial`]); 0 for a node that cannot dial them (a tab). Needs the
    /// crate's `dial` feature (the browser build leaves it out).
    pub dial_learned: usize,
    /// Bytes of `getdata` answers sent to one peer per round ([`SERVE_ROUND_BYTES`]).
    pub serve_round_bytes: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            node_id: "3000".into(),
            role: Role::Relay,
            listen_url: None,
            nonce: 0,
            params: ChainParams::default(),
            mining_threshold: 2,
            max_blocks_in_flight: 128,
            inv_batch: 500,
            stall_timeout_ms: 30_000,
            handshake_timeout_ms: 15_000,
            ping_interval_ms: 30_000,
            ping_timeout_ms: 60_000,
            ban_score: 100,
            trace_messages: false,
            user_agent: "blockchain-wasm/0.1".into(),
            dial_learned: 0,
            serve_round_bytes: SERVE_ROUND_BYTES,
        }
    }
}

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

/// A block template to mine: find a nonce for `template.header`, then call
/// [`Node::block_mined`] with `id` and the nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiningJob {
    /// Identifies this job; a result for an older job is ignored.
    pub id: u64,
    /// The block with nonce 0.
    pub template: Block,
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

/// Things that happened, for logs, the page and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// The active tip moved.
    TipChanged {
        /// New tip.
        tip: BlockHash,
        /// Its height.
        height: u64,
        /// Blocks disconnected on the way (a reorganisation when non-zero).
        reorg_depth: usize,
    },
    /// A block joined the active chain.
    BlockConnected {
        /// Its hash.
        hash: BlockHash,
        /// Its height.
        height: u64,
        /// Transactions in it.
        txs: usize,
    },
    /// A valid block was stored on a side branch.
    SideBlock {
        /// Its hash.
        hash: BlockHash,
    },
    /// A block was refused.
    BlockRejected {
        /// Its hash.
        hash: BlockHash,
        /// The rule it broke.
        reason: String,
        /// The peer that sent it, if any.
        from: Option<PeerId>,
    },
    /// A transaction entered the mempool.
    TxAccepted {
        /// Its id.
        txid: Txid,
        /// The peer that sent it, or `None` for a local one.
        from: Option<PeerId>,
    },
    /// A transaction was refused.
    TxRejected {
        /// Its id.
        txid: Txid,
        /// Why.
        reason: String,
        /// The peer that sent it, or `None` for a local one.
        from: Option<PeerId>,
    },
    /// Download progress while behind the best peer.
    SyncProgress {
        /// How far the download got (held blocks included; see [`Status::downloaded_height`]).
        height: u64,
        /// The best height peers announced.
        target: u64,
    },
    /// A peer finished the handshake.
    PeerUp {
        /// Handle.
        peer: PeerId,
        /// Its node id.
        node_id: String,
        /// Its role.
        role: Role,
        /// Its height.
        height: u64,
    },
    /// A peer left.
    PeerDown {
        /// Handle.
        peer: PeerId,
        /// Why, when we know.
        reason: String,
    },
    /// A peer broke a rule; its score rose.
    PeerPenalised {
        /// Handle.
        peer: PeerId,
        /// Score now.
        score: u32,
        /// What it did.
        reason: String,
    },
    /// Nodes heard of through `addr`.
    AddrLearned(Vec<PeerAddr>),
    /// A peer told us something we sent was refused.
    RejectReceived {
        /// Who.
        peer: PeerId,
        /// The refused item.
        hash: Hash256,
        /// Their reason.
        reason: String,
    },
    /// This node mined a block.
    Mined {
        /// Its hash.
        hash: BlockHash,
        /// Its height.
        height: u64,
    },
    /// A message arrived (only with `trace_messages`).
    MessageIn {
        /// From whom.
        peer: PeerId,
        /// Its command.
        command: String,
        /// What it said.
        summary: String,
        /// Why it was refused, if it was.
        refused: Option<String>,
    },
    /// A message was sent (only with `trace_messages`).
    MessageOut {
        /// To whom (the first, for broadcasts).
        peers: Vec<PeerId>,
        /// Its command.
        command: String,
        /// What it said.
        summary: String,
    },
}

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

/// Why a mined nonce was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MinedError {
    /// The job was replaced or cancelled meanwhile.
    StaleJob(u64),
    /// The nonce does not meet the target.
    BadNonce,
    /// The block was refused.
    Invalid(ValidationError),
}

impl fmt::Display for MinedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MinedError::StaleJob(id) => write!(f, "mining job {id} is no longer current"),
            MinedError::BadNonce => write!(f, "nonce does not meet the target"),
            MinedError::Invalid(e) => write!(f, "mined block refused: {e}"),
        }
    }
}

/// A summary of the node for the page and `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// NODE_ID.
    pub node_id: String,
    /// Active height (0 with no chain).
    pub height: u64,
    /// Active tip, if there is a chain.
    pub tip: Option<BlockHash>,
    /// Genesis, if there is a chain.
    pub genesis: Option<BlockHash>,
    /// Peers past the handshake.
    pub peers: usize,
    /// Transactions in the mempool.
    pub mempool: usize,
    /// Behind the best peer.
    pub syncing: bool,
    /// Best height any peer announced.
    pub target_height: u64,
    /// Address being mined to, if mining is on.
    pub mining_to: Option<PubKeyHash>,
    /// A template is being mined now.
    pub mining_active: bool,
    /// Orphan blocks waiting.
    pub orphans: usize,
    /// Height of the best block downloaded: above `height` while blocks wait, unconnected,
    /// for the assume-valid block that decides which of them may skip signature checks.
    pub downloaded_height: u64,
}

/// A peer as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Handle.
    pub id: PeerId,
    /// Its node id, once known.
    pub node_id: Option<String>,
    /// Its role, once known.
    pub role: Option<Role>,
    /// We dialled it.
    pub outbound: bool,
    /// Its best height as last heard.
    pub height: u64,
    /// Misbehaviour score.
    pub score: u32,
    /// Last ping round trip.
    pub rtt_ms: Option<u64>,
}

/// How long a transaction announcement may wait to share an `inv` with others.
const TX_INV_DELAY_MS: u64 = 100;

/// Bytes of `getdata` answers sent to one peer per round. A round runs when its `getdata`
/// arrives and at every tick; what does not fit waits in the peer's queue (at most one
/// `getdata` of items, each item once) for the next round. So one request naming a large
/// block two thousand times queues one copy, and a peer that asks for more than it reads
/// has at most about this much more queued per round (the shell drops a peer whose queue
/// grows past its own byte limit). One maximal block per round: a download of full blocks
/// still gets several a second.
pub const SERVE_ROUND_BYTES: usize = crate::consensus::params::MAX_BLOCK_SIZE;

/// Nodes handed out per `getaddr` (answered once per connection): enough to fail over and
/// find relays, small enough that asking costs the node little.
pub const GETADDR_ANSWER_MAX: usize = 250;

/// Blocks held before there is a chain to put them on (announcements that overtook the
/// genesis), at most this many bytes and [`BEFORE_GENESIS_MAX_BLOCKS`] blocks: they are
/// fetched again after the genesis anyway.
pub const BEFORE_GENESIS_MAX_BYTES: usize = 4 * crate::consensus::params::MAX_BLOCK_SIZE;
/// See [`BEFORE_GENESIS_MAX_BYTES`].
pub const BEFORE_GENESIS_MAX_BLOCKS: usize = 256;

/// While the tip stays the same, a mining template is rebuilt for a changed mempool at most
/// this often: a rebuild takes work in the size of the block, so rebuilding it for every
/// transaction of a flood would cost the square of the flood.
pub const TEMPLATE_REFRESH_MS: u64 = 1_000;

/// Transaction requests outstanding at most, in all: they are forgotten after the stall
/// timeout.
pub const MAX_TX_REQUESTS: usize = 50_000;
/// Transaction requests outstanding with one peer at most: a full mempool's worth.
pub const MAX_TX_REQUESTS_PER_PEER: usize = 5_000;

/// Orphan transactions (waiting for a parent) kept at most, in bytes; see
/// [`Node::MAX_ORPHAN_TXS`] for the count.
pub const MAX_ORPHAN_BYTES: usize = 2 << 20;
/// Orphan transactions one peer may have waiting: a fifth of the pool.
pub const MAX_ORPHANS_PER_PEER: usize = 100;

/// Misbehaviour points for the offences a peer can commit.
mod score {
    pub const MALFORMED: u32 = 50;
    pub const WRONG_NETWORK: u32 = 100;
    pub const OVERSIZED: u32 = 100;
    pub const BEFORE_HANDSHAKE: u32 = 20;
    pub const DUPLICATE_VERSION: u32 = 20;
    pub const INVALID_BLOCK: u32 = 100;
    pub const FUTURE_BLOCK: u32 = 10;
    pub const INVALID_TX: u32 = 10;
    pub const UNREQUESTED_KNOWN_BLOCK: u32 = 5;
    pub const UNREQUESTED_ORPHAN: u32 = 5;
    /// A block nobody asked for that would not add work to the best chain.
    pub const UNREQUESTED_LOW_WORK: u32 = 20;
    /// A signature that does not verify: honest nodes check before they relay.
    pub const BAD_SIGNATURE: u32 = 100;
    /// Asked again for a block it was sent on this connection, or for one item twice.
    pub const REPEATED_REQUEST: u32 = 5;
    /// Sent a block before we had a chain though it cannot give us one.
    pub const BLOCK_BEFORE_GENESIS: u32 = 5;
}

/// A transaction waiting for a parent.
#[derive(Debug, Clone)]
struct OrphanTx {
    tx: Transaction,
    from: Option<PeerId>,
    /// The input found missing (the first; another may be missing once it comes).
    waiting_for: OutPoint,
    /// Encoded bytes.
    size: usize,
}

/// The node state machine.
pub struct Node {
    config: NodeConfig,
    chain: Option<Chain>,
    mempool: Mempool,
    peers: BTreeMap<PeerId, Peer>,
    /// Blocks requested, and from whom.
    requested: KeyedMap<BlockHash, PeerId>,
    /// Transactions requested, and when.
    tx_requested: KeyedMap<Txid, (PeerId, u64)>,
    /// The genesis we will accept while we have no chain.
    expected_genesis: Option<BlockHash>,
    /// The peer asked for its chain from genesis because no `version` named one, and when.
    genesis_probe: Option<(PeerId, u64)>,
    /// Blocks that arrived before the genesis they build on, with their sender; bounded by
    /// [`BEFORE_GENESIS_MAX_BYTES`], and only from named peers.
    before_genesis: Vec<(Block, PeerId)>,
    before_genesis_bytes: usize,
    book: AddrBook,
    /// `getaddr` answers given, to draw each sample differently.
    addr_samples: u64,
    dialer: Dialer,
    recent_rejects: RecentSet<Txid>,
    /// Transactions whose signatures the shell already checked (in parallel, off this task).
    verified_signatures: RecentSet<Txid>,
    /// Transactions whose inputs we have not seen yet (their parent is still on its way),
    /// with the sender and the output each waits for. Bounded in count and bytes.
    orphan_txs: KeyedMap<Txid, OrphanTx>,
    /// Orphans by the txid of the output they wait for: a parent that arrives retries only
    /// its own children.
    orphans_by_parent: KeyedMap<Txid, Vec<Txid>>,
    orphan_bytes: usize,
    /// Transactions accepted since orphans were last retried.
    arrived: Vec<Txid>,
    /// The tip when orphans were last checked against the UTXO set.
    orphans_checked_at: Option<BlockHash>,
    mining_to: Option<PubKeyHash>,
    job: Option<(MiningJob, u64)>,
    /// When the current mining template was built.
    template_at: u64,
    next_job_id: u64,
    mempool_version: u64,
    pending_announce: Vec<BlockHash>,
    /// Transactions to announce, with the peer they came from, and when the first was queued.
    pending_tx_inv: Vec<(Txid, Option<PeerId>)>,
    tx_inv_since: u64,
    /// When the oldest pending announcement was queued.
    announce_since: Option<u64>,
    last_progress: u64,
    next_ping: u64,
    /// The time of the latest event, for work done outside one (a disconnect's follow-up).
    now: u64,
    /// The block of the next frame whose signatures the shell verified (for that frame only).
    next_block_verified: Option<BlockHash>,
    actions: VecDeque<Action>,
}

impl Node {
    /// A node with the chain it loaded from storage, or none (it then downloads one).
    pub fn new(config: NodeConfig, mut chain: Option<Chain>) -> Self {
        let mempool = Mempool::new(config.params.max_mempool_txs);
        let last_progress = chain.as_ref().map_or(0, Chain::height);
        // A load may have connected stored blocks it found waiting: persist that first.
        let mut actions = VecDeque::new();
        if let Some(changes) = chain.as_mut().map(Chain::take_changes) {
            if !changes.is_empty() {
                actions.push_back(Action::Persist(changes));
            }
        }
        let dialer = Dialer::new(config.dial_learned);
        Node {
            config,
            chain,
            mempool,
            peers: BTreeMap::new(),
            requested: KeyedMap::new(),
            tx_requested: KeyedMap::new(),
            expected_genesis: None,
            genesis_probe: None,
            before_genesis: Vec::new(),
            before_genesis_bytes: 0,
            book: AddrBook::new(),
            addr_samples: 0,
            dialer,
            recent_rejects: RecentSet::new(10_000),
            verified_signatures: RecentSet::new(20_000),
            orphan_txs: KeyedMap::new(),
            orphans_by_parent: KeyedMap::new(),
            orphan_bytes: 0,
            arrived: Vec::new(),
            orphans_checked_at: None,
            mining_to: None,
            job: None,
            template_at: 0,
            next_job_id: 1,
            mempool_version: 0,
            pending_announce: Vec::new(),
            pending_tx_inv: Vec::new(),
            tx_inv_since: 0,
            announce_since: None,
            last_progress,
            next_ping: 1,
            now: 0,
            next_block_verified: None,
            actions,
        }
    }

    /// The next action to carry out, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// All pending actions, in order.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        self.actions.drain(..).collect()
    }

    /// The configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The chain, once there is one.
    pub fn chain(&self) -> Option<&Chain> {
        self.chain.as_ref()
    }

    /// The mempool.
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// Confirmed balance of `owner` on the active chain.
    pub fn balance(&self, owner: &PubKeyHash) -> u64 {
        self.chain.as_ref().map_or(0, |c| c.utxo().balance(owner))
    }

    /// Whether the node is downloading: it has no chain yet but knows which to fetch, or
    /// peers announced blocks it is fetching (see [`Node::target_height`]: a height a peer
    /// only claims does not make the node sync).
    pub fn is_syncing(&self) -> bool {
        let height = self.chain.as_ref().map_or(0, Chain::height);
        self.chain.is_none() && self.expected_genesis.is_some() || height < self.target_height()
    }

    /// The node's summary.
    pub fn status(&self) -> Status {
        let height = self.chain.as_ref().map_or(0, Chain::height);
        let target = self.display_target_height();
        Status {
            node_id: self.config.node_id.clone(),
            height,
            tip: self.chain.as_ref().map(Chain::tip),
            genesis: self.chain.as_ref().map(Chain::genesis_hash),
            peers: self
                .peers
                .values()
                .filter(|p| p.handshake.is_complete())
                .count(),
            mempool: self.mempool.len(),
            syncing: self.is_syncing(),
            target_height: target,
            mining_to: self.mining_to,
            mining_active: self.job.is_some(),
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
        self.before_genesis_bytes
    }

    /// Nodes known through `addr` and handshakes: relays this node dialled itself first
    /// (most recently met first), then what peers told, in the order it arrived. A node
    /// failing over tries them in this order.
    pub fn known_addrs(&self) -> Vec<PeerAddr> {
        self.book.all()
    }

    /// The height the node is syncing toward, as far as peers have backed it: a peer's
    /// claimed height counts only up to our height plus the blocks it announced that we are
    /// fetching, and not at all once asking it for blocks brought none. What a peer merely
    /// says about its height never decides what the node validates or when.
    fn target_height(&self) -> u64 {
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
    fn display_target_height(&self) -> u64 {
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

    /// Whether peer `id` may give this node blocks: anyone once there is a chain; before,
    /// only a peer its operator named. Until the genesis is in, nobody else is asked for
    /// blocks, so a block from anybody else is unrequested.
    fn may_supply_chain(&self, id: PeerId) -> bool {
        self.chain.is_some() || self.peers.get(&id).is_some_and(|p| p.named)
    }

    // ----- events -------------------------------------------------------------------------

    /// Feeds one event in; then drain actions.
    pub fn handle(&mut self, now: u64, event: Event) {
        self.now = now;
        match event {
            Event::PeerConnected { peer, outbound } => {
                self.peer_connected(now, peer, outbound, None)
            }
            Event::Dialled { peer, url, named } => {
                self.peer_connected(now, peer, true, Some((url, named)))
            }
            Event::PeerDisconnected { peer } => self.peer_disconnected(peer, "connection closed"),
            Event::Frame { peer, bytes } => self.frame_received(now, peer, &bytes),
            Event::Tick => self.tick(now),
        }
        // A signature note speaks for the frame it came with, never a later one.
        self.next_block_verified = None;
    }

    fn peer_connected(
        &mut self,
        now: u64,
        id: PeerId,
        outbound: bool,
        dialled: Option<(String, bool)>,
    ) {
        let mut peer = Peer::new(id, outbound, now);
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
        let released = self.release_requests(&peer);
        self.book.source_gone(id);
        if self.genesis_probe.is_some_and(|(p, _)| p == id) {
            self.genesis_probe = None;
        }
        self.notify(Notification::PeerDown {
            peer: id,
            reason: reason.into(),
        });
        if released {
            // Ask someone else for what this peer owed us (peers whose height claim held
            // first; the claim only orders them).
            let best = self
                .peers
                .values()
                .filter(|p| p.handshake.is_complete())
                .max_by_key(|p| (!p.claim_unbacked, p.best_height))
                .map(|p| p.id);
            if let Some(other) = best {
                self.send_getblocks(other, self.now, None);
            }
        }
    }

    fn release_requests(&mut self, peer: &Peer) -> bool {
        // Transactions it owed us can be asked of whoever announces them next.
        if peer.tx_requests > 0 {
            self.tx_requested.retain(|_, (p, _)| *p != peer.id);
        }
        let mut any = false;
        for h in peer.in_flight.keys() {
            if self.requested.get(h) == Some(&peer.id) {
                self.requested.remove(h);
                any = true;
            }
        }
        any
    }

    /// Two relays that dial each other at once (each learned of the other from `addr`) end up
    /// with two connections, one each way, whose `version`s carry the same process nonce.
    /// The one the relay with the lower node id dialled is kept: the lower relay closes the
    /// other (its inbound one), and the higher relay closes nothing, so they agree without
    /// talking. Only an inbound connection is ever closed here: a node id and nonce are
    /// public (every `version` carries them), so closing a connection this node dialled on the
    /// word of one that dialled in would let anyone who copies them cut the link. Connections
    /// the same way (a relay that restarted while its old connection lingers) or with another
    /// nonce are left alone. Returns whether the connection `id`, just past its handshake,
    /// stays.
    fn keep_relay_link(&mut self, id: PeerId, outbound: bool, v: &Version) -> bool {
        if v.role != Role::Relay || self.config.node_id >= v.node_id {
            return true;
        }
        let Some(other) = self
            .peers
            .values()
            .find(|p| {
                p.id != id
                    && p.outbound != outbound
                    && p.handshake.is_complete()
                    && p.handshake
                        .version
                        .as_ref()
                        .is_some_and(|o| o.node_id == v.node_id && o.nonce == v.nonce)
            })
            .map(|p| p.id)
        else {
            return true;
        };
        // Our id is the lower: the inbound connection is the other relay's dial.
        let (close, kept) = if outbound { (other, id) } else { (id, other) };
        self.disconnect(
            close,
            format!(
                "already connected to relay {} (connection #{kept})",
                v.node_id
            ),
            false,
        );
        close != id
    }

    /// Drops a peer now: its state goes, and the caller is told to close the connection.
    fn disconnect(&mut self, id: PeerId, reason: String, misbehaved: bool) {
        if !self.peers.contains_key(&id) {
            return;
        }
        self.actions.push_back(Action::Disconnect {
            peer: id,
            reason: reason.clone(),
            misbehaved,
        });
        self.peer_disconnected(id, &reason);
    }

    fn penalise(&mut self, id: PeerId, points: u32, reason: String) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.score = peer.score.saturating_add(points);
        let score = peer.score;
        self.notify(Notification::PeerPenalised {
            peer: id,
            score,
            reason: reason.clone(),
        });
        if score >= self.config.ban_score {
            self.disconnect(id, format!("misbehaving: {reason}"), true);
        }
    }

    fn frame_received(&mut self, now: u64, id: PeerId, bytes: &[u8]) {
        if !self.peers.contains_key(&id) {
            return;
        }
        let message = match decode_frame(bytes) {
            Ok(m) => m,
            Err(e) => {
                if self.config.trace_messages {
                    self.notify(Notification::MessageIn {
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
        if self.config.trace_messages {
            self.notify(Notification::MessageIn {
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
            Message::Version(v) => self.on_version(now, id, v),
            Message::Verack => self.on_verack(id),
            other if !complete => {
                let what = format!("{} before the handshake", other.command());
                self.penalise(id, score::BEFORE_HANDSHAKE, what);
            }
            Message::GetBlocks { locator, stop } => self.on_getblocks(id, &locator, stop),
            Message::Inv(items) => self.on_inv(now, id, items),
            Message::GetData(items) => self.on_getdata(id, items),
            Message::Block(block) => self.on_block(now, id, block),
            Message::Tx(tx) => self.on_tx(id, tx),
            Message::NotFound(items) => self.on_notfound(id, items),
            Message::GetAddr => self.on_getaddr(id),
            Message::Addr(addrs) => self.on_addr(id, addrs),
            Message::Ping(n) => {
                self.send(id, &Message::Pong(n));
            }
            Message::Pong(n) => self.on_pong(now, id, n),
            Message::Reject { hash, reason } => self.notify(Notification::RejectReceived {
                peer: id,
                hash,
                reason,
            }),
        }
        self.after_event(now);
    }

    /// Work common to the end of every event.
    fn after_event(&mut self, now: u64) {
        if !self.arrived.is_empty() {
            if self.orphan_txs.is_empty() {
                self.arrived.clear();
            } else {
                self.retry_orphan_txs();
            }
        }
        self.flush_announcements();
        self.flush_tx_announcements(false);
        self.report_progress();
        self.update_mining(now);
    }

    fn tick(&mut self, now: u64) {
        let mut drops = Vec::new();
        let mut pings = Vec::new();
        for p in self.peers.values_mut() {
            if !p.handshake.is_complete() {
                if now.saturating_sub(p.connected_at) > self.config.handshake_timeout_ms {
                    drops.push((p.id, String::from("no handshake in time")));
                }
                continue;
            }
            if let Some(t) = p.oldest_request() {
                if now.saturating_sub(t) > self.config.stall_timeout_ms {
                    drops.push((p.id, String::from("stalled: requested blocks never came")));
                    continue;
                }
            }
            if p.getblocks_sent
                .is_some_and(|t| now.saturating_sub(t) > self.config.stall_timeout_ms)
            {
                // Asked for the blocks after ours, it named none: whatever height it
                // claimed, it has nothing for us.
                p.getblocks_sent = None;
                p.claim_unbacked = true;
            }
            match p.ping {
                Some((_, sent)) if now.saturating_sub(sent) > self.config.ping_timeout_ms => {
                    drops.push((p.id, String::from("ping timeout")));
                }
                None if now.saturating_sub(p.last_ping) >= self.config.ping_interval_ms => {
                    pings.push(p.id);
                }
                _ => {}
            }
        }
        for (id, reason) in drops {
            self.disconnect(id, reason, false);
        }
        let serving: Vec<PeerId> = self
            .peers
            .values()
            .filter(|p| !p.to_serve.is_empty())
            .map(|p| p.id)
            .collect();
        for id in serving {
            self.serve(id);
        }
        for id in pings {
            let nonce = self.next_ping;
            self.next_ping += 1;
            if let Some(p) = self.peers.get_mut(&id) {
                p.ping = Some((nonce, now));
                p.last_ping = now;
            }
            self.send(id, &Message::Ping(nonce));
        }
        let stale = now.saturating_sub(self.config.stall_timeout_ms);
        let expired: Vec<Txid> = self
            .tx_requested
            .iter()
            .filter(|(_, (_, t))| *t < stale)
            .map(|(id, _)| *id)
            .collect();
        for txid in expired {
            self.tx_request_done(&txid);
        }
        if self
            .genesis_probe
            .is_some_and(|(_, t)| now.saturating_sub(t) > self.config.stall_timeout_ms)
        {
            self.genesis_probe = None;
        }
        self.resume_stalled_sync(now);
        self.dial_learned(now);
        self.check_skipped_signatures(now);
        self.after_event(now);
    }

    /// Assume-valid upkeep, once a tick. Gives up waiting for the assumed block when the
    /// download stalled without it (what was held then connects with every signature
    /// checked), and checks blocks restored as connected unchecked that no assumed block
    /// vouches for now, a slice per tick while nothing downloads. Nothing a peer claims
    /// (its height, say) decides when either happens.
    fn check_skipped_signatures(&mut self, now: u64) {
        const BLOCKS_PER_TICK: u64 = 20;
        let downloading = !self.requested.is_empty();
        let Some(chain) = self.chain.as_mut() else {
            return;
        };
        if let Some(steps) = chain.give_up_on_assumed_block_if_stalled(now, downloading) {
            let changes = chain.take_changes();
            if !changes.is_empty() {
                self.actions.push_back(Action::Persist(changes));
            }
            if !steps.is_empty() {
                self.after_tip_change(&steps);
            }
            return;
        }
        if chain.recheck_from().is_none() || downloading {
            return;
        }
        let result = chain.check_skipped_signatures(BLOCKS_PER_TICK);
        let changes = chain.take_changes();
        if !changes.is_empty() {
            self.actions.push_back(Action::Persist(changes));
        }
        if let Err((hash, e, steps)) = result {
            self.notify(Notification::BlockRejected {
                hash,
                reason: e.to_string(),
                from: None,
            });
            self.after_tip_change(&steps);
        }
    }

    /// If we are behind and nothing is being downloaded or asked for (blocks were evicted
    /// from the orphan pool, a peer went away), ask the best peer again.
    fn resume_stalled_sync(&mut self, now: u64) {
        let ours = self.chain.as_ref().map_or(0, Chain::height);
        if !self.requested.is_empty() {
            return;
        }
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
        self.send_getblocks(id, now, None);
    }

    // ----- handshake ----------------------------------------------------------------------

    fn our_version(&self) -> Version {
        let (genesis, best_height, tip, chain_work) = match &self.chain {
            Some(c) => (c.genesis_hash(), c.height(), c.tip(), c.tip_work()),
            None => (
                self.expected_genesis.unwrap_or_default(),
                0,
                BlockHash::default(),
                0,
            ),
        };
        let role = if self.mining_to.is_some() {
            Role::Miner
        } else {
            self.config.role
        };
        Version {
            protocol: PROTOCOL_VERSION,
            genesis,
            best_height,
            tip,
            chain_work,
            node_id: self.config.node_id.clone(),
            role,
            listen_url: self.config.listen_url.clone(),
            nonce: self.config.nonce,
            user_agent: self.config.user_agent.clone(),
        }
    }

    fn send_version(&mut self, id: PeerId) {
        let v = self.our_version();
        if let Some(p) = self.peers.get_mut(&id) {
            p.handshake.version_sent = true;
        }
        self.send(id, &Message::Version(v));
    }

    fn on_version(&mut self, now: u64, id: PeerId, v: Version) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let named = peer.named;
        if peer.handshake.version.is_some() {
            self.penalise(
                id,
                score::DUPLICATE_VERSION,
                "second version message".into(),
            );
            return;
        }
        if v.nonce == self.config.nonce && v.nonce != 0 {
            self.disconnect(id, "connected to itself".into(), false);
            return;
        }
        if v.protocol != PROTOCOL_VERSION {
            let reason = format!("unsupported protocol version {}", v.protocol);
            self.disconnect(id, reason, false);
            return;
        }
        let ours = self
            .chain
            .as_ref()
            .map(Chain::genesis_hash)
            .or(self.expected_genesis);
        match ours {
            Some(g) if v.genesis != BlockHash::default() && v.genesis != g => {
                let reason = format!("different genesis: peer has {}, we have {}", v.genesis, g);
                self.disconnect(id, reason, false);
                return;
            }
            // Only a peer the operator named fixes the genesis of a node without a chain;
            // what any other peer says of its genesis binds to its own connection only.
            None if v.genesis != BlockHash::default() && named => {
                self.expected_genesis = Some(v.genesis);
                self.drop_peers_on_other_genesis(id, v.genesis);
            }
            _ => {}
        }
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        let version_sent = peer.handshake.version_sent;
        if let Some(peer) = self.peers.get_mut(&id) {
            peer.best_height = v.best_height;
            peer.handshake.version = Some(v);
        }
        if !version_sent {
            self.send_version(id);
        }
        self.send(id, &Message::Verack);
        self.maybe_complete_handshake(now, id);
    }

    /// The genesis is now fixed at `genesis`: peers that said they are on another one
    /// (before it was) are on another network.
    fn drop_peers_on_other_genesis(&mut self, except: PeerId, genesis: BlockHash) {
        let others: Vec<(PeerId, BlockHash)> = self
            .peers
            .values()
            .filter(|p| p.id != except)
            .filter_map(|p| p.handshake.version.as_ref().map(|v| (p.id, v.genesis)))
            .filter(|(_, g)| *g != BlockHash::default() && *g != genesis)
            .collect();
        for (peer, theirs) in others {
            let reason = format!("different genesis: peer has {theirs}, we have {genesis}");
            self.disconnect(peer, reason, false);
        }
    }

    fn on_verack(&mut self, id: PeerId) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        if peer.handshake.verack_received {
            self.penalise(id, score::DUPLICATE_VERSION, "second verack".into());
            return;
        }
        peer.handshake.verack_received = true;
        self.maybe_complete_handshake(self.now, id);
    }

    fn maybe_complete_handshake(&mut self, now: u64, id: PeerId) {
        let Some(peer) = self.peers.get(&id) else {
            return;
        };
        if !peer.handshake.is_complete() {
            return;
        }
        let Some(v) = peer.handshake.version.clone() else {
            return;
        };
        if !self.keep_relay_link(id, peer.outbound, &v) {
            return;
        }
        self.notify(Notification::PeerUp {
            peer: id,
            node_id: v.node_id.clone(),
            role: v.role,
            height: v.best_height,
        });
        let news = self.remember_peer(now, id, &v);
        self.send(id, &Message::GetAddr);
        if let Some(addr) = news {
            // Tell the others about a node they have not heard of; a reconnect of a known
            // node says nothing new and sends nothing.
            let others: Vec<PeerId> = self
                .peers
                .values()
                .filter(|p| p.id != id && p.handshake.is_complete())
                .map(|p| p.id)
                .collect();
            self.broadcast(others, &Message::Addr(alloc::vec![addr]));
        }
        // Offer our mempool (as BIP35 lets peers ask): after a reconnect or a relay restart,
        // transactions still waiting are not lost.
        let txids = self.mempool.txids();
        for chunk in txids.chunks(MAX_INV_ITEMS) {
            let items: Vec<InvItem> = chunk.iter().map(|t| InvItem::Tx(*t)).collect();
            if let Some(p) = self.peers.get_mut(&id) {
                for i in &items {
                    p.known.insert(*i);
                }
            }
            self.send(id, &Message::Inv(items));
        }
        let our_work = self.chain.as_ref().map_or(0, Chain::tip_work);
        let tip_known = self.chain.as_ref().is_some_and(|c| c.contains(&v.tip));
        let wants_chain =
            v.chain_work > our_work || (self.chain.is_none() && v.genesis != BlockHash::default());
        if wants_chain && self.may_supply_chain(id) {
            self.send_getblocks(id, now, None);
        } else if !tip_known && v.chain_work == our_work && v.best_height > 0 {
            // Equal work on another branch: learn it, so a longer branch later reorgs fast.
            self.send_getblocks(id, now, None);
        }
        // Our tip may have moved while the handshake was under way, after its `version`
        // went out and before the peer could receive announcements: tell it now.
        if let Some(tip) = self.chain.as_ref().map(Chain::tip) {
            let item = InvItem::Block(tip);
            let fresh = self
                .peers
                .get_mut(&id)
                .is_some_and(|p| tip != v.tip && p.known.insert(item));
            if fresh {
                self.send(id, &Message::Inv(alloc::vec![item]));
            }
        }
    }

    // ----- sync ---------------------------------------------------------------------------

    /// Asks `id` for block hashes after our tip (or after `from`, a hash it announced).
    fn send_getblocks(&mut self, id: PeerId, now: u64, from: Option<BlockHash>) {
        let mut locator = Vec::new();
        if let Some(h) = from {
            locator.push(h);
        }
        if let Some(c) = &self.chain {
            locator.extend(c.locator());
        }
        locator.truncate(crate::protocol::MAX_LOCATOR);
        if let Some(p) = self.peers.get_mut(&id) {
            p.getblocks_sent = Some(now);
        }
        self.send(
            id,
            &Message::GetBlocks {
                locator,
                stop: None,
            },
        );
    }

    fn on_getblocks(&mut self, id: PeerId, locator: &[BlockHash], stop: Option<BlockHash>) {
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
        self.send(id, &Message::Inv(items));
    }

    /// Whether we have, wait for, or refused a block already.
    fn block_is_known(&self, h: &BlockHash) -> bool {
        self.requested.contains_key(h)
            || self
                .chain
                .as_ref()
                .is_some_and(|c| c.contains(h) || c.is_orphan(h) || c.is_invalid(h))
    }

    fn on_inv(&mut self, now: u64, id: PeerId, items: Vec<InvItem>) {
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
        if self.chain.is_none() && self.expected_genesis.is_none() && !blocks.is_empty() {
            // We never learnt which genesis to download (the named peer had none yet when
            // we shook hands). Ask it for its chain from the start; the first hash of its
            // answer is its genesis, trusted as its `version` would be.
            match self.genesis_probe {
                Some((p, _)) if p == id => {
                    self.expected_genesis = blocks.first().copied();
                    if let Some(g) = self.expected_genesis {
                        self.drop_peers_on_other_genesis(id, g);
                    }
                }
                Some(_) => return,
                None => {
                    self.genesis_probe = Some((id, now));
                    self.send_getblocks(id, now, None);
                    return;
                }
            }
        }
        let can_take_blocks = self.chain.is_some() || self.expected_genesis.is_some();
        let fresh: Vec<BlockHash> = blocks
            .iter()
            .filter(|h| !self.block_is_known(h))
            .copied()
            .collect();
        let full_batch = blocks.len() >= self.config.inv_batch.min(MAX_INV_ITEMS);
        // Fetched even before we have the chain they spend from: they wait with the orphan
        // transactions and enter the mempool once the sync has brought their inputs. Each
        // asked for once, however often the `inv` names it.
        let mut fresh_txs: Vec<Txid> = Vec::new();
        let mut asking: KeyedSet<Txid> = KeyedSet::new();
        for t in &txs {
            let wanted = !self.mempool.contains(t)
                && !self.recent_rejects.contains(t)
                && !self.tx_requested.contains_key(t)
                && !self.orphan_txs.contains_key(t);
            if wanted && asking.insert(*t) {
                fresh_txs.push(*t);
            }
        }
        if let Some(p) = self.peers.get_mut(&id) {
            for item in &items {
                p.known.insert(*item);
            }
            if !blocks.is_empty() {
                // An answer to our `getblocks` that names nothing new disproves a claim to
                // be ahead; a block we lack restores it.
                if p.getblocks_sent.is_some() || !fresh.is_empty() {
                    p.claim_unbacked = fresh.is_empty();
                }
                p.getblocks_sent = None;
            }
            if can_take_blocks {
                for h in &fresh {
                    p.to_fetch.push(*h);
                }
            }
        }
        if full_batch {
            // The peer has more: ask for the next batch now, while this one downloads.
            if let Some(last) = blocks.last().copied() {
                self.send_getblocks(id, now, Some(last));
            }
        }
        // Requests outstanding are bounded per peer and in all: one peer announcing
        // transactions it never sends cannot stop the others' from being fetched.
        let pending = self.peers.get(&id).map_or(0, |p| p.tx_requests);
        let room = MAX_TX_REQUESTS_PER_PEER
            .saturating_sub(pending)
            .min(MAX_TX_REQUESTS.saturating_sub(self.tx_requested.len()));
        fresh_txs.truncate(room);
        if !fresh_txs.is_empty() {
            for t in &fresh_txs {
                self.tx_requested.insert(*t, (id, now));
            }
            if let Some(p) = self.peers.get_mut(&id) {
                p.tx_requests += fresh_txs.len();
            }
            let req = fresh_txs.into_iter().map(InvItem::Tx).collect();
            self.send(id, &Message::GetData(req));
        }
        self.fill_block_requests(now, id);
    }

    /// Keeps up to `max_blocks_in_flight` block requests outstanding with `id`.
    fn fill_block_requests(&mut self, now: u64, id: PeerId) {
        let max = self.config.max_blocks_in_flight.max(1);
        // Refill in batches, once half the window has arrived: one getdata per batch rather
        // than one per block, and the pipe never runs dry.
        if self
            .peers
            .get(&id)
            .is_some_and(|p| p.in_flight.len() > max / 2)
        {
            return;
        }
        let mut batch = Vec::new();
        loop {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
            if p.in_flight.len() >= max {
                break;
            }
            let Some(h) = p.to_fetch.pop() else {
                break;
            };
            let known = self.requested.contains_key(&h)
                || self
                    .chain
                    .as_ref()
                    .is_some_and(|c| c.contains(&h) || c.is_orphan(&h) || c.is_invalid(&h));
            if known {
                continue;
            }
            p.in_flight.insert(h, now);
            self.requested.insert(h, id);
            batch.push(InvItem::Block(h));
        }
        if !batch.is_empty() {
            self.send(id, &Message::GetData(batch));
        }
    }

    /// Queues what a peer asks for, each item once, and answers a first round of it. A
    /// request for more than one `getdata` holds before the earlier ones went out is
    /// answered `notfound` for the rest; asking twice for one item, or again for a block
    /// sent on this connection, is charged.
    fn on_getdata(&mut self, id: PeerId, items: Vec<InvItem>) {
        let mut refused = Vec::new();
        let mut repeated = false;
        {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
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
        }
        if !refused.is_empty() {
            self.send(id, &Message::NotFound(refused));
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

    /// One round of answers to `id`'s waiting `getdata` items, oldest first, until
    /// [`SERVE_ROUND_BYTES`] are out (always at least one item); what we do not have is
    /// answered `notfound`.
    fn serve(&mut self, id: PeerId) {
        let mut sent = 0usize;
        let mut missing = Vec::new();
        while sent < self.config.serve_round_bytes {
            let Some(item) = self.peers.get_mut(&id).and_then(|p| p.to_serve.pop()) else {
                break;
            };
            let message = match item {
                InvItem::Block(h) => self
                    .chain
                    .as_ref()
                    .and_then(|c| c.block(&h))
                    .map(|b| Message::Block(b.clone())),
                InvItem::Tx(t) => self.mempool.get(&t).map(|tx| Message::Tx(tx.clone())),
            };
            let Some(m) = message else {
                missing.push(item);
                continue;
            };
            let height = match &m {
                Message::Block(b) => b.coinbase_height(),
                _ => None,
            };
            if let Some(p) = self.peers.get_mut(&id) {
                p.known.insert(item);
                if let InvItem::Block(h) = item {
                    p.served_blocks.insert(h);
                }
                // It will have this block: count it in its height as we know it.
                if let Some(h) = height {
                    p.best_height = p.best_height.max(h);
                }
            }
            sent += self.send(id, &m);
        }
        if let Some(p) = self.peers.get_mut(&id) {
            // It does not have these from us after all; announce them again when we can.
            for item in &missing {
                p.known.remove(item);
            }
        }
        if !missing.is_empty() {
            self.send(id, &Message::NotFound(missing));
        }
    }

    fn on_notfound(&mut self, id: PeerId, items: Vec<InvItem>) {
        for item in items {
            match item {
                InvItem::Block(h) => {
                    if self.requested.get(&h) == Some(&id) {
                        self.requested.remove(&h);
                    }
                    if let Some(p) = self.peers.get_mut(&id) {
                        p.in_flight.remove(&h);
                    }
                }
                InvItem::Tx(t) => self.tx_request_done(&t),
            }
        }
    }

    fn on_block(&mut self, now: u64, id: PeerId, block: Block) {
        let hash = block.hash();
        let was_requested = self.requested.get(&hash) == Some(&id);
        if was_requested {
            self.requested.remove(&hash);
        }
        if let Some(p) = self.peers.get_mut(&id) {
            p.in_flight.remove(&hash);
            p.known.insert(InvItem::Block(hash));
        }
        if self.chain.is_none() {
            self.adopt_genesis(now, id, block);
            self.fill_block_requests(now, id);
            return;
        }
        let low_work_push = !was_requested
            && self.chain.as_ref().is_some_and(|c| {
                !c.contains(&hash)
                    && !c.is_orphan(&hash)
                    && c.proves_work(&block.header)
                    && !c.would_add_work(&block.header)
            });
        if low_work_push {
            // Nobody asked for it and it cannot move the tip: not worth a check, a byte of
            // memory or a write. Honest peers announce blocks and wait for `getdata`.
            self.penalise(
                id,
                score::UNREQUESTED_LOW_WORK,
                format!("unrequested block {hash} that adds no work"),
            );
            self.fill_block_requests(now, id);
            return;
        }
        if self.next_block_verified.take() == Some(hash) {
            if let Some(chain) = self.chain.as_mut() {
                chain.note_signatures_verified(hash);
            }
        }
        let outcome = self.accept_block(now, block, Some(id));
        match outcome {
            Ok(AcceptOutcome::Orphan { missing }) => {
                if !was_requested {
                    self.penalise(
                        id,
                        score::UNREQUESTED_ORPHAN,
                        "unrequested orphan block".into(),
                    );
                }
                let waiting = self.requested.contains_key(&missing);
                let asked = self
                    .peers
                    .get(&id)
                    .is_some_and(|p| p.getblocks_sent.is_some());
                if !waiting && !asked {
                    self.send_getblocks(id, now, None);
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
                    self.refetch_elsewhere(now, hash, id);
                }
                self.send(
                    id,
                    &Message::Reject {
                        hash: hash.0,
                        reason: e.to_string(),
                    },
                );
                self.penalise(id, points, format!("invalid block {hash}: {e}"));
            }
        }
        self.fill_block_requests(now, id);
    }

    /// Asks another peer that announced block `hash` for it (its body from `from` failed
    /// checks that do not condemn the header).
    fn refetch_elsewhere(&mut self, now: u64, hash: BlockHash, from: PeerId) {
        let other = self
            .peers
            .values()
            .find(|p| {
                p.id != from && p.handshake.is_complete() && p.known.contains(&InvItem::Block(hash))
            })
            .map(|p| p.id);
        if let Some(other) = other {
            if let Some(p) = self.peers.get_mut(&other) {
                p.to_fetch.push(hash);
            }
            self.fill_block_requests(now, other);
        }
    }

    /// With no chain yet, the first block must be the genesis a named peer announced.
    fn adopt_genesis(&mut self, now: u64, id: PeerId, block: Block) {
        let hash = block.hash();
        if Some(hash) != self.expected_genesis {
            self.hold_before_genesis(id, block, hash);
            return;
        }
        if block.header.prev != BlockHash::default() && self.genesis_probe.is_some() {
            // The probe's answer raced an announcement: that was not the genesis. Ask again.
            self.expected_genesis = None;
            self.genesis_probe = None;
            return;
        }
        match Chain::new(self.config.params.clone(), block, now) {
            Ok(mut chain) => {
                let changes = chain.take_changes();
                self.chain = Some(chain);
                self.actions.push_back(Action::Persist(changes));
                self.notify(Notification::TipChanged {
                    tip: hash,
                    height: 0,
                    reorg_depth: 0,
                });
                self.before_genesis_bytes = 0;
                let bits = self.chain.as_ref().map_or(0, Chain::bits);
                for (b, from) in core::mem::take(&mut self.before_genesis) {
                    let h = b.hash();
                    if b.header.bits != bits {
                        let reason = format!(
                            "block {h} has proof-of-work bits {}, the chain {bits}",
                            b.header.bits
                        );
                        self.penalise(from, score::INVALID_BLOCK, reason);
                        continue;
                    }
                    if let Err(e) = self.accept_block(now, b, Some(from)) {
                        let points = match e {
                            ValidationError::TimestampInFuture { .. } => score::FUTURE_BLOCK,
                            _ => score::INVALID_BLOCK,
                        };
                        self.penalise(from, points, format!("invalid block {h}: {e}"));
                    }
                }
            }
            Err(e) => {
                let reason = format!("invalid genesis {hash}: {e}");
                self.expected_genesis = None;
                self.disconnect(id, reason, true);
            }
        }
    }

    /// A block that arrived before the genesis (an announcement that overtook the sync):
    /// kept until there is a chain to put it on only if a named peer sent it, it meets its
    /// own proof of work, and it fits in [`BEFORE_GENESIS_MAX_BYTES`]; the genesis then
    /// decides the bits it must have. What does not fit is dropped (fetched again after the
    /// genesis); any other peer never was asked for a block, and is charged for sending one.
    fn hold_before_genesis(&mut self, id: PeerId, block: Block, hash: BlockHash) {
        if !self.may_supply_chain(id) {
            self.penalise(
                id,
                score::BLOCK_BEFORE_GENESIS,
                format!("block {hash} before we have a chain, from a peer that cannot give one"),
            );
            return;
        }
        if self.expected_genesis.is_none() {
            return;
        }
        if block.header.bits > crate::consensus::params::MAX_BITS
            || !pow::meets_target(&hash, block.header.bits)
        {
            self.penalise(
                id,
                score::INVALID_BLOCK,
                format!("block {hash} does not meet its own proof of work"),
            );
            return;
        }
        let size = block.encoded_size();
        if self.before_genesis.len() >= BEFORE_GENESIS_MAX_BLOCKS
            || self.before_genesis_bytes.saturating_add(size) > BEFORE_GENESIS_MAX_BYTES
        {
            return;
        }
        self.before_genesis_bytes += size;
        self.before_genesis.push((block, id));
    }

    /// Validates a block from a peer or from this node, persists what changed, and updates
    /// the mempool, announcements and notifications.
    fn accept_block(
        &mut self,
        now: u64,
        block: Block,
        from: Option<PeerId>,
    ) -> Result<AcceptOutcome, ValidationError> {
        let Some(chain) = self.chain.as_mut() else {
            return Err(ValidationError::UnknownParent(block.header.prev));
        };
        let hash = block.hash();
        let result = chain.accept_block(block, now);
        let changes = chain.take_changes();
        if !changes.is_empty() {
            self.actions.push_back(Action::Persist(changes));
        }
        match &result {
            Ok(AcceptOutcome::TipChanged(steps)) => self.after_tip_change(steps),
            Ok(AcceptOutcome::SideChain) => self.notify(Notification::SideBlock { hash }),
            Ok(_) => {}
            Err(e) => self.notify(Notification::BlockRejected {
                hash,
                reason: e.to_string(),
                from,
            }),
        }
        result
    }

    fn after_tip_change(&mut self, steps: &[TipStep]) {
        let Some(chain) = self.chain.as_ref() else {
            return;
        };
        let update = self
            .mempool
            .update_for_tip_change(steps, chain.utxo(), |h| !chain.connected_unchecked(h));
        let dropped = update.dropped;
        self.mempool_version += 1;
        let mut reorg_depth = 0;
        let mut notes = Vec::new();
        let mut gone = KeyedSet::new();
        for step in steps {
            match step {
                TipStep::Connected(b) => {
                    let hash = b.hash();
                    self.pending_announce.push(hash);
                    self.announce_since.get_or_insert(self.now);
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
            // One pass, however deep the reorganisation.
            self.pending_announce.retain(|x| !gone.contains(x));
        }
        notes.push(Notification::TipChanged {
            tip: chain.tip(),
            height: chain.height(),
            reorg_depth,
        });
        for txid in dropped {
            notes.push(Notification::TxRejected {
                txid,
                reason: "no longer valid on the new chain".into(),
                from: None,
            });
        }
        for n in notes {
            self.notify(n);
        }
        for txid in update.returned {
            // Peers we told before may have dropped it when they confirmed it, or been
            // answered `notfound`: tell everyone again.
            self.forget_known(InvItem::Tx(txid));
            self.announce_tx(txid, None);
        }
        if !self.orphan_txs.is_empty() {
            self.retry_orphan_txs();
        }
    }

    /// Announces newly connected blocks once no download is in progress.
    fn flush_announcements(&mut self) {
        // While blocks are downloading, announce the batch at the end rather than each block,
        // but never hold an announcement more than a second: a peer that announces blocks it
        // never sends must not delay ours.
        let held = self
            .announce_since
            .is_some_and(|t| self.now.saturating_sub(t) >= 1_000);
        if self.pending_announce.is_empty() || (!self.requested.is_empty() && !held) {
            return;
        }
        self.announce_since = None;
        let mut hashes = core::mem::take(&mut self.pending_announce);
        if hashes.len() > MAX_INV_ITEMS {
            // Far behind peers will find the rest with getblocks from the tip.
            hashes.drain(..hashes.len() - 1);
        }
        self.announce(|_| hashes.iter().map(|h| InvItem::Block(*h)).collect());
    }

    /// Sends every handshaken peer an `inv` of the items `items(peer)` it does not know yet,
    /// and remembers them as known to it.
    fn announce(&mut self, items: impl Fn(PeerId) -> Vec<InvItem>) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            let Some(p) = self.peers.get_mut(&id) else {
                continue;
            };
            if !p.handshake.is_complete() {
                continue;
            }
            let fresh: Vec<InvItem> = items(id)
                .into_iter()
                .filter(|item| p.known.insert(*item))
                .collect();
            if !fresh.is_empty() {
                self.send(id, &Message::Inv(fresh));
            }
        }
    }

    /// Reports download progress when the height moved (work over all peers only then:
    /// this runs after every frame).
    fn report_progress(&mut self) {
        let Some(chain) = &self.chain else { return };
        // How far the download got, counting blocks held for the assume-valid block.
        let height = chain.best_height();
        if height == self.last_progress {
            return;
        }
        let target = self.display_target_height();
        let step = (target / 100).max(1);
        if height >= target || height.abs_diff(self.last_progress) >= step {
            self.last_progress = height;
            self.notify(Notification::SyncProgress { height, target });
        }
    }

    // ----- transactions -------------------------------------------------------------------

    /// A transaction from a peer. What costs nothing is checked first — held, refused
    /// lately, already waiting as an orphan — then the mempool runs its own cheap checks
    /// before any signature: a flood of made-up transactions costs no ECDSA.
    fn on_tx(&mut self, id: PeerId, tx: Transaction) {
        let txid = tx.txid();
        self.tx_request_done(&txid);
        if let Some(p) = self.peers.get_mut(&id) {
            p.known.insert(InvItem::Tx(txid));
        }
        if self.mempool.contains(&txid)
            || self.recent_rejects.contains(&txid)
            || self.orphan_txs.contains_key(&txid)
        {
            return;
        }
        match self.accept_tx(tx.clone(), Some(id)) {
            Ok(_) => self.retry_orphan_txs(),
            Err(MempoolError::AlreadyKnown(_)) => {}
            Err(MempoolError::Invalid(ValidationError::MissingInput(missing))) => {
                self.keep_orphan_tx(tx, Some(id), missing);
            }
            Err(e) => {
                self.send(
                    id,
                    &Message::Reject {
                        hash: txid.0,
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

    /// A transaction request is over (answered, refused, or expired): it no longer counts
    /// against the peer asked.
    fn tx_request_done(&mut self, txid: &Txid) {
        if let Some((peer, _)) = self.tx_requested.remove(txid) {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.tx_requests = p.tx_requests.saturating_sub(1);
            }
        }
    }

    /// Most transactions kept waiting for their parents.
    pub const MAX_ORPHAN_TXS: usize = 500;

    /// Keeps a transaction whose input `missing` is not known yet, until its parent comes.
    /// Bounded in count, bytes and per peer; nothing about it is verified yet, and nothing
    /// will be until its inputs are known.
    fn keep_orphan_tx(&mut self, tx: Transaction, from: Option<PeerId>, missing: OutPoint) {
        let txid = tx.txid();
        let confirmed = self.chain.as_ref().is_some_and(|c| {
            (0..tx.outputs.len() as u32)
                .any(|vout| c.utxo().get(&OutPoint { txid, vout }).is_some())
        });
        if confirmed {
            // Its inputs are missing because it already spent them: nothing to wait for.
            return;
        }
        if from.is_some()
            && self.orphan_txs.values().filter(|o| o.from == from).count() >= MAX_ORPHANS_PER_PEER
        {
            return;
        }
        let size = crate::primitives::codec::encode(&tx).len();
        while !self.orphan_txs.is_empty()
            && (self.orphan_txs.len() >= Self::MAX_ORPHAN_TXS
                || self.orphan_bytes + size > MAX_ORPHAN_BYTES)
        {
            // Drop the smallest txid: arbitrary, but no sender can choose what is evicted
            // without grinding hashes.
            let first = self.orphan_txs.keys().next().copied();
            if let Some(first) = first {
                self.remove_orphan(&first);
            }
        }
        self.orphans_by_parent
            .get_or_default(missing.txid)
            .push(txid);
        self.orphan_bytes += size;
        self.orphan_txs.insert(
            txid,
            OrphanTx {
                tx,
                from,
                waiting_for: missing,
                size,
            },
        );
    }

    fn remove_orphan(&mut self, txid: &Txid) -> Option<OrphanTx> {
        let orphan = self.orphan_txs.remove(txid)?;
        self.orphan_bytes -= orphan.size;
        let parent = orphan.waiting_for.txid;
        if let Some(children) = self.orphans_by_parent.get_mut(&parent) {
            children.retain(|c| c != txid);
            if children.is_empty() {
                self.orphans_by_parent.remove(&parent);
            }
        }
        Some(orphan)
    }

    /// Retries the orphans whose parent arrived: the children of transactions accepted
    /// since the last retry, and (when the tip moved) those whose awaited output a block
    /// confirmed, found by a lookup each. Work in the number of orphans that can now get
    /// in, never every orphan for every transaction.
    fn retry_orphan_txs(&mut self) {
        let mut ready: Vec<Txid> = Vec::new();
        let tip = self.chain.as_ref().map(Chain::tip);
        if tip.is_some() && tip != self.orphans_checked_at {
            self.orphans_checked_at = tip;
            if let Some(chain) = &self.chain {
                ready.extend(
                    self.orphan_txs
                        .iter()
                        .filter(|(_, o)| chain.utxo().get(&o.waiting_for).is_some())
                        .map(|(id, _)| *id),
                );
            }
        }
        loop {
            for parent in core::mem::take(&mut self.arrived) {
                if let Some(children) = self.orphans_by_parent.remove(&parent) {
                    ready.extend(children);
                }
            }
            let Some(txid) = ready.pop() else {
                return;
            };
            let Some(orphan) = self.remove_orphan(&txid) else {
                continue;
            };
            match self.accept_tx_quietly(orphan.tx.clone(), orphan.from, true) {
                Ok(_) => {}
                Err(MempoolError::Invalid(ValidationError::MissingInput(missing))) => {
                    self.keep_orphan_tx(orphan.tx, orphan.from, missing);
                }
                Err(_) => {}
            }
        }
    }

    fn accept_tx(&mut self, tx: Transaction, from: Option<PeerId>) -> Result<Txid, MempoolError> {
        self.accept_tx_quietly(tx, from, false)
    }

    /// Accepts a transaction; `retry` marks a waiting orphan tried again, whose failures were
    /// already reported once.
    fn accept_tx_quietly(
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
                    .unwrap_or(crate::primitives::tx::OutPoint { txid, vout: 0 }),
            )));
        };
        let verify = !self.verified_signatures.contains(&txid);
        match self.mempool.accept_checked(tx, chain.utxo(), verify) {
            Ok(txid) => {
                self.arrived.push(txid);
                self.mempool_version += 1;
                self.notify(Notification::TxAccepted { txid, from });
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
                    self.recent_rejects.insert(txid);
                }
                if !matches!(e, MempoolError::AlreadyKnown(_)) && !retry {
                    self.notify(Notification::TxRejected {
                        txid,
                        reason: e.to_string(),
                        from,
                    });
                }
                Err(e)
            }
        }
    }

    fn forget_known(&mut self, item: InvItem) {
        for p in self.peers.values_mut() {
            p.known.remove(&item);
        }
    }

    /// Queues a transaction announcement; [`Node::flush_tx_announcements`] sends them in
    /// batches, one `inv` per peer rather than one per transaction.
    fn announce_tx(&mut self, txid: Txid, except: Option<PeerId>) {
        if self.pending_tx_inv.is_empty() {
            self.tx_inv_since = self.now;
        }
        self.pending_tx_inv.push((txid, except));
        if self.pending_tx_inv.len() >= MAX_INV_ITEMS {
            self.flush_tx_announcements(true);
        }
    }

    /// Sends the queued transaction announcements once the oldest has waited
    /// [`TX_INV_DELAY_MS`] (or at once with `now_anyway`).
    fn flush_tx_announcements(&mut self, now_anyway: bool) {
        if self.pending_tx_inv.is_empty()
            || (!now_anyway && self.now.saturating_sub(self.tx_inv_since) < TX_INV_DELAY_MS)
        {
            return;
        }
        let pending = core::mem::take(&mut self.pending_tx_inv);
        self.announce(|id| {
            pending
                .iter()
                .filter(|(_, except)| *except != Some(id))
                .map(|(t, _)| InvItem::Tx(*t))
                .collect()
        });
    }

    // ----- addresses and liveness ---------------------------------------------------------

    /// Records what a peer that just shook hands says of itself; returns the entry to tell
    /// others about if it is news. A relay this node dialled is met first-hand, under the
    /// URL dialled. Anything else a peer says of itself — its id, the URL it claims to listen
    /// on — binds to its own connection: it enters the book as that peer's word, and
    /// rewrites nothing known of another node.
    fn remember_peer(&mut self, now: u64, id: PeerId, v: &Version) -> Option<PeerAddr> {
        if v.node_id == self.config.node_id {
            return None;
        }
        let dialled = self.peers.get(&id).and_then(|p| p.dialled.clone());
        match dialled {
            Some(url) => self
                .book
                .met_first_hand(&url, &v.node_id, v.role, now)
                .then(|| PeerAddr {
                    node_id: v.node_id.clone(),
                    url: Some(url),
                    role: v.role,
                }),
            None => {
                let claim = PeerAddr {
                    node_id: v.node_id.clone(),
                    url: v.listen_url.clone(),
                    role: v.role,
                };
                self.book.learn(id, [claim]).pop()
            }
        }
    }

    /// Answers `getaddr` once per connection with a sample of the book (every relay met
    /// first-hand, then learned ones drawn at random), at most [`GETADDR_ANSWER_MAX`].
    fn on_getaddr(&mut self, id: PeerId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if p.getaddr_answered {
            return;
        }
        p.getaddr_answered = true;
        self.addr_samples += 1;
        // The process nonce is random; the count makes every sample differ.
        let seed = self.config.nonce ^ self.addr_samples.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let addrs = self.book.sample(GETADDR_ANSWER_MAX, seed);
        if !addrs.is_empty() {
            self.send(id, &Message::Addr(addrs));
        }
    }

    fn on_addr(&mut self, id: PeerId, addrs: Vec<PeerAddr>) {
        let own = self.config.node_id.clone();
        let learned = self
            .book
            .learn(id, addrs.into_iter().filter(|a| a.node_id != own));
        if !learned.is_empty() {
            self.notify(Notification::AddrLearned(learned));
            self.dial_learned(self.now);
        }
    }

    /// Dials learned relays while outbound connections are below the target.
    fn dial_learned(&mut self, now: u64) {
        if self.config.dial_learned == 0 || !cfg!(feature = "dial") {
            return;
        }
        let outbound = self.peers.values().filter(|p| p.outbound).count();
        if outbound >= self.config.dial_learned {
            return;
        }
        // A relay is reached when a connection was dialled to its URL, or a relay that
        // dialled us says it listens there.
        let connected: Vec<&str> = self
            .peers
            .values()
            .filter_map(|p| {
                p.dialled.as_deref().or_else(|| {
                    p.handshake
                        .version
                        .as_ref()
                        .filter(|v| v.role == Role::Relay && p.handshake.is_complete())
                        .and_then(|v| v.listen_url.as_deref())
                })
            })
            .collect();
        let urls = self.dialer.choose(
            now,
            self.book.entries().into_iter(),
            |url| connected.contains(&url),
            outbound,
            self.config.listen_url.as_deref(),
        );
        for url in urls {
            self.actions.push_back(Action::Dial { url });
        }
    }

    fn on_pong(&mut self, now: u64, id: PeerId, nonce: u64) {
        if let Some(p) = self.peers.get_mut(&id) {
            if let Some((n, sent)) = p.ping {
                if n == nonce {
                    p.rtt_ms = Some(now.saturating_sub(sent));
                    p.ping = None;
                }
            }
        }
    }

    // ----- local commands -----------------------------------------------------------------

    /// The shell checked every input signature of transaction `txid` (for instance in the
    /// connection's own task, so that many are checked in parallel): the mempool need not
    /// check them again. A txid fixes every byte of the transaction, signatures included.
    pub fn note_verified_signatures(&mut self, txid: Txid) {
        self.verified_signatures.insert(txid);
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

    /// Builds, signs and submits a payment of `amount` from `key` to `to`.
    pub fn send_payment(
        &mut self,
        now: u64,
        key: &KeyPair,
        to: PubKeyHash,
        amount: u64,
        fee: u64,
    ) -> Result<Txid, SendError> {
        self.now = now;
        let chain = self.chain.as_ref().ok_or(SendError::NoChain)?;
        let tx = wallet::build_payment(key, to, amount, fee, chain.utxo(), &self.mempool)
            .map_err(SendError::Wallet)?;
        self.submit_transaction(now, tx)
            .map_err(SendError::Rejected)
    }

    /// Adds a transaction made here (or handed over by a CLI) and announces it.
    pub fn submit_transaction(&mut self, now: u64, tx: Transaction) -> Result<Txid, MempoolError> {
        self.now = now;
        let result = self.accept_tx(tx, None);
        self.after_event(now);
        result
    }

    /// A template on the tip paying `to`, holding `txs` (validated when the block is).
    pub fn block_template(&self, now: u64, to: PubKeyHash, txs: Vec<Transaction>) -> Option<Block> {
        let chain = self.chain.as_ref()?;
        let fees = txs
            .iter()
            .filter_map(|t| {
                let inputs = t.inputs.iter().try_fold(0u64, |acc, i| {
                    let v = chain
                        .utxo()
                        .get(&i.prev)
                        .map(|e| e.output.value)
                        .or_else(|| self.mempool.output(&i.prev).map(|o| o.value))?;
                    acc.checked_add(v)
                })?;
                inputs.checked_sub(t.output_total()?)
            })
            .fold(0u64, u64::saturating_add);
        let data = format!("mined by node {}", self.config.node_id);
        Some(chain.template(to, txs, fees, now, data.as_bytes()))
    }

    /// Accepts a block made here (the CLI's `send --mine`), announcing it if it is valid.
    pub fn submit_block(
        &mut self,
        now: u64,
        block: Block,
    ) -> Result<AcceptOutcome, ValidationError> {
        self.now = now;
        let hash = block.hash();
        let height = block.coinbase_height().unwrap_or(0);
        let result = self.accept_block(now, block, None);
        if matches!(result, Ok(AcceptOutcome::TipChanged(_))) {
            self.notify(Notification::Mined { hash, height });
        }
        self.after_event(now);
        result
    }

    /// Mines to `to` from now on, whenever the mempool holds enough transactions.
    pub fn start_mining(&mut self, now: u64, to: PubKeyHash) {
        self.now = now;
        self.mining_to = Some(to);
        self.job = None;
        self.update_mining(now);
    }

    /// Stops mining.
    pub fn stop_mining(&mut self) {
        self.mining_to = None;
        if self.job.take().is_some() {
            self.actions.push_back(Action::StopMining);
        }
    }

    /// A worker found `nonce` for job `job_id`.
    pub fn block_mined(
        &mut self,
        now: u64,
        job_id: u64,
        nonce: u64,
    ) -> Result<BlockHash, MinedError> {
        self.now = now;
        let Some((job, _)) = self.job.as_ref().filter(|(j, _)| j.id == job_id) else {
            return Err(MinedError::StaleJob(job_id));
        };
        let mut block = job.template.clone();
        block.header.nonce = nonce;
        let hash = block.hash();
        if !pow::meets_target(&hash, block.header.bits) {
            return Err(MinedError::BadNonce);
        }
        self.job = None;
        let result = self.submit_block(now, block);
        match result {
            Ok(_) => Ok(hash),
            Err(e) => Err(MinedError::Invalid(e)),
        }
    }

    /// Keeps the mining job in step with the tip and the mempool.
    fn update_mining(&mut self, now: u64) {
        let Some(to) = self.mining_to else { return };
        let Some(chain) = &self.chain else { return };
        if self.mempool.len() < self.config.mining_threshold.max(1) {
            if self.job.take().is_some() {
                self.actions.push_back(Action::StopMining);
            }
            return;
        }
        let tip = chain.tip();
        if let Some((job, version)) = &self.job {
            let same_tip = job.template.header.prev == tip;
            // A new tip is mined at once; a changed mempool waits for the refresh period.
            if same_tip
                && (*version == self.mempool_version
                    || now.saturating_sub(self.template_at) < TEMPLATE_REFRESH_MS)
            {
                return;
            }
        }
        let budget = chain.params().max_block_size.saturating_sub(4_096);
        let (txs, fees) = self.mempool.select_for_block(budget);
        let data = format!("mined by node {}", self.config.node_id);
        let template = chain.template(to, txs, fees, now, data.as_bytes());
        let job = MiningJob {
            id: self.next_job_id,
            template,
        };
        self.next_job_id += 1;
        self.template_at = now;
        self.job = Some((job.clone(), self.mempool_version));
        self.actions.push_back(Action::Mine(job));
    }

    // ----- output -------------------------------------------------------------------------

    fn notify(&mut self, n: Notification) {
        self.actions.push_back(Action::Notify(n));
    }

    /// Queues `message` for `peer`; returns the frame's size.
    fn send(&mut self, peer: PeerId, message: &Message) -> usize {
        if self.config.trace_messages {
            self.notify(Notification::MessageOut {
                peers: alloc::vec![peer],
                command: message.command().into(),
                summary: message.summary(),
            });
        }
        let frame = encode_frame(message);
        let size = frame.len();
        self.actions.push_back(Action::Send { peer, frame });
        size
    }

    fn broadcast(&mut self, peers: Vec<PeerId>, message: &Message) {
        if peers.is_empty() {
            return;
        }
        if self.config.trace_messages {
            self.notify(Notification::MessageOut {
                peers: peers.clone(),
                command: message.command().into(),
                summary: message.summary(),
            });
        }
        self.actions.push_back(Action::Broadcast {
            peers,
            frame: encode_frame(message),
        });
    }
}
