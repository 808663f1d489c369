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

/// The simulator's shared memory of checks answers a forged signature as the check does,
/// every time it is asked, and computes it once.
#[test]
fn a_forged_signature_is_refused_again_when_the_simulators_memory_answers() {
    use node_core::primitives::keys::{verify, SignatureError};
    use node_core::primitives::signature_memo::share_on_this_thread;
    share_on_this_thread();
    let (signer, forger) = (key(1), key(2));
    let message = b"pay 10 to the forger";
    let forged = forger.sign(message);
    let good = signer.sign(message);
    let start = counts_on_this_thread();
    for _ in 0..3 {
        assert_eq!(
            verify(signer.public_key(), message, &forged),
            Err(SignatureError::Invalid),
            "signed by another key"
        );
        assert_eq!(verify(signer.public_key(), message, &good), Ok(()));
        assert_eq!(
            verify(&[7u8; 65], message, &good),
            Err(SignatureError::BadPublicKey),
            "not a point"
        );
    }
    let end = counts_on_this_thread();
    assert_eq!(end.asked - start.asked, 9);
    assert_eq!(
        end.computed - start.computed,
        3,
        "each distinct check computed once"
    );
}
