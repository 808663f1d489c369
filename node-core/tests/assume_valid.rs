//! Skipped signature checks, and the attacks on them. Assume-valid: a tab is given one block
//! hash by the relay that served its page; signatures are skipped only for that block's
//! exact ancestors, and nothing else — whatever peers claim, however the chain reorganises,
//! across reloads. And blocks whose signatures the shell verified natively (a tab's
//! WebCrypto): skipped once.

mod support;

use node_core::chain::{AcceptOutcome, TipStep, CONNECT_STEP_BLOCKS};
use node_core::consensus::params::ChainParams;
use node_core::consensus::validation::ValidationError;
use node_core::protocol::Role;
use node_core::sim::{LinkConfig, Sim};
use node_core::store::StoredChain;
use node_core::{Block, BlockHash, Chain, KeyPair, Mempool, OutPoint, Transaction, TxOut};
use support::chain::chain_with;
use support::net::*;
use support::*;

/// A chain of `n` blocks after genesis, each paying its coinbase to `key` and spending the
/// previous coinbase with a signed payment.
fn signed_chain(key: &KeyPair, n: u64) -> Vec<Block> {
    let mut chain = sim_chain(key.pubkey_hash());
    let mut blocks = vec![chain.block_at(0).unwrap().clone()];
    for i in 0..n {
        let prev = chain.block_at(i).unwrap().transactions[0].txid();
        blocks.push(mine_on_at(
            &mut chain,
            key.pubkey_hash(),
            vec![payment(key, prev)],
            T0 + 10 + i,
        ));
    }
    blocks
}

/// `key` pays itself the 10 coins of output 0 of `prev`.
fn payment(key: &KeyPair, prev: node_core::Txid) -> Transaction {
    Transaction::new_signed(
        key,
        &[OutPoint {
            txid: prev,
            vout: 0,
        }],
        vec![TxOut {
            value: 10,
            pubkey_hash: key.pubkey_hash(),
        }],
    )
}

fn trusting(height: u64, hash: BlockHash) -> ChainParams {
    ChainParams {
        assume_valid: Some((height, hash)),
        ..Default::default()
    }
}

/// A block on `chain`'s best block whose one payment spends `victim`'s coin `prev` with a
/// made-up signature, paying the attacker.
fn forged_spend(
    chain_tip: &Chain,
    victim: &KeyPair,
    prev: node_core::Txid,
    thief: &KeyPair,
) -> Block {
    let mut forged = Transaction::new_signed(
        victim,
        &[OutPoint {
            txid: prev,
            vout: 0,
        }],
        vec![TxOut {
            value: 10,
            pubkey_hash: thief.pubkey_hash(),
        }],
    );
    // The attacker has no key: it signs with its own and presents the victim's public key.
    let made_up = Transaction::new_signed(thief, &[forged.inputs[0].prev], forged.outputs.clone());
    forged.inputs[0].signature = made_up.inputs[0].signature.clone();
    let mut block = chain_tip.template(thief.pubkey_hash(), vec![forged], 0, T0 + 50, b"");
    mine(&mut block);
    block
}

#[test]
fn reaching_the_assumed_block_connects_the_held_download_with_only_its_ancestors_unchecked() {
    let key = key(1);
    let blocks = signed_chain(&key, 20);
    let mut chain = chain_with(trusting(15, blocks[15].hash()), blocks[0].clone());
    for b in &blocks[1..15] {
        assert_eq!(
            chain.accept_block(b.clone(), T0 + 100),
            Ok(AcceptOutcome::Held)
        );
        assert_eq!(
            chain.height(),
            0,
            "nothing connects before the assumed block is here"
        );
    }
    assert_eq!(chain.best_height(), 14, "the download went on");
    let Ok(AcceptOutcome::TipChanged(steps)) = chain.accept_block(blocks[15].clone(), T0 + 100)
    else {
        panic!("the assumed block connects its branch");
    };
    assert_eq!(steps.len(), 15);
    for b in &blocks[1..=15] {
        assert!(
            chain.connected_unchecked(&b.hash()),
            "ancestors skip their checks"
        );
    }
    for b in &blocks[16..] {
        assert!(matches!(
            chain.accept_block(b.clone(), T0 + 100),
            Ok(AcceptOutcome::TipChanged(_))
        ));
        assert!(
            !chain.connected_unchecked(&b.hash()),
            "above it, everything is checked"
        );
    }
    assert_eq!(chain.height(), 20);
}

