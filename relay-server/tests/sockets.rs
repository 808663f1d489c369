//! Class "sockets that are not peers" of issue 13: every connection the relay accepts is
//! counted, bounded and timed out, not only those that become WebSocket peers. Before, a
//! connection that never finished its request headers, or sat idle after one request, or
//! upgraded and then said nothing, was held for as long as the client liked.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use node_core::protocol::{decode_frame, encode_frame, Message, Role, Version, PROTOCOL_VERSION};
use node_core::BlockHash;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Connections in their HTTP phase the relay takes in these tests.
const HTTP_CONNECTIONS: usize = 40;
/// Half-open requests the attacker opens.
const SLOW: usize = 200;

/// Reads from `tcp` until the relay closes it; returns what was read.
async fn until_closed(mut tcp: TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

/// A request that is never finished: its last header line never ends.
async fn half_open(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connects");
    let head = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nX-Never-Ends: a");
    tcp.write_all(head.as_bytes()).await.expect("sent");
    tcp
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A tab: handshake and a ping answered; returns its connection.
async fn honest_tab(url: &str, genesis: BlockHash) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the tab connects");
    let hello = Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: "tab".into(),
        role: Role::Wallet,
        listen_url: None,
        nonce: 0x7ab,
        user_agent: "sockets-test".into(),
    });
    for m in [hello, Message::Verack] {
        ws.send(WsMessage::Binary(encode_frame(&m).into()))
            .await
            .expect("sent");
    }
    ping(&mut ws, 42).await;
    ws
}

/// A ping the relay must answer.
async fn ping(ws: &mut Ws, n: u64) {
    ws.send(WsMessage::Binary(encode_frame(&Message::Ping(n)).into()))
        .await
        .expect("sent");
    let pong = async {
        while let Some(Ok(m)) = ws.next().await {
            if let WsMessage::Binary(b) = m {
                if decode_frame(&b) == Ok(Message::Pong(n)) {
                    return;
                }
            }
        }
        panic!("the tab was disconnected");
    };
    tokio::time::timeout(DEADLINE, pong)
        .await
        .expect("the tab is answered in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_half_open_requests_are_bounded_and_timed_out_while_a_tab_is_served() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    let max = HTTP_CONNECTIONS.to_string();
    let relay = NodeProc::start(dir, "3000", &["--max-http-connections", &max]).await;
    let addr = relay.addr;
    let genesis = BlockHash::from_hex(relay.status().await.genesis.as_deref().expect("genesis"))
        .expect("hex");

    // Slowloris: requests whose headers never end, from one address (loopback).
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel();
    for _ in 0..SLOW {
        let tcp = half_open(addr).await;
        let closed = closed_tx.clone();
        tokio::spawn(async move {
            until_closed(tcp).await;
            let _ = closed.send(());
        });
    }
    // The relay holds at most its limit of them: the rest are closed to make room.
    let mut closed = 0;
    while closed < SLOW - HTTP_CONNECTIONS {
        tokio::time::timeout(DEADLINE, closed_rx.recv())
            .await
            .expect("the relay closes the connections over its limit");
        closed += 1;
    }
    // A tab arriving now loads the status and connects: it takes an idle slot's place.
    let status = try_status(addr).await.expect("/status is served");
    assert_eq!(status.peers, 0);
    drop(honest_tab(&relay.ws_url(), genesis).await);
    // And the half-open requests still held are closed once idle for too long.
    while closed < SLOW {
        tokio::time::timeout(DEADLINE, closed_rx.recv())
            .await
            .expect("the relay times out requests that never end");
        closed += 1;
    }
    relay.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alives_trickled_headers_and_silent_websockets_are_closed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let addr = relay.addr;

    // One request answered, then the connection kept open and idle.
    let idle = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.expect("connects");
        let req = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.expect("sent");
        let answer = until_closed(tcp).await;
        assert!(answer.starts_with(b"HTTP/1.1 200"), "answered first");
    });

    // A request whose headers come one byte at a time, forever.
    let trickle = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.expect("connects");
        let head = format!("GET /status HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
        tcp.write_all(head.as_bytes()).await.expect("sent");
        let (mut rd, mut wr) = tcp.into_split();
        let mut buf = [0u8; 256];
        let closed = rd.read(&mut buf);
        tokio::pin!(closed);
        loop {
            tokio::select! {
                _ = &mut closed => return,
                // The attacker's pace: a byte every 200 ms keeps any per-read timeout away.
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if wr.write_all(b"x").await.is_err() {
                        return;
                    }
                }
            }
        }
    });

    // A WebSocket that upgrades and never says `version`.
    let silent = tokio::spawn({
        let url = relay.ws_url();
        async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .expect("upgrades");
            while let Some(Ok(_)) = ws.next().await {}
        }
    });

    for (what, task) in [
        ("an idle keep-alive connection", idle),
        ("a request trickled byte by byte", trickle),
        ("a WebSocket that never says version", silent),
    ] {
        tokio::time::timeout(DEADLINE, task)
            .await
            .unwrap_or_else(|_| panic!("the relay never closed {what}"))
            .expect("task");
    }
    relay.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_that_never_say_version_cannot_keep_a_tab_out_of_a_full_relay() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    let relay = NodeProc::start(dir, "3000", &["--max-peers", "5"]).await;
    let url = relay.ws_url();
    let genesis = BlockHash::from_hex(relay.status().await.genesis.as_deref().expect("genesis"))
        .expect("hex");

    // Every peer slot taken by upgrades that say nothing.
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel();
    let silent = |closed: mpsc::UnboundedSender<()>| {
        let url = url.clone();
        async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .expect("upgrades");
            tokio::spawn(async move {
                while let Some(Ok(_)) = ws.next().await {}
                let _ = closed.send(());
            });
        }
    };
    for _ in 0..5 {
        silent(closed_tx.clone()).await;
    }
    // A tab still gets in: the oldest silent one makes room.
    let mut tab = honest_tab(&url, genesis).await;
    tokio::time::timeout(DEADLINE, closed_rx.recv())
        .await
        .expect("a silent upgrade was closed to make room");
    // More silent upgrades take each other's places, never the tab's.
    for _ in 0..10 {
        silent(closed_tx.clone()).await;
    }
    ping(&mut tab, 43).await;
    assert_eq!(relay.status().await.peers, 1);
    relay.stop();
}
