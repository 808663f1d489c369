//! Class "peer strings shown to people" of issue 13: a peer chooses its node id, the reasons
//! in its `reject`s and the reason of its WebSocket close frame, and the relay logs all
//! three. Written as they came, a newline in them forges whole log lines, an ANSI escape
//! repaints the operator's terminal, and a right-to-left override makes one node's id read
//! as another's.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{decode_frame, encode_frame, Message, Role, Version, PROTOCOL_VERSION};
use node_core::BlockHash;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A line that looks like the relay's own, with a date no real line of this test has.
const FORGED: &str = "\n1999-01-01T00:00:00.000000Z  INFO relay_server::hub: forged";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_cannot_forge_log_lines_or_disguise_its_id_with_the_strings_it_sends() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let genesis = BlockHash::from_hex(relay.status().await.genesis.as_deref().expect("genesis"))
        .expect("hex");

    let (mut ws, _) = tokio_tungstenite::connect_async(relay.ws_url().as_str())
        .await
        .expect("connects");
    // "relay-3001", written right to left after the override: it reads as another node.
    let node_id = format!("1003-yaler\u{202e}{FORGED} peer up\x1b[2J");
    let version = Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id,
        role: Role::Wallet,
        listen_url: None,
        nonce: 0xf0_12ed,
        user_agent: format!("agent{FORGED} user agent"),
    });
    let reject = Message::Reject {
        hash: genesis.to_hash(),
        reason: format!("no{FORGED} reject reason"),
    };
    for m in [version, Message::Verack, reject, Message::Ping(7)] {
        ws.send(WsMessage::Binary(encode_frame(&m).into()))
            .await
            .expect("sent");
    }
    // The pong comes after the relay has handled everything before it — unless the relay
    // refused the frames outright (node-core refuses unprintable strings on the wire) and
    // closed the connection: either way, nothing it logged may be forged.
    let pong = async {
        while let Some(Ok(m)) = ws.next().await {
            match m {
                WsMessage::Binary(b) if decode_frame(&b) == Ok(Message::Pong(7)) => return true,
                WsMessage::Close(_) => return false,
                _ => {}
            }
        }
        false
    };
    let answered = tokio::time::timeout(DEADLINE, pong)
        .await
        .expect("pong or close in time");
    if answered {
        let close = CloseFrame {
            code: CloseCode::Normal,
            reason: format!("bye{FORGED} close").into(),
        };
        ws.close(Some(close)).await.expect("closed");
    }
    wait_for("the relay to see the peer go", || async {
        try_status(relay.addr).await.filter(|s| s.peers == 0)
    })
    .await;
    relay.stop();

    let log = std::fs::read_to_string(dir.join("startnode_3000.log")).expect("log");
    let forged: Vec<&str> = log.lines().filter(|l| l.starts_with("1999-")).collect();
    assert!(forged.is_empty(), "forged log lines: {forged:?}\n{log}");
    assert!(
        !log.contains('\u{202e}') && !log.contains('\x1b'),
        "bidi overrides and escapes reach the log:\n{log}"
    );
    if answered {
        // What the peer sent is still there to read, escaped, on the line of its event.
        let up = log
            .lines()
            .find(|l| l.contains("peer up"))
            .expect("a peer up line");
        assert!(up.contains("1003-yaler\\u{202e}\\n1999-"), "{up}");
        assert!(
            log.lines()
                .any(|l| l.contains("refused what we sent: no\\n1999-")),
            "{log}"
        );
        assert!(log.lines().any(|l| l.contains("bye\\n1999-")), "{log}");
    } else {
        // Refused on the wire: the refusal is logged, and no peer ever came up.
        assert!(!log.lines().any(|l| l.contains("peer up")), "{log}");
        assert!(
            log.contains("unprintable") || log.contains("misbehaving"),
            "{log}"
        );
    }
}
