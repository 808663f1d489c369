//! The wire protocol: the seed's messages, framed for WebSocket.
//!
//! One binary WebSocket frame carries one message: 4 bytes of network magic, the command name
//! in 12 zero-padded ASCII bytes (as the seed's `commandToBytes`), then the payload encoded
//! with postcard. Decoding refuses oversized frames, unknown commands, payloads that do not
//! decode, trailing bytes, and lists or strings longer than their caps, each with its own
//! [`FrameError`], so a node can score the peer that sent it and carry on.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::consensus::params::MAX_BLOCK_SIZE;
use crate::primitives::block::Block;
use crate::primitives::codec::{self, DecodeError};
use crate::primitives::hash::{BlockHash, Hash256, Txid};
use crate::primitives::tx::Transaction;

/// Network magic: first bytes of every frame.
pub const MAGIC: [u8; 4] = *b"BCw1";
/// Protocol version spoken by this code.
pub const PROTOCOL_VERSION: u32 = 1;
/// Bytes of the command name field.
pub const COMMAND_SIZE: usize = 12;
/// Bytes before the payload.
pub const HEADER_LEN: usize = MAGIC.len() + COMMAND_SIZE;
/// Largest frame accepted: a maximal block plus its framing.
pub const MAX_FRAME_SIZE: usize = MAX_BLOCK_SIZE + 1024;
/// Most items in one `inv`, `getdata` or `notfound`.
pub const MAX_INV_ITEMS: usize = 2_000;
/// Most hashes in a block locator.
pub const MAX_LOCATOR: usize = 101;
/// Most addresses in one `addr`.
pub const MAX_ADDRS: usize = 1_000;
/// Longest node id, URL, user agent or reject reason, in bytes.
pub const MAX_STRING: usize = 256;

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
                (1, 0, Some(InvItem::Block(h))) => format!("block {}", short(&h.0)),
                (0, 1, Some(InvItem::Tx(t))) => format!("tx {}", short(&t.0)),
                _ => format!("{blocks} blocks, {txs} txs"),
            }
        }
        match self {
            Message::Version(v) => format!(
                "node {} ({}), height {}, tip {}",
                v.node_id,
                v.role.name(),
                v.best_height,
                short(&v.tip.0)
            ),
            Message::Verack | Message::GetAddr => String::new(),
            Message::GetBlocks { locator, .. } => format!(
                "locator of {}, from {}",
                locator.len(),
                locator
                    .first()
                    .map_or(String::from("nothing"), |h| short(&h.0))
            ),
            Message::Inv(v) | Message::GetData(v) | Message::NotFound(v) => items(v),
            Message::Block(b) => format!(
                "{} with {} txs, height {}",
                short(&b.hash().0),
                b.transactions.len(),
                b.coinbase_height().unwrap_or(0)
            ),
            Message::Tx(t) => format!(
                "{}: {} in, {} out",
                short(&t.txid().0),
                t.inputs.len(),
                t.outputs.len()
            ),
            Message::Addr(a) => format!("{} nodes", a.len()),
            Message::Ping(n) | Message::Pong(n) => format!("nonce {n}"),
            Message::Reject { hash, reason } => format!("{}: {reason}", short(hash)),
        }
    }
}

