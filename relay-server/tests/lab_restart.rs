//! The lab stops and restarts the relay for real. The story: a page on the relay's machine
//! asks for a restart with the relay down two seconds; the relay answers, stops (it no
//! longer answers at all), and comes back on the same address from its database, with the
//! same chain. Its cookie is new, so the lab key the page held is refused when replayed; the
//! new key works. A restart longer than the limit, one without the key, and one asked of a
//! relay on a port the system chose are refused, each saying why.

mod common;

use common::lab::*;
use common::*;

/// A port nobody listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port()
}

/// The lab key, as the page asks for it.
async fn lab_key(addr: std::net::SocketAddr) -> String {
    let (code, body) = request(addr, "GET", "/lab/key", &[], "").await;
    assert_eq!(code, 200, "{body}");
    output(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_restarts_the_relay_from_its_database_and_its_old_key_dies_with_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let central = new_address(dir, "3000");
    create_chain(dir, "3000", &central);
    let payee = new_address(dir, "3000");
    send_mined(dir, "3000", &central, &payee, 2);
    let listen = format!("127.0.0.1:{}", free_port());
    let relay = NodeProc::start_on(dir, "3000", &listen, &[]).await;
    let addr = relay.addr;
    let before = relay.status().await;
    let json = "Content-Type: application/json".to_string();
    let bearer = |k: &str| format!("Authorization: Bearer {k}");
    let old_key = lab_key(addr).await;
    let with_old = vec![json.clone(), bearer(&old_key)];

    // Refused: no key; longer down than the limit.
    let restart = |secs: u64| format!(r#"{{"action":"restart","downSeconds":{secs}}}"#);
    let (code, body) = request(
        addr,
        "POST",
        "/lab/api",
        std::slice::from_ref(&json),
        &restart(1),
    )
    .await;
    assert_eq!(code, 403, "a restart without the key: {body}");
    let (code, body) = request(addr, "POST", "/lab/api", &with_old, &restart(31)).await;
    assert_eq!(code, 400, "{body}");
    assert!(error(&body).contains("at most 30 s"), "{body}");

    let (code, body) = request(addr, "POST", "/lab/api", &with_old, &restart(2)).await;
    assert_eq!(code, 200, "{body}");
    assert!(output(&body).contains("starts again"), "{body}");
    wait_for("the relay to stop answering", || async {
        try_status(addr).await.is_none().then_some(())
    })
    .await;
    let after = wait_for("the relay to answer again", || try_status(addr)).await;
    assert_eq!(
        (after.height, after.tip.clone()),
        (before.height, before.tip.clone()),
        "the relay came back from its database"
    );
    assert_eq!(
        balance(dir, "3000", &payee),
        2,
        "the wallet and chain came back"
    );

    // The key taken before the restart, replayed: refused. The new one works.
    let (code, body) = request(
        addr,
        "POST",
        "/lab/api",
        &with_old,
        r#"{"action":"central"}"#,
    )
    .await;
    assert_eq!(code, 403, "the old lab key still worked: {body}");
    let new_key = lab_key(addr).await;
    assert_ne!(new_key, old_key);
    let with_new = vec![json.clone(), bearer(&new_key)];
    let (code, body) = request(
        addr,
        "POST",
        "/lab/api",
        &with_new,
        r#"{"action":"central"}"#,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(output(&body), central);
    assert!(
        std::fs::read_to_string(relay.log_path())
            .unwrap_or_default()
            .contains("stopping to restart"),
        "the log says why the relay stopped:\n{}",
        relay.log_tail()
    );
    relay.stop();

    // A relay on a port the system chose would come back elsewhere: refused.
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let key = lab_key(relay.addr).await;
    let with_key = vec![json, bearer(&key)];
    let (code, body) = request(relay.addr, "POST", "/lab/api", &with_key, &restart(1)).await;
    assert_eq!(code, 409, "{body}");
    assert!(error(&body).contains("fixed port"), "{body}");
    relay.stop();
}
