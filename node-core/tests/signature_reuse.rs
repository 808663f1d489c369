//! A node checks each payment's signatures once: when the payment reaches its mempool, not
//! again when a block carrying it arrives (the txid commits to the signatures, and a
//! signature depends on its transaction alone).

mod support;

use node_core::primitives::signature_memo::counts_on_this_thread;
use node_core::sim::{FundedNetwork, LinkConfig, NetworkPlan};
use support::key;
use support::net::SIM_BITS;

#[test]
fn a_block_of_payments_every_node_already_holds_connects_without_checking_them_again() {
    let keys: Vec<_> = (0..3u64).map(|i| key(2000 + i)).collect();
    let plan = NetworkPlan {
        seed: 7,
        links: LinkConfig::default(),
        relays: 1,
        miners: 1,
        rounds: 1,
        bits: SIM_BITS,
    };
    let net = FundedNetwork::build(&plan, &key(1000), &keys).expect("genesis is valid");
    let (mut sim, clients) = (net.sim, net.clients);
    assert!(sim.run_until_quiet(600_000), "initial sync settles");
    let height = |sim: &node_core::sim::Sim| sim.nodes[0].node.chain().map(|c| c.height());
    let funded_at = height(&sim);

    // Two payments (the miner waits for two) reach every node's mempool, each checked there.
    let before_payments = counts_on_this_thread().asked;
    let mut paid = Vec::new();
    for (payer, payee) in [(1, 2), (2, 1)] {
        let to = keys[payee].pubkey_hash();
        let k = keys[payer].clone();
        let id = sim
            .with_node(clients[payer], |n, now| n.send_payment(now, &k, to, 1, 0))
            .expect("the payer has coins");
        paid.push(id);
    }
    assert!(sim.run_until_quiet(600_000), "the payments spread");
    for n in &sim.nodes {
        for id in &paid {
            assert!(
                n.node.mempool().contains(id),
                "every node holds every payment"
            );
        }
    }
    let checked_on_arrival = counts_on_this_thread().asked - before_payments;
    assert!(
        checked_on_arrival >= sim.nodes.len() as u64 * 2,
        "each node checked each payment's signature when it arrived ({checked_on_arrival})"
    );

    // The miner mines them; the block reaches every node, and no signature is checked again.
    let before_block = counts_on_this_thread().asked;
    let reward = key(9000).pubkey_hash();
    sim.with_node(clients[0], |n, now| n.start_mining(now, reward));
    assert!(sim.run_until_quiet(600_000), "the block spreads");
    assert!(sim.converged(), "every node on one tip");
    assert!(height(&sim) > funded_at, "a block was mined");
    assert_eq!(sim.tx_report(&paid).confirmed, 2, "both payments confirmed");
    assert_eq!(
        counts_on_this_thread().asked - before_block,
        0,
        "the block's signatures were already checked in every mempool"
    );
}
