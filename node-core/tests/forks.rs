//! Forks on the deterministic simulator: a partition splits the network in two, each side
//! mines its own branch, and the same coins are paid to different addresses on each side.
//! When the partition heals, every node reorganises onto the branch with the most work
//! (ten blocks deep for the losing side), the double spend that lost is dropped together
//! with the payment that spent its output, the payment that is still valid returns to
//! every mempool and is mined again, and every node shows the same, exact balances.

mod support;

use node_core::protocol::Role;
use node_core::sim::{store_digest, LinkConfig, Sim};
use node_core::wallet::build_payment;
use node_core::{BlockHash, KeyPair, NodeConfig, PubKeyHash, Transaction, Txid};
use support::net::*;
use support::*;

/// Blocks the losing side mines during the partition: the depth of its reorganisation.
const LOSING: u64 = 10;
/// Blocks the winning side mines: more work.
const WINNING: u64 = 12;
/// Height before the partition: genesis and two funding blocks.
const FUNDED: u64 = 2;

/// Mines a block on `node`'s tip holding its whole mempool, coinbase to `to`.
fn mine_mempool(sim: &mut Sim, node: usize, to: PubKeyHash) -> BlockHash {
    sim.with_node(node, |n, now| {
        let txs: Vec<Transaction> = n
            .mempool()
            .in_order()
            .into_iter()
            .map(|(tx, _)| tx.clone())
            .collect();
        let mut block = n.block_template(now, to, txs).expect("node has a chain");
        mine(&mut block);
        let hash = block.hash();
        n.submit_block(now, block).expect("block is valid");
        hash
    })
}

/// Pays `amount` from `from` to `to` on `node` (zero fee); returns the txid.
fn pay(sim: &mut Sim, node: usize, from: &KeyPair, to: PubKeyHash, amount: u64) -> Txid {
    sim.with_node(node, |n, now| n.send_payment(now, from, to, amount, 0))
        .expect("the payment is valid where it is made")
}

/// Whether `txid` is in a block of `node`'s active chain.
fn confirmed(sim: &Sim, node: usize, txid: &Txid) -> bool {
    let chain = sim.nodes[node].node.chain().expect("a chain");
    (0..=chain.height()).any(|h| {
        chain
            .block_at(h)
            .is_some_and(|b| b.transactions.iter().any(|t| t.txid() == *txid))
    })
}

/// Coins paying `owner` in `node`'s mempool (what a wallet shows as incoming).
fn pending(sim: &Sim, node: usize, owner: &PubKeyHash) -> u64 {
    sim.nodes[node]
        .node
        .mempool()
        .unspent_outputs_of(owner)
        .iter()
        .map(|(_, o)| o.value)
        .sum()
}

