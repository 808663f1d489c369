//! Runs in headless Chromium: `wasm-pack test --headless --chrome node-wasm`.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn version_is_crate_version() {
    assert_eq!(node_wasm::version(), env!("CARGO_PKG_VERSION"));
}

/// Proves async tests work (js-sys Promise awaited through wasm-bindgen-futures).
#[wasm_bindgen_test]
async fn async_tests_run_in_the_browser() {
    let promise = js_sys::Promise::resolve(&JsValue::from_str(&node_wasm::version()));
    let value = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    assert_eq!(
        value.as_string().as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
}
