//! Browser build of the node. For now only a placeholder that proves the wasm pipeline
//! (wasm-pack build / wasm-pack test in headless Chromium).

use wasm_bindgen::prelude::*;

/// Version of this crate, as built (`CARGO_PKG_VERSION`).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
