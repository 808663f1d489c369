//! Helpers shared by node-core's integration tests, one file per concept:
//! - here: the fixed start time, deterministic keys and solving a header, which every
//!   test uses;
//! - [`chain`]: a low-difficulty chain built by hand: mining on it, paying from it, and a
//!   simulated store fed by `take_changes`;
//! - [`net`]: nodes and simulated networks: configurations, handshakes, frames and what a
//!   node's actions say;
//! - [`spends`]: blocks spending random outputs of their history, for proptest.
//!
//! Every helper is deterministic: keys come from seeded ChaCha20, timestamps from [`T0`] or
//! the chain itself, and the clocks handed to the node are fixed.
//!
//! May depend on: node-core's public API and `rand_chacha`; nothing of the test files.
#![allow(dead_code)]

pub mod chain;
pub mod net;
pub mod spends;

use node_core::consensus::pow;
use node_core::{Block, KeyPair};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Timestamp of every test genesis (ms), and the start of every simulation.
pub const T0: u64 = 1_700_000_000_000;

/// A key derived from `seed`, the same in every run.
pub fn key(seed: u64) -> KeyPair {
    KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// Mines `block`'s header as it is (the Merkle root is left alone).
pub fn mine(block: &mut Block) {
    pow::mine(&mut block.header).expect("low bits are always met");
}
