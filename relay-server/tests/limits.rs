//! `startnode`'s limits, on a real relay: loopback's own share of connections, the Origin
//! allow-list and `--allow-origin`, a smaller frame size, the per-peer rate, and flags that
//! make no sense refused before anything starts. The per-address limit and bans of other
//! addresses are tested in `server.rs` with made-up addresses: tests send traffic to
//! loopback only.

mod common;

use std::path::Path;

use common::*;
use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{encode_frame, Message};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/ws` at `url`, with an `Origin` header if given; the HTTP status on refusal.
async fn open(url: &str, origin: Option<&str>) -> Result<Ws, StatusCode> {
    let mut req = url.into_client_request().expect("valid URL");
    if let Some(o) = origin {
        let value = HeaderValue::from_str(o).expect("valid header");
        req.headers_mut().insert("origin", value);
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(res)) => Err(res.status()),
        Err(e) => panic!("connecting to {url}: {e}"),
    }
}

/// Reads until the relay closes the connection; returns its close reason.
async fn closed_reason(ws: &mut Ws) -> String {
    let read = async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Close(f))) => {
                    return f.map(|f| f.reason.to_string()).unwrap_or_default()
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return e.to_string(),
                None => return "ended".into(),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("the relay closes the connection in time")
}

/// A chain for node 3000 in `dir`.
fn chain(dir: &Path) {
    let me = new_address(dir, "3000");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &me, "--bits", "8"],
    );
}

/// Waits until a connection from loopback is accepted again (slots free up as the relay
/// finishes closing connections).
async fn wait_accepted(url: &str) -> Ws {
    wait_for("a loopback slot to free up", || async {
        open(url, None).await.ok()
    })
    .await
}

/// Completes the handshake on `ws` and waits until the relay counts `peers` peers: a peer
/// past its handshake keeps its slot (one without makes room for newcomers when full).
async fn shake(relay: &NodeProc, ws: &mut Ws, nonce: u64, peers: usize) {
    use node_core::protocol::{Role, Version, PROTOCOL_VERSION};
    let genesis =
        node_core::BlockHash::from_hex(relay.status().await.genesis.as_deref().expect("genesis"))
            .expect("hex");
    let hello = Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: format!("tab-{nonce}"),
        role: Role::Wallet,
        listen_url: None,
        nonce,
        user_agent: "limits-test".into(),
    });
    for m in [hello, Message::Verack] {
        let frame = encode_frame(&m);
        ws.send(WsMessage::Binary(frame.into()))
            .await
            .expect("sent");
    }
    wait_for("the relay to count the peer", || async {
        try_status(relay.addr).await.filter(|s| s.peers == peers)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_gets_its_own_share_of_connections() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    chain(dir);
    let relay = NodeProc::start(
        dir,
        "3000",
        &["--max-loopback-peers", "3", "--max-peers-per-ip", "1"],
    )
    .await;
    let url = relay.ws_url();
    let mut held = Vec::new();
    for n in 0..3 {
        let mut ws = open(&url, None).await.expect("within loopback's share");
        shake(&relay, &mut ws, n + 1, n as usize + 1).await;
        held.push(ws);
    }
    // The per-address limit of 1 is for other addresses; loopback's share is 3.
    assert_eq!(
        open(&url, None).await.err(),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    // The page and /status are still served.
    assert!(try_status(relay.addr).await.is_some());
    let mut first = held.remove(0);
    first.close(None).await.expect("close");
    drop(first);
    let mut again = wait_accepted(&url).await;
    shake(&relay, &mut again, 9, 3).await;
    held.push(again);
    assert_eq!(
        open(&url, None).await.err(),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    drop(held);
    relay.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_on_the_allow_list_may_connect_others_may_not() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    chain(dir);
    let relay = NodeProc::start(
        dir,
        "3000",
        &[
            "--allow-origin",
            "https://wallet.example",
            "--allow-origin",
            "http://10.1.2.3:8080/",
        ],
    )
    .await;
    let url = relay.ws_url();
    let own = format!("http://{}", relay.addr);
    for good in [
        "https://wallet.example",
        "http://10.1.2.3:8080",
        "http://localhost:5173",
        own.as_str(),
    ] {
        assert!(open(&url, Some(good)).await.is_ok(), "{good} is allowed");
    }
    for bad in [
        "https://evil.example",
        "http://wallet.example",
        "https://wallet.example.evil",
        "http://10.1.2.3:8081",
        "null",
    ] {
        assert_eq!(
            open(&url, Some(bad)).await.err(),
            Some(StatusCode::FORBIDDEN),
            "{bad} is refused"
        );
    }
    // Without the flag only the relay's own and local pages pass.
    relay.stop();
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let url = relay.ws_url();
    assert_eq!(
        open(&url, Some("https://wallet.example")).await.err(),
        Some(StatusCode::FORBIDDEN)
    );
    assert!(open(&url, Some("http://127.0.0.1:9999")).await.is_ok());
    relay.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_size_and_rate_limits_follow_the_flags() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    chain(dir);
    let relay = NodeProc::start(
        dir,
        "3000",
        &[
            "--max-frame-size",
            "8192",
            "--peer-rate",
            "20",
            "--peer-burst",
            "40",
        ],
    )
    .await;
    let url = relay.ws_url();

    let mut big = open(&url, None).await.expect("connects");
    let _ = big.send(WsMessage::Binary(vec![7u8; 8193].into())).await;
    let why = closed_reason(&mut big).await;
    assert!(why.contains("over the 8192-byte limit"), "{why}");

    // Just under the limit is read (and then refused for what it is, not for its size).
    let mut under = open(&url, None).await.expect("connects");
    let _ = under.send(WsMessage::Binary(vec![7u8; 8192].into())).await;
    let why = closed_reason(&mut under).await;
    assert!(why.contains("magic"), "{why}");

    // Pings are fine one by one; 100 at once are over a burst of 40.
    let mut fast = open(&url, None).await.expect("connects");
    for n in 0..100u64 {
        let frame = encode_frame(&Message::Ping(n));
        if fast.send(WsMessage::Binary(frame.into())).await.is_err() {
            break;
        }
    }
    let why = closed_reason(&mut fast).await;
    assert!(why.contains("over the rate limit of 20 frames/s"), "{why}");
    relay.stop();
}

#[test]
fn limits_that_make_no_sense_are_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    chain(dir);
    for (args, expected) in [
        (vec!["--max-frame-size", "100"], "--max-frame-size must be"),
        (
            vec!["--max-frame-size", "99999999"],
            "--max-frame-size must be",
        ),
        (vec!["--peer-rate", "0"], "--peer-rate"),
        (vec!["--allow-origin", "ftp://x.example"], "--allow-origin"),
        (
            vec!["--allow-origin", "https://x.example/page"],
            "--allow-origin",
        ),
        (vec!["--max-peers-per-ip", "lots"], "max-peers-per-ip"),
    ] {
        let mut all = vec!["startnode", "--listen", "127.0.0.1:0"];
        all.extend(&args);
        let err = fails(dir, "3000", &all);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mempool_and_orphan_pool_hold_what_the_flags_say() {
    use node_core::protocol::{Role, Version, PROTOCOL_VERSION};
    use node_core::{consensus::pow, Block, BlockHash, Hash256, PubKeyHash, Transaction};

    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    let other = new_address(dir, "3000");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &me, "--bits", "8"],
    );
    let relay = NodeProc::start(
        dir,
        "3000",
        &["--max-mempool-txs", "1", "--max-orphans", "3"],
    )
    .await;

    // One payment waits in the mempool; a second finds it full.
    let pay = ["send", "--from", &me, "--to", &other, "--amount", "1"];
    assert_eq!(ok(dir, "3000", &pay), "Success!\n");
    let err = fails(dir, "3000", &pay);
    assert!(err.contains("mempool is full (1 transactions)"), "{err}");
    assert_eq!(relay.status().await.mempool, 1);

    // Blocks whose parent nobody has: three are kept, the oldest make way.
    let genesis = BlockHash::from_hex(relay.status().await.genesis.as_deref().expect("genesis"))
        .expect("hex");
    let (mut ws, _) = tokio_tungstenite::connect_async(relay.ws_url().as_str())
        .await
        .expect("connects");
    let hello = Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: "orphan-sender".into(),
        role: Role::Wallet,
        listen_url: None,
        nonce: 0x0f,
        user_agent: "limits-test".into(),
    });
    let mut frames = vec![encode_frame(&hello), encode_frame(&Message::Verack)];
    for n in 1..=6u8 {
        let coinbase = Transaction::new_coinbase(5, PubKeyHash([n; 20]), 10, b"orphan");
        let prev = BlockHash::from_hash(Hash256([n; 32]));
        let mut block = Block::new_template(prev, relay_server::util::now_ms(), 8, vec![coinbase]);
        pow::mine(&mut block.header).expect("solved");
        frames.push(encode_frame(&Message::Block(block)));
    }
    frames.push(encode_frame(&Message::Ping(9)));
    for f in frames {
        ws.send(WsMessage::Binary(f.into())).await.expect("sent");
    }
    // The pong comes after the relay has handled every block before it.
    let pong = async {
        while let Some(Ok(m)) = ws.next().await {
            if let WsMessage::Binary(b) = m {
                if node_core::protocol::decode_frame(&b) == Ok(Message::Pong(9)) {
                    return;
                }
            }
        }
        panic!("no pong");
    };
    tokio::time::timeout(DEADLINE, pong)
        .await
        .expect("pong in time");
    assert_eq!(relay.status().await.orphans, 3);
    relay.stop();
}
