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
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod addrbook;
pub mod address;
pub mod block;
pub mod chain;
pub mod codec;
pub mod dialer;
pub mod hash;
pub mod keyed_map;
pub mod keys;
pub mod mempool;
pub mod merkle;
pub mod node;
pub mod ordering;
pub mod params;
pub mod peer;
pub mod pow;
pub mod protocol;
pub mod sha256x4;
pub mod sim;
pub mod store;
pub mod tx;
pub mod utxo;
pub mod validation;
pub mod wallet;

pub use address::{Address, AddressError};
pub use block::{Block, BlockHeader};
pub use chain::{AcceptOutcome, Chain, ChainError};
pub use hash::{BlockHash, Hash256, PubKeyHash, Txid};
pub use keys::KeyPair;
pub use mempool::{Mempool, MempoolError};
pub use node::{Action, Event, MiningJob, Node, NodeConfig, Notification};
pub use params::ChainParams;
pub use tx::{OutPoint, Transaction, TxIn, TxOut};
pub use utxo::{UtxoEntry, UtxoSet};
pub use validation::ValidationError;
