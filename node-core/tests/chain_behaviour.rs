//! How the chain behaves as a whole: the seed's scenario, reorganisations, orphans, the
//! mempool across a reorganisation, restoring from stored changes, reindexing, and payments.

mod support;

use node_core::chain::{AcceptOutcome, TipStep};
use node_core::primitives::hash::sha256;
use node_core::wallet::{self, WalletError};
use node_core::{
    Block, Chain, ChainParams, KeyPair, Mempool, OutPoint, PubKeyHash, Transaction, Txid,
    ValidationError,
};
use support::chain::*;
use support::*;

fn pkh(k: &KeyPair) -> PubKeyHash {
    k.pubkey_hash()
}

fn balance(chain: &Chain, k: &KeyPair) -> u64 {
    chain.utxo().balance(&k.pubkey_hash())
}

fn connected(outcome: Result<AcceptOutcome, ValidationError>) -> Vec<TipStep> {
    match outcome {
        Ok(AcceptOutcome::TipChanged(steps)) => steps,
        other => panic!("expected the tip to change, got {other:?}"),
    }
}

#[test]
fn the_seed_scenario_ends_with_the_seeds_balances_on_every_node() {
    let central = key(10);
    let wallets: Vec<KeyPair> = (11..=14).map(key).collect();
    let miner = key(15);
    let none = Mempool::new(10);

    // Step 1: createblockchain --address CENTRAL.
    let mut relay = new_chain(pkh(&central));
    assert_eq!(balance(&relay, &central), 10);

    // Step 3: send 10 to WALLET_1 and to WALLET_2, each `--mine`d with a coinbase to CENTRAL.
    for w in &wallets[..2] {
        let tx = wallet::build_payment(&central, pkh(w), 10, 0, relay.utxo(), &none)
            .expect("central has 10");
        mine_on(&mut relay, pkh(&central), vec![tx]);
    }
    assert_eq!(relay.height(), 2);
    assert_eq!(balance(&relay, &wallets[0]), 10);
    assert_eq!(balance(&relay, &wallets[1]), 10);
    // The seed shows CENTRAL_NODE: 10 — its genesis coins went to WALLET_1, WALLET_1's
    // block paid it 10, which went to WALLET_2, and WALLET_2's block paid it 10 again.
    assert_eq!(balance(&relay, &central), 10);

    // Steps 4-5: the wallet node and the miner download the chain.
    let mut wallet_node = replay_active(&relay);
    let mut miner_node = replay_active(&relay);
    assert_eq!(balance(&wallet_node, &wallets[0]), 10);
    assert_eq!(balance(&wallet_node, &wallets[1]), 10);
    assert_eq!(balance(&wallet_node, &central), 10);

    // Step 6: WALLET_1 -> WALLET_3 and WALLET_2 -> WALLET_4, one coin each.
    let mut wallet_pool = Mempool::new(10);
    let mut miner_pool = Mempool::new(10);
    for (from, to) in [(0, 2), (1, 3)] {
        let tx = wallet::build_payment(
            &wallets[from],
            pkh(&wallets[to]),
            1,
            0,
            wallet_node.utxo(),
            &wallet_pool,
        )
        .expect("10 covers 1");
        wallet_pool
            .accept(tx.clone(), wallet_node.utxo())
            .expect("valid payment");
        // Step 7: the relay forwards it; the miner validates it.
        miner_pool
            .accept(tx, miner_node.utxo())
            .expect("valid payment");
    }
    assert_eq!(miner_pool.len(), 2);

    // The miner mines the two, then every node accepts its block.
    let txs: Vec<Transaction> = miner_pool
        .in_order()
        .into_iter()
        .map(|(t, _)| t.clone())
        .collect();
    let (block, steps) = mine_on_with_steps(&mut miner_node, pkh(&miner), txs);
    miner_pool.update_for_tip_change(&steps, miner_node.utxo(), |_| true);
    assert!(miner_pool.is_empty());
    connected(accept(&mut relay, block.clone()));
    let steps = connected(accept(&mut wallet_node, block));
    assert_eq!(
        wallet_pool
            .update_for_tip_change(&steps, wallet_node.utxo(), |_| true)
            .dropped,
        vec![]
    );
    assert!(wallet_pool.is_empty());

    // Step 9: the same balances in every node.
    for node in [&relay, &wallet_node, &miner_node] {
        assert_eq!(balance(node, &wallets[0]), 9);
        assert_eq!(balance(node, &wallets[1]), 9);
        assert_eq!(balance(node, &wallets[2]), 1);
        assert_eq!(balance(node, &wallets[3]), 1);
        assert_eq!(balance(node, &miner), 10);
        assert_eq!(balance(node, &central), 10);
        assert_eq!(node.tip(), relay.tip());
        assert_eq!(node.utxo().digest(), relay.utxo().digest());
    }
}

