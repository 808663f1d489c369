//! The settings of one node and their defaults.

use alloc::string::String;

use crate::consensus::params::ChainParams;
use crate::protocol::Role;

use super::serving::SERVE_ROUND_BYTES;
#[cfg(doc)]
use super::Action;

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
