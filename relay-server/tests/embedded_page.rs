//! One file to deploy: the binary copied alone into an empty directory, started there with
//! no `--www`, serves the page it was built with — byte for byte the repository's `www/` —
//! or, built before the wasm was, a page saying how to build it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use relay_server::cli::http_client;

/// The repository's page, as the binary under test was built from it.
fn www() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../www")
}

/// Runs the copied binary `bin` in `cwd` with `args`; returns its stdout.
fn run_copy(bin: &Path, cwd: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .current_dir(cwd)
        .args(args)
        .env_remove("NODE_ID")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("the copied binary runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_copied_alone_into_an_empty_directory_serves_its_page() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bin = tmp.path().join("relay-server");
    std::fs::copy(BIN, &bin).expect("copy the binary");
    let cwd = tmp.path().join("run");
    std::fs::create_dir(&cwd).expect("run dir");

    let me = run_copy(&bin, &cwd, &["createwallet"]);
    let me = me
        .trim()
        .trim_start_matches("Your new address: ")
        .to_string();
    run_copy(
        &bin,
        &cwd,
        &["createblockchain", "-address", &me, "-bits", "8"],
    );
    let log = std::fs::File::create(tmp.path().join("startnode.log")).expect("log");
    let mut child = Command::new(&bin)
        .current_dir(&cwd)
        .args(["startnode", "--listen", "127.0.0.1:0"])
        .env_remove("NODE_ID")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("startnode");
    let addr_file = cwd.join("node_3000.addr");
    let addr = wait_for("the copied relay to listen", || {
        let read = std::fs::read_to_string(&addr_file).ok();
        async move { read.and_then(|s| s.trim().parse().ok()) }
    })
    .await;

    let built_whole = www().join("pkg/node_wasm_bg.wasm").is_file()
        && www().join("pkg-miner/miner_bg.wasm").is_file();
    let index = http_client::get(addr, "/").await.expect("GET /");
    if built_whole {
        assert!(index.status.is_success(), "{:?}", index.status);
        assert_eq!(
            index.body.as_ref(),
            std::fs::read(www().join("index.html")).expect("index.html"),
            "the page it was built with, not a file of its directory"
        );
        for (path, kind) in [
            ("pkg/node_wasm_bg.wasm", "application/wasm"),
            ("pkg-miner/miner_bg.wasm", "application/wasm"),
            ("app.js", "text/javascript"),
            ("ui/boot.js", "text/javascript"),
            ("worker.js", "text/javascript"),
            ("style.css", "text/css"),
        ] {
            let res = http_client::get(addr, &format!("/{path}"))
                .await
                .expect("GET a page file");
            assert!(res.status.is_success(), "{path}: {:?}", res.status);
            assert!(
                res.header("content-type")
                    .is_some_and(|t| t.starts_with(kind)),
                "{path}: {:?}",
                res.header("content-type")
            );
            let on_disk = std::fs::read(www().join(path)).expect("page file");
            assert_eq!(res.body.as_ref(), on_disk, "{path}");
        }
    } else {
        // Built before `scripts/build-wasm.sh`: the page says so rather than failing to load.
        assert_eq!(index.status.as_u16(), 503);
        let text = String::from_utf8_lossy(&index.body);
        assert!(text.contains("bash scripts/build-wasm.sh"), "{text}");
    }
    let escape = http_client::get(addr, "/../Cargo.toml")
        .await
        .expect("GET outside the page");
    assert_eq!(escape.status.as_u16(), 404);
    assert!(
        std::fs::read_dir(&cwd)
            .expect("run dir")
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".html")),
        "nothing of the page is written to disk"
    );

    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()));
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
}
