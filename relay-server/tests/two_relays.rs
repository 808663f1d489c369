//! Two relays peered with `--peer` converge, and `send` handed to a running node through its
//! control endpoint (mined there, or put in its mempool) reaches the other one.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peered_relays_converge_on_blocks_mined_through_control() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let a = new_address(dir, "4000");
    let b = new_address(dir, "4001");
    create_chain(dir, "4000", &a);
    let relay_a = NodeProc::start(dir, "4000", &[]).await;
    let genesis = relay_a.status().await.tip.expect("genesis");
    let relay_b = NodeProc::start(dir, "4001", &["--peer", &relay_a.ws_url()]).await;
    relay_b.wait_tip(&genesis).await;

    // Mined inside running node A (its database is locked: this must go through /control).
    send_mined(dir, "4000", &a, &b, 3);
    let tip1 = relay_a.status().await.tip.expect("tip");
    relay_b.wait_tip(&tip1).await;

    // And the other way, inside running node B.
    send_mined(dir, "4001", &b, &a, 1);
    let tip2 = relay_b.status().await.tip.expect("tip");
    let status_a = relay_a.wait_tip(&tip2).await;
    assert_eq!(status_a.height, 2);

    // A payment without --mine enters B's mempool and is relayed to A.
    let out = ok(
        dir,
        "4001",
        &["send", "--from", &b, "--to", &a, "--amount", "1"],
    );
    assert_eq!(out, "Success!\n");
    wait_for("the payment to reach node A's mempool", || async {
        try_status(relay_a.addr)
            .await
            .filter(|s| s.mempool == 1)
            .map(drop)
    })
    .await;

    // genesis 10 to A; block 1: A pays B 3 (change 7) and mines 10; block 2: B pays A 1
    // (change 2) and mines 10. Confirmed balances are the same on both nodes.
    for id in ["4000", "4001"] {
        assert_eq!(balance(dir, id, &a), 18, "node {id}");
        assert_eq!(balance(dir, id, &b), 12, "node {id}");
    }
    assert_eq!(utxo_digest(dir, "4000"), utxo_digest(dir, "4001"));

    // The other commands work on a running node too, with the same output and errors.
    let digest = utxo_digest(dir, "4000");
    let out = ok(dir, "4000", &["reindexutxo"]);
    assert!(out.starts_with("Done! There are "), "{out}");
    assert_eq!(utxo_digest(dir, "4000"), digest);
    let err = fails(dir, "4000", &["createblockchain", "--address", &a]);
    assert_eq!(err, "error: Blockchain already exists.");
    let err = fails(
        dir,
        "4000",
        &["send", "--from", &a, "--to", &b, "--amount", "99", "--mine"],
    );
    assert!(err.starts_with("error: not enough funds"), "{err}");
    let listed = ok(dir, "4000", &["listaddresses"]);
    assert_eq!(listed.trim(), a);
    relay_b.stop();
    relay_a.stop();
}
