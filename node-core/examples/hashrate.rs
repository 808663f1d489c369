//! Native proof-of-work hash rate on one core, for comparison with the browser's workers.
//!
//! `cargo run --release -p node-core --example hashrate -- [SECONDS]` prints one JSON line:
//! `{"midstate_hps": …, "full_header_hps": …, "four_lane_portable_hps": …}`.

use std::time::{Duration, Instant};

use node_core::consensus::pow::{self, Midstate, SearchOutcome};
use node_core::primitives::block::BlockHeader;
use node_core::primitives::hash::{sha256, Hash256};
use node_core::BlockHash;

fn rate(seconds: f64, mut chunk: impl FnMut(u64) -> SearchOutcome) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tried = 0u64;
    while Instant::now() < deadline {
        tried += chunk(tried).tried;
    }
    tried as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    // bits 64: no nonce in reach meets it, so every chunk runs to the end.
    let header = BlockHeader {
        version: 1,
        prev: BlockHash::from_hash(sha256(b"prev")),
        merkle_root: Hash256(sha256(b"root").0),
        timestamp: 1_700_000_000_000,
        bits: 64,
        nonce: 0,
    };
    let mid = Midstate::new(&header);
    let chunk = 1 << 16;
    let midstate = rate(seconds, |start| pow::search_scalar(&mid, start, chunk));
    let full = rate(seconds, |start| {
        pow::search_without_midstate(&header, start, chunk)
    });
    let lanes = rate(seconds, |start| {
        pow::search_lanes::<4, [u32; 4]>(&mid, start, chunk)
    });
    println!(
        "{{\"midstate_hps\": {midstate:.0}, \"full_header_hps\": {full:.0}, \"four_lane_portable_hps\": {lanes:.0}}}"
    );
}