/// A chain with a 3-block branch A active and a 5-block branch B from the same fork point,
/// built separately. A holds transactions valid only on A (spending A's coinbases), one
/// that B double-spends, a parent and child in consecutive blocks, and a parent and child
/// inside one block.
struct Fork {
    /// Genesis, two blocks, then A1..A3 (active).
    chain: Chain,
    /// Genesis, two blocks, then B1..B5.
    winner: Chain,
    a: Vec<Block>,
    b: Vec<Block>,
    alice: KeyPair,
    bob: KeyPair,
    carol: KeyPair,
    dave: KeyPair,
    miner_a: KeyPair,
    /// Dave's coin from the base: spent by no block on either branch.
    dave_coin: OutPoint,
    /// A1: Alice pays Bob from genesis (valid on B too).
    to_bob: Transaction,
    /// A1: Alice pays Carol her block-1 coin, which B1 pays elsewhere.
    conflicted: Transaction,
    /// A2: Bob passes `to_bob`'s output to Carol (child of an A1 transaction).
    bob_to_carol: Transaction,
    /// A2: the A miner spends A1's coinbase (exists only on A).
    only_on_a: Transaction,
    /// A3: Alice pays Bob her block-2 coin, and Bob passes it on in the same block.
    in_block_parent: Transaction,
    in_block_child: Transaction,
}

impl Fork {
    fn new() -> Fork {
        let (alice, bob, carol, dave) = (key(20), key(21), key(22), key(23));
        let (miner_a, miner_b) = (key(24), key(25));
        let mut chain = new_chain(pkh(&alice));
        let genesis_coin = coinbase_of(chain.block_at(0).expect("genesis"));
        let c1 = coinbase_of(&mine_on(&mut chain, pkh(&alice), vec![]));
        let c2 = coinbase_of(&mine_on(&mut chain, pkh(&alice), vec![]));
        let dave_coin = coinbase_of(&mine_on(&mut chain, pkh(&dave), vec![]));
        let fork_point = chain.clone();

        let to_bob = pay(&alice, &[genesis_coin], &[(pkh(&bob), 10)]);
        let conflicted = pay(&alice, &[c1], &[(pkh(&carol), 10)]);
        let a1 = mine_on(
            &mut chain,
            pkh(&miner_a),
            vec![to_bob.clone(), conflicted.clone()],
        );
        let bob_to_carol = pay(&bob, &[outpoint(&to_bob, 0)], &[(pkh(&carol), 10)]);
        let only_on_a = pay(&miner_a, &[coinbase_of(&a1)], &[(pkh(&bob), 10)]);
        let a2 = mine_on(
            &mut chain,
            pkh(&miner_a),
            vec![bob_to_carol.clone(), only_on_a.clone()],
        );
        let in_block_parent = pay(&alice, &[c2], &[(pkh(&bob), 10)]);
        let in_block_child = pay(&bob, &[outpoint(&in_block_parent, 0)], &[(pkh(&dave), 10)]);
        let a3 = mine_on(
            &mut chain,
            pkh(&miner_a),
            vec![in_block_parent.clone(), in_block_child.clone()],
        );

        let mut winner = fork_point;
        let double_spend = pay(&alice, &[c1], &[(pkh(&miner_b), 10)]);
        let mut b = vec![mine_on(&mut winner, pkh(&miner_b), vec![double_spend])];
        b.extend(mine_empty(&mut winner, pkh(&miner_b), 4));
        Fork {
            chain,
            winner,
            a: vec![a1, a2, a3],
            b,
            alice,
            bob,
            carol,
            dave,
            miner_a,
            dave_coin,
            to_bob,
            conflicted,
            bob_to_carol,
            only_on_a,
            in_block_parent,
            in_block_child,
        }
    }

