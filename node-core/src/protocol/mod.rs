//! The wire protocol: the seed's messages, framed for WebSocket.
//!
//! One binary WebSocket frame carries one message: 4 bytes of network magic, the command name
//! in 12 zero-padded ASCII bytes (as the seed's `commandToBytes`), then the payload encoded
//! with postcard. Decoding refuses oversized frames, unknown commands, payloads that do not
//! decode, trailing bytes, and lists or strings longer than their caps, each with its own
//! [`FrameError`], so a node can score the peer that sent it and carry on.
//!
//! # What lives where
//! - `message.rs`: the messages, one variant per command ([`Message`]), and what they carry
//!   ([`Version`], [`InvItem`], [`PeerAddr`], [`Role`]).
//! - `frame.rs`: a message as bytes: [`encode_frame`], [`decode_frame`], the framing
//!   ([`MAGIC`], [`COMMANDS`]) and the caps on what a peer may send.
//!
//! Everything is re-exported here: `node_core::protocol::X` names each item.
//!
//! # May depend on
//! `primitives` (blocks, transactions, hashes, the codec) and `consensus::params` (the
//! largest block, which sizes the largest frame). Not on `node` or `chain`.

mod frame;
mod message;

pub use frame::{
    decode_frame, displayable, encode_frame, frame_command, frame_only_requests, FrameError,
    COMMANDS, COMMAND_SIZE, FRAMING_ALLOWANCE, HEADER_LEN, MAGIC, MAX_ADDRS, MAX_FRAME_SIZE,
    MAX_INV_ITEMS, MAX_LOCATOR, MAX_STRING,
};
pub use message::{
    short, InvItem, Message, PeerAddr, Role, Version, PROTOCOL_VERSION, SHORT_HASH_DIGITS,
};
