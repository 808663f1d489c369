//! [`Limits`]: what peers may use of this node, and the reasons behind the defaults.

use std::net::IpAddr;
use std::time::Duration;

use node_core::protocol::MAX_FRAME_SIZE;

/// What peers may use of this node, set by `startnode`'s flags; the defaults suit a relay
/// serving a few hundred tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket frame or message read, in bytes (at most the protocol's
    /// [`MAX_FRAME_SIZE`]). Longer ones are refused as their header arrives, unread.
    pub max_frame_size: usize,
    /// Frames per second a peer may send on average...
    pub rate_per_sec: u32,
    /// ...and in a burst.
    pub rate_burst: u32,
    /// Most WebSocket connections at once, both directions (outbound ones always open).
    pub max_peers: usize,
    /// Most inbound connections from one address (IPv6: one /64), loopback excepted.
    pub max_peers_per_ip: usize,
    /// Most inbound connections from loopback; `None`: only `max_peers` bounds them.
    pub max_loopback_peers: Option<usize>,
    /// How long a misbehaving (non-loopback) address is refused.
    pub ban_duration: Duration,
    /// Page origins allowed to open `/ws` besides the relay's own and local ones
    /// (`scheme://host[:port]`, no path).
    pub allowed_origins: Vec<String>,
    /// Host names served besides IP addresses, localhost, `--public-url`'s and the allowed
    /// origins' (see `crate::admission::ServedNames`).
    pub allowed_hosts: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (see `crate::admission::client_address`).
    pub trusted_proxies: Vec<IpAddr>,
    /// Bytes queued for one peer before it counts as not reading and is dropped.
    pub max_send_queue: usize,
    /// Bytes queued for all peers together; past it, the peers holding the most are dropped.
    pub max_send_total: usize,
    /// Longest a single frame may take to write before its peer counts as not reading.
    pub write_timeout: Duration,
    /// Connections in their HTTP phase (not yet, or never, peers) at once; see
    /// `crate::http::conns`.
    pub max_http_connections: usize,
}

/// Blocks an honest node has in flight from one peer at most (`max_blocks_in_flight` of
/// node-core's default configuration, the browser's and the relay's), plus room for
/// announcements: what one peer's send queue must hold so a node downloading the largest
/// blocks is never taken for one that does not read.
pub const SEND_QUEUE_FRAMES: usize = 2 + 128;

/// Default of [`Limits::max_send_queue`]: [`SEND_QUEUE_FRAMES`] of the largest frames.
pub const DEFAULT_MAX_SEND_QUEUE: usize = SEND_QUEUE_FRAMES * MAX_FRAME_SIZE;

/// Default of [`Limits::max_send_total`]: two peers' full queues. A peer that stops
/// reading stops being asked for more at `crate::hub::send_queue::PAUSE_READING_BYTES`, so
/// only many of them together, or one honest download of the largest blocks, come near it.
pub const DEFAULT_MAX_SEND_TOTAL: usize = 2 * DEFAULT_MAX_SEND_QUEUE;

/// Default of [`Limits::write_timeout`]: a peer that cannot take the largest frame (1 MiB)
/// in a minute, 17 KB/s, cannot follow the chain anyway.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: MAX_FRAME_SIZE,
            rate_per_sec: 2_000,
            rate_burst: 4_000,
            max_peers: 1_000,
            max_peers_per_ip: 50,
            max_loopback_peers: None,
            ban_duration: Duration::from_secs(10 * 60),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            max_send_queue: DEFAULT_MAX_SEND_QUEUE,
            max_send_total: DEFAULT_MAX_SEND_TOTAL,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_http_connections: 256,
        }
    }
}
