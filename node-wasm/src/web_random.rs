//! Random bytes from the browser's `crypto.getRandomValues`: new keys and the `version` nonce.
//!
//! Called directly rather than through getrandom, whose browser backend brings the error texts
//! of every platform it supports (about 0.6 KB of the page module), and through a function that
//! returns an error rather than an RNG that may only panic when the browser refuses.

use js_sys::Reflect;
use node_core::KeyPair;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::NodeError;

/// `getRandomValues` refuses more than this many bytes in one call (the Web Crypto spec).
const MAX_BYTES_PER_CALL: usize = 65_536;

/// A secret scalar is at or above the curve's order (or zero) with probability about 2^-32:
/// drawing again is the standard answer, and this many failures in a row means a broken source.
const MAX_KEY_DRAWS: usize = 8;

/// Fills `dest` from the global scope's `crypto` (a window or a worker).
pub fn fill(dest: &mut [u8]) -> Result<(), NodeError> {
    let crypto: web_sys::Crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|c| c.dyn_into().ok())
        .ok_or_else(|| NodeError::Browser("this browser has no crypto.getRandomValues".into()))?;
    for chunk in dest.chunks_mut(MAX_BYTES_PER_CALL) {
        crypto
            .get_random_values_with_u8_array(chunk)
            .map_err(|e| NodeError::Browser(format!("crypto.getRandomValues failed: {e:?}")))?;
    }
    Ok(())
}

/// A new P-256 key pair from the browser's random source.
pub fn new_key() -> Result<KeyPair, NodeError> {
    for _ in 0..MAX_KEY_DRAWS {
        let mut secret = [0u8; 32];
        fill(&mut secret)?;
        if let Some(key) = KeyPair::from_secret_bytes(&secret) {
            return Ok(key);
        }
    }
    Err(NodeError::Browser(
        "crypto.getRandomValues kept giving invalid keys".into(),
    ))
}

/// A random 64-bit number (the `version` nonce that tells a node its own connection back).
pub fn u64() -> Result<u64, NodeError> {
    let mut bytes = [0u8; 8];
    fill(&mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}
