//! # node-core
//!
//! Everything that decides, for every node of the network: hashes, blocks, proof of work,
//! transactions, keys and addresses, Merkle trees, the UTXO set, chain state and validation,
//! the mempool, the wire protocol, and the node itself as a sans-IO state machine.
//!
//! The crate does no I/O: no sockets, no clock, no storage engine, no randomness source.
//! Time and entropy arrive as arguments, and storage is an action the caller carries out.
//! That is what lets the native relay and a browser tab run the same rules, and lets whole
//! networks be simulated deterministically in tests.
//!
//! # What lives where
//! The folders are layers; each may use the ones above it, never one below (checked by
//! `scripts/module-shape.mjs`, which also keeps every file under 800 lines of non-test code):
//! - [`util`]: maps sharing one B-tree per key kind, one shared sort (wasm size, not domain);
//! - [`primitives`]: hashes, blocks, transactions, Merkle trees, keys, addresses, encoding;
//! - [`consensus`]: parameters, proof of work, the checks a block or transaction must pass;
//! - [`utxo`], [`chain`] (fork choice, orphans, side branches, assume-valid, connect/undo,
//!   changes to persist), [`store`] (a chain as stored), [`mempool`], [`wallet`];
//! - [`protocol`]: messages and frames, with the caps decoding enforces;
//! - [`node`]: the node, a coordinator over parts that each own their state (handshake,
//!   download, announcements, transaction intake, serving, addresses, mining), and the
//!   [`node::shell::Shell`] trait every host implements;
//! - `sim` (feature `sim`): simulated networks of real nodes, for tests.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod chain;
pub mod consensus;
pub mod mempool;
pub mod node;
pub mod primitives;
pub mod protocol;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod util;
pub mod utxo;
pub mod wallet;

pub use chain::{AcceptOutcome, Chain, ChainError};
pub use consensus::params::ChainParams;
pub use consensus::validation::ValidationError;
pub use mempool::{Mempool, MempoolError};
pub use node::{Action, Event, MiningJob, Node, NodeConfig, Notification};
pub use primitives::address::{Address, AddressError};
pub use primitives::block::{Block, BlockHeader};
pub use primitives::hash::{BlockHash, Hash256, PubKeyHash, Txid};
pub use primitives::keys::KeyPair;
pub use primitives::tx::{OutPoint, Transaction, TxIn, TxOut};
pub use utxo::{UtxoEntry, UtxoSet};
