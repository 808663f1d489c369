//! The article's command lines as its readers type them, with Go's single-dash flags:
//! `createblockchain -address X`, `send -from A -to B -amount 10 -mine`,
//! `startnode -miner X`, `getbalance -address X`. The three-terminal scenario typed that way
//! ends with the article's balances; a mistyped single-dash flag is named whole.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_terminals_typed_with_single_dashes_end_9_9_1_1_10() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let balance_of = |id: &str, who: &str| {
        let out = ok(dir, id, &["getbalance", "-address", who]);
        out.trim()
            .strip_prefix(&format!("Balance of '{who}': "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("unexpected getbalance output {out:?}"))
    };

    // NODE 3000: `createblockchain -address CENTRAL_NODE` (a low difficulty for a test).
    let central = new_address(dir, "3000");
    let out = ok(
        dir,
        "3000",
        &["createblockchain", "-address", &central, "-bits", "8"],
    );
    assert!(out.ends_with("Done!\n"), "{out}");
    let wallet: Vec<String> = (0..4).map(|_| new_address(dir, "3001")).collect();

    // NODE 3000: `send -from CENTRAL_NODE -to WALLET_1 -amount 10 -mine`, twice.
    for to in &wallet[..2] {
        let out = ok(
            dir,
            "3000",
            &[
                "send", "-from", &central, "-to", to, "-amount", "10", "-mine",
            ],
        );
        assert_eq!(out, "Success!\n");
    }
    assert_eq!(balance_of("3000", &central), 10);

    // NODE 3000 `startnode`; NODE 3001 downloads the chain; NODE 3002 `startnode -miner X`.
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let tip2 = relay.status().await.tip.expect("relay has a tip");
    let wallet_node = NodeProc::start(dir, "3001", &["-peer", &relay.ws_url()]).await;
    wallet_node.wait_tip(&tip2).await;
    wallet_node.stop();
    let miner = new_address(dir, "3002");
    let miner_node =
        NodeProc::start(dir, "3002", &["-miner", &miner, "-peer", &relay.ws_url()]).await;
    miner_node.wait_tip(&tip2).await;

    // NODE 3001: `send -from WALLET_1 -to WALLET_3 -amount 1`, and WALLET_2 to WALLET_4.
    for (from, to) in [(0, 2), (1, 3)] {
        let out = ok(
            dir,
            "3001",
            &[
                "send",
                "-from",
                &wallet[from],
                "-to",
                &wallet[to],
                "-amount",
                "1",
                "-relay",
                &relay.ws_url(),
            ],
        );
        assert_eq!(out, "Success!\n");
    }
    let mined = wait_for("the miner's block to reach the relay", || async {
        try_status(relay.addr)
            .await
            .filter(|s| s.height == 3 && s.mempool == 0)
    })
    .await;
    let tip3 = mined.tip.expect("tip");

    // NODE 3001 downloads the new block, then the article's `getbalance -address` lines.
    let wallet_node = NodeProc::start(dir, "3001", &["-peer", &relay.ws_url()]).await;
    wallet_node.wait_tip(&tip3).await;
    wallet_node.stop();
    let balances: Vec<u64> = [&wallet[0], &wallet[1], &wallet[2], &wallet[3], &miner]
        .iter()
        .map(|who| balance_of("3001", who))
        .collect();
    assert_eq!(balances, [9, 9, 1, 1, 10]);

    miner_node.stop();
    relay.stop();
}

#[test]
fn a_mistyped_single_dash_flag_is_named_whole_with_the_flags_there_are() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let err = fails(dir, "3000", &["createblockchain", "-adress", "X"]);
    assert!(
        err.starts_with("error: unknown flag '-adress' for createblockchain")
            && err.contains("--address"),
        "{err}"
    );
    let err = fails(
        dir,
        "3000",
        &["send", "-from", "A", "-to", "B", "-amount", "1", "-mined"],
    );
    assert!(
        err.starts_with("error: unknown flag '-mined' for send"),
        "{err}"
    );
    // A bad value behind a single-dash flag gets clap's own typed message.
    let err = fails(
        dir,
        "3000",
        &["send", "-from", "A", "-to", "B", "-amount", "ten"],
    );
    assert!(err.contains("invalid value 'ten' for '--amount"), "{err}");
    assert!(
        std::fs::read_dir(dir).expect("dir").next().is_none(),
        "nothing written"
    );
}

#[test]
fn help_is_unchanged_and_shows_the_double_dash_spelling() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = cli(tmp.path(), "3000", &["send", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--from <FROM>") && text.contains("--mine"),
        "{text}"
    );
    let single = cli(tmp.path(), "3000", &["send", "-help"]);
    assert_eq!(
        single.stdout, out.stdout,
        "-help is the seed's spelling of --help"
    );
}
