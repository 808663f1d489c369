//! Skipped signature checks. Assume-valid: signatures below a vouched-for block are skipped
//! while syncing, and checked after all when the chain does not lead to that block. And
//! blocks whose signatures the shell verified natively (a tab's WebCrypto): skipped once.

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

/// Block 4 of `good` rebuilt on `chain` with its payment's first signature broken.
fn broken_block_4(chain: &Chain, good: &[Block]) -> Block {
    let key = key(2);
    let mut bad_tx = good[4].transactions[1].clone();
    bad_tx.inputs[0].signature[10] ^= 0x55;
    let mut bad = chain.template(key.pubkey_hash(), vec![bad_tx], 0, T0 + 50, b"");
    solve(&mut bad);
    bad
}

#[test]
fn a_block_noted_as_verified_skips_its_signature_checks_once_and_only_those() {
    let key = key(2);
    let good = signed_chain(&key, 6);
    let mut chain = chain_with(ChainParams::default(), &good[0]);
    for b in &good[1..4] {
        chain.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let bad = broken_block_4(&chain, &good);
    // Noting another block changes nothing for this one.
    chain.note_signatures_verified(good[5].hash());
    assert!(matches!(
        chain.accept_block(bad.clone(), T0 + 100),
        Err(ValidationError::BadSignature { input: 0, .. })
    ));
    // The shell vouches for it (wrongly, to show the checks are really skipped): accepted.
    let mut trusting = chain_with(ChainParams::default(), &good[0]);
    for b in &good[1..4] {
        trusting.accept_block(b.clone(), T0 + 100).unwrap();
    }
    trusting.note_signatures_verified(bad.hash());
    assert!(matches!(
        trusting.accept_block(bad.clone(), T0 + 100),
        Ok(AcceptOutcome::TipChanged(_))
    ));
    // Not recorded as unchecked: assume-valid's later checks do not revisit it.
    assert_eq!(trusting.unchecked_from(), None);
    // Everything but signatures is still checked: a noted block that double-spends fails.
    let mut double = trusting.template(key.pubkey_hash(), vec![], 0, T0 + 60, b"");
    double.transactions.push(bad.transactions[1].clone());
    double.header.merkle_root = double.compute_merkle_root();
    solve(&mut double);
    trusting.note_signatures_verified(double.hash());
    assert!(trusting.accept_block(double, T0 + 100).is_err());
}

#[test]
fn signatures_are_checked_above_the_assumed_block_and_everywhere_once_it_is_reached() {
    let key = key(3);
    let blocks = signed_chain(&key, 6);
    let params = ChainParams {
        assume_valid: Some((4, blocks[4].hash())),
        ..Default::default()
    };
    let mut chain = chain_with(params, &blocks[0]);
    assert!(!chain.checks_signatures_at(1));
    assert!(!chain.checks_signatures_at(4));
    assert!(chain.checks_signatures_at(5));
    for b in &blocks[1..5] {
        chain.accept_block(b.clone(), T0 + 100).unwrap();
    }
    assert!(
        chain.checks_signatures_at(3),
        "the assumed block is reached"
    );
    let full = chain_with(ChainParams::default(), &blocks[0]);
    assert!(full.checks_signatures_at(1));
}

#[test]
fn check_encoding_refuses_what_verify_refuses_without_the_curve_equation() {
    use node_core::keys::{check_encoding, verify, SignatureError};
    let key = key(4);
    let message = [7u8; 32];
    let sig = key.sign(&message);
    assert_eq!(check_encoding(key.public_key(), &sig), Ok(()));
    // A signature of something else has a valid encoding: only the equation fails.
    let other = key.sign(&[8u8; 32]);
    assert_eq!(check_encoding(key.public_key(), &other), Ok(()));
    assert_eq!(
        verify(key.public_key(), &message, &other),
        Err(SignatureError::Invalid)
    );
    // High S: n - s.
    let n: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let mut high = sig;
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = n[i] as i16 - sig[32 + i] as i16 - borrow;
        high[32 + i] = d.rem_euclid(256) as u8;
        borrow = i16::from(d < 0);
    }
    assert_eq!(
        check_encoding(key.public_key(), &high),
        Err(SignatureError::HighS)
    );
    assert_eq!(
        verify(key.public_key(), &message, &high),
        Err(SignatureError::HighS)
    );
    let mut compressed = key.public_key().to_vec();
    compressed[0] = 0x02;
    assert_eq!(
        check_encoding(&compressed, &sig),
        Err(SignatureError::BadPublicKey)
    );
    let mut off_curve = key.public_key().to_vec();
    off_curve[64] ^= 1;
    assert_eq!(
        check_encoding(&off_curve, &sig),
        Err(SignatureError::BadPublicKey)
    );
    assert_eq!(
        check_encoding(key.public_key(), &[0u8; 64]),
        Err(SignatureError::Malformed)
    );
}
