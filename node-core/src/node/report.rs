//! What the node tells the world about itself: notifications for logs and the page, the
//! status summary and the peer list.

use alloc::string::String;
use alloc::vec::Vec;

use crate::primitives::hash::{BlockHash, Hash256, PubKeyHash, Txid};
use crate::protocol::{PeerAddr, Role};

use super::peers::PeerId;

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
