//! Node ids, relay URLs and reasons are chosen by peers and reach the page's panels, its log
//! and the console. None of them may forge a line, reverse text, or make one node look like
//! another; each is cut to a length that fits the page.
#![cfg(target_arch = "wasm32")]

use node_core::node::{Notification, PeerInfo};
use node_core::primitives::hash::sha256;
use node_core::protocol::{PeerAddr, Role};
use node_wasm::peer_text::{shown, MAX_NODE_ID_CHARS, MAX_REASON_CHARS, MAX_URL_CHARS};
use node_wasm::views::{event_for, ConnectionView, EventPayload, KnownNodeView, PeerView};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// What a person sees can be trusted: one line, nothing invisible, nothing reordered.
fn assert_plain(s: &str) {
    for c in s.chars() {
        assert!(
            matches!(c, ' '..='~') || c == '…',
            "{c:?} (U+{:04X}) reaches the page in {s:?}",
            c as u32
        );
    }
}

fn peer(node_id: &str) -> PeerInfo {
    PeerInfo {
        id: 1,
        node_id: Some(node_id.to_string()),
        role: Some(Role::Relay),
        outbound: true,
        height: 0,
        score: 0,
        rtt_ms: None,
    }
}

#[wasm_bindgen_test]
fn a_node_id_with_a_line_feed_cannot_show_as_two_peers() {
    let view = PeerView::of(&peer("3001\n3002"), "ws://127.0.0.1:3000/ws");
    let shown_id = view.node_id.expect("a node id");
    assert_plain(&shown_id);
    assert_eq!(shown_id, "3001\\u{a}3002");
}

#[wasm_bindgen_test]
fn a_right_to_left_override_in_a_reason_is_shown_not_obeyed() {
    // "\u{202e}3001 ni dekcol" shows as "block locked in 1003" when obeyed.
    let n = Notification::RejectReceived {
        peer: 1,
        hash: sha256(b"tx"),
        reason: "\u{202e}3001 ni dekcol".into(),
    };
    let (_, payload) = event_for(&n, &|_| None, 0).expect("shown");
    let EventPayload::TxRejected { reason, .. } = payload else {
        panic!("a txRejected event");
    };
    assert_plain(&reason);
    assert_eq!(reason, "\\u{202e}3001 ni dekcol");
}

#[wasm_bindgen_test]
fn an_invisible_or_lookalike_character_cannot_make_one_node_look_like_another() {
    for impostor in [
        "3001\u{200b}",         // zero-width space
        "3001\u{feff}",         // zero-width no-break space
        "3\u{0301}001",         // combining accent
        "\u{0417}001",          // Cyrillic Ze, looks like 3
        "3001\u{3164}",         // Hangul filler, an invisible letter
        "3001\u{2066}\u{2069}", // isolates
    ] {
        let a = PeerAddr {
            node_id: impostor.into(),
            url: Some(format!("ws://{impostor}/ws")),
            role: Role::Relay,
        };
        let view = KnownNodeView::of(&a);
        assert_plain(&view.node_id);
        assert_ne!(view.node_id, "3001", "{impostor:?} passes for 3001");
        assert!(view.node_id.contains("\\u{"), "{}", view.node_id);
        let url = view.url.expect("a url");
        assert_plain(&url);
        assert_ne!(url, "ws://3001/ws");
    }
}

#[wasm_bindgen_test]
fn a_peer_cannot_fake_an_escape_or_the_cut_mark() {
    // A peer writing the escape itself gets its backslash escaped: only the page's own
    // escapes start with a bare backslash, and only the page's own cut mark is a bare '…'.
    assert_eq!(shown("3001\\u{a}", 64), "3001\\u{5c}u{a}");
    assert_eq!(shown("a…", 64), "a\\u{2026}");
}

#[wasm_bindgen_test]
fn long_peer_strings_are_cut_to_fit_the_page() {
    let long = "x".repeat(100_000);
    let view = PeerView::of(&peer(&long), &format!("ws://{long}"));
    assert_eq!(
        view.node_id.expect("id").chars().count(),
        MAX_NODE_ID_CHARS + 1
    );
    assert_eq!(view.url.chars().count(), MAX_URL_CHARS + 1);
    // An escape is never cut in half.
    let escapes = shown(&"\u{202e}".repeat(1_000), MAX_REASON_CHARS);
    assert!(escapes.ends_with("}…"), "{escapes}");
    assert!(escapes.chars().count() <= MAX_REASON_CHARS + 1);
}

#[wasm_bindgen_test]
fn every_peer_string_in_events_and_the_connection_view_is_escaped() {
    let evil = "a\r\nb\u{202e}c\u{1b}[2J";
    let addr = PeerAddr {
        node_id: evil.into(),
        url: Some(evil.into()),
        role: Role::Relay,
    };
    let notifications = [
        Notification::PeerUp {
            peer: 1,
            node_id: evil.into(),
            role: Role::Relay,
            height: 1,
        },
        Notification::PeerDown {
            peer: 1,
            reason: evil.into(),
        },
        Notification::PeerPenalised {
            peer: 1,
            score: 10,
            reason: evil.into(),
        },
        Notification::AddrLearned(vec![addr]),
        Notification::BlockRejected {
            hash: node_core::BlockHash::from_hash(sha256(b"b")),
            reason: evil.into(),
            from: Some(1),
        },
        Notification::MessageIn {
            peer: 1,
            command: "reject".into(),
            summary: evil.into(),
            refused: Some(evil.into()),
        },
    ];
    for n in &notifications {
        let (_, payload) = event_for(n, &|_| Some(evil.to_string()), 0).expect("shown");
        let strings = strings_in(&payload);
        assert!(strings.iter().any(|s| s.contains("\\u{202e}")), "{n:?}");
        for s in &strings {
            assert_plain(s);
        }
    }
    let c = ConnectionView::of("closed", evil, 1, None, Some(1008), Some(evil));
    assert_plain(&c.url);
    assert_plain(c.reason.as_deref().expect("a reason"));
}

/// Every string in a payload as the page receives it.
fn strings_in(payload: &EventPayload) -> Vec<String> {
    fn walk(v: &wasm_bindgen::JsValue, out: &mut Vec<String>) {
        if let Some(s) = v.as_string() {
            out.push(s);
        } else if v.is_object() {
            for value in js_sys::Object::values(&js_sys::Object::from(v.clone())).iter() {
                walk(&value, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&node_wasm::views::to_js(payload), &mut out);
    out
}
