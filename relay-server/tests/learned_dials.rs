//! A peer names a "relay" at `ws://127.0.0.1:PORT/some/path` in an `addr`: a public relay
//! dialled it, sending an HTTP `GET` of the peer's choosing to a service on the relay's own
//! machine, one that may trust whatever comes from loopback. A relay listening on a public
//! address does not dial its own machine on a peer's word.

mod common;

use common::*;
use futures_util::SinkExt;
use node_core::protocol::{encode_frame, Message, PeerAddr, Role, Version, PROTOCOL_VERSION};
use node_core::BlockHash;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_relay_does_not_dial_a_service_on_its_own_machine_named_by_a_peer() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let me = new_address(dir, "3000");
    create_chain(dir, "3000", &me);
    // A local service that must never hear from the relay.
    let service = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    service.set_nonblocking(true).expect("nonblocking");
    let port = service.local_addr().expect("addr").port();

    let relay = NodeProc::start_on(dir, "3000", "0.0.0.0:0", &[]).await;
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
        node_id: "gossip".into(),
        role: Role::Relay,
        listen_url: None,
        nonce: 0x55f,
        user_agent: "learned-dials-test".into(),
    });
    let addr = Message::Addr(vec![PeerAddr {
        node_id: "internal".into(),
        url: Some(format!("ws://127.0.0.1:{port}/admin/drop-everything")),
        role: Role::Relay,
    }]);
    for m in [hello, Message::Verack, addr] {
        ws.send(WsMessage::Binary(encode_frame(&m).into()))
            .await
            .expect("sent");
    }
    let log = dir.join("startnode_3000.log");
    wait_for("the relay to decide about the learned URL", || {
        let dialled = service.accept().is_ok();
        assert!(
            !dialled,
            "the relay connected to a service on its own machine"
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        async move {
            text.contains("does not dial on a peer's word")
                .then_some(())
        }
    })
    .await;
    relay.stop();
}
