//! Misbehaviour points for the offences a peer can commit. A peer reaching
//! [`NodeConfig::ban_score`](super::NodeConfig::ban_score) (100 by default) is dropped: an
//! offence worth 100 drops it at once; smaller ones are what an honest but buggy or slow peer
//! may do now and then, and drop it only when repeated.

/// A frame that does not decode.
pub const MALFORMED: u32 = 50;
/// A frame of another network (bad magic): nothing it says can be for us.
pub const WRONG_NETWORK: u32 = 100;
/// A frame or list past a protocol limit: no honest encoder writes one.
pub const OVERSIZED: u32 = 100;
/// A message other than `version`/`verack` before the handshake.
pub const BEFORE_HANDSHAKE: u32 = 20;
/// A second `version` or `verack` on one connection.
pub const DUPLICATE_VERSION: u32 = 20;
/// A block that breaks a consensus rule.
pub const INVALID_BLOCK: u32 = 100;
/// A block dated too far ahead: its sender's clock may just be wrong.
pub const FUTURE_BLOCK: u32 = 10;
/// A transaction that breaks a rule other than its signatures (it may have raced a block).
pub const INVALID_TX: u32 = 10;
/// A block nobody asked for that we already have.
pub const UNREQUESTED_KNOWN_BLOCK: u32 = 5;
/// A block nobody asked for whose parent we lack.
pub const UNREQUESTED_ORPHAN: u32 = 5;
/// A block nobody asked for that would not add work to the best chain.
pub const UNREQUESTED_LOW_WORK: u32 = 20;
/// A signature that does not verify: honest nodes check before they relay.
pub const BAD_SIGNATURE: u32 = 100;
/// Asked again for a block it was sent on this connection, or for one item twice.
pub const REPEATED_REQUEST: u32 = 5;
/// Sent a block before we had a chain though it cannot give us one.
pub const BLOCK_BEFORE_GENESIS: u32 = 5;
