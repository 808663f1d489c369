//! The relay serves the page, its wasm and its scripts with the types browsers need, and
//! `/status` as JSON; `/ws` refuses pages from foreign origins.

mod common;

use common::*;
use relay_server::cli::http_client;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Opens `/ws` with an `Origin` header (`None`: none, as native clients do).
async fn ws_with_origin(url: &str, origin: Option<&str>) -> Result<(), String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(o) = origin {
        let value = HeaderValue::from_str(o).map_err(|e| e.to_string())?;
        request.headers_mut().insert("origin", value);
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_its_wasm_and_status_are_served() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("pkg")).expect("www");
    let index = "<!doctype html><title>node</title><h1>hello</h1>\n";
    std::fs::write(www.join("index.html"), index).expect("index");
    let wasm = b"\0asm\x01\0\0\0";
    std::fs::write(www.join("pkg/node_wasm_bg.wasm"), wasm).expect("wasm");
    std::fs::write(www.join("app.js"), "export const x = 1;\n").expect("js");

    let me = new_address(dir, "3000");
    ok(
        dir,
        "3000",
        &["createblockchain", "--address", &me, "--bits", "8"],
    );
    let www_arg = www.to_string_lossy().into_owned();
    let node = NodeProc::start(dir, "3000", &["--www", &www_arg]).await;

    let page = http_client::get(node.addr, "/").await.expect("GET /");
    assert!(page.status.is_success(), "{:?}", page.status);
    assert_eq!(page.body, index.as_bytes());
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));

    let page = http_client::get(node.addr, "/?node=3001")
        .await
        .expect("GET /?node=3001");
    assert_eq!(
        page.body,
        index.as_bytes(),
        "the query string picks the node, not the file"
    );

    let bin = http_client::get(node.addr, "/pkg/node_wasm_bg.wasm")
        .await
        .expect("GET wasm");
    assert!(bin.status.is_success());
    assert_eq!(bin.header("content-type"), Some("application/wasm"));
    assert_eq!(bin.body.as_ref(), wasm);

    let js = http_client::get(node.addr, "/app.js")
        .await
        .expect("GET js");
    assert!(js
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/javascript")));

    let missing = http_client::get(node.addr, "/nope.html")
        .await
        .expect("GET missing");
    assert_eq!(missing.status.as_u16(), 404);

    let status = http_client::get(node.addr, "/status")
        .await
        .expect("GET /status");
    assert!(status
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    let json: serde_json::Value = serde_json::from_slice(&status.body).expect("JSON");
    for field in [
        "node_id",
        "height",
        "tip",
        "genesis",
        "peers",
        "mempool",
        "syncing",
        "target_height",
        "mining",
    ] {
        assert!(json.get(field).is_some(), "status has {field}: {json}");
    }
    assert_eq!(json["node_id"], "3000");
    assert_eq!(json["height"], 0);

    // /ws: native clients (no Origin), the relay's own page and local pages get in; another
    // site open in the same browser does not.
    let url = node.ws_url();
    let own = format!("http://{}", node.addr);
    assert!(ws_with_origin(&url, None).await.is_ok());
    assert!(ws_with_origin(&url, Some(&own)).await.is_ok());
    assert!(ws_with_origin(&url, Some("http://localhost:5173"))
        .await
        .is_ok());
    let refused = ws_with_origin(&url, Some("http://evil.example")).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("403")),
        "{refused:?}"
    );

    // The control endpoint wants the cookie.
    let denied = http_client::request(
        node.addr,
        hyper::Method::POST,
        "/control",
        &[("authorization", "Bearer wrong")],
        br#"{"command":"listaddresses"}"#.to_vec(),
    )
    .await
    .expect("POST /control");
    assert_eq!(denied.status.as_u16(), 403);

    node.stop();
}
