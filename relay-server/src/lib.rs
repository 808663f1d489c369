//! # relay-server
//!
//! The seed's central node as a native program: its CLI (`createblockchain`, `createwallet`,
//! `listaddresses`, `getbalance`, `send`, `printchain`, `reindexutxo`, `startnode`), a
//! WebSocket hub that browser tabs and other relays connect to, and the server of the page.
//!
//! Every rule lives in `node-core`'s sans-IO [`node_core::Node`]; this crate is its shell: a
//! tokio task owns the node ([`hub`]) and carries out its actions — frames to peers, commits
//! to the redb store ([`store`]), mining on every core — while connection tasks ([`net`])
//! and HTTP handlers ([`http`]) only pass messages to it. CLI commands ([`commands`]) run
//! on a node built from the files ([`cli`]), or, while `startnode` ([`node`]) runs on the
//! same id, inside the running node through a loopback control endpoint.
//!
//! The folders, from the bottom up; each may use only those above it in this list:
//! ```text
//! util, paths   clock, escaping peer text, the panic barrier; the node's file names
//! metrics       counters and histograms as frames flow, in Prometheus's text format
//! store         the redb chain store and reindexutxo's rebuild
//! commands      the CLI's commands as data (Request, Step), their error, the wallet file
//! admission     limits, peer slots, bans, served host names, client addresses
//! hub           the task owning the node, its messages, send queues, miner, log
//! net           WebSocket connections and dials
//! http          the router: page, /ws, /status, /control, and the accept loop
//! cli           one-shot commands, the control client, the WebSocket payment client
//! node          startnode: wires all of the above together
//! ```
//! `tests/no_import_cycles.rs` checks that no `use crate::` goes the other way round.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod cli;
pub mod commands;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod net;
pub mod node;
pub mod paths;
pub mod store;
pub mod util;
