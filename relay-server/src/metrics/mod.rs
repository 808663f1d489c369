//! What an operator watches: counters the connection tasks and the hub bump as frames flow,
//! and the node's gauges read from the hub when scraped, served in Prometheus's text format
//! ([`text`]) on a listen address of their own (loopback unless told otherwise: the numbers
//! say who is connected and how the relay is defended, which is not for everyone).
//!
//! Every label comes from a fixed list ([`Labels`]): a peer choosing a command name or a
//! disconnect reason must not be able to grow the relay's memory or the scraper's.
//!
//! May depend on: nothing else in the crate (everything else may use it).

pub mod text;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use node_core::protocol::{COMMANDS, HEADER_LEN, MAGIC};

/// The label of a frame whose command is none of the protocol's.
pub const UNKNOWN_COMMAND: &str = "unknown";

/// Counters by one label, from a fixed list; a label not in the list counts as its last.
pub struct Labels {
    names: Vec<&'static str>,
    counts: Vec<AtomicU64>,
}

impl Labels {
    /// Counters for `names`, all zero.
    pub fn new(names: Vec<&'static str>) -> Self {
        let counts = names.iter().map(|_| AtomicU64::new(0)).collect();
        Labels { names, counts }
    }

    /// Adds `n` to `label`'s counter.
    pub fn add(&self, label: &str, n: u64) {
        let i = self
            .names
            .iter()
            .position(|l| *l == label)
            .unwrap_or(self.names.len().saturating_sub(1));
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Every label with its count.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.names
            .iter()
            .zip(&self.counts)
            .map(|(l, c)| (*l, c.load(Ordering::Relaxed)))
    }
}

/// Upper bounds of the duration histograms, in seconds: a transaction's checks take tens of
/// microseconds to a few milliseconds, a full block's up to a second or so in a debug build.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// A histogram of durations over [`DURATION_BUCKETS`].
pub struct Histogram {
    /// Observations at most each bound (not cumulative; made so when rendered).
    buckets: [AtomicU64; DURATION_BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// (cumulative count at each bound, total count, sum in seconds).
    pub fn snapshot(&self) -> ([u64; DURATION_BUCKETS.len()], u64, f64) {
        let mut cumulative = [0u64; DURATION_BUCKETS.len()];
        let mut running = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            running += b.load(Ordering::Relaxed);
            cumulative[i] = running;
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (cumulative, self.count.load(Ordering::Relaxed), sum)
    }
}

/// Why a `/ws` request was refused before it became a connection.
pub const REFUSALS: [&str; 5] = [
    "foreign_origin",
    "banned_address",
    "relay_full",
    "address_full",
    "other",
];

/// Why a connection ended, as [`crate`]'s connection tasks name it.
pub const DISCONNECTS: [&str; 12] = [
    "closed_by_peer",
    "lost",
    "read_failed",
    "oversized_frame",
    "over_rate",
    "invalid_tx",
    "closed_by_node",
    "shutdown",
    "evicted",
    "write_failed",
    "write_timeout",
    "other",
];

/// Why an address was refused for a while.
pub const BAN_REASONS: [&str; 5] = [
    "oversized_frame",
    "over_rate",
    "invalid_tx",
    "protocol",
    "other",
];

/// The relay's counters and histograms; the node's gauges come from the hub when scraped.
pub struct Metrics {
    /// Frames read, by command.
    pub frames_in: Labels,
    /// Bytes of frames read, by command.
    pub bytes_in: Labels,
    /// Frames written, by command.
    pub frames_out: Labels,
    /// Bytes of frames written, by command.
    pub bytes_out: Labels,
    /// `/ws` requests refused, by [`REFUSALS`].
    pub refused: Labels,
    /// Connections ended, by [`DISCONNECTS`].
    pub disconnects: Labels,
    /// Addresses refused for misbehaviour, by [`BAN_REASONS`].
    pub bans: Labels,
    /// Time the node took to take in a `block` frame (its validation included).
    pub block_handling: Histogram,
    /// Time the node took to take in a `tx` frame (its signatures were checked before).
    pub tx_handling: Histogram,
    /// Time a `tx` frame's signature checks took in its connection's task.
    pub tx_signatures: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let commands = || {
            let mut c: Vec<&'static str> = COMMANDS.to_vec();
            c.push(UNKNOWN_COMMAND);
            Labels::new(c)
        };
        Metrics {
            frames_in: commands(),
            bytes_in: commands(),
            frames_out: commands(),
            bytes_out: commands(),
            refused: Labels::new(REFUSALS.to_vec()),
            disconnects: Labels::new(DISCONNECTS.to_vec()),
            bans: Labels::new(BAN_REASONS.to_vec()),
            block_handling: Histogram::default(),
            tx_handling: Histogram::default(),
            tx_signatures: Histogram::default(),
        }
    }
}