    /// A chain that only knows A, grown by `extra` blocks, and those blocks.
    fn heavier_a(&self, extra: usize) -> (Chain, Vec<Block>) {
        let genesis = self.chain.block_at(0).expect("genesis").clone();
        let mut only_a = chain_with(ChainParams::default(), genesis);
        for b in active_after(&self.winner, 0)
            .into_iter()
            .take(3)
            .chain(self.a.clone())
        {
            accept(&mut only_a, b).expect("base and A are valid");
        }
        assert_eq!(only_a.tip(), self.a[2].hash());
        let more = mine_empty(&mut only_a, pkh(&self.miner_a), extra);
        (only_a, more)
    }
}

#[test]
fn a_heavier_branch_wins_and_the_utxo_set_equals_a_replay_of_it() {
    let mut f = Fork::new();
    assert_eq!(f.chain.tip(), f.a[2].hash());
    let a_digest = f.chain.utxo().digest();

    // B1 and B2 have less work than A: side blocks, nothing moves.
    for block in &f.b[..2] {
        assert_eq!(
            accept(&mut f.chain, block.clone()),
            Ok(AcceptOutcome::SideChain)
        );
        assert_eq!(f.chain.tip(), f.a[2].hash());
        assert_eq!(f.chain.utxo().digest(), a_digest);
    }
    // B3 ties A's work (whether a tie switches is the tie rule's business); B4 and B5 are
    // heavier. Altogether A3, A2, A1 leave and B1..B5 join, in that order.
    let mut steps = Vec::new();
    for block in &f.b[2..] {
        match accept(&mut f.chain, block.clone()) {
            Ok(AcceptOutcome::TipChanged(s)) => steps.extend(s),
            Ok(AcceptOutcome::SideChain) => assert_eq!(block, &f.b[2], "only a tie stays aside"),
            other => panic!("B block refused: {other:?}"),
        }
    }
    let expected: Vec<TipStep> =
        f.a.iter()
            .rev()
            .map(|b| TipStep::Disconnected(b.clone()))
            .chain(f.b.iter().map(|b| TipStep::Connected(b.clone())))
            .collect();
    assert_eq!(steps, expected);

    assert_eq!(f.chain.tip(), f.winner.tip());
    assert_eq!(f.chain.height(), 8);
    assert_eq!(f.chain.utxo(), f.winner.utxo());
    let replayed = replay_active(&f.chain);
    assert_eq!(replayed.tip(), f.chain.tip());
    assert_eq!(replayed.utxo().digest(), f.chain.utxo().digest());
    // Nothing A created survives: not A's coinbases, not the outputs of the transactions
    // spent inside A3 (a phantom of those would be money from nowhere).
    for tx in [
        &f.only_on_a,
        &f.in_block_parent,
        &f.in_block_child,
        &f.to_bob,
    ] {
        assert!(f.chain.utxo().get(&outpoint(tx, 0)).is_none());
    }
    assert_eq!(balance(&f.chain, &f.miner_a), 0);
    assert_eq!(balance(&f.chain, &f.bob), 0);
    assert_eq!(
        balance(&f.chain, &f.alice),
        20,
        "genesis and block 2 coins are back"
    );
    assert_eq!(balance(&f.chain, &f.dave), 10);
    assert!(f.chain.is_active(&f.b[0].hash()) && !f.chain.is_active(&f.a[0].hash()));
}

