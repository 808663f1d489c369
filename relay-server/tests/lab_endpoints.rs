//! The network lab's endpoints (`/lab/key`, `/lab/api`): a page on the relay's own machine
//! may ask the central node for its address, a payment mined at once, a balance — nobody
//! else may. The story: a client on the network (through the relay's trusted proxy) asks
//! for the key and is refused; a forged POST without the key, with a guessed key, or with
//! the control cookie itself is refused; a local page with the key is served, and only the
//! lab's actions, within their limits. The lab's links (`/lab/link/ID`, a WebSocket the
//! relay can slow, drop and take down) are refused to the network and to foreign pages too.

mod common;

use common::lab::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_loopback_page_holding_the_lab_key_may_use_the_lab() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let central = new_address(dir, "3000");
    create_chain(dir, "3000", &central);
    let payee = new_address(dir, "3000");
    let relay = NodeProc::start(dir, "3000", &["--trusted-proxy", "127.0.0.1"]).await;
    let addr = relay.addr;
    let remote = "X-Forwarded-For: 198.51.100.7".to_string();
    let json = "Content-Type: application/json".to_string();

    // The page itself is public: /lab leads to it.
    let (code, _) = request(addr, "GET", "/lab", &[], "").await;
    assert_eq!(code, 308, "/lab redirects to /lab/");
    let (code, page) = request(addr, "GET", "/lab/", &[], "").await;
    assert_eq!(code, 200);
    assert!(page.contains("Network lab"), "the lab page: {page}");

    // A client on the network asks for the key: refused.
    let (code, body) = request(addr, "GET", "/lab/key", std::slice::from_ref(&remote), "").await;
    assert_eq!(code, 403, "a remote client got the lab key: {body}");
    assert!(output(&body).is_empty());

    // The local page gets it; it is not the control cookie.
    let (code, body) = request(addr, "GET", "/lab/key", &[], "").await;
    assert_eq!(code, 200, "{body}");
    let key = output(&body);
    assert_eq!(key.len(), 64, "{body}");
    let cookie = std::fs::read_to_string(dir.join(".cookie_3000")).expect("cookie");
    assert_ne!(key, cookie.trim());

    let central_action = r#"{"action":"central"}"#;
    let bearer = |k: &str| format!("Authorization: Bearer {k}");
    // Forged posts: no key, a wrong key, the control cookie instead of the lab key.
    for (what, headers) in [
        ("no key", vec![json.clone()]),
        ("a wrong key", vec![json.clone(), bearer(&"0".repeat(64))]),
        (
            "the control cookie",
            vec![json.clone(), bearer(cookie.trim())],
        ),
        (
            "the right key from the network",
            vec![json.clone(), bearer(&key), remote.clone()],
        ),
    ] {
        let (code, body) = request(addr, "POST", "/lab/api", &headers, central_action).await;
        assert_eq!(code, 403, "a request with {what} was served: {body}");
        assert!(!error(&body).is_empty(), "the refusal says why: {body}");
    }
    // And the lab key opens nothing else: /control still wants the cookie.
    let (code, _) = request(
        addr,
        "POST",
        "/control",
        &[json.clone(), bearer(&key)],
        r#"{"command":"listaddresses"}"#,
    )
    .await;
    assert_eq!(code, 403, "the lab key worked on /control");

    let with_key = vec![json.clone(), bearer(&key)];
    let (code, body) = request(addr, "POST", "/lab/api", &with_key, central_action).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(output(&body), central, "CENTRAL is the first address");

    // Only the lab's actions, within their limits.
    for bad in [
        r#"{"command":"createblockchain","address":"x","bits":8}"#,
        r#"{"action":"fund","to":"PAYEE","amount":1000000}"#,
        r#"{"action":"fund","to":"PAYEE","amount":0}"#,
        "not json",
    ] {
        let bad = bad.replace("PAYEE", &payee);
        let (code, body) = request(addr, "POST", "/lab/api", &with_key, &bad).await;
        assert_eq!(code, 400, "{bad} was accepted: {body}");
    }
    let (code, body) = request(
        addr,
        "POST",
        "/lab/api",
        &with_key,
        r#"{"action":"fund","to":"not an address","amount":1}"#,
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert!(error(&body).contains("address"), "{body}");

    // The links: refused to the network, to a foreign page, for a bad id, and while the lab
    // has taken them down; a local page's upgrade is served.
    let own = format!("http://{addr}");
    let link = "/lab/link/4001";
    let code = upgrade_status(addr, link, &own, std::slice::from_ref(&remote)).await;
    assert_eq!(code, 403, "a link opened from the network");
    let code = upgrade_status(addr, link, "http://evil.example", &[]).await;
    assert_eq!(code, 403, "a link opened by a foreign page");
    let code = upgrade_status(addr, "/lab/link/a%20b", &own, &[]).await;
    assert_eq!(code, 400, "a bad node id");
    let down = r#"{"action":"link","node":"4001","down":true}"#;
    let (code, body) = request(addr, "POST", "/lab/api", &with_key, down).await;
    assert_eq!(code, 200, "{body}");
    let code = upgrade_status(addr, link, &own, &[]).await;
    assert_eq!(code, 503, "a link the lab took down");
    let slow = r#"{"action":"link","node":"4001","delayMs":999999}"#;
    let (code, body) = request(addr, "POST", "/lab/api", &with_key, slow).await;
    assert_eq!(code, 400, "an endless delay: {body}");
    let up = r#"{"action":"link","node":"4001"}"#;
    let (code, _) = request(addr, "POST", "/lab/api", &with_key, up).await;
    assert_eq!(code, 200);
    let code = upgrade_status(addr, link, &own, &[]).await;
    assert_eq!(code, 101, "a local page's link");

    // A payment from CENTRAL, mined at once: the chain grows and the payee has it.
    let before = relay.status().await.height;
    let fund = format!(r#"{{"action":"fund","to":"{payee}","amount":3}}"#);
    let (code, body) = request(addr, "POST", "/lab/api", &with_key, &fund).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(relay.status().await.height, before + 1);
    let balance = format!(r#"{{"action":"balance","address":"{payee}"}}"#);
    let (code, body) = request(addr, "POST", "/lab/api", &with_key, &balance).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(output(&body), "3");
    relay.stop();
}