/// Item 2(b) of the review: a peer claims a height of 10^9 and feeds a fresh tab one block
/// spending a victim's coin with a made-up signature. The forged coin must never reach the
/// tab's UTXO set, at any moment; and nothing the peer claims delays the check.
#[test]
fn a_forged_spend_below_the_assumed_height_is_never_connected_and_is_refused_once_the_wait_ends() {
    let victim = key(2);
    let thief = key(3);
    let good = signed_chain(&victim, 6);
    let honest_assumed = BlockHash::from_hash(node_core::primitives::hash::sha256(
        b"the relay's tip, never sent",
    ));
    let mut tab = chain_with(trusting(1_000_000_000, honest_assumed), good[0].clone());
    let genesis_coin = good[0].transactions[0].txid();
    let forged = forged_spend(&tab, &victim, genesis_coin, &thief);
    assert_eq!(
        tab.accept_block(forged.clone(), T0 + 100),
        Ok(AcceptOutcome::Held)
    );
    assert_eq!(tab.height(), 0);
    assert!(
        tab.utxo()
            .get(&OutPoint {
                txid: genesis_coin,
                vout: 0
            })
            .is_some(),
        "victim's coin untouched"
    );
    assert_eq!(tab.utxo().balance(&thief.pubkey_hash()), 0);
    // While something downloads, or before the patience ran out, it keeps waiting.
    assert_eq!(
        tab.give_up_on_assumed_block_if_stalled(T0 + 1_000, false),
        None
    );
    assert_eq!(
        tab.give_up_on_assumed_block_if_stalled(T0 + 100_000, true),
        None
    );
    // Then it connects what it holds with every signature checked: the forgery fails.
    let steps = tab
        .give_up_on_assumed_block_if_stalled(T0 + 100_000, false)
        .expect("it gave up waiting");
    assert!(steps.is_empty(), "the forged block did not connect");
    assert!(tab.is_invalid(&forged.hash()));
    assert_eq!(tab.height(), 0);
    assert!(
        tab.checks_signatures_at(1),
        "no signature is skipped any more"
    );
    // The honest chain still connects, checked in full.
    for b in &good[1..] {
        assert!(matches!(
            tab.accept_block(b.clone(), T0 + 100),
            Ok(AcceptOutcome::TipChanged(_))
        ));
        assert!(!tab.connected_unchecked(&b.hash()));
    }
}

#[test]
fn a_branch_past_the_assumed_height_without_the_assumed_block_is_checked_in_full() {
    let victim = key(4);
    let thief = key(5);
    let good = signed_chain(&victim, 3);
    let mut tab = chain_with(
        trusting(
            2,
            BlockHash::from_hash(node_core::primitives::hash::sha256(b"elsewhere")),
        ),
        good[0].clone(),
    );
    for b in &good[1..3] {
        assert_eq!(
            tab.accept_block(b.clone(), T0 + 100),
            Ok(AcceptOutcome::Held)
        );
    }
    // Block 3 is above the assumed height and the assumed block never came: the wait ends,
    // and blocks 1..3 connect checked.
    assert!(matches!(
        tab.accept_block(good[3].clone(), T0 + 100),
        Ok(AcceptOutcome::TipChanged(ref s)) if s.len() == 3
    ));
    for b in &good[1..] {
        assert!(!tab.connected_unchecked(&b.hash()));
    }
    let forged = forged_spend(&tab, &victim, good[3].transactions[0].txid(), &thief);
    assert!(matches!(
        tab.accept_block(forged, T0 + 100),
        Err(ValidationError::BadSignature { .. })
    ));
}