#[test]
fn the_mempool_after_a_reorg_regains_valid_transactions_and_drops_conflicting_ones() {
    let mut f = Fork::new();
    let mut pool = Mempool::new(100);
    // Held before the reorganisation: one valid on both branches, one spending an A coinbase.
    let dave_pays = pay(&f.dave, &[f.dave_coin], &[(pkh(&f.carol), 10)]);
    let spends_a3_coinbase = pay(&f.miner_a, &[coinbase_of(&f.a[2])], &[(pkh(&f.carol), 10)]);
    pool.accept(dave_pays.clone(), f.chain.utxo())
        .expect("valid on A");
    pool.accept(spends_a3_coinbase.clone(), f.chain.utxo())
        .expect("valid on A");

    let mut dropped = Vec::new();
    for block in f.b.clone() {
        if let Ok(AcceptOutcome::TipChanged(steps)) = accept(&mut f.chain, block) {
            dropped.extend(
                pool.update_for_tip_change(&steps, f.chain.utxo(), |_| true)
                    .dropped,
            );
        }
    }
    assert_eq!(f.chain.tip(), f.winner.tip());
    // Reported as dropped: the held one that lost its input, and the disconnected ones that
    // cannot come back.
    dropped.sort();
    let mut expected = vec![
        spends_a3_coinbase.txid(),
        f.conflicted.txid(),
        f.only_on_a.txid(),
    ];
    expected.sort();
    assert_eq!(dropped, expected);

    let held = |t: &Transaction| pool.contains(&t.txid());
    // Back from A, still valid on B, parents before children:
    assert!(held(&f.to_bob), "A1 payment returns");
    assert!(held(&f.bob_to_carol), "its child from A2 returns too");
    assert!(
        held(&f.in_block_parent) && held(&f.in_block_child),
        "A3's chain returns"
    );
    assert!(held(&dave_pays));
    // Gone: B confirmed a conflicting spend; an input existed only on A.
    assert!(!held(&f.conflicted), "double-spent by B1");
    assert!(!held(&f.only_on_a), "spends A1's coinbase");
    assert!(!held(&spends_a3_coinbase));
    assert_eq!(pool.len(), 5);

    // What is left is exactly what a miner on B can mine.
    let txs: Vec<Transaction> = pool
        .in_order()
        .into_iter()
        .map(|(t, _)| t.clone())
        .collect();
    let (_, steps) = mine_on_with_steps(&mut f.chain, pkh(&f.alice), txs);
    pool.update_for_tip_change(&steps, f.chain.utxo(), |_| true);
    assert!(pool.is_empty());
}

#[test]
fn orphans_delivered_in_reverse_order_all_connect() {
    let alice = key(30);
    let mut source = new_chain(pkh(&alice));
    let mut fresh = source.clone();
    fresh.take_changes();
    // Six blocks, each passing the previous coinbase on.
    let mut blocks: Vec<Block> = Vec::new();
    for _ in 0..6 {
        let prev = source.block_at(source.height()).expect("tip").clone();
        let tx = pay(&alice, &[coinbase_of(&prev)], &[(pkh(&alice), 10)]);
        blocks.push(mine_on(&mut source, pkh(&alice), vec![tx]));
    }
    for block in blocks[1..].iter().rev() {
        assert_eq!(
            accept(&mut fresh, block.clone()),
            Ok(AcceptOutcome::Orphan {
                missing: block.header.prev
            })
        );
        assert!(fresh.is_orphan(&block.hash()));
        assert_eq!(fresh.height(), 0);
    }
    assert_eq!(fresh.orphan_count(), 5);
    assert_eq!(fresh.missing_ancestor(&blocks[5].hash()), blocks[0].hash());
    // A duplicate orphan is not stored twice.
    assert_eq!(
        accept(&mut fresh, blocks[3].clone()),
        Ok(AcceptOutcome::AlreadyKnown)
    );

    let steps = connected(accept(&mut fresh, blocks[0].clone()));
    let expected: Vec<TipStep> = blocks.iter().cloned().map(TipStep::Connected).collect();
    assert_eq!(steps, expected);
    assert_eq!(fresh.orphan_count(), 0);
    assert_eq!(fresh.tip(), source.tip());
    assert_eq!(fresh.utxo().digest(), source.utxo().digest());
}

