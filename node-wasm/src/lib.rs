//! # node-wasm
//!
//! The browser shell of the node: each tab is a full node running the node-core state
//! machine compiled to WebAssembly.
//!
//! - [`facade`]: the exported `BrowserNode` class, run in the node's worker and proxied to the
//!   page as `window.node` (www/node-worker.js, www/ui/remote-node.js).
//! - [`driver`]: owns the node, feeds it events, carries out its actions in order.
//! - [`storage`]: the chain in IndexedDB, one transaction per batch of changes.
//! - [`journal_audit`]: what a load may trust of that journal (what its blocks prove).
//! - [`wallet`]: the tab's keys in IndexedDB.
//! - [`idb_open`]: opening those databases, their schema upgrade run on web-sys.
//! - [`transport`]: the WebSocket to the relay, with reconnection.
//! - [`miner`]: the Web Worker entry (`mineChunk`) and the pool of workers.
//! - [`verifier`]: signatures checked by the browser's native WebCrypto, ahead of the node.
//! - [`inbound`]: frames waiting for those checks, bounded in bytes.
//! - [`tx_index`]: the active chain's newest transactions by txid and by address.
//! - [`views`]: the plain data handed to the page.
//! - [`peer_text`]: strings from peers made safe to show (escaped, cut to length).
//! - [`error`]: the errors the page sees as thrown `Error`s.
//! - [`global_scope`]: the page's or the node worker's `location` and `navigator`.
//! - [`web_random`]: random bytes for new keys, straight from `crypto.getRandomValues`.
//! - [`bounded_copy`]: values copied in from JavaScript only after their size is checked.
//!
//! Nothing here decides anything about blocks, transactions or peers: node-core does.
//!
//! Built twice for the browser (scripts/build-wasm.sh): with the default `page` feature for
//! the page (`BrowserNode`, optimised for size), and without it for the mining workers
//! (`mineChunk` only, optimised for speed).

pub mod body_file;
pub mod bounded_copy;
pub mod driver;
pub mod error;
#[cfg(feature = "page")]
pub mod facade;
pub mod global_scope;
pub mod idb_open;
pub mod inbound;
pub mod journal_audit;
pub mod miner;
pub mod peer_text;
pub mod storage;
pub mod stored_bodies;
pub mod transport;
pub mod tx_index;
pub mod verifier;
pub mod views;
pub mod wallet;
pub mod web_random;

use wasm_bindgen::prelude::*;

pub use error::NodeError;
#[cfg(feature = "page")]
pub use facade::BrowserNode;
pub use miner::mine_chunk;

/// Version of this crate, as built (`CARGO_PKG_VERSION`).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Sends Rust panics to the console with their message (once per page).
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(&format!("node-wasm panicked: {info}").into());
        }));
    });
}