/// Item 2(a): after the assumed block was reached, a heavier branch forking below it, with a
/// forged spend, must be checked in full — the old rule went back to skipping there.
#[test]
fn a_heavier_branch_forking_below_the_reached_assumed_block_is_checked_in_full() {
    let victim = key(6);
    let thief = key(7);
    let good = signed_chain(&victim, 6);
    let mut tab = chain_with(trusting(6, good[6].hash()), good[0].clone());
    for b in &good[1..] {
        tab.accept_block(b.clone(), T0 + 100).unwrap();
    }
    assert_eq!(tab.height(), 6);
    // The attacker's branch forks at height 2 and carries a forged spend of block 2's coin.
    let mut fork = chain_with(ChainParams::default(), good[0].clone());
    for b in &good[1..3] {
        fork.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let forged = forged_spend(&fork, &victim, good[2].transactions[0].txid(), &thief);
    fork.note_signatures_verified(forged.hash()); // the attacker's own node takes it
    fork.accept_block(forged.clone(), T0 + 100).unwrap();
    let mut branch = vec![forged.clone()];
    for _ in 0..6 {
        branch.push(mine_on_at(&mut fork, thief.pubkey_hash(), vec![], T0 + 70));
    }
    let tip_before = tab.tip();
    let digest_before = tab.utxo().digest();
    let mut outcomes = Vec::new();
    for b in branch {
        outcomes.push(tab.accept_block(b, T0 + 100));
    }
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(ValidationError::BadSignature { .. }))),
        "the forged block's signature was checked: {outcomes:?}"
    );
    assert_eq!(tab.tip(), tip_before, "the honest chain stays");
    assert_eq!(tab.utxo().digest(), digest_before);
    assert!(tab.is_invalid(&forged.hash()));
    assert_eq!(tab.utxo().balance(&thief.pubkey_hash()), 0);
}