#[test]
fn orphans_whose_ancestor_fails_to_connect_are_dropped_without_panicking() {
    // Tip at height 2. A side branch from genesis: H (spends nothing that exists), two
    // children of H and a grandchild under each, all delivered before H. When H arrives,
    // the second grandchild makes the branch heavier, H fails to connect, and the whole
    // branch is forgotten while the first child's own orphan still waits to be processed.
    let alice = key(40);
    let miner = pkh(&key(41));
    let mut chain = new_chain(pkh(&alice));
    mine_empty(&mut chain, pkh(&alice), 2);
    let tip = chain.tip();
    let digest = chain.utxo().digest();
    let genesis = chain.block_at(0).expect("genesis").clone();

    let nowhere = OutPoint {
        txid: Txid::from_hash(sha256(b"nowhere")),
        vout: 0,
    };
    let h = child_of(
        &genesis,
        1,
        miner,
        vec![pay(&alice, &[nowhere], &[(miner, 1)])],
        b"h",
    );
    // c1 and c2 tie the tip's work; give them hashes above the tip's so they stay aside
    // under either tie rule (first seen, or lowest hash).
    let above_tip = |tag: &str| {
        (0u32..)
            .map(|i| child_of(&h, 2, miner, vec![], format!("{tag}-{i}").as_bytes()))
            .find(|b| b.hash() > tip)
            .expect("half of all hashes are above the tip's")
    };
    let (c1, c2) = (above_tip("c1"), above_tip("c2"));
    let g1 = child_of(&c1, 3, miner, vec![], b"g1");
    let g2 = child_of(&c2, 3, miner, vec![], b"g2");
    for orphan in [&c1, &c2, &g1, &g2] {
        assert!(matches!(
            accept(&mut chain, orphan.clone()),
            Ok(AcceptOutcome::Orphan { .. })
        ));
    }
    let _ = accept(&mut chain, h.clone());

    assert_eq!(chain.tip(), tip);
    assert_eq!(chain.utxo().digest(), digest);
    assert!(chain.is_invalid(&h.hash()));
    for b in [&h, &c1, &c2, &g1, &g2] {
        assert!(
            !chain.contains(&b.hash()),
            "a block of the failed branch stayed indexed"
        );
    }
    assert_eq!(chain.orphan_count(), 0);
    // Their descendants are refused from now on.
    let g3 = child_of(&g1, 4, miner, vec![], b"g3");
    assert_eq!(
        accept(&mut chain, g3),
        Err(ValidationError::InvalidAncestor(g1.hash()))
    );
}

#[test]
fn a_heavier_branch_with_an_invalid_block_leaves_the_chain_as_it_was() {
    let mut f = Fork::new();
    let tip = f.chain.tip();
    let digest = f.chain.utxo().digest();
    // B' forks at the same point: B'1 valid, B'2 badly signed, B'3..B'5 fine on top of it.
    let fork_height = f.a[0].coinbase_height().expect("coinbase") - 1;
    let base = f.chain.block_at(fork_height).expect("fork point").clone();
    let miner = pkh(&key(26));
    let b1 = child_of(&base, fork_height + 1, miner, vec![], b"b'1");
    let mut bad = pay(&f.dave, &[f.dave_coin], &[(miner, 10)]);
    bad.inputs[0].signature = f.dave.sign(b"something else").to_vec();
    let b2 = child_of(&b1, fork_height + 2, miner, vec![bad], b"b'2");
    let b3 = child_of(&b2, fork_height + 3, miner, vec![], b"b'3");
    let b4 = child_of(&b3, fork_height + 4, miner, vec![], b"b'4");
    let b5 = child_of(&b4, fork_height + 5, miner, vec![], b"b'5");

    let mut store = Store::default();
    store.sync(&mut f.chain);
    // B'1 and B'2 have less work: side blocks. The first block that makes the branch win
    // (B'3 if a tie switches, else B'4) reaches B'2 when connecting, which fails; every
    // block after it descends from a refused block.
    let branch = [&b1, &b2, &b3, &b4, &b5];
    let mut results = Vec::new();
    for b in branch {
        results.push(accept(&mut f.chain, b.clone()));
        store.sync(&mut f.chain);
        assert_eq!(f.chain.tip(), tip);
        assert_eq!(f.chain.utxo().digest(), digest);
    }
    assert_eq!(results[0], Ok(AcceptOutcome::SideChain));
    assert_eq!(results[1], Ok(AcceptOutcome::SideChain));
    let failed = results
        .iter()
        .position(Result::is_err)
        .expect("the branch is refused");
    assert!(failed == 2 || failed == 3, "refused at B'{}", failed + 1);
    if failed == 3 {
        assert_eq!(results[2], Ok(AcceptOutcome::SideChain));
    }
    assert!(matches!(
        results[failed],
        Err(ValidationError::BadSignature { input: 0, .. })
    ));
    for i in failed + 1..branch.len() {
        assert_eq!(
            results[i],
            Err(ValidationError::InvalidAncestor(branch[i - 1].hash()))
        );
    }
    assert!(f.chain.contains(&b1.hash()) && !f.chain.is_active(&b1.hash()));
    for b in &branch[1..] {
        assert!(f.chain.is_invalid(&b.hash()) && !f.chain.contains(&b.hash()));
    }

    // The store followed: same tip and set, and the refused blocks are gone from it.
    let restored = store
        .restore(ChainParams::default())
        .expect("store is consistent");
    assert_eq!(restored.tip(), tip);
    assert_eq!(restored.utxo().digest(), digest);
    assert!(!store.0.blocks.contains_key(&b2.hash()) && store.0.blocks.contains_key(&b1.hash()));
}

