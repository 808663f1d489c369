//! The seed's "Result" section with three relay-server processes, as its three terminals do:
//! node 3000 (central), node 3001 (wallet), node 3002 (miner).

mod common;

use common::seed::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_scenario_ends_with_the_seed_balances() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();

    // NODE 3000: a wallet and a blockchain whose genesis pays it.
    let central = central_chain(dir, Dashes::Two);

    // NODE 3001: the wallet node's addresses.
    let wallet: Vec<String> = (0..4).map(|_| new_address(dir, "3001")).collect();
    let listed = ok(dir, "3001", &["listaddresses"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), wallet);

    // NODE 3000: send 10 to WALLET_1 and WALLET_2, each mined at once.
    fund(dir, Dashes::Two, &central, &wallet[..2]);
    assert_eq!(
        balance(dir, "3000", &central),
        10,
        "each --mine coinbase pays the sender"
    );

    // NODE 3000: start the central node.
    let relay = NodeProc::start(dir, "3000", &[]).await;
    let relay_status = relay.status().await;
    assert_eq!(relay_status.height, 2);
    let tip2 = relay_status.tip.clone().expect("relay has a tip");

    // NODE 3001: with no chain, download it (genesis included) from the central node.
    let wallet_node = NodeProc::start(dir, "3001", &["--peer", &relay.ws_url()]).await;
    let synced = wallet_node.wait_tip(&tip2).await;
    assert_eq!(synced.genesis, relay_status.genesis);
    wallet_node.stop();
    assert_eq!(balance(dir, "3001", &wallet[0]), 10);
    assert_eq!(balance(dir, "3001", &wallet[1]), 10);
    assert_eq!(balance(dir, "3001", &central), 10);

    // NODE 3002: the miner connects and downloads the chain.
    let miner = new_address(dir, "3002");
    let miner_node = start_miner(dir, Dashes::Two, &relay, &miner).await;
    miner_node.wait_tip(&tip2).await;
    // (Its tip matching the relay's means their handshake is done: the relay will forward.)

    // NODE 3001 (stopped): send 1 from WALLET_1 to WALLET_3 and from WALLET_2 to WALLET_4,
    // through the central node.
    pay_two(dir, Dashes::Two, &wallet, &relay);

    // The miner holds both, mines a block and announces it; the central node takes it.
    let tip3 = mined_block_reaches_relay(&relay).await;
    miner_node.wait_tip(&tip3).await;

    // Node 3001 has not seen that block yet: a payment from its stale view spends a coin the
    // relay knows is gone. The relay keeps it aside, and the CLI says so.
    let stale = cli(
        dir,
        "3001",
        &[
            "send",
            "--from",
            &wallet[0],
            "--to",
            &wallet[2],
            "--amount",
            "1",
            "--relay",
            &relay.ws_url(),
        ],
    );
    assert!(!stale.status.success());
    let err = String::from_utf8_lossy(&stale.stderr);
    assert!(err.contains("does not know the coins"), "{err}");

    // NODE 3001: start again to download the new block, stop, check balances.
    wallet_catches_up(dir, Dashes::Two, &relay, &tip3).await;

    let expected = [
        (&wallet[0], 9),
        (&wallet[1], 9),
        (&wallet[2], 1),
        (&wallet[3], 1),
        (&miner, 10),
        (&central, 10),
    ];
    for (who, amount) in expected {
        assert_eq!(balance(dir, "3001", who), amount, "node 3001, {who}");
        // Node 3000 is running: its database is locked, so this goes through /control.
        assert_eq!(balance(dir, "3000", who), amount, "node 3000, {who}");
    }
    let chain = ok(dir, "3000", &["printchain"]);
    assert_eq!(chain.matches("============ Block").count(), 4);
    assert_eq!(chain.matches("PoW: true").count(), 4);

    // A conflicting payment is refused by the relay, with its reason, and exits non-zero:
    // node 3001 knows nothing of the first payment, so it spends the same coin twice.
    let pay = |to: &str| {
        cli(
            dir,
            "3001",
            &[
                "send",
                "--from",
                &wallet[2],
                "--to",
                to,
                "--amount",
                "1",
                "--relay",
                &relay.ws_url(),
            ],
        )
    };
    assert!(pay(&wallet[0]).status.success());
    let second = pay(&wallet[1]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("refused the transaction") && err.contains("already spent"),
        "{err}"
    );

    miner_node.stop();
    relay.stop();
}