#[test]
fn a_deep_reorg_after_a_partition_drops_the_losing_double_spend_and_keeps_the_rest() {
    let central = key(1);
    let (payer, saver) = (key(2), key(3));
    let (x, y, z, v) = (key(10), key(11), key(12), key(13));
    let (miner_a, miner_b) = (key(20), key(21));
    let links = LinkConfig {
        latency_min_ms: 5,
        latency_max_ms: 40,
        ..LinkConfig::default()
    };
    let mut sim = Sim::new(2024, links);

    // Two relays, each with a miner and a wallet; everything starts on one chain.
    let r1 = sim.add_node(
        config("3000", Role::Relay, 1),
        Some(sim_chain(central.pubkey_hash())),
    );
    let r2 = sim.add_node(config("3001", Role::Relay, 2), None);
    // Miner A mines as soon as one payment waits (it is told to mine only at the end).
    let eager = NodeConfig {
        mining_threshold: 1,
        ..config("3101", Role::Miner, 3)
    };
    let m_a = sim.add_node(eager, None);
    let m_b = sim.add_node(config("3102", Role::Miner, 4), None);
    let w_a = sim.add_node(config("3201", Role::Wallet, 5), None);
    let w_b = sim.add_node(config("3202", Role::Wallet, 6), None);
    // Relay 2 first has the chain; clients that reach a relay before it knows any genesis
    // never sync (see the ignored test below).
    sim.connect(r2, r1);
    sim.run_for(1_000);
    for (node, relay) in [(m_a, r1), (w_a, r1), (m_b, r2), (w_b, r2)] {
        sim.connect(node, relay);
    }
    let all = [r1, r2, m_a, m_b, w_a, w_b];
    let side_a = [r1, m_a, w_a];
    let side_b = [r2, m_b, w_b];
    // The payer and the saver get 10 each, mined at once by the central node.
    send_and_mine(&mut sim, r1, &central, payer.pubkey_hash(), 10);
    sim.run_for(10);
    send_and_mine(&mut sim, r1, &central, saver.pubkey_hash(), 10);
    assert!(sim.run_until_quiet(120_000));
    for &n in &all {
        eprintln!(
            "node {n}: {:?} {:?} peers {}",
            sim.nodes[n].node.chain().map(|c| c.height()),
            sim.nodes[n].disconnects,
            sim.nodes[n].node.status().peers
        );
    }
    assert!(sim.converged());
    let fork_point = sim.nodes[r1].node.chain().expect("chain").tip();
    for &n in &all {
        assert_eq!(sim.balance(n, &payer.pubkey_hash()), 10, "node {n}");
    }

    // The partition: the relays lose each other.
    sim.set_partition(r1, r2, true);
    sim.run_for(1_000);

    // Side A: the payer pays all 10 to X, and the saver 3 to Z; X passes 4 on to V.
    let to_x = pay(&mut sim, w_a, &payer, x.pubkey_hash(), 10);
    let to_z = pay(&mut sim, w_a, &saver, z.pubkey_hash(), 3);
    sim.run_for(2_000);
    assert_eq!(
        sim.nodes[m_a].node.mempool().len(),
        2,
        "both reached miner A"
    );
    mine_mempool(&mut sim, m_a, miner_a.pubkey_hash());
    sim.run_for(2_000);
    let x_to_v = pay(&mut sim, w_a, &x, v.pubkey_hash(), 4);
    sim.run_for(2_000);
    mine_mempool(&mut sim, m_a, miner_a.pubkey_hash());
    for _ in 2..LOSING {
        sim.run_for(500);
        mine_mempool(&mut sim, m_a, miner_a.pubkey_hash());
    }

    // Side B: the same 10 coins of the payer go to Y instead, and side B mines longer.
    let to_y = pay(&mut sim, w_b, &payer, y.pubkey_hash(), 10);
    sim.run_for(2_000);
    assert_eq!(
        sim.nodes[m_b].node.mempool().len(),
        1,
        "the double spend reached miner B"
    );
    mine_mempool(&mut sim, m_b, miner_b.pubkey_hash());
    for _ in 1..WINNING {
        sim.run_for(500);
        mine_mempool(&mut sim, m_b, miner_b.pubkey_hash());
    }
    sim.run_for(5_000);

    // Two branches, each consistent on its side.
    assert_eq!(sim.distinct_tips(), 2, "one tip per side of the partition");
    for &n in &side_a {
        let c = sim.nodes[n].node.chain().expect("chain");
        assert_eq!(c.height(), FUNDED + LOSING, "node {n} on side A");
        assert_eq!(sim.balance(n, &x.pubkey_hash()), 6, "node {n}");
        assert_eq!(sim.balance(n, &v.pubkey_hash()), 4, "node {n}");
        assert_eq!(sim.balance(n, &z.pubkey_hash()), 3, "node {n}");
        assert_eq!(sim.balance(n, &y.pubkey_hash()), 0, "node {n}");
        assert_eq!(
            sim.balance(n, &miner_a.pubkey_hash()),
            10 * LOSING,
            "node {n}"
        );
    }
    for &n in &side_b {
        let c = sim.nodes[n].node.chain().expect("chain");
        assert_eq!(c.height(), FUNDED + WINNING, "node {n} on side B");
        assert_eq!(sim.balance(n, &y.pubkey_hash()), 10, "node {n}");
        assert_eq!(sim.balance(n, &x.pubkey_hash()), 0, "node {n}");
        assert_eq!(
            sim.balance(n, &miner_b.pubkey_hash()),
            10 * WINNING,
            "node {n}"
        );
    }
    let b_tip = sim.nodes[r2].node.chain().expect("chain").tip();

    // The partition heals: everyone ends on side B's branch, the one with more work.
    sim.set_partition(r1, r2, false);
    sim.watch = Some(String::from("reorg_depth: 10"));
    assert!(sim.run_until_quiet(300_000), "the network settles");
    assert!(sim.converged(), "tips: {}", sim.distinct_tips());
    let reorgs = sim.log.len();
    assert_eq!(
        reorgs,
        side_a.len(),
        "each side-A node reorganised 10 blocks deep"
    );
    for &n in &all {
        let c = sim.nodes[n].node.chain().expect("chain");
        assert_eq!(c.tip(), b_tip, "node {n}");
        assert!(c.is_active(&fork_point), "node {n} keeps the common part");
        // The double spend that won is confirmed; the one that lost, and the payment
        // spending its output, are gone for good; the saver's payment waits again.
        assert!(confirmed(&sim, n, &to_y), "node {n}");
        for gone in [&to_x, &x_to_v, &to_z] {
            assert!(!confirmed(&sim, n, gone), "node {n}");
        }
        let mempool = sim.nodes[n].node.mempool();
        assert_eq!(
            mempool.txids(),
            vec![to_z],
            "node {n}: only the valid payment returns"
        );
        assert!(!mempool.contains(&to_x) && !mempool.contains(&x_to_v));
        // What it stored is what it runs on.
        assert_eq!(
            store_digest(&sim.nodes[n].store),
            c.utxo().digest(),
            "node {n}"
        );
    }
    let expected_after_reorg = [
        (central.pubkey_hash(), 10),
        (payer.pubkey_hash(), 0),
        (saver.pubkey_hash(), 10),
        (x.pubkey_hash(), 0),
        (y.pubkey_hash(), 10),
        (z.pubkey_hash(), 0),
        (v.pubkey_hash(), 0),
        (miner_a.pubkey_hash(), 0),
        (miner_b.pubkey_hash(), 10 * WINNING),
    ];
    for &n in &all {
        for (who, amount) in &expected_after_reorg {
            assert_eq!(sim.balance(n, who), *amount, "node {n}");
        }
        // Wallets see the saver's payment as pending again: 3 to Z, 7 change.
        assert_eq!(pending(&sim, n, &z.pubkey_hash()), 3, "node {n}");
        assert_eq!(pending(&sim, n, &saver.pubkey_hash()), 7, "node {n}");
        assert_eq!(pending(&sim, n, &x.pubkey_hash()), 0, "node {n}");
    }

    // Miner A, now on the winning branch, mines the payment that is still waiting.
    sim.with_node(m_a, |n, now| n.start_mining(now, miner_a.pubkey_hash()));
    assert!(sim.run_until_quiet(300_000));
    assert!(sim.converged());
    assert_eq!(sim.nodes[m_a].mined, 1);
    let expected = [
        (central.pubkey_hash(), 10),
        (payer.pubkey_hash(), 0),
        (saver.pubkey_hash(), 7),
        (x.pubkey_hash(), 0),
        (y.pubkey_hash(), 10),
        (z.pubkey_hash(), 3),
        (v.pubkey_hash(), 0),
        (miner_a.pubkey_hash(), 10),
        (miner_b.pubkey_hash(), 10 * WINNING),
    ];
    for &n in &all {
        assert_eq!(
            sim.nodes[n].node.chain().expect("chain").height(),
            FUNDED + WINNING + 1,
            "node {n}"
        );
        assert!(confirmed(&sim, n, &to_z), "node {n}");
        assert!(sim.nodes[n].node.mempool().is_empty(), "node {n}");
        for (who, amount) in &expected {
            assert_eq!(sim.balance(n, who), *amount, "node {n}");
        }
    }
    // The loser can be spent by nobody now: the payer has nothing left to pay X with.
    let chain = sim.nodes[w_a].node.chain().expect("chain");
    let again = build_payment(
        &payer,
        x.pubkey_hash(),
        10,
        0,
        chain.utxo(),
        sim.nodes[w_a].node.mempool(),
    );
    assert!(again.is_err(), "the payer's coins went to Y");
}

/// A node with no chain learns which genesis to download from a peer's `version`. A client
/// that shakes hands with a relay which has no chain yet itself is told no genesis; when the
/// relay later announces blocks, the client asks it for its chain from the start.
#[test]
fn a_client_that_reaches_a_relay_before_its_genesis_still_syncs() {
    let central = key(1);
    let mut sim = Sim::new(2024, LinkConfig::default());
    let r1 = sim.add_node(
        config("3000", Role::Relay, 1),
        Some(sim_chain(central.pubkey_hash())),
    );
    let r2 = sim.add_node(config("3001", Role::Relay, 2), None);
    let w = sim.add_node(config("3201", Role::Wallet, 5), None);
    // The client's handshake with relay 2 completes before relay 2 hears from relay 1.
    sim.connect(w, r2);
    sim.run_for(500);
    sim.connect(r2, r1);
    assert!(sim.run_until_quiet(120_000));
    send_and_mine(&mut sim, r1, &central, key(2).pubkey_hash(), 10);
    assert!(sim.run_until_quiet(120_000));
    assert!(sim.nodes[r2].node.chain().is_some(), "relay 2 synced");
    assert!(sim.nodes[w].node.chain().is_some(), "the client synced too");
    assert!(sim.converged());
}
