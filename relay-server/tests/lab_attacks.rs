//! Attacks on the lab's endpoints, each as its attacker would try it:
//! - a web page of another site, whose name the attacker rebinds to 127.0.0.1, asks for the
//!   lab key, posts a lab action, and opens a lab link: each refused (421) before the lab
//!   is reached, because the relay does not serve that host name;
//! - a sandboxed page (origin `null`) and a page of another site open a lab link: refused;
//! - a holder of the key sends a body of 64 KiB: refused (413) saying the limit, and
//!   the relay carries on;
//! - a request spelling the key in another case or with trailing bytes: refused.

mod common;

use common::lab::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebound_names_foreign_pages_and_oversized_bodies_get_nothing_from_the_lab() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let central = new_address(dir, "3000");
    create_chain(dir, "3000", &central);
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let addr = relay.addr;
    let json = "Content-Type: application/json".to_string();
    let (code, body) = request(addr, "GET", "/lab/key", &[], "").await;
    assert_eq!(code, 200, "{body}");
    let key = output(&body);
    let bearer = |k: &str| format!("Authorization: Bearer {k}");
    let central_action = r#"{"action":"central"}"#;

    // DNS rebinding: the browser sends the attacker's host name.
    let rebound = "Host: attacker.example:3000".to_string();
    let (code, body) = request(addr, "GET", "/lab/key", std::slice::from_ref(&rebound), "").await;
    assert_eq!(code, 421, "a rebound name got the lab key: {body}");
    assert!(!body.contains(&key));
    let posted = [json.clone(), bearer(&key), rebound.clone()];
    let (code, body) = request(addr, "POST", "/lab/api", &posted, central_action).await;
    assert_eq!(code, 421, "a rebound name used the lab: {body}");
    let code = upgrade_status(
        addr,
        "/lab/link/4001",
        "http://attacker.example:3000",
        std::slice::from_ref(&rebound),
    )
    .await;
    assert_eq!(code, 421, "a rebound name opened a lab link");

    // Foreign and sandboxed pages open lab links.
    for origin in [
        "null",
        "http://attacker.example",
        "http://127.0.0.1.attacker.example",
    ] {
        let code = upgrade_status(addr, "/lab/link/4001", origin, &[]).await;
        assert_eq!(code, 403, "a page of origin {origin} opened a lab link");
    }

    // Near misses of the key.
    for wrong in [
        key.to_uppercase(),
        format!("{key}00"),
        key[..63].to_string(),
    ] {
        let headers = [json.clone(), bearer(&wrong)];
        let (code, body) = request(addr, "POST", "/lab/api", &headers, central_action).await;
        assert_eq!(code, 403, "the key spelt {wrong:?} was taken: {body}");
    }

    // 64 KiB from a key holder: refused with the limit, and the relay still serves.
    let with_key = [json.clone(), bearer(&key)];
    let huge = format!(
        r#"{{"action":"balance","address":"{}"}}"#,
        "1".repeat(64 * 1024)
    );
    let (code, body) = request(addr, "POST", "/lab/api", &with_key, &huge).await;
    assert_eq!(code, 413, "{}", &body[..body.len().min(200)]);
    assert!(error(&body).contains("at most 4096 bytes"), "{body}");
    let (code, body) = request(addr, "POST", "/lab/api", &with_key, central_action).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(output(&body), central);
    relay.stop();
}
