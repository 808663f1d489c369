//! Peers that send garbage are dropped; an honest peer connected at the same time is served
//! throughout; and loopback peers are dropped but never refused.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{
    decode_frame, encode_frame, InvItem, Message, Role, Version, MAGIC, MAX_FRAME_SIZE,
    PROTOCOL_VERSION,
};
use node_core::BlockHash;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A raw WebSocket client speaking frames by hand.
struct Raw {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the relay did next.
#[derive(Debug)]
enum Next {
    Message(Message),
    Closed(String),
}

impl Raw {
    async fn connect(url: &str) -> Raw {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connects");
        Raw { ws }
    }

    async fn send_bytes(&mut self, bytes: Vec<u8>) {
        // The relay may already have closed: a failed send is fine, the read says why.
        let _ = self.ws.send(WsMessage::Binary(bytes.into())).await;
    }

    async fn send(&mut self, m: &Message) {
        self.send_bytes(encode_frame(m)).await;
    }

    async fn next(&mut self) -> Next {
        let read = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(WsMessage::Binary(b))) => {
                        return Next::Message(
                            decode_frame(&b).expect("the relay sends valid frames"),
                        )
                    }
                    Some(Ok(WsMessage::Close(f))) => {
                        return Next::Closed(f.map(|f| f.reason.to_string()).unwrap_or_default())
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Next::Closed(e.to_string()),
                    None => return Next::Closed("ended".into()),
                }
            }
        };
        tokio::time::timeout(DEADLINE, read)
            .await
            .expect("the relay answers in time")
    }

    /// Reads until `pick` matches a message; panics if the connection closes first.
    async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Message) -> Option<T>) -> T {
        loop {
            match self.next().await {
                Next::Message(m) => {
                    if let Some(v) = pick(&m) {
                        return v;
                    }
                }
                Next::Closed(why) => panic!("closed while waiting for {what}: {why}"),
            }
        }
    }

    /// Reads until the relay closes the connection; returns its reason.
    async fn expect_closed(&mut self) -> String {
        loop {
            if let Next::Closed(why) = self.next().await {
                return why;
            }
        }
    }

    async fn handshake(&mut self, genesis: BlockHash, name: &str) {
        self.send(&Message::Version(Version {
            protocol: PROTOCOL_VERSION,
            genesis,
            best_height: 0,
            tip: genesis,
            chain_work: 0,
            node_id: name.into(),
            role: Role::Wallet,
            listen_url: None,
            nonce: 0x5eed_0000 + name.len() as u64,
            user_agent: "hostile-peer-test".into(),
        }))
        .await;
        let mut version = false;
        let mut verack = false;
        while !(version && verack) {
            match self.next().await {
                Next::Message(Message::Version(v)) => {
                    assert_eq!(v.genesis, genesis);
                    version = true;
                    self.send(&Message::Verack).await;
                }
                Next::Message(Message::Verack) => verack = true,
                Next::Message(_) => {}
                Next::Closed(why) => panic!("handshake refused: {why}"),
            }
        }
    }

    async fn ping(&mut self, n: u64) {
        self.send(&Message::Ping(n)).await;
        self.expect("pong", |m| {
            matches!(m, Message::Pong(x) if *x == n).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_a_peer_dropped_while_an_honest_one_is_served() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &me, "--bits", "8"],
    );
    ok(
        dir,
        "3000",
        &["generate", "--address", &me, "--blocks", "20"],
    );
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let status = relay.status().await;
    let genesis = BlockHash::from_hex(status.genesis.as_deref().expect("genesis")).expect("hex");
    let url = relay.ws_url();

    let mut honest = Raw::connect(&url).await;
    honest.handshake(genesis, "honest").await;

    // Not even our network's magic: dropped at once.
    let mut bad_magic = Raw::connect(&url).await;
    bad_magic
        .send_bytes(b"GET / HTTP/1.1 -- definitely not a frame".to_vec())
        .await;

    // Right magic and command, payload that does not decode: dropped on the second one.
    let mut bad_payload = Raw::connect(&url).await;
    let mut garbage = MAGIC.to_vec();
    garbage.extend_from_slice(b"version\0\0\0\0\0");
    garbage.extend_from_slice(&[0xff; 40]);
    bad_payload.send_bytes(garbage.clone()).await;
    bad_payload.send_bytes(garbage).await;

    // Over the frame size limit: the WebSocket layer refuses it.
    let mut oversized = Raw::connect(&url).await;
    oversized.send_bytes(vec![0u8; MAX_FRAME_SIZE + 64]).await;

    // The honest peer is answered while that happens.
    honest.ping(1).await;
    honest
        .send(&Message::GetBlocks {
            locator: vec![genesis],
            stop: None,
        })
        .await;
    let blocks = honest
        .expect("inv of the chain", |m| match m {
            Message::Inv(items) if items.iter().all(|i| matches!(i, InvItem::Block(_))) => {
                Some(items.len())
            }
            _ => None,
        })
        .await;
    assert_eq!(blocks, 20, "every block after genesis is announced");

    let why = bad_magic.expect_closed().await;
    assert!(
        why.contains("misbehaving") && why.contains("magic"),
        "{why}"
    );
    let why = bad_payload.expect_closed().await;
    assert!(
        why.contains("misbehaving") && why.contains("payload"),
        "{why}"
    );
    oversized.expect_closed().await;

    // The honest peer is still connected and served.
    honest.ping(2).await;
    honest
        .send(&Message::GetData(vec![InvItem::Block(genesis)]))
        .await;
    honest
        .expect("genesis block", |m| match m {
            Message::Block(b) if b.hash() == genesis => Some(()),
            _ => None,
        })
        .await;

    // Loopback is every tab of a local browser: dropped peers there are never refused.
    let mut again = Raw::connect(&url).await;
    again.handshake(genesis, "again").await;
    again.ping(3).await;

    let peers = wait_for("the relay to count the two honest peers", || async {
        try_status(relay.addr)
            .await
            .filter(|s| s.peers == 2)
            .map(|s| s.peers)
    })
    .await;
    assert_eq!(peers, 2);

    relay.stop();
}

