//! `kill -9` in the middle of a burst of block imports: the node comes back with its chain,
//! its tip and a UTXO set equal to a full reindex, because every block commits together
//! with its undo data and UTXO changes.

mod common;

use common::*;

/// Blocks the downloading node imports; the kill comes well before the end.
const BLOCKS: u64 = 3_000;
/// Height at which the downloading node is killed.
const KILL_AT: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_importing_restarts_consistent() {
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
        &[
            "generate",
            "--address",
            &me,
            "--blocks",
            &BLOCKS.to_string(),
        ],
    );
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let relay_tip = relay.status().await.tip.expect("relay tip");

    // Node 3001 downloads the chain; kill it once the import is under way.
    let node = NodeProc::start(dir, "3001", &["--peer", &relay.ws_url()]).await;
    let seen = wait_for("node 3001 to import some blocks", || async {
        try_status(node.addr)
            .await
            .filter(|s| s.height >= KILL_AT)
            .map(|s| s.height)
    })
    .await;
    node.kill9();
    assert!(seen < BLOCKS, "killed mid-import (at {seen} of {BLOCKS})");
    assert!(
        dir.join(".cookie_3001").exists(),
        "a killed node leaves its control files behind"
    );

    // The stale control files are ignored: the commands open the files themselves.
    let (digest, height, tip) = utxo_digest(dir, "3001");
    assert!(
        height >= seen,
        "no acknowledged block lost: stored {height}, saw {seen}"
    );
    let chain = ok(dir, "3001", &["printchain"]);
    assert_eq!(
        chain.matches("============ Block").count() as u64,
        height + 1,
        "every block from the tip down to genesis is stored"
    );
    assert!(chain.starts_with(&format!("============ Block {tip} ")));
    assert!(!chain.contains("PoW: false"));

    // The stored UTXO set is exactly what replaying the chain gives.
    let out = ok(dir, "3001", &["reindexutxo"]);
    assert!(out.starts_with("Done! There are "), "{out}");
    assert_eq!(utxo_digest(dir, "3001"), (digest, height, tip));

    // It restarts from its store (no reindex) and finishes the download.
    let node = NodeProc::start(dir, "3001", &["--peer", &relay.ws_url()]).await;
    let restarted = node.status().await;
    assert!(restarted.height >= height, "restart loads the stored chain");
    node.wait_tip(&relay_tip).await;
    node.stop();
    let (node_digest, node_height, node_tip) = utxo_digest(dir, "3001");
    assert_eq!((node_height, &node_tip), (BLOCKS, &relay_tip));
    // Node 3000 runs: this goes through its control endpoint.
    assert_eq!(utxo_digest(dir, "3000"), (node_digest, BLOCKS, relay_tip));
    relay.stop();
}