/// First 12 hex digits of a hash, for summaries.
pub fn short(h: &Hash256) -> String {
    let mut s = format!("{h}");
    s.truncate(12);
    s
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Larger than [`MAX_FRAME_SIZE`].
    TooLarge(usize),
    /// Shorter than magic and command.
    TooShort(usize),
    /// Not this network's magic.
    BadMagic([u8; 4]),
    /// A command name we do not know.
    UnknownCommand(String),
    /// The payload does not decode as the command's message.
    BadPayload {
        /// The command.
        command: &'static str,
        /// What went wrong.
        error: DecodeError,
    },
    /// The command name does not match the payload's message kind.
    CommandMismatch(&'static str),
    /// A list longer than its cap.
    ListTooLong {
        /// The command.
        command: &'static str,
        /// Items received.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A string longer than [`MAX_STRING`].
    StringTooLong(&'static str),
    /// A string with control characters or bidirectional overrides: node ids, URLs, user
    /// agents and reasons reach logs and pages, where such characters could forge a line or
    /// make one name look like another.
    UnprintableString(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge(n) => write!(f, "frame of {n} bytes exceeds {MAX_FRAME_SIZE}"),
            FrameError::TooShort(n) => write!(f, "frame of {n} bytes is shorter than its header"),
            FrameError::BadMagic(m) => write!(f, "wrong network magic {m:02x?}"),
            FrameError::UnknownCommand(c) => write!(f, "unknown command {c:?}"),
            FrameError::BadPayload { command, error } => {
                write!(f, "bad {command} payload: {error}")
            }
            FrameError::CommandMismatch(c) => write!(f, "payload does not match command {c}"),
            FrameError::ListTooLong { command, len, max } => {
                write!(f, "{command} with {len} items exceeds {max}")
            }
            FrameError::StringTooLong(field) => write!(f, "{field} exceeds {MAX_STRING} bytes"),
            FrameError::UnprintableString(field) => {
                write!(f, "{field} holds control or bidirectional characters")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

/// The command names, in the order of [`Message`]'s variants (postcard's variant tags).
pub const COMMANDS: [&str; 13] = [
    "version",
    "verack",
    "getblocks",
    "inv",
    "getdata",
    "block",
    "tx",
    "notfound",
    "getaddr",
    "addr",
    "ping",
    "pong",
    "reject",
];

/// Encodes a message into one frame.
pub fn encode_frame(message: &Message) -> Vec<u8> {
    let payload = codec::encode(message);
    let mut frame = Vec::with_capacity(HEADER_LEN + payload.len());
    frame.extend_from_slice(&MAGIC);
    let mut command = [0u8; COMMAND_SIZE];
    let name = message.command().as_bytes();
    command[..name.len()].copy_from_slice(name);
    frame.extend_from_slice(&command);
    frame.extend_from_slice(&payload);
    frame
}

/// Whether an encoded frame only asks for data (`getdata`, `getblocks`). It announces
/// nothing, so a shell may send it ahead of its own writes still in progress, which keeps a
/// download's pipeline full while blocks are being stored.
pub fn frame_only_requests(frame: &[u8]) -> bool {
    matches!(frame_command(frame), Ok("getdata" | "getblocks"))
}

/// The command a frame names, checking its length, magic and command field but not its
/// payload: what a shell needs to route a frame before (or without) decoding it.
pub fn frame_command(frame: &[u8]) -> Result<&'static str, FrameError> {
    if frame.len() < HEADER_LEN {
        return Err(FrameError::TooShort(frame.len()));
    }
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&frame[..4]);
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    let raw = &frame[4..HEADER_LEN];
    let end = raw.iter().position(|b| *b == 0).unwrap_or(COMMAND_SIZE);
    let name = &raw[..end];
    COMMANDS
        .iter()
        .find(|c| c.as_bytes() == name && raw[end..].iter().all(|b| *b == 0))
        .copied()
        .ok_or_else(|| FrameError::UnknownCommand(String::from_utf8_lossy(name).into()))
}

/// Decodes and checks one frame.
pub fn decode_frame(frame: &[u8]) -> Result<Message, FrameError> {
    if frame.len() > MAX_FRAME_SIZE {
        return Err(FrameError::TooLarge(frame.len()));
    }
    let command = frame_command(frame)?;
    // The payload carries the variant tag too; it must agree with the command name.
    let message: Message = codec::decode(&frame[HEADER_LEN..], MAX_FRAME_SIZE)
        .map_err(|error| FrameError::BadPayload { command, error })?;
    if message.command() != command {
        return Err(FrameError::CommandMismatch(command));
    }
    check_limits(&message)?;
    Ok(message)
}

fn check_list(command: &'static str, len: usize, max: usize) -> Result<(), FrameError> {
    if len > max {
        return Err(FrameError::ListTooLong { command, len, max });
    }
    Ok(())
}

fn check_str(field: &'static str, s: &str) -> Result<(), FrameError> {
    if s.len() > MAX_STRING {
        return Err(FrameError::StringTooLong(field));
    }
    if !crate::node::addr_book::displayable(s) {
        return Err(FrameError::UnprintableString(field));
    }
    Ok(())
}

fn check_limits(message: &Message) -> Result<(), FrameError> {
    let command = message.command();
    match message {
        Message::Version(v) => {
            check_str("node id", &v.node_id)?;
            check_str("user agent", &v.user_agent)?;
            check_str("listen url", v.listen_url.as_deref().unwrap_or(""))
        }
        Message::GetBlocks { locator, .. } => check_list(command, locator.len(), MAX_LOCATOR),
        Message::Inv(v) | Message::GetData(v) | Message::NotFound(v) => {
            check_list(command, v.len(), MAX_INV_ITEMS)
        }
        Message::Addr(a) => {
            check_list(command, a.len(), MAX_ADDRS)?;
            for p in a {
                check_str("node id", &p.node_id)?;
                check_str("url", p.url.as_deref().unwrap_or(""))?;
            }
            Ok(())
        }
        Message::Reject { reason, .. } => check_str("reason", reason),
        Message::Verack
        | Message::Block(_)
        | Message::Tx(_)
        | Message::GetAddr
        | Message::Ping(_)
        | Message::Pong(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::{sha256, PubKeyHash};
    use alloc::vec;

    fn every_message() -> Vec<Message> {
        let h = BlockHash(sha256(b"b"));
        let t = Txid(sha256(b"t"));
        let cb = Transaction::new_coinbase(1, PubKeyHash([1; 20]), 10, b"x");
        vec![
            Message::Version(Version {
                protocol: PROTOCOL_VERSION,
                genesis: h,
                best_height: 5,
                tip: h,
                chain_work: 1 << 70,
                node_id: "3001".into(),
                role: Role::Wallet,
                listen_url: Some("ws://127.0.0.1:3000/ws".into()),
                nonce: 42,
                user_agent: "test".into(),
            }),
            Message::Verack,
            Message::GetBlocks {
                locator: vec![h, h],
                stop: Some(h),
            },
            Message::Inv(vec![InvItem::Block(h), InvItem::Tx(t)]),
            Message::GetData(vec![InvItem::Tx(t)]),
            Message::Block(Block::new_template(h, 1, 4, vec![cb.clone()])),
            Message::Tx(cb),
            Message::NotFound(vec![InvItem::Block(h)]),
            Message::GetAddr,
            Message::Addr(vec![PeerAddr {
                node_id: "3000".into(),
                url: None,
                role: Role::Relay,
            }]),
            Message::Ping(7),
            Message::Pong(7),
            Message::Reject {
                hash: h.0,
                reason: "bad".into(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips_under_its_command() {
        let all = every_message();
        assert_eq!(all.len(), COMMANDS.len());
        for (m, name) in all.into_iter().zip(COMMANDS) {
            assert_eq!(m.command(), name);
            let frame = encode_frame(&m);
            assert_eq!(&frame[4..4 + name.len()], name.as_bytes());
            assert_eq!(decode_frame(&frame), Ok(m));
        }
    }

    #[test]
    fn only_getdata_and_getblocks_frames_count_as_requests() {
        let requests: Vec<&str> = every_message()
            .iter()
            .filter(|m| frame_only_requests(&encode_frame(m)))
            .map(Message::command)
            .collect();
        assert_eq!(requests, ["getblocks", "getdata"]);
        assert!(!frame_only_requests(b"BCw1getdat"));
    }

    #[test]
    fn bad_frames_get_their_own_errors() {
        let good = encode_frame(&Message::Ping(1));
        let mut magic = good.clone();
        magic[0] ^= 1;
        assert!(matches!(decode_frame(&magic), Err(FrameError::BadMagic(_))));
        assert_eq!(decode_frame(&good[..10]), Err(FrameError::TooShort(10)));
        let mut cmd = good.clone();
        cmd[4] = b'x';
        assert!(matches!(
            decode_frame(&cmd),
            Err(FrameError::UnknownCommand(_))
        ));
        let mut mismatch = encode_frame(&Message::Pong(1));
        mismatch[4..8].copy_from_slice(b"ping");
        assert_eq!(
            decode_frame(&mismatch),
            Err(FrameError::CommandMismatch("ping"))
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode_frame(&trailing),
            Err(FrameError::BadPayload {
                error: DecodeError::TrailingBytes(1),
                ..
            })
        ));
        let huge = vec![0u8; MAX_FRAME_SIZE + 1];
        assert_eq!(
            decode_frame(&huge),
            Err(FrameError::TooLarge(MAX_FRAME_SIZE + 1))
        );
        for bad in ["30\n01 connected", "\u{202e}1003", "a\u{2066}b"] {
            let reject = Message::Reject {
                hash: sha256(b"x"),
                reason: bad.into(),
            };
            assert_eq!(
                decode_frame(&encode_frame(&reject)),
                Err(FrameError::UnprintableString("reason"))
            );
        }
        let many = Message::Inv(vec![InvItem::Tx(Txid(sha256(b"t"))); MAX_INV_ITEMS + 1]);
        assert!(matches!(
            decode_frame(&encode_frame(&many)),
            Err(FrameError::ListTooLong { command: "inv", .. })
        ));
    }
}
