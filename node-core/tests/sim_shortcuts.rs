//! What the simulator saves for large runs changes no node's decision: a run without the
//! per-node copies of what each node persisted delivers the same frames, ends on the same
//! tip and UTXO set, and confirms the same payments as a run that keeps them.

mod support;

use node_core::sim::{FundedNetwork, LinkConfig, NetworkPlan, Sim};
use node_core::{Hash256, Txid};
use support::key;
use support::net::SIM_BITS;

/// What a run decided, to compare two runs of one seed.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: u64,
    frames_by_command: Vec<(String, u64)>,
    tip: Option<node_core::BlockHash>,
    utxo: Option<Hash256>,
    confirmed: usize,
    lost: usize,
}

/// A lossy network of 2 relays and 10 clients, 2 of them mining, paying 40 times.
fn run(discard_stores: bool) -> (Outcome, Sim) {
    let links = LinkConfig {
        latency_min_ms: 5,
        latency_max_ms: 60,
        drop_per_million: 50_000,
        reset_per_million: 5_000,
        retransmit_ms: 200,
        reconnect_ms: 500,
    };
    let keys: Vec<_> = (0..10u64).map(|i| key(2000 + i)).collect();
    let plan = NetworkPlan {
        seed: 11,
        links,
        relays: 2,
        miners: 2,
        rounds: 3,
        bits: SIM_BITS,
    };
    let net = FundedNetwork::build(&plan, &key(1000), &keys).expect("genesis is valid");
    let (mut sim, clients) = (net.sim, net.clients);
    if discard_stores {
        sim.discard_stores();
    }
    assert!(sim.run_until_quiet(600_000), "initial sync settles");
    for (i, &m) in clients.iter().take(2).enumerate() {
        let to = key(9000 + i as u64).pubkey_hash();
        sim.with_node(m, |n, now| n.start_mining(now, to));
    }
    let submitted: Vec<Txid> = sim.pay_randomly(&clients, &keys, 40, 20);
    assert!(sim.run_until_quiet(600_000), "network settles");
    assert!(sim.converged(), "tips: {}", sim.distinct_tips());
    let report = sim.tx_report(&submitted);
    let chain = sim.nodes[0].node.chain();
    let outcome = Outcome {
        frames: sim.frames_delivered,
        frames_by_command: sim
            .frames_by_command
            .iter()
            .map(|(c, n)| (c.clone(), *n))
            .collect(),
        tip: chain.map(|c| c.tip()),
        utxo: chain.map(|c| c.utxo().digest()),
        confirmed: report.confirmed,
        lost: report.lost,
    };
    (outcome, sim)
}

#[test]
fn a_run_without_stores_decides_exactly_as_one_with_them() {
    let (kept, kept_sim) = run(false);
    let (discarded, discarded_sim) = run(true);
    assert_eq!(kept, discarded);
    assert_eq!(kept.lost, 0, "{kept:?}");
    assert!(kept.confirmed > 0, "{kept:?}");
    // The kept stores hold each node's chain; the discarded ones hold nothing.
    assert!(kept_sim.keeps_stores() && !discarded_sim.keeps_stores());
    for (k, d) in kept_sim.nodes.iter().zip(&discarded_sim.nodes) {
        assert_eq!(k.store.tip, k.node.chain().map(|c| c.tip()));
        assert!(!k.store.blocks.is_empty());
        assert!(d.store.tip.is_none() && d.store.blocks.is_empty() && d.store.utxo.is_empty());
    }
}
