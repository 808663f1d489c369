//! # relay-server
//!
//! The seed's central node as a native program: its CLI (`createblockchain`, `createwallet`,
//! `listaddresses`, `getbalance`, `send`, `printchain`, `reindexutxo`, `startnode`), a
//! WebSocket hub that browser tabs and other relays connect to, and the server of the page.
//!
//! Every rule lives in `node-core`'s sans-IO [`node_core::Node`]; this crate is its shell: a
//! tokio task owns the node ([`hub`]) and carries out its actions — frames to peers, commits
//! to the redb store ([`store`]), mining on every core ([`miner`]) — while connection tasks
//! ([`peer_conn`]) and HTTP handlers ([`server`]) only pass messages to it. CLI commands run
//! on a node built from the files, or, while `startnode` runs on the same id, inside the
//! running node through a loopback [`control`] endpoint.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod client_address;
pub mod commands;
pub mod control;
pub mod error;
pub mod http_client;
pub mod http_conns;
pub mod hub;
pub mod learned_dial;
pub mod miner;
pub mod panic_barrier;
pub mod paths;
pub mod peer_conn;
pub mod peer_slots;
pub mod peer_text;
pub mod rate_limit;
pub mod reindex;
pub mod send_queue;
pub mod served_names;
pub mod server;
pub mod startnode;
pub mod store;
pub mod verified_txs;
pub mod wallet_file;
