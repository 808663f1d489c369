//! Copies values from JavaScript into wasm memory only after checking their size.
//!
//! Anything the tab reads from outside its own memory (a worker's message, an IndexedDB
//! record, a relay's message: see [`crate::transport::frame_from_data`] for those) may be
//! any size. Copying first and checking after would let one huge value grow the module's
//! memory, which never shrinks. So sizes are read from the JavaScript side (`length`,
//! `byteLength`) before a single byte is copied.

use js_sys::{JsString, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Why bytes were not copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotCopied {
    /// The value is not a `Uint8Array`.
    NotBytes,
    /// It holds this many bytes, more than allowed.
    TooLong(usize),
}

/// `byteLength` of an `ArrayBuffer` or typed array, read as a JavaScript number: the
/// bindings' `u32` would wrap a buffer of 4 GiB and more to a small size.
pub fn byte_length(value: &JsValue) -> usize {
    Reflect::get(value, &JsValue::from_str("byteLength"))
        .ok()
        .and_then(|n| n.as_f64())
        .map_or(0, |n| n.clamp(0.0, usize::MAX as f64) as usize)
}

/// The bytes of a `Uint8Array` of at most `max` bytes.
pub fn bytes(value: &JsValue, max: usize) -> Result<Vec<u8>, NotCopied> {
    let array = value.dyn_ref::<Uint8Array>().ok_or(NotCopied::NotBytes)?;
    let len = byte_length(array);
    if len > max {
        return Err(NotCopied::TooLong(len));
    }
    Ok(array.to_vec())
}

/// A string value, cut to its first `max_units` UTF-16 units before it is copied (at most
/// three bytes a unit once in wasm); `None` when it is not a string.
#[inline(never)]
pub fn string(value: &JsValue, max_units: usize) -> Option<String> {
    let text = value.dyn_ref::<JsString>()?;
    if text.length() as usize > max_units {
        return Some(String::from(text.slice(0, max_units as u32)));
    }
    Some(String::from(text))
}
