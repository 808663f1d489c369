//! What the node reads of the global scope it runs in: a page's `window` or, as on the
//! page today, a dedicated worker's `self` (www/node-worker.js). Both have `location` and
//! `navigator`; only the window has `web_sys::window()`, so nothing here uses it.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// Property `key` of the global scope's object `object` (`location`, `navigator`).
fn global_property(object: &str, key: &str) -> Option<JsValue> {
    let o = Reflect::get(&js_sys::global(), &JsValue::from_str(object)).ok()?;
    if !o.is_object() {
        return None;
    }
    Reflect::get(&o, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// `location[key]` as a string: a page's own address, or the worker script's (which the
/// page gives the page's `?` query, so `?node=` and the rest read the same).
pub fn location(key: &str) -> Option<String> {
    global_property("location", key)?.as_string()
}

/// `navigator.hardwareConcurrency`, or 2 where the browser does not say.
pub fn hardware_concurrency() -> f64 {
    global_property("navigator", "hardwareConcurrency")
        .and_then(|c| c.as_f64())
        .unwrap_or(2.0)
}

/// `navigator.storage`, where the browser has it (the origin private file system's door).
pub fn storage_manager() -> Option<web_sys::StorageManager> {
    use wasm_bindgen::JsCast;
    global_property("navigator", "storage")?.dyn_into().ok()
}