#[test]
fn a_chain_restored_from_its_stored_changes_matches_and_keeps_working() {
    let mut f = Fork::new();
    // Persist everything since genesis, then the reorganisation onto B, batch by batch.
    let mut store = Store::default();
    store.sync(&mut f.chain);
    for block in f.b.clone() {
        accept(&mut f.chain, block).expect("B is valid");
        store.sync(&mut f.chain);
    }
    let mut restored = store
        .restore(ChainParams::default())
        .expect("store is consistent");
    assert_eq!(restored.tip(), f.chain.tip());
    assert_eq!(restored.height(), f.chain.height());
    assert_eq!(restored.utxo().digest(), f.chain.utxo().digest());
    assert_eq!(restored.utxo(), f.chain.utxo());
    assert_eq!(
        restored.utxo(),
        f.winner.utxo(),
        "the store holds B's set, nothing of A"
    );
    assert!(restored.contains(&f.a[2].hash()), "side blocks are kept");

    // The restored undo data works: A grows past B and both chains go back to it alike.
    let (only_a, more_a) = f.heavier_a(3);
    let mut original = f.chain.clone();
    for b in more_a {
        let x = accept(&mut original, b.clone());
        let y = accept(&mut restored, b);
        assert_eq!(x, y);
    }
    for chain in [&original, &restored] {
        assert_eq!(chain.tip(), only_a.tip());
        assert_eq!(chain.utxo(), only_a.utxo());
    }
}

#[test]
fn a_snapshot_rebuilds_the_store_even_on_top_of_batches_written_again() {
    use node_core::store::StoredChain;
    let mut f = Fork::new();
    let mut journal = vec![f.chain.take_changes()];
    for block in f.b.clone() {
        accept(&mut f.chain, block).expect("B is valid");
        journal.push(f.chain.take_changes());
    }
    let mut written = StoredChain::default();
    for c in &journal {
        written.apply(c);
    }
    // A compaction: the chain's snapshot alone, in small batches, rebuilds the same store;
    // and so does the store's own.
    let mut compacted = StoredChain::default();
    for c in f.chain.snapshot(2) {
        compacted.apply(&c);
    }
    assert_eq!(compacted, written);
    let mut again = StoredChain::default();
    for c in written.snapshot(3) {
        again.apply(&c);
    }
    assert_eq!(again, written);
    // A snapshot taken while the last batches were still queued is followed by them again:
    // the result is unchanged.
    let tail = journal.len() - 2;
    for c in &journal[tail..] {
        compacted.apply(c);
    }
    assert_eq!(compacted, written);
    let restored = compacted
        .into_chain(ChainParams::default())
        .expect("consistent")
        .expect("a chain");
    assert_eq!(restored.tip(), f.chain.tip());
    assert_eq!(restored.utxo(), f.chain.utxo());
}