/// A peer floods transactions with made-up signatures that spend outputs nobody has: the
/// hub would only keep them waiting as orphans (no ECDSA there, cheap checks come first),
/// but each had already cost the connection task a signature check. The first one now
/// costs the sender its connection, and an honest peer is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_signatures_on_unknown_outputs_cost_their_sender_the_connection() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &me, "--bits", "8"],
    );
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let status = relay.status().await;
    let genesis = BlockHash::from_hex(status.genesis.as_deref().expect("genesis")).expect("hex");
    let url = relay.ws_url();
    let mut honest = Raw::connect(&url).await;
    honest.handshake(genesis, "honest").await;

    let mut flooder = Raw::connect(&url).await;
    flooder.handshake(genesis, "flooder").await;
    let key = node_core::KeyPair::generate(&mut rand_core::OsRng);
    let mut sent = 0;
    let why = loop {
        let mut tx = node_core::Transaction::new_signed(
            &key,
            &[node_core::OutPoint {
                txid: node_core::Txid::from_hash(node_core::primitives::hash::sha256(
                    &(sent as u64).to_le_bytes(),
                )),
                vout: 0,
            }],
            vec![node_core::TxOut {
                value: 1,
                pubkey_hash: key.pubkey_hash(),
            }],
        );
        tx.inputs[0].signature[5] ^= 0x40; // made up
        flooder.send(&Message::Tx(tx)).await;
        sent += 1;
        if sent == 50 {
            break flooder.expect_closed().await;
        }
    };
    assert!(why.contains("signature"), "closed because: {why}");
    honest.ping(7).await;
    relay.stop();
}
