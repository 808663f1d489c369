//! Assume-valid: signatures below a vouched-for block are skipped while syncing, and checked
//! after all when the chain does not lead to that block.

mod net;

use net::*;
use node_core::chain::AcceptOutcome;
use node_core::params::ChainParams;
use node_core::protocol::Role;
use node_core::sim::{LinkConfig, Sim};
use node_core::validation::ValidationError;
use node_core::{Block, BlockHash, Chain, KeyPair, OutPoint, Transaction, TxOut};

/// A chain of `n` blocks after genesis, each paying its coinbase to `key` and spending the
/// previous coinbase with a signed payment.
fn signed_chain(key: &KeyPair, n: u64) -> Vec<Block> {
    let mut chain = new_chain(key.pubkey_hash());
    let mut blocks = vec![chain.block_at(0).unwrap().clone()];
    for i in 0..n {
        let prev = chain.block_at(i).unwrap().transactions[0].txid();
        let pay = Transaction::new_signed(
            key,
            &[OutPoint {
                txid: prev,
                vout: 0,
            }],
            vec![TxOut {
                value: 10,
                pubkey_hash: key.pubkey_hash(),
            }],
        );
        blocks.push(mine_on(
            &mut chain,
            key.pubkey_hash(),
            vec![pay],
            T0 + 10 + i,
        ));
    }
    blocks
}

fn chain_with(params: ChainParams, genesis: &Block) -> Chain {
    Chain::new(params, genesis.clone(), T0).unwrap()
}

#[test]
fn reaching_the_assumed_block_vouches_for_the_skipped_signatures() {
    let key = key(1);
    let blocks = signed_chain(&key, 20);
    let params = ChainParams {
        assume_valid: Some((15, blocks[15].hash())),
        ..Default::default()
    };
    let mut chain = chain_with(params, &blocks[0]);
    for (i, b) in blocks.iter().enumerate().skip(1) {
        assert!(matches!(
            chain.accept_block(b.clone(), T0 + 100),
            Ok(AcceptOutcome::TipChanged(_))
        ));
        if i < 15 {
            assert_eq!(chain.unchecked_from(), Some(1), "height {i}");
        } else {
            assert_eq!(chain.unchecked_from(), None, "height {i}");
        }
    }
    assert_eq!(chain.height(), 20);
}

#[test]
fn a_bad_signature_below_an_assumed_block_that_never_comes_is_caught_and_rolled_back() {
    let key = key(2);
    let good = signed_chain(&key, 6);
    // Rebuild block 4 with its payment's signature broken, and mine 5 and 6 on top.
    let mut chain = new_chain(key.pubkey_hash());
    for b in &good[1..4] {
        chain.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let mut bad_tx = good[4].transactions[1].clone();
    bad_tx.inputs[0].signature[10] ^= 0x55;
    let mut bad = chain.template(key.pubkey_hash(), vec![bad_tx], 0, T0 + 50, b"");
    solve(&mut bad);
    assert!(
        matches!(
            chain.accept_block(bad.clone(), T0 + 100),
            Err(ValidationError::BadSignature { .. })
        ),
        "a fully checking chain refuses it"
    );

    let params = ChainParams {
        assume_valid: Some((100, BlockHash(node_core::hash::sha256(b"elsewhere")))),
        ..Default::default()
    };
    let mut trusting = chain_with(params, &good[0]);
    for b in &good[1..4] {
        trusting.accept_block(b.clone(), T0 + 100).unwrap();
    }
    assert!(matches!(
        trusting.accept_block(bad.clone(), T0 + 100),
        Ok(AcceptOutcome::TipChanged(_))
    ));
    let mut on_top = trusting.template(key.pubkey_hash(), vec![], 0, T0 + 60, b"");
    solve(&mut on_top);
    trusting.accept_block(on_top, T0 + 100).unwrap();
    assert_eq!(trusting.height(), 5);
    assert_eq!(trusting.unchecked_from(), Some(1));
    let digest_before_bad = chain.utxo().digest();

    // Checking in slices: the first two slices are clean, the third finds block 4.
    assert_eq!(trusting.check_skipped_signatures(2), Ok(false));
    assert_eq!(trusting.unchecked_from(), Some(3));
    let Err((hash, err, steps)) = trusting.check_skipped_signatures(2) else {
        panic!("the broken signature is found");
    };
    assert_eq!(hash, bad.hash());
    assert!(matches!(
        err,
        ValidationError::BadSignature { input: 0, .. }
    ));
    assert_eq!(steps.len(), 2, "blocks 5 and 4 disconnected");
    assert_eq!(trusting.height(), 3);
    assert_eq!(trusting.utxo().digest(), digest_before_bad);
    assert!(trusting.is_invalid(&bad.hash()));
    assert_eq!(trusting.unchecked_from(), None);
    // The real block 4 still connects.
    assert!(matches!(
        trusting.accept_block(good[4].clone(), T0 + 100),
        Ok(AcceptOutcome::TipChanged(_))
    ));
}

#[test]
fn a_tab_trusting_the_relay_syncs_and_one_told_a_wrong_block_checks_everything_after() {
    let key = key(3);
    let blocks = signed_chain(&key, 40);
    let mut relay_chain = new_chain(key.pubkey_hash());
    for b in &blocks[1..] {
        relay_chain.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let tip = relay_chain.tip();
    let mut sim = Sim::new(9, LinkConfig::default());
    let relay = sim.add_node(config("3000", Role::Relay, 1), Some(relay_chain));
    let mut trusting = config("3001", Role::Wallet, 2);
    trusting.params.assume_valid = Some((40, tip));
    let mut misled = config("3002", Role::Wallet, 3);
    misled.params.assume_valid = Some((40, BlockHash(node_core::hash::sha256(b"wrong"))));
    let a = sim.add_node(trusting, None);
    let b = sim.add_node(misled, None);
    sim.connect(a, relay);
    sim.connect(b, relay);
    assert!(sim.run_until_quiet(120_000));
    assert!(sim.converged());
    for n in [a, b] {
        let c = sim.nodes[n].node.chain().unwrap();
        assert_eq!(c.tip(), tip);
        assert_eq!(
            c.unchecked_from(),
            None,
            "node {n}: every signature vouched for or checked"
        );
    }
    // Reloaded from its store mid-way, a node does not know what it checked: it checks again.
    let stored = sim.nodes[b].store.load(ChainParams {
        assume_valid: Some((80, BlockHash::default())),
        ..Default::default()
    });
    assert_eq!(stored.unwrap().unchecked_from(), Some(1));
}
