//! A message as bytes: one WebSocket frame of magic, command name and postcard payload, and
//! the caps a decoded message must meet before a node acts on it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::message::Message;
use crate::consensus::params::MAX_BLOCK_SIZE;
use crate::primitives::codec::{self, DecodeError};
use crate::util::escaped::Escaped;

/// Network magic: first bytes of every frame.
pub const MAGIC: [u8; 4] = *b"BCw1";
/// Bytes of the command name field.
pub const COMMAND_SIZE: usize = 12;
/// Bytes before the payload.
pub const HEADER_LEN: usize = MAGIC.len() + COMMAND_SIZE;
/// Bytes a frame may hold beyond a maximal block: its header, the message's variant tag and
/// length prefixes, with room to spare.
pub const FRAMING_ALLOWANCE: usize = 1024;
/// Largest frame accepted: a maximal block plus its framing.
pub const MAX_FRAME_SIZE: usize = MAX_BLOCK_SIZE + FRAMING_ALLOWANCE;
/// Most items in one `inv`, `getdata` or `notfound`: about 64 KiB of hashes, a batch large enough
/// for a download's round trip and small enough to decode and look up at once.
pub const MAX_INV_ITEMS: usize = 2_000;
/// Most hashes in a block locator (Bitcoin's cap): a locator doubles its steps after the
/// first few, so even a chain of 2^64 blocks needs far fewer.
pub const MAX_LOCATOR: usize = 101;
/// Most addresses in one `addr`: more than a network of browser tabs and relays announces at
/// once (Bitcoin's cap too), and a bound on what one message makes a node sort through.
pub const MAX_ADDRS: usize = 1_000;
/// Longest node id, URL, user agent or reject reason, in bytes: room for any real one, and
/// a bound on what a peer can make a node log or show.
pub const MAX_STRING: usize = 256;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Larger than [`MAX_FRAME_SIZE`].
    TooLarge(usize),
    /// Shorter than magic and command.
    TooShort(usize),
    /// Not this network's magic.
    BadMagic([u8; MAGIC.len()]),
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
            FrameError::UnknownCommand(c) => {
                write!(f, "unknown command \"{}\"", Escaped(c))
            }
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
    let mut magic = [0u8; MAGIC.len()];
    magic.copy_from_slice(&frame[..MAGIC.len()]);
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    let raw = &frame[MAGIC.len()..HEADER_LEN];
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

/// Whether `s` holds no control characters and no bidirectional marks or overrides: node
/// ids, URLs, user agents and reasons reach logs and pages, where such characters could
/// forge a line or make one name look like another.
pub fn displayable(s: &str) -> bool {
    !s.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
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
    if !displayable(s) {
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
    use crate::primitives::block::Block;
    use crate::primitives::codec::DecodeError;
    use crate::primitives::hash::{sha256, PubKeyHash};
    use crate::primitives::hash::{BlockHash, Txid};
    use crate::primitives::tx::Transaction;
    use crate::protocol::{InvItem, PeerAddr, Role, Version, PROTOCOL_VERSION};
    use alloc::vec;

    fn every_message() -> Vec<Message> {
        let h = BlockHash::from_hash(sha256(b"b"));
        let t = Txid::from_hash(sha256(b"t"));
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
                hash: h.to_hash(),
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
        let many = Message::Inv(vec![
            InvItem::Tx(Txid::from_hash(sha256(b"t")));
            MAX_INV_ITEMS + 1
        ]);
        assert!(matches!(
            decode_frame(&encode_frame(&many)),
            Err(FrameError::ListTooLong { command: "inv", .. })
        ));
    }
}