#[test]
fn reindexing_the_utxo_set_gives_the_same_set() {
    let mut f = Fork::new();
    for block in f.b.clone() {
        accept(&mut f.chain, block).expect("B is valid");
    }
    let mut store = Store::default();
    store.sync(&mut f.chain);
    let digest = f.chain.utxo().digest();
    // Damage the stored set; a reindex replaces it.
    store.0.utxo.clear();
    f.chain.reindex_utxo();
    assert_eq!(f.chain.utxo().digest(), digest);
    let changes = f.chain.take_changes();
    assert!(changes.utxo_reset);
    store.0.apply(&changes);
    let restored = store
        .restore(ChainParams::default())
        .expect("store is consistent");
    assert_eq!(restored.utxo().digest(), digest);
    // The reindexed undo data disconnects B correctly when A grows heavier.
    let (only_a, more_a) = f.heavier_a(3);
    let mut restored = restored;
    for b in more_a {
        accept(&mut f.chain, b.clone()).expect("A is valid");
        accept(&mut restored, b).expect("A is valid");
    }
    assert_eq!(f.chain.utxo(), only_a.utxo());
    assert_eq!(restored.utxo(), only_a.utxo());
}

#[test]
fn payments_refuse_zero_too_much_and_overflowing_amounts() {
    let alice = key(50);
    let bob = pkh(&key(51));
    let mut chain = new_chain(pkh(&alice));
    mine_empty(&mut chain, pkh(&alice), 1);
    let pool = Mempool::new(10);
    assert_eq!(
        wallet::build_payment(&alice, bob, 0, 0, chain.utxo(), &pool),
        Err(WalletError::ZeroAmount)
    );
    assert_eq!(
        wallet::build_payment(&alice, bob, 20, 1, chain.utxo(), &pool),
        Err(WalletError::NotEnoughFunds {
            available: 20,
            needed: 21
        })
    );
    assert_eq!(
        wallet::build_payment(&alice, bob, u64::MAX, 1, chain.utxo(), &pool),
        Err(WalletError::AmountTooLarge)
    );
    let nobody = key(52);
    assert_eq!(
        wallet::build_payment(&nobody, bob, 1, 0, chain.utxo(), &pool),
        Err(WalletError::NotEnoughFunds {
            available: 0,
            needed: 1
        })
    );
    // Exactly everything, with a fee: no change output.
    let tx = wallet::build_payment(&alice, bob, 19, 1, chain.utxo(), &pool).expect("20 covers 20");
    assert_eq!(tx.outputs.len(), 1);
    assert_eq!(tx.inputs.len(), 2);
}

#[test]
fn two_payments_in_a_row_spend_unconfirmed_change() {
    let w1 = key(60);
    let (w3, w4) = (pkh(&key(61)), pkh(&key(62)));
    let mut chain = new_chain(pkh(&w1));
    let mut pool = Mempool::new(10);

    let first = wallet::build_payment(&w1, w3, 3, 0, chain.utxo(), &pool).expect("10 covers 3");
    pool.accept(first.clone(), chain.utxo()).expect("valid");
    // The only confirmed coin is spent in the mempool; the change (7) is what is left.
    assert_eq!(
        wallet::build_payment(&w1, w4, 8, 0, chain.utxo(), &pool),
        Err(WalletError::NotEnoughFunds {
            available: 7,
            needed: 8
        })
    );
    let second = wallet::build_payment(&w1, w4, 2, 1, chain.utxo(), &pool).expect("7 covers 3");
    assert_eq!(second.inputs[0].prev, outpoint(&first, 1));
    pool.accept(second.clone(), chain.utxo())
        .expect("spends unconfirmed change");
    assert_eq!(pool.txids(), vec![first.txid(), second.txid()]);

    let txs: Vec<Transaction> = pool
        .in_order()
        .into_iter()
        .map(|(t, _)| t.clone())
        .collect();
    let (block, steps) = mine_on_with_steps(&mut chain, pkh(&key(63)), txs);
    assert_eq!(
        block.transactions[0].outputs[0].value,
        SUBSIDY + 1,
        "the fee goes to the miner"
    );
    pool.update_for_tip_change(&steps, chain.utxo(), |_| true);
    assert!(pool.is_empty());
    assert_eq!(chain.utxo().balance(&pkh(&w1)), 4);
    assert_eq!(chain.utxo().balance(&w3), 3);
    assert_eq!(chain.utxo().balance(&w4), 2);
}
