//! Item 10 of issue 13, the relay's doors.
//!
//! DNS rebinding: a web site re-points its own name to 127.0.0.1, and the user's browser
//! then talks to a local relay as that site's origin — `Origin` and `Host` both say
//! `evil.example`, and the old check only compared the two. And behind a reverse proxy
//! every client came from loopback, which is never limited per address nor refused.

mod common;

use std::net::SocketAddr;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` (request line and headers, without the blank line) and returns the status
/// code of the answer; the connection is left open for WebSocket upgrades that succeed.
async fn status_of(addr: SocketAddr, head: &str) -> (u16, TcpStream) {
    let mut tcp = TcpStream::connect(addr).await.expect("connects");
    tcp.write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(DEADLINE, tcp.read(&mut byte)).await;
        match read.expect("answer in time") {
            Ok(1) => answer.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (code, tcp)
}

/// A WebSocket handshake for `/ws` with these extra header lines.
fn upgrade(extra: &[String]) -> String {
    let mut head = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
        .to_string();
    for line in extra {
        head.push_str("\r\n");
        head.push_str(line);
    }
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_site_rebound_to_the_relays_address_is_refused_at_every_door() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    let relay = NodeProc::start(dir, "3000", &["--public-url", "wss://relay.example/ws"]).await;
    let addr = relay.addr;
    let port = addr.port();
    let evil = format!("evil.example:{port}");

    // The attacker's page, now "same origin" with the relay.
    let (code, _) = status_of(
        addr,
        &upgrade(&[format!("Host: {evil}"), format!("Origin: http://{evil}")]),
    )
    .await;
    assert_eq!(code, 421, "a rebound page opened /ws");
    let (code, _) = status_of(addr, &format!("GET /status HTTP/1.1\r\nHost: {evil}")).await;
    assert_eq!(
        code, 421,
        "a rebound page read /status (and the mining address in it)"
    );
    let (code, _) = status_of(addr, &format!("GET / HTTP/1.1\r\nHost: {evil}")).await;
    assert_eq!(code, 421, "a rebound page loaded the page");

    // The names the relay serves still work: its address, localhost, its public name.
    for host in [
        addr.to_string(),
        format!("localhost:{port}"),
        "relay.example".into(),
    ] {
        let origin = if host == "relay.example" {
            "https://relay.example".to_string()
        } else {
            format!("http://{host}")
        };
        let (code, _) = status_of(
            addr,
            &upgrade(&[format!("Host: {host}"), format!("Origin: {origin}")]),
        )
        .await;
        assert_eq!(code, 101, "the page served as {host} opens /ws");
        let (code, _) = status_of(addr, &format!("GET /status HTTP/1.1\r\nHost: {host}")).await;
        assert_eq!(code, 200, "/status as {host}");
    }
    // A relay dialling this one by a name it was not told of sends no Origin: no page can
    // be behind it, and it is served.
    let (code, _) = status_of(addr, &upgrade(&["Host: relay-alias.example".into()])).await;
    assert_eq!(code, 101);
    relay.stop();
}

/// A WebSocket handshake from a client the proxy names `client`.
async fn via_proxy(addr: SocketAddr, client: &str) -> (u16, TcpStream) {
    status_of(
        addr,
        &upgrade(&[
            format!("Host: {addr}"),
            format!("X-Forwarded-For: 203.0.113.99, {client}"),
        ]),
    )
    .await
}

/// One binary WebSocket frame as a client sends it (masked, with a zero key).
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x82];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// A peer through the proxy, past its handshake (peers past it keep their slots when an
/// address or the relay is full); waits until the relay counts `peers`.
async fn peer_via_proxy(relay: &NodeProc, client: &str, peers: usize) -> TcpStream {
    use node_core::protocol::{encode_frame, Message, Role, Version, PROTOCOL_VERSION};
    let (code, mut tcp) = via_proxy(relay.addr, client).await;
    assert_eq!(code, 101, "{client} connects");
    let genesis =
        node_core::BlockHash::from_hex(relay.status().await.genesis.as_deref().expect("genesis"))
            .expect("hex");
    let hello = Message::Version(Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: 0,
        tip: genesis,
        chain_work: 0,
        node_id: format!("via-proxy-{peers}"),
        role: Role::Wallet,
        listen_url: None,
        nonce: 0x9000 + peers as u64,
        user_agent: "proxy-test".into(),
    });
    for m in [hello, Message::Verack] {
        tcp.write_all(&client_frame(&encode_frame(&m)))
            .await
            .expect("sent");
    }
    wait_for("the relay to count the peer", || async {
        try_status(relay.addr).await.filter(|s| s.peers == peers)
    })
    .await;
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_limits_and_refusals_fall_on_each_client_not_on_the_proxy() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    let relay = NodeProc::start(
        dir,
        "3000",
        &["--trusted-proxy", "127.0.0.1", "--max-peers-per-ip", "2"],
    )
    .await;
    let addr = relay.addr;

    // Each client has its own share: two from one, the third refused, another one served.
    let mut held = Vec::new();
    for n in 1..=2 {
        held.push(peer_via_proxy(&relay, "198.51.100.7", n).await);
    }
    assert_eq!(via_proxy(addr, "198.51.100.7").await.0, 429);
    held.push(peer_via_proxy(&relay, "198.51.100.8", 3).await);

    // A client that misbehaves is refused afterwards — that client, not the proxy.
    let (code, mut bad) = via_proxy(addr, "198.51.100.9").await;
    assert_eq!(code, 101);
    // A binary WebSocket frame (masked with a zero key) of another network's magic.
    let junk = b"JUNKversion\0\0\0\0\0 and more";
    bad.write_all(&client_frame(junk)).await.expect("frame");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, bad.read_to_end(&mut rest)).await;
    wait_for("the misbehaving client to be refused", || async {
        let (code, _) = via_proxy(addr, "198.51.100.9").await;
        (code == 403).then_some(())
    })
    .await;
    let (code, tcp) = via_proxy(addr, "198.51.100.10").await;
    assert_eq!(code, 101, "other clients of the proxy are still served");
    held.push(tcp);

    // Control is for the local CLI: a remote client through the proxy is refused even with
    // the cookie, the CLI itself (no forwarded client) is not.
    let cookie = std::fs::read_to_string(dir.join(".cookie_3000")).expect("cookie");
    let body = r#"{"command":"listaddresses"}"#;
    let post = format!(
        "POST /control HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\
         X-Forwarded-For: 198.51.100.7\r\n\r\n{body}",
        cookie.trim(),
        body.len()
    );
    let mut tcp = TcpStream::connect(addr).await.expect("connects");
    tcp.write_all(post.as_bytes()).await.expect("request");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    let code = answer.split_whitespace().nth(1).unwrap_or("");
    assert_eq!(code, "403", "a remote client reached /control: {answer}");
    assert!(ok(dir, "3000", &["listaddresses"]).contains(&me));
    drop(held);
    relay.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_name_itself_in_x_forwarded_for_without_a_trusted_proxy() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    // 10.9.9.9 is trusted, but the connections come from 127.0.0.1.
    let relay = NodeProc::start(
        dir,
        "3000",
        &[
            "--trusted-proxy",
            "10.9.9.9",
            "--max-peers-per-ip",
            "1",
            "--max-loopback-peers",
            "3",
        ],
    )
    .await;
    let addr = relay.addr;
    // Each claims another address; all count as loopback, whose share is 3.
    let mut held = Vec::new();
    for n in 1..=3 {
        held.push(peer_via_proxy(&relay, &format!("198.51.100.{n}"), n).await);
    }
    assert_eq!(via_proxy(addr, "198.51.100.4").await.0, 429);
    drop(held);
    relay.stop();
}
