//! A tab takes exactly one block hash on trust (assume-valid), and only from the relay that
//! served its page: the page's code carries it from that relay's `/status`. A tab pointed at
//! another relay with `?relay=` (or the `relay` option) must not carry it over.
#![cfg(target_arch = "wasm32")]

use js_sys::{Object, Reflect};
use node_wasm::BrowserNode;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

mod common;
use common::unique;

wasm_bindgen_test_configure!(run_in_browser);

const VOUCHED: &str = "00ab00ab00ab00ab00ab00ab00ab00ab00ab00ab00ab00ab00ab00ab00ab00ab";

/// Start options for an offline node `id` whose page passes the relay's `{height, hash}`,
/// connecting to `relay` when given (as `?relay=` would).
fn options(id: &str, relay: Option<&str>) -> JsValue {
    let o = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&o, &k.into(), &v).expect("set");
    set("nodeId", id.into());
    set("connect", false.into());
    set("verifyWorkers", 0.into());
    let vouched = Object::new();
    Reflect::set(&vouched, &"height".into(), &7.into()).expect("set");
    Reflect::set(&vouched, &"hash".into(), &VOUCHED.into()).expect("set");
    set("assumeValid", vouched.into());
    if let Some(r) = relay {
        set("relay", r.into());
    }
    o.into()
}

/// Starts a node with `options` and returns its status's `assumeValid`.
async fn assume_valid_taken(options: JsValue) -> JsValue {
    let node = match BrowserNode::start(options).await {
        Ok(node) => node,
        Err(_) => panic!("the node starts"),
    };
    let status = JsFuture::from(node.status()).await.expect("status");
    node.close();
    Reflect::get(&status, &"assumeValid".into()).expect("a field")
}

fn page_relay() -> String {
    let host = web_sys::window()
        .expect("a window")
        .location()
        .host()
        .expect("a host");
    format!("ws://{host}/ws")
}

#[wasm_bindgen_test]
async fn a_tab_sent_to_another_relay_with_query_relay_takes_no_block_hash_on_trust() {
    // The page's relay vouched for a block; the user (or a link someone sent them) points
    // the tab at another relay. That relay's chain gets every signature checked.
    let taken = assume_valid_taken(options(&unique("t"), Some("ws://127.0.0.1:3999/ws"))).await;
    assert!(taken.is_null(), "kept: {taken:?}");
}

#[wasm_bindgen_test]
async fn a_tab_on_the_relay_that_served_its_page_keeps_the_hash_that_relay_vouched_for() {
    for relay in [None, Some(page_relay())] {
        let taken = assume_valid_taken(options(&unique("t"), relay.as_deref())).await;
        let hash = Reflect::get(&taken, &"hash".into()).expect("a hash");
        assert_eq!(
            hash.as_string().as_deref(),
            Some(VOUCHED),
            "relay {relay:?}"
        );
        let height = Reflect::get(&taken, &"height".into()).expect("a height");
        assert_eq!(height.as_f64(), Some(7.0));
    }
}
