//! Item 5 of issue 13, the relay's side: a peer asks for a block of about 1 MB again and
//! again and never reads the answers. The relay queued every answer — its send queue was
//! bounded in frames (4,096), not bytes — and grew from 22 MiB to 1.9 GiB for one such peer.
//! Now what waits for a peer is counted in bytes, a peer with much unread has nothing more
//! read from it, and one whose socket takes nothing for `--write-timeout` is dropped.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{
    decode_frame, encode_frame, InvItem, Message, Role, Version, PROTOCOL_VERSION,
};
use node_core::{BlockHash, KeyPair};
use rand_core::OsRng;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Resident memory the relay may reach, at its peak, during the whole attack.
const RSS_LIMIT_KB: u64 = 200 * 1024;
/// Attacking connections at once.
const ATTACKERS: usize = 4;
/// Times the attackers connect again after being dropped.
const ROUNDS: usize = 3;
/// `getdata`s for the big block each attacking connection sends.
const REQUESTS: usize = 500;

fn version(genesis: BlockHash, name: &str, nonce: u64) -> Vec<u8> {
    encode_frame(&Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: name.into(),
        role: Role::Wallet,
        listen_url: None,
        nonce,
        user_agent: "getdata-amplification-test".into(),
    }))
}

/// Fails the test at once if the relay's resident memory is over the limit.
fn check_memory(relay: &NodeProc, when: &str) {
    let (rss, peak) = memory_kb(relay.pid());
    assert!(
        rss < RSS_LIMIT_KB && peak < RSS_LIMIT_KB,
        "relay memory {when}: {} MiB resident, peak {} MiB (limit {} MiB)",
        rss / 1024,
        peak / 1024,
        RSS_LIMIT_KB / 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_asking_for_a_big_block_over_and_over_without_reading_are_dropped_and_memory_stays_flat(
) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let key = KeyPair::generate(&mut OsRng);
    create_chain(dir, "3000", &key.address().to_string());
    let big = add_big_block(dir, "3000", &key);
    let relay = NodeProc::start(dir, "3000", &["--write-timeout", "2"]).await;
    let status = relay.status().await;
    let genesis = BlockHash::from_hex(status.genesis.as_deref().expect("genesis")).expect("hex");
    let url = relay.ws_url();
    let (before, _) = memory_kb(relay.pid());

    // An honest peer, reading everything, connected throughout.
    let (mut honest, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connects");
    for f in [
        version(genesis, "honest", 1),
        encode_frame(&Message::Verack),
    ] {
        honest
            .send(WsMessage::Binary(f.into()))
            .await
            .expect("sent");
    }
    let mut ping = 0u64;
    let mut served = async |honest: &mut tokio_tungstenite::WebSocketStream<_>| {
        ping += 1;
        let frame = encode_frame(&Message::Ping(ping));
        honest
            .send(WsMessage::Binary(frame.into()))
            .await
            .expect("ping");
        let pong = async {
            while let Some(Ok(m)) = honest.next().await {
                if let WsMessage::Binary(b) = m {
                    if decode_frame(&b) == Ok(Message::Pong(ping)) {
                        return;
                    }
                }
            }
            panic!("the honest peer was disconnected");
        };
        tokio::time::timeout(DEADLINE, pong)
            .await
            .expect("the honest peer is answered in time");
    };
    served(&mut honest).await;

    let getdata = encode_frame(&Message::GetData(vec![InvItem::Block(big)]));
    for round in 0..ROUNDS {
        let mut attackers = Vec::new();
        for n in 0..ATTACKERS {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .expect("loopback attackers are never refused");
            let hello = version(genesis, &format!("greedy-{round}-{n}"), 100 + n as u64);
            ws.feed(WsMessage::Binary(hello.into()))
                .await
                .expect("sent");
            let verack = encode_frame(&Message::Verack);
            ws.feed(WsMessage::Binary(verack.into()))
                .await
                .expect("sent");
            for _ in 0..REQUESTS {
                // The relay stops reading from it; once its socket is full, so do we.
                let send = ws.feed(WsMessage::Binary(getdata.clone().into()));
                if tokio::time::timeout(Duration::from_millis(500), send)
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), ws.flush()).await;
            // Never read: the socket is only kept open.
            attackers.push(ws);
        }
        served(&mut honest).await;
        check_memory(&relay, "while the attackers wait");
        // Every attacker is dropped (the honest peer alone is left), memory checked all along.
        wait_for("the relay to drop the peers that do not read", || {
            check_memory(&relay, "while dropping the attackers");
            async { try_status(relay.addr).await.filter(|s| s.peers == 1) }
        })
        .await;
        served(&mut honest).await;
        drop(attackers);
    }
    let (after, peak) = memory_kb(relay.pid());
    eprintln!(
        "relay memory: {} MiB before, {} MiB after, peak {} MiB",
        before / 1024,
        after / 1024,
        peak / 1024
    );
    check_memory(&relay, "after the attack");
    relay.stop();
}
