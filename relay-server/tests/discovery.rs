//! Peer discovery between relay processes: two relays started with `--peer` to a hub only
//! learn of each other from `addr`, dial each other, and keep exchanging blocks after the hub
//! is killed.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_learn_of_each_other_through_the_hub_and_outlive_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let a = new_address(dir, "4100");
    let b = new_address(dir, "4101");
    create_chain(dir, "4100", &a);
    let hub = NodeProc::start(dir, "4100", &[]).await;
    let genesis = hub.status().await.tip.expect("genesis");
    let relay_b = NodeProc::start(dir, "4101", &["--peer", &hub.ws_url()]).await;
    let relay_c = NodeProc::start(dir, "4102", &["--peer", &hub.ws_url()]).await;
    relay_b.wait_tip(&genesis).await;
    relay_c.wait_tip(&genesis).await;

    // Each knows only the hub from its command line; its second peer is the other relay, over
    // one connection although both dialled (the pair keeps the lower id's dial).
    for relay in [&relay_b, &relay_c] {
        wait_for(
            "a relay to connect to the relay it learned of, once",
            || async {
                try_status(relay.addr)
                    .await
                    .filter(|s| s.peers == 2)
                    .map(drop)
            },
        )
        .await;
    }

    // B gets coins to spend later, mined on the hub.
    send_mined(dir, "4100", &a, &b, 3);
    let tip1 = hub.status().await.tip.expect("tip");
    relay_b.wait_tip(&tip1).await;
    relay_c.wait_tip(&tip1).await;

    hub.kill9();
    // B mines a block through its control endpoint; C gets it without the hub.
    send_mined(dir, "4101", &b, &a, 2);
    let tip2 = relay_b.status().await.tip.expect("tip");
    let status_c = relay_c.wait_tip(&tip2).await;
    assert_eq!(status_c.height, 2);
    assert_eq!(utxo_digest(dir, "4101"), utxo_digest(dir, "4102"));
    assert!(
        relay_b
            .log_tail()
            .contains("dialling a relay learned from a peer")
            || relay_c
                .log_tail()
                .contains("dialling a relay learned from a peer"),
        "the connection came from discovery:\n{}\n{}",
        relay_b.log_tail(),
        relay_c.log_tail()
    );
}
