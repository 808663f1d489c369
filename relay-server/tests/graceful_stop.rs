//! An operator's `systemctl stop` (SIGTERM) on a real relay process with a peer connected:
//! the peer is told why in a close frame, the process exits 0 with its control files
//! removed, the chain it stored is the chain it had, and with `--log-format json` every log
//! line is one JSON object a collector can read.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{encode_frame, Message, Role, Version, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_peers_with_a_reason_and_keeps_the_chain() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    send_mined(dir, "3000", &me, &me, 1);
    let before = utxo_digest(dir, "3000");

    let relay = NodeProc::start(dir, "3000", &["--log-format", "json"]).await;
    let status = relay.status().await;
    let genesis =
        node_core::BlockHash::from_hex(status.genesis.as_deref().expect("genesis")).expect("hex");
    let (mut peer, _) = tokio_tungstenite::connect_async(relay.ws_url())
        .await
        .expect("connects");
    let hello = Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: "stop-test".into(),
        role: Role::Wallet,
        listen_url: None,
        nonce: 5,
        user_agent: "stop-test".into(),
    });
    for m in [hello, Message::Verack] {
        peer.send(encode_frame(&m).into()).await.expect("sent");
    }
    wait_for("the relay to count the peer", || async {
        try_status(relay.addr).await.filter(|s| s.peers == 1)
    })
    .await;

    // The peer reads everything until the relay closes, on its own task.
    let reader = tokio::spawn(async move {
        let mut frames = 0;
        while let Some(Ok(msg)) = peer.next().await {
            match msg {
                WsMessage::Binary(_) => frames += 1,
                WsMessage::Close(frame) => {
                    return (frames, frame.map(|f| f.reason.to_string()));
                }
                _ => {}
            }
        }
        (frames, None)
    });
    let log = relay.log_path();
    // SIGTERM; asserts a zero exit and the control files gone.
    relay.stop();
    let (frames, reason) = reader.await.expect("reader");
    assert!(frames >= 2, "the handshake's answers were written first");
    assert_eq!(reason.as_deref(), Some("node shutting down"));

    assert_eq!(
        utxo_digest(dir, "3000"),
        before,
        "the stored chain is intact"
    );

    let text = std::fs::read_to_string(log).expect("log");
    let mut messages = Vec::new();
    for line in text.lines() {
        // The banner on stdout is for a person; every stderr line is JSON.
        if !line.starts_with('{') {
            assert!(
                ["Starting node", "Listening on", "Metrics on"]
                    .iter()
                    .any(|b| line.starts_with(b)),
                "a log line is not JSON: {line:?}"
            );
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
        assert!(v.get("level").is_some_and(|l| l.is_string()), "{line}");
        assert!(v.get("timestamp").is_some(), "{line}");
        if let Some(m) = v.pointer("/fields/message").and_then(|m| m.as_str()) {
            messages.push(m.to_string());
        }
    }
    for expected in ["node started", "stopping", "stopped"] {
        assert!(
            messages.iter().any(|m| m == expected),
            "no '{expected}' in {messages:?}"
        );
    }
}
