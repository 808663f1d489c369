//! The messages of the protocol, one variant per command, and what they carry.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::primitives::block::Block;
use crate::primitives::hash::{BlockHash, Hash256, Txid};
use crate::primitives::tx::{OutPoint, Transaction};
use crate::util::keyed_map::{MapKey, RawKey};

/// Protocol version spoken by this code.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a node does in the network, announced in `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// The central node: accepts connections and relays.
    Relay,
    /// A wallet node (a browser tab or a CLI client).
    Wallet,
    /// A node mining blocks.
    Miner,
}

impl Role {
    /// Lower-case name for logs and the page.
    pub fn name(self) -> &'static str {
        match self {
            Role::Relay => "relay",
            Role::Wallet => "wallet",
            Role::Miner => "miner",
        }
    }
}

/// The handshake: who the sender is and how far its chain goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// Protocol version.
    pub protocol: u32,
    /// The sender's genesis block: the network it is on.
    pub genesis: BlockHash,
    /// Height of the sender's active tip.
    pub best_height: u64,
    /// The sender's active tip.
    pub tip: BlockHash,
    /// Cumulative work of that tip.
    pub chain_work: u128,
    /// The seed's NODE_ID.
    pub node_id: String,
    /// What the sender does.
    pub role: Role,
    /// Where the sender accepts connections, if it does.
    pub listen_url: Option<String>,
    /// Random per process: a node that receives its own nonce is connected to itself.
    pub nonce: u64,
    /// Software name and version.
    pub user_agent: String,
}

/// An item of inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InvItem {
    /// A block by hash.
    Block(BlockHash),
    /// A transaction by id.
    Tx(Txid),
}

/// A node others may know about, passed around by `addr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAddr {
    /// Its NODE_ID.
    pub node_id: String,
    /// Where it accepts connections (relays only).
    pub url: Option<String>,
    /// What it does.
    pub role: Role,
}

/// Every message of the protocol, one variant per command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Handshake, first message each way.
    Version(Version),
    /// Handshake acknowledged.
    Verack,
    /// "Show me the blocks after the first of these I share with you."
    GetBlocks {
        /// Block locator, newest first.
        locator: Vec<BlockHash>,
        /// Stop after this hash, if given.
        stop: Option<BlockHash>,
    },
    /// "I have these."
    Inv(Vec<InvItem>),
    /// "Send me these."
    GetData(Vec<InvItem>),
    /// A block.
    Block(Block),
    /// A transaction.
    Tx(Transaction),
    /// "I do not have these" (answers `getdata`).
    NotFound(Vec<InvItem>),
    /// "Tell me the nodes you know."
    GetAddr,
    /// Nodes the sender knows.
    Addr(Vec<PeerAddr>),
    /// Liveness check.
    Ping(u64),
    /// Answer to `ping` with its nonce.
    Pong(u64),
    /// Why something the receiver sent was refused (so a wallet can tell its user).
    Reject {
        /// Hash of the refused block or transaction.
        hash: Hash256,
        /// The rule broken.
        reason: String,
    },
}

impl Message {
    /// The command name on the wire.
    pub fn command(&self) -> &'static str {
        match self {
            Message::Version(_) => "version",
            Message::Verack => "verack",
            Message::GetBlocks { .. } => "getblocks",
            Message::Inv(_) => "inv",
            Message::GetData(_) => "getdata",
            Message::Block(_) => "block",
            Message::Tx(_) => "tx",
            Message::NotFound(_) => "notfound",
            Message::GetAddr => "getaddr",
            Message::Addr(_) => "addr",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::Reject { .. } => "reject",
        }
    }

    /// A one-line description for logs and the protocol inspector.
    pub fn summary(&self) -> String {
        fn items(v: &[InvItem]) -> String {
            let blocks = v.iter().filter(|i| matches!(i, InvItem::Block(_))).count();
            let txs = v.len() - blocks;
            match (blocks, txs, v.first()) {
                (1, 0, Some(InvItem::Block(h))) => format!("block {}", short(&h.to_hash())),
                (0, 1, Some(InvItem::Tx(t))) => format!("tx {}", short(&t.to_hash())),
                _ => format!("{blocks} blocks, {txs} txs"),
            }
        }
        match self {
            Message::Version(v) => format!(
                "node {} ({}), height {}, tip {}",
                v.node_id,
                v.role.name(),
                v.best_height,
                short(&v.tip.to_hash())
            ),
            Message::Verack | Message::GetAddr => String::new(),
            Message::GetBlocks { locator, .. } => format!(
                "locator of {}, from {}",
                locator.len(),
                locator
                    .first()
                    .map_or(String::from("nothing"), |h| short(&h.to_hash()))
            ),
            Message::Inv(v) | Message::GetData(v) | Message::NotFound(v) => items(v),
            Message::Block(b) => format!(
                "{} with {} txs, height {}",
                short(&b.hash().to_hash()),
                b.transactions.len(),
                b.coinbase_height().unwrap_or(0)
            ),
            Message::Tx(t) => format!(
                "{}: {} in, {} out",
                short(&t.txid().to_hash()),
                t.inputs.len(),
                t.outputs.len()
            ),
            Message::Addr(a) => format!("{} nodes", a.len()),
            Message::Ping(n) | Message::Pong(n) => format!("nonce {n}"),
            Message::Reject { hash, reason } => format!("{}: {reason}", short(hash)),
        }
    }
}

/// Hex digits of a hash shown in summaries: enough to tell hashes apart in a log.
pub const SHORT_HASH_DIGITS: usize = 12;

/// The first [`SHORT_HASH_DIGITS`] hex digits of a hash, for summaries.
pub fn short(h: &Hash256) -> String {
    let mut s = format!("{h}");
    s.truncate(SHORT_HASH_DIGITS);
    s
}

/// An announced item is keyed by its hash, then its kind (blocks first), as an outpoint of
/// that hash whose output index is the kind.
impl MapKey for InvItem {
    fn raw(&self) -> RawKey {
        match *self {
            InvItem::Block(h) => OutPoint {
                txid: Txid::from_hash(h.to_hash()),
                vout: 0,
            }
            .raw(),
            InvItem::Tx(t) => OutPoint { txid: t, vout: 1 }.raw(),
        }
    }
}