impl Metrics {
    /// Counts a frame read.
    pub fn frame_in(&self, frame: &[u8]) {
        let c = command_of(frame);
        self.frames_in.add(c, 1);
        self.bytes_in.add(c, frame.len() as u64);
    }

    /// Counts a frame written.
    pub fn frame_out(&self, frame: &[u8]) {
        let c = command_of(frame);
        self.frames_out.add(c, 1);
        self.bytes_out.add(c, frame.len() as u64);
    }
}

/// A frame's command, one of the protocol's or [`UNKNOWN_COMMAND`] (another network's
/// magic included).
pub fn command_of(frame: &[u8]) -> &'static str {
    if !frame.starts_with(&MAGIC) {
        return UNKNOWN_COMMAND;
    }
    let Some(field) = frame.get(MAGIC.len()..HEADER_LEN) else {
        return UNKNOWN_COMMAND;
    };
    let name = field.split(|b| *b == 0).next().unwrap_or(field);
    COMMANDS
        .iter()
        .find(|c| c.as_bytes() == name)
        .copied()
        .unwrap_or(UNKNOWN_COMMAND)
}

/// The node's state when scraped, from the hub.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Whether a chain is loaded (its genesis known).
    pub has_chain: bool,
    /// Active height.
    pub height: u64,
    /// Best height a peer announced.
    pub target_height: u64,
    /// Behind the best peer.
    pub syncing: bool,
    /// Transactions in the mempool.
    pub mempool: usize,
    /// Orphan blocks waiting for their parent.
    pub orphans: usize,
    /// Connections a peer opened to us.
    pub peers_inbound: usize,
    /// Connections we opened.
    pub peers_outbound: usize,
    /// Peers past the handshake.
    pub peers_handshaken: usize,
    /// Peers past the handshake by the role they announced (wallet, miner, relay).
    pub peers_by_role: [(&'static str, usize); 3],
    /// Mining now.
    pub mining: bool,
}

/// The process's resident memory in bytes (Linux's `/proc/self/statm`), if it can be read.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

#[cfg(unix)]
fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

#[cfg(not(unix))]
fn page_size() -> u64 {
    4096
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::protocol::{encode_frame, Message};

    #[test]
    fn a_frame_is_counted_under_its_command_and_a_made_up_one_under_unknown() {
        let m = Metrics::default();
        let ping = encode_frame(&Message::Ping(7));
        m.frame_in(&ping);
        let mut forged = ping.clone();
        forged[MAGIC.len()..HEADER_LEN].copy_from_slice(b"zzzzzzzzzzzz");
        m.frame_in(&forged);
        m.frame_in(b"ab");
        let mut foreign = ping.clone();
        foreign[0] ^= 0xff;
        m.frame_in(&foreign);
        let counts: Vec<_> = m.frames_in.values().filter(|(_, n)| *n > 0).collect();
        assert_eq!(counts, [("ping", 1), (UNKNOWN_COMMAND, 3)]);
        let bytes: u64 = m.bytes_in.values().map(|(_, n)| n).sum();
        assert_eq!(bytes, 3 * ping.len() as u64 + 2);
    }

    #[test]
    fn the_histogram_is_cumulative_and_counts_what_is_past_every_bound() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let (buckets, count, sum) = h.snapshot();
        assert_eq!(buckets[0], 1);
        assert_eq!(buckets[DURATION_BUCKETS.len() - 1], 2);
        assert_eq!(count, 3);
        assert!(sum > 10.0);
    }
}