/// Item 3: a transaction of a block connected unchecked (here, vouched for by an assumed
/// block that a malicious relay chose) returns to the mempool on a reorganisation only after
/// its signature is checked.
#[test]
fn a_forged_transaction_of_a_disconnected_unchecked_block_does_not_return_to_the_mempool() {
    let victim = key(8);
    let thief = key(9);
    let good = signed_chain(&victim, 2);
    // The relay's chain: block 3 carries a forged spend of block 2's coin; it vouches for 4.
    let mut relay = chain_with(ChainParams::default(), good[0].clone());
    for b in &good[1..] {
        relay.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let forged = forged_spend(&relay, &victim, good[2].transactions[0].txid(), &thief);
    relay.note_signatures_verified(forged.hash());
    relay.accept_block(forged.clone(), T0 + 100).unwrap();
    let on_top = mine_on_at(&mut relay, thief.pubkey_hash(), vec![], T0 + 60);
    let mut tab = chain_with(trusting(4, on_top.hash()), good[0].clone());
    for b in good[1..].iter().chain([&forged, &on_top]) {
        tab.accept_block(b.clone(), T0 + 100).unwrap();
    }
    assert_eq!(tab.height(), 4);
    assert!(tab.connected_unchecked(&forged.hash()));
    // An honest branch from block 2 with more work disconnects blocks 3 and 4.
    let mut honest = chain_with(ChainParams::default(), good[0].clone());
    for b in &good[1..] {
        honest.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let mut steps: Vec<TipStep> = Vec::new();
    for _ in 0..3 {
        let b = mine_on_at(&mut honest, victim.pubkey_hash(), vec![], T0 + 80);
        if let Ok(AcceptOutcome::TipChanged(s)) = tab.accept_block(b, T0 + 100) {
            steps.extend(s);
        }
    }
    assert!(steps
        .iter()
        .any(|s| matches!(s, TipStep::Disconnected(b) if b.hash() == forged.hash())));
    let mut pool = Mempool::new(100);
    let update = pool.update_for_tip_change(&steps, tab.utxo(), |h| !tab.connected_unchecked(h));
    assert!(
        !pool.contains(&forged.transactions[1].txid()),
        "the forgery is refused"
    );
    assert!(update.dropped.contains(&forged.transactions[1].txid()));
}

/// Item 4: which blocks were connected unchecked is stored; a reload that is not given the
/// same vouching block checks them, whatever the page's flags say.
#[test]
fn blocks_connected_unchecked_are_checked_after_a_reload_without_their_vouching_block() {
    let victim = key(10);
    let thief = key(11);
    let good = signed_chain(&victim, 2);
    let mut relay = chain_with(ChainParams::default(), good[0].clone());
    for b in &good[1..] {
        relay.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let forged = forged_spend(&relay, &victim, good[2].transactions[0].txid(), &thief);
    relay.note_signatures_verified(forged.hash());
    relay.accept_block(forged.clone(), T0 + 100).unwrap();
    let mut tab = chain_with(trusting(3, forged.hash()), good[0].clone());
    let mut store = StoredChain::default();
    store.apply(&tab.take_changes());
    for b in good[1..].iter().chain([&forged]) {
        tab.accept_block(b.clone(), T0 + 100).unwrap();
        store.apply(&tab.take_changes());
    }
    assert_eq!(tab.height(), 3);
    // Reloaded with the same vouching block: nothing to check.
    let same = store.load(trusting(3, forged.hash())).unwrap();
    assert_eq!(same.recheck_from(), None);
    assert!(same.connected_unchecked(&forged.hash()));
    // Reloaded with assume-valid off (`?assumevalid=0`): the unchecked blocks are checked,
    // and the forged one is found and rolled back.
    let mut reloaded = store.load(ChainParams::default()).unwrap();
    assert_eq!(reloaded.recheck_from(), Some(1));
    let mut found = None;
    for _ in 0..10 {
        match reloaded.check_skipped_signatures(1) {
            Ok(true) => break,
            Ok(false) => {}
            Err((hash, e, _)) => {
                found = Some((hash, e));
                break;
            }
        }
    }
    let (hash, e) = found.expect("the forged block is found");
    assert_eq!(hash, forged.hash());
    assert!(matches!(e, ValidationError::BadSignature { .. }));
    assert_eq!(reloaded.height(), 2);
    assert_eq!(reloaded.utxo().balance(&thief.pubkey_hash()), 0);
    // The checks that passed are stored too: a second reload starts after them.
    store.apply(&reloaded.take_changes());
    let again = store.load(ChainParams::default()).unwrap();
    assert_eq!(again.recheck_from(), None);
}

#[test]
fn a_tab_trusting_the_relay_syncs_and_one_told_a_wrong_block_checks_everything() {
    let key = key(3);
    let blocks = signed_chain(&key, 40);
    let mut relay_chain = sim_chain(key.pubkey_hash());
    for b in &blocks[1..] {
        relay_chain.accept_block(b.clone(), T0 + 100).unwrap();
    }
    let tip = relay_chain.tip();
    let mut sim = Sim::new(9, LinkConfig::default());
    let relay = sim.add_node(config("3000", Role::Relay, 1), Some(relay_chain));
    let mut trusting_cfg = config("3001", Role::Wallet, 2);
    trusting_cfg.params.assume_valid = Some((40, tip));
    let mut misled = config("3002", Role::Wallet, 3);
    misled.params.assume_valid = Some((
        40,
        BlockHash::from_hash(node_core::primitives::hash::sha256(b"wrong")),
    ));
    let a = sim.add_node(trusting_cfg, None);
    let b = sim.add_node(misled, None);
    sim.connect(a, relay);
    sim.connect(b, relay);
    assert!(sim.run_until_quiet(120_000));
    assert!(sim.converged());
    let trusted = sim.nodes[a].node.chain().unwrap();
    assert_eq!(trusted.tip(), tip);
    assert!(blocks[1..]
        .iter()
        .all(|b| trusted.connected_unchecked(&b.hash())));
    let checked = sim.nodes[b].node.chain().unwrap();
    assert_eq!(checked.tip(), tip);
    assert!(blocks[1..]
        .iter()
        .all(|b| !checked.connected_unchecked(&b.hash())));
}

/// Block 4 of `good` rebuilt on `chain` with its payment's first signature broken.
fn broken_block_4(chain: &Chain, good: &[Block]) -> Block {
    let key = key(2);
    let mut bad_tx = good[4].transactions[1].clone();
    bad_tx.inputs[0].signature[10] ^= 0x55;
    let mut bad = chain.template(key.pubkey_hash(), vec![bad_tx], 0, T0 + 50, b"");
    mine(&mut bad);
    bad
}

#[test]
fn a_block_noted_as_verified_skips_its_signature_checks_once_and_only_those() {
    let key = key(2);
    let good = signed_chain(&key, 6);
    let mut chain = chain_with(ChainParams::default(), good[0].clone());
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
    let mut trusting = chain_with(ChainParams::default(), good[0].clone());
    for b in &good[1..4] {
        trusting.accept_block(b.clone(), T0 + 100).unwrap();
    }
    trusting.note_signatures_verified(bad.hash());
    assert!(matches!(
        trusting.accept_block(bad.clone(), T0 + 100),
        Ok(AcceptOutcome::TipChanged(_))
    ));
    // Not recorded as unchecked: the shell checked it.
    assert!(!trusting.connected_unchecked(&bad.hash()));
    // Everything but signatures is still checked: a noted block that double-spends fails.
    let mut double = trusting.template(key.pubkey_hash(), vec![], 0, T0 + 60, b"");
    double.transactions.push(bad.transactions[1].clone());
    double.header.merkle_root = double.compute_merkle_root();
    mine(&mut double);
    trusting.note_signatures_verified(double.hash());
    assert!(trusting.accept_block(double, T0 + 100).is_err());
}

#[test]
fn signatures_may_be_skipped_only_up_to_the_assumed_height() {
    let key = key(3);
    let blocks = signed_chain(&key, 6);
    let mut chain = chain_with(trusting(4, blocks[4].hash()), blocks[0].clone());
    assert!(!chain.checks_signatures_at(1));
    assert!(!chain.checks_signatures_at(4));
    assert!(chain.checks_signatures_at(5));
    for b in &blocks[1..5] {
        chain.accept_block(b.clone(), T0 + 100).unwrap();
    }
    assert!(chain.checks_signatures_at(5));
    let full = chain_with(ChainParams::default(), blocks[0].clone());
    assert!(full.checks_signatures_at(1));
}

#[test]
fn check_encoding_refuses_what_verify_refuses_without_the_curve_equation() {
    use node_core::primitives::keys::{check_encoding, verify, SignatureError};
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

/// A tab held its whole download for the assumed block, which comes last. Connected in one
/// step, every block's undo data and UTXO writes, and a copy of every block for the step
/// list, would be in memory together (a 1 GB peak at 100,000 blocks) and written as one
/// record. Cut into steps, each step connects at most the limit, hands over its writes,
/// and the next goes on until the tip is the assumed block.
#[test]
fn a_held_download_connects_in_bounded_steps_once_its_assumed_block_arrives() {
    let key = key(1);
    let mut source = sim_chain(key.pubkey_hash());
    let mut blocks = vec![source.block_at(0).unwrap().clone()];
    for i in 0..2_500 {
        blocks.push(mine_on_at(
            &mut source,
            key.pubkey_hash(),
            vec![],
            T0 + 10 + i,
        ));
    }
    let assumed = trusting(2_500, blocks[2_500].hash());
    let mut chain = chain_with(assumed.clone(), blocks[0].clone());
    let genesis_changes = chain.take_changes();
    for b in &blocks[1..2_500] {
        assert_eq!(
            chain.accept_block(b.clone(), T0 + 100_000),
            Ok(AcceptOutcome::Held)
        );
    }
    let Ok(AcceptOutcome::TipChanged(first)) =
        chain.accept_block(blocks[2_500].clone(), T0 + 100_000)
    else {
        panic!("the assumed block starts connecting its branch");
    };
    assert_eq!(
        first.len(),
        CONNECT_STEP_BLOCKS,
        "the first step connects the limit"
    );
    assert_eq!(chain.height(), CONNECT_STEP_BLOCKS as u64);
    let mut batches = vec![genesis_changes, chain.take_changes()];
    assert_eq!(
        batches[1].undo.len(),
        CONNECT_STEP_BLOCKS,
        "and writes only those"
    );
    let mut steps = 1;
    while let Some(connected) = chain.connect_next_step() {
        assert!(
            connected.len() <= CONNECT_STEP_BLOCKS,
            "a step of {}",
            connected.len()
        );
        let changes = chain.take_changes();
        assert!(changes.undo.len() <= CONNECT_STEP_BLOCKS);
        batches.push(changes);
        steps += 1;
    }
    assert_eq!(steps, 3, "2,500 blocks in steps of 1,000");
    assert_eq!(chain.tip(), blocks[2_500].hash());
    // The batches, stored one after another, restore the same chain.
    let mut store = StoredChain::default();
    for b in &batches {
        store.apply(b);
    }
    let restored = store.load(assumed).unwrap();
    assert_eq!(restored.tip(), chain.tip());
    assert_eq!(restored.utxo().digest(), chain.utxo().digest());
}

/// The same through a node: a tab trusting its relay downloads 2,500 blocks, more than a
/// node connects in one step; by the end of each event its tip is the heaviest block, and
/// it ends at the relay's tip with what it stored agreeing.
#[test]
fn a_tab_holding_more_blocks_than_one_step_ends_at_the_relay_tip() {
    let key = key(3);
    let mut relay_chain = sim_chain(key.pubkey_hash());
    for i in 0..2_500 {
        mine_on_at(&mut relay_chain, key.pubkey_hash(), vec![], T0 + 10 + i);
    }
    let tip = relay_chain.tip();
    let mut sim = Sim::new(9, LinkConfig::default());
    let relay = sim.add_node(config("3000", Role::Relay, 1), Some(relay_chain));
    let mut trusting_cfg = config("3001", Role::Wallet, 2);
    trusting_cfg.params.assume_valid = Some((2_500, tip));
    let tab = sim.add_node(trusting_cfg.clone(), None);
    sim.watch = Some("TipChanged".into());
    sim.connect(tab, relay);
    assert!(sim.run_until_quiet(600_000));
    assert!(sim.converged());
    // The held download connected in steps of 1,000: the tip was seen at each.
    let tab_tips: Vec<&String> = sim
        .log
        .iter()
        .filter(|l| l.contains(&format!("node {tab}: TipChanged")))
        .collect();
    for height in [1_000, 2_000, 2_500] {
        assert!(
            tab_tips
                .iter()
                .any(|l| l.contains(&format!("height: {height},"))),
            "no step ended at {height}: {tab_tips:?}"
        );
    }
    let synced = sim.nodes[tab].node.chain().unwrap();
    assert_eq!(synced.tip(), tip);
    assert_eq!(synced.height(), 2_500);
    let stored = sim.nodes[tab]
        .store
        .load(trusting_cfg.params.clone())
        .unwrap();
    assert_eq!(stored.tip(), tip);
    assert_eq!(stored.utxo().digest(), synced.utxo().digest());
}
