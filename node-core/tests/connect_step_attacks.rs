//! Attacks on connecting a long extension in steps ([`CONNECT_STEP_BLOCKS`]) and on the
//! slab behind [`KeyedMap`], whose removal now moves the last entry into the freed slot.
//!
//! Steps: a tab trusting its relay's assumed block holds its whole download and connects it
//! in steps of 1,000 once the assumed block arrives (or once it gives up waiting). An
//! invalid block anywhere in the held branch, at a step boundary or past it, a rival branch,
//! a crash between steps, orphans, and the mempool are each a story: by the end of every
//! event the tip is the heaviest valid block, what was stored reloads to the same chain,
//! and nothing loops or panics.
//!
//! Maps: random sequences of every operation against `BTreeMap` / `BTreeSet`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use node_core::chain::{
    AcceptOutcome, ASSUMED_BLOCK_PATIENCE_MS, CONNECT_STEP_BLOCKS, MAX_BEST_SIDE_BRANCH_BLOCKS,
};
use node_core::consensus::params::ChainParams;
use node_core::consensus::validation::ValidationError;
use node_core::node::{Action, Event, Node, Notification};
use node_core::protocol::{InvItem, Role};
use node_core::store::StoredChain;
use node_core::util::keyed_map::{KeyedMap, KeyedSet, MapKey, RawKey};
use node_core::{Block, BlockHash, Chain, Hash256, KeyPair, OutPoint, Transaction, Txid, UtxoSet};
use proptest::prelude::*;
use support::chain::*;
use support::net::config;
use support::*;

// ----- building held downloads ------------------------------------------------------------

/// The key genesis pays: the victim whose coin a forged spend takes.
fn victim() -> KeyPair {
    key(1)
}

/// The attacker's key.
fn thief() -> KeyPair {
    key(2)
}

/// The genesis every chain of this file starts from (its coinbase pays [`victim`]).
fn genesis() -> Block {
    genesis_paying(victim().pubkey_hash())
}

/// What is wrong with the one bad block of a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// It spends an output that never existed (found only when it connects).
    SpendsNothing,
    /// Its coinbase pays one coin more than the subsidy (found only when it connects).
    Overpays,
    /// It spends genesis's coin with a signature made by the thief over the victim's
    /// public key (found only when signatures are checked).
    ForgedSpend,
    /// Its coinbase names the next height (found as it is indexed).
    WrongHeight,
}

/// A block on `parent` (at `height - 1`) with `flaw`, tagged `tag`.
fn flawed_child(parent: &Block, height: u64, flaw: Flaw, tag: &[u8]) -> Block {
    let miner = thief().pubkey_hash();
    match flaw {
        Flaw::SpendsNothing => {
            let nowhere = OutPoint {
                txid: Txid::from_hash(Hash256([7; 32])),
                vout: 0,
            };
            let tx = pay(&thief(), &[nowhere], &[(miner, 10)]);
            child_of(parent, height, miner, vec![tx], tag)
        }
        Flaw::Overpays => child_paying(parent, height, miner, SUBSIDY + 1, vec![], tag),
        Flaw::ForgedSpend => {
            let coin = coinbase_of(&genesis());
            let mut forged = pay(&victim(), &[coin], &[(miner, SUBSIDY)]);
            let made_up = pay(&thief(), &[coin], &[(miner, SUBSIDY)]);
            forged.inputs[0].signature = made_up.inputs[0].signature.clone();
            child_of(parent, height, miner, vec![forged], tag)
        }
        Flaw::WrongHeight => {
            let mut b = child_of(parent, height, miner, vec![], tag);
            b.transactions[0] = Transaction::new_coinbase(height + 1, miner, SUBSIDY, tag);
            remine(&mut b);
            b
        }
    }
}

/// Genesis and `n` blocks on it (`blocks[h]` is at height `h`), tagged `tag` so two
/// branches differ, with `extra(h)` transactions in the block at height `h` and, if given,
/// `flaw` at one height.
fn download_with(
    n: u64,
    tag: &[u8],
    flaw: Option<(u64, Flaw)>,
    mut extra: impl FnMut(u64) -> Vec<Transaction>,
) -> Vec<Block> {
    let miner = key(3).pubkey_hash();
    let mut blocks = vec![genesis()];
    for h in 1..=n {
        let parent = &blocks[h as usize - 1];
        let b = match flaw {
            Some((at, f)) if at == h => flawed_child(parent, h, f, tag),
            _ => child_of(parent, h, miner, extra(h), tag),
        };
        blocks.push(b);
    }
    blocks
}

/// Genesis and `n` empty blocks tagged `tag`, with `flaw` at one height if given.
fn download(n: u64, tag: &[u8], flaw: Option<(u64, Flaw)>) -> Vec<Block> {
    download_with(n, tag, flaw, |_| Vec::new())
}

/// Parameters of a tab told by its relay that `hash` is the block at `height`.
fn trusting(height: u64, hash: BlockHash) -> ChainParams {
    ChainParams {
        assume_valid: Some((height, hash)),
        ..Default::default()
    }
}

/// Parameters of a tab told about a block that never comes (it will give up waiting).
fn trusting_a_block_that_never_comes(height: u64) -> ChainParams {
    trusting(height, BlockHash::from_hash(Hash256([0xAB; 32])))
}

/// A fresh chain on [`genesis`] with `params`.
fn fresh(params: &ChainParams) -> Chain {
    chain_with(params.clone(), genesis())
}

/// Hands `blocks` to `chain` in order; what each accept said.
fn hand_over(chain: &mut Chain, blocks: &[Block]) -> Vec<Result<AcceptOutcome, ValidationError>> {
    blocks
        .iter()
        .map(|b| chain.accept_block(b.clone(), NOW))
        .collect()
}

/// Runs [`Chain::connect_next_step`] until nothing is pending, storing each step's changes in
/// `store`; the number of blocks each step connected. A step count past the number of
/// indexed blocks is a loop.
fn drain(chain: &mut Chain, store: &mut StoredChain) -> Vec<usize> {
    let limit = chain.entries().count() + 2;
    let mut steps = Vec::new();
    while let Some(s) = chain.connect_next_step() {
        store.apply(&chain.take_changes());
        assert!(
            s.len() <= CONNECT_STEP_BLOCKS,
            "a step connected {} blocks",
            s.len()
        );
        steps.push(s.len());
        assert!(steps.len() <= limit, "connect_next_step never ends");
    }
    steps
}

/// A fresh chain that accepted the active blocks of `chain` one at a time, with every
/// signature checked: where an honest replay of the same blocks ends.
fn replayed(chain: &Chain) -> Chain {
    let mut plain = fresh(&ChainParams::default());
    for h in 1..=chain.height() {
        let b = chain.block_at(h).expect("in memory").clone();
        assert!(matches!(
            plain.accept_block(b, NOW),
            Ok(AcceptOutcome::TipChanged(_))
        ));
    }
    plain
}

/// The digest of the coins a store holds.
fn stored_digest(store: &StoredChain) -> Hash256 {
    UtxoSet::from_entries(store.utxo.iter().map(|(op, e)| (*op, *e))).digest()
}

// ----- a tab driven through its node ------------------------------------------------------

/// A tab on [`genesis`] with `params`, its actions drained.
fn tab(params: &ChainParams) -> Node {
    Node::new(tab_config(params), Some(fresh(params)))
}

fn tab_config(params: &ChainParams) -> node_core::NodeConfig {
    let mut cfg = config("3001", Role::Wallet, 2);
    cfg.params = params.clone();
    cfg
}

/// Submits each block at the test clock; what each submit said.
fn submit_all(node: &mut Node, blocks: &[Block]) -> Vec<Result<AcceptOutcome, ValidationError>> {
    blocks
        .iter()
        .map(|b| node.submit_block(NOW, b.clone()))
        .collect()
}

/// The node's tip hash and height.
fn node_tip(node: &Node) -> (BlockHash, u64) {
    let c = node.chain().expect("a chain");
    (c.tip(), c.height())
}

/// The batches among `actions`, in order.
fn persisted(actions: &[Action]) -> Vec<node_core::chain::ChainChanges> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Persist(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

// ----- invalid blocks in a held download --------------------------------------------------

/// The attacker fills a tab's held download with its own blocks, one of them spending a
/// coin that never existed (or paying its coinbase a coin too many), and the assumed block
/// on top (the relay vouched for the attacker's branch, so signatures are skipped, but no
/// other rule is). The bad block sits exactly at the end of the first step, at the start of
/// the second, in the middle of one, at the end of the second, at the start of the last
/// and just below the assumed block. Whatever the step it falls in, the tab ends on the
/// block just below it (the heaviest valid block), condemns it, forgets the assumed block
/// built on it, never stalls or loops, and its coins are those of an honest replay.
#[test]
fn a_bad_block_anywhere_in_a_held_download_leaves_the_tip_just_below_it() {
    for flaw in [Flaw::SpendsNothing, Flaw::Overpays] {
        for bad in [1_000, 1_001, 1_500, 2_000, 2_001, 2_499] {
            let blocks = download(2_500, b"attacker", Some((bad, flaw)));
            let params = trusting(2_500, blocks[2_500].hash());
            let mut chain = fresh(&params);
            let mut store = StoredChain::default();
            store.apply(&chain.take_changes());
            let results = hand_over(&mut chain, &blocks[1..]);
            store.apply(&chain.take_changes());
            assert!(
                results[..2_499]
                    .iter()
                    .all(|r| *r == Ok(AcceptOutcome::Held)),
                "{flaw:?} at {bad}: the download is held until the assumed block"
            );
            drain(&mut chain, &mut store);
            let story = format!("{flaw:?} at {bad}");
            assert_eq!(chain.height(), bad - 1, "{story}");
            assert_eq!(chain.tip(), blocks[bad as usize - 1].hash(), "{story}");
            assert!(chain.is_invalid(&blocks[bad as usize].hash()), "{story}");
            assert!(!chain.contains(&blocks[2_500].hash()), "{story}");
            assert_eq!(chain.connect_next_step(), None, "{story}: nothing left");
            assert_eq!(
                chain.utxo().digest(),
                replayed(&chain).utxo().digest(),
                "{story}"
            );
            // What was stored, step after step, reloads to the same chain.
            let reloaded = store.load(params.clone()).expect("stored");
            assert_eq!(reloaded.tip(), chain.tip(), "{story}");
            assert_eq!(reloaded.utxo().digest(), chain.utxo().digest(), "{story}");
        }
    }
}

/// The attacker's held download carries a spend of the victim's genesis coin with a forged
/// signature, and the assumed block the tab was told about never comes: the tab gives up
/// waiting and connects what it holds with every signature checked, in steps. The forged
/// spend at the end of the first step, at the start of the second or at the end of the
/// second is refused; the tip is the block below it and the victim's coin is unspent.
#[test]
fn a_forged_signature_is_refused_in_whichever_step_it_falls_after_giving_up() {
    for bad in [1_000, 1_001, 2_000] {
        let blocks = download(2_500, b"forger", Some((bad, Flaw::ForgedSpend)));
        let params = trusting_a_block_that_never_comes(5_000);
        let mut chain = fresh(&params);
        let results = hand_over(&mut chain, &blocks[1..]);
        assert!(results.iter().all(|r| *r == Ok(AcceptOutcome::Held)));
        let first = chain
            .give_up_on_assumed_block_if_stalled(NOW + ASSUMED_BLOCK_PATIENCE_MS, false)
            .expect("the wait stalled");
        assert!(first.len() <= CONNECT_STEP_BLOCKS, "forged at {bad}");
        drain(&mut chain, &mut StoredChain::default());
        assert_eq!(chain.height(), bad - 1, "forged at {bad}");
        assert!(chain.is_invalid(&blocks[bad as usize].hash()));
        assert!(
            chain.utxo().get(&coinbase_of(&genesis())).is_some(),
            "forged at {bad}: the victim's coin is still unspent"
        );
        assert!(!chain.connected_unchecked(&blocks[1].hash()));
    }
}

/// The attacker puts a block whose coinbase names the wrong height at 1,500 in the download
/// of a tab waiting for a block that never comes: it and everything above it are refused as
/// they arrive. Once the wait stalls, the tick that gives up connects the 1,499 good blocks
/// in steps; by the end of that one event the tab's tip is the 1,499th block.
#[test]
fn a_wrong_coinbase_height_cuts_the_download_and_the_tick_that_gives_up_ends_below_it() {
    let blocks = download(2_000, b"liar", Some((1_500, Flaw::WrongHeight)));
    let params = trusting_a_block_that_never_comes(3_000);
    let mut node = tab(&params);
    let results = submit_all(&mut node, &blocks[1..]);
    assert!(results[..1_499]
        .iter()
        .all(|r| *r == Ok(AcceptOutcome::Held)));
    assert!(matches!(
        results[1_499],
        Err(ValidationError::CoinbaseWrongHeight { .. })
    ));
    assert!(results[1_500..]
        .iter()
        .all(|r| matches!(r, Err(ValidationError::InvalidAncestor(_)))));
    assert_eq!(node_tip(&node).1, 0, "held, nothing connected yet");
    node.drain_actions();
    node.handle(NOW + ASSUMED_BLOCK_PATIENCE_MS, Event::Tick);
    assert_eq!(node_tip(&node), (blocks[1_499].hash(), 1_499));
    let actions = node.drain_actions();
    let batches = persisted(&actions);
    assert!(
        batches.len() >= 2,
        "1,499 blocks in two steps, each persisted"
    );
    assert!(batches.iter().all(|b| b.undo.len() <= CONNECT_STEP_BLOCKS));
}

/// Three held branches from genesis: the attacker's longest breaks at 1,500, its second
/// breaks at 1,001, and an honest one of 1,200 blocks is valid. When the tab gives up
/// waiting, each failure falls back to the next heaviest branch (a reorganisation, one
/// step, with every signature checked): the tab must end on the heaviest valid block (the
/// longest branch's 1,499th), without looping between branches.
#[test]
fn failures_in_several_held_branches_fall_back_to_the_heaviest_valid_block() {
    let a = download(2_500, b"a", Some((1_500, Flaw::SpendsNothing)));
    let b = download(2_400, b"b", Some((1_001, Flaw::Overpays)));
    let c = download(1_200, b"c", None);
    let params = trusting_a_block_that_never_comes(5_000);
    let mut chain = fresh(&params);
    for branch in [&c, &b, &a] {
        for r in hand_over(&mut chain, &branch[1..]) {
            assert!(r.is_ok(), "{r:?}");
        }
    }
    chain
        .give_up_on_assumed_block_if_stalled(NOW + ASSUMED_BLOCK_PATIENCE_MS, false)
        .expect("the wait stalled");
    drain(&mut chain, &mut StoredChain::default());
    assert_eq!(chain.tip(), a[1_499].hash());
    assert!(chain.is_invalid(&a[1_500].hash()));
    assert_eq!(chain.utxo().digest(), replayed(&chain).utxo().digest());
}

// ----- step boundaries and reloads ---------------------------------------------------------

/// Held downloads of exactly one step, one step and a block, two steps, and two steps and a
/// block: the assumed block's arrival connects the first step, and the rest takes exactly
/// the steps it needs (none after a whole step); the tip is the assumed block.
#[test]
fn held_downloads_at_the_step_boundaries_take_exactly_the_steps_they_need() {
    let blocks = download(2_001, b"boundary", None);
    for (n, rest) in [
        (1_000u64, vec![]),
        (1_001, vec![1]),
        (2_000, vec![1_000]),
        (2_001, vec![1_000, 1]),
    ] {
        let params = trusting(n, blocks[n as usize].hash());
        let mut chain = fresh(&params);
        let results = hand_over(&mut chain, &blocks[1..=n as usize]);
        let Some(Ok(AcceptOutcome::TipChanged(first))) = results.last() else {
            panic!("{n}: the assumed block connects: {:?}", results.last());
        };
        assert_eq!(first.len(), CONNECT_STEP_BLOCKS, "{n}");
        assert_eq!(drain(&mut chain, &mut StoredChain::default()), rest, "{n}");
        assert_eq!(chain.tip(), blocks[n as usize].hash(), "{n}");
    }
}

/// A tab closes between any two steps (its journal has the batches up to that step). After
/// every step what is stored names the chain's tip and holds its coins; and a reload from
/// the journal cut after any step resumes to the assumed block, with the same coins as the
/// tab that never closed.
#[test]
fn a_reload_after_any_step_resumes_to_the_same_tip_and_coins() {
    // A payment of genesis's coin at 400, so the coins change with more than coinbases.
    let payment = pay(
        &victim(),
        &[coinbase_of(&genesis())],
        &[(key(5).pubkey_hash(), SUBSIDY)],
    );
    let fixed = download_with(2_500, b"journal", None, |h| {
        if h == 400 {
            vec![payment.clone()]
        } else {
            vec![]
        }
    });
    let params = trusting(2_500, fixed[2_500].hash());
    let mut chain = fresh(&params);
    let mut journal = vec![chain.take_changes()];
    for b in &fixed[1..] {
        chain.accept_block(b.clone(), NOW).expect("valid");
        journal.push(chain.take_changes());
    }
    // The batches up to the assumed block's, which carries the first step.
    let first_step = journal.len();
    let mut store = StoredChain::default();
    for b in &journal {
        store.apply(b);
    }
    assert_eq!(store.tip, Some(chain.tip()));
    assert_eq!(stored_digest(&store), chain.utxo().digest());
    while chain.connect_next_step().is_some() {
        let c = chain.take_changes();
        store.apply(&c);
        journal.push(c);
        assert_eq!(store.tip, Some(chain.tip()), "the stored tip is the tip");
        assert_eq!(
            stored_digest(&store),
            chain.utxo().digest(),
            "the stored coins are the tip's"
        );
    }
    assert_eq!(chain.tip(), fixed[2_500].hash());
    assert!(journal.len() > first_step + 1, "more than one step");
    for cut in first_step..=journal.len() {
        let mut partial = StoredChain::default();
        for b in &journal[..cut] {
            partial.apply(b);
        }
        let mut reloaded = partial.load(params.clone()).expect("stored");
        // What the load itself connected is written first (as `Node::new` does).
        partial.apply(&reloaded.take_changes());
        drain(&mut reloaded, &mut partial);
        assert_eq!(reloaded.tip(), chain.tip(), "journal cut at {cut}");
        assert_eq!(
            reloaded.utxo().digest(),
            chain.utxo().digest(),
            "journal cut at {cut}"
        );
        assert_eq!(
            stored_digest(&partial),
            chain.utxo().digest(),
            "journal cut at {cut}: stored coins"
        );
        assert_eq!(partial.tip, Some(chain.tip()), "journal cut at {cut}");
    }
}

/// A tab trusting its relay held a download longer than the side-branch budget allows the
/// heaviest side branch (20,000 blocks, or 64 MB of full blocks), and was closed after the
/// first step was stored. The reload finds the rest stored but not connected; it connects
/// one more step and must keep the rest to connect next, not take it for a side branch and
/// forget it (with the assumed block), which leaves the tab far below the block its relay
/// vouched for, its journal told to delete the download.
#[test]
fn a_tab_closed_after_the_first_step_keeps_the_rest_of_a_long_download_on_reload() {
    let n = (MAX_BEST_SIDE_BRANCH_BLOCKS + 2 * CONNECT_STEP_BLOCKS + 500) as u64;
    let blocks = download(n, b"long", None);
    let params = trusting(n, blocks[n as usize].hash());
    let mut chain = fresh(&params);
    let mut store = StoredChain::default();
    store.apply(&chain.take_changes());
    let results = hand_over(&mut chain, &blocks[1..]);
    assert!(matches!(
        results.last(),
        Some(Ok(AcceptOutcome::TipChanged(_)))
    ));
    // The first step is stored; the tab closes before the next.
    store.apply(&chain.take_changes());
    assert_eq!(store.tip, Some(blocks[CONNECT_STEP_BLOCKS].hash()));
    let mut reloaded = store.load(params.clone()).expect("stored");
    assert!(
        reloaded.contains(&blocks[n as usize].hash()),
        "the reload still knows the assumed block"
    );
    let mut after = store.clone();
    after.apply(&reloaded.take_changes());
    drain(&mut reloaded, &mut after);
    assert_eq!(
        reloaded.height(),
        n,
        "the reload ends at the assumed block, not {}",
        reloaded.height()
    );
    assert!(after.blocks.contains_key(&blocks[n as usize].hash()));
}

/// The same reload through a node: a tab restarted from a journal cut after the first step
/// is a node whose chain has a step pending. Before any event it already tells a page, and
/// a peer it greets, its tip: that must be where its stored download leads, not the end of
/// the step the load connected.
#[test]
fn a_node_restarted_between_steps_starts_at_its_heaviest_stored_block() {
    let blocks = download(3_500, b"restart", None);
    let params = trusting(3_500, blocks[3_500].hash());
    let mut chain = fresh(&params);
    let mut store = StoredChain::default();
    store.apply(&chain.take_changes());
    hand_over(&mut chain, &blocks[1..]);
    store.apply(&chain.take_changes());
    let node = Node::new(tab_config(&params), store.load(params.clone()));
    assert_eq!(node_tip(&node), (blocks[3_500].hash(), 3_500));
}

/// After a restart between steps, the node's first event (whatever it is) ends with the
/// tip at the assumed block, and what it persisted on the way reloads to the same chain.
#[test]
fn a_node_restarted_between_steps_ends_its_first_event_at_the_assumed_block() {
    let blocks = download(3_500, b"restart", None);
    let params = trusting(3_500, blocks[3_500].hash());
    let mut chain = fresh(&params);
    let mut store = StoredChain::default();
    store.apply(&chain.take_changes());
    hand_over(&mut chain, &blocks[1..]);
    store.apply(&chain.take_changes());
    let mut node = Node::new(tab_config(&params), store.load(params.clone()));
    node.handle(NOW, Event::Tick);
    assert_eq!(node_tip(&node), (blocks[3_500].hash(), 3_500));
    for b in persisted(&node.drain_actions()) {
        store.apply(&b);
    }
    let reloaded = store.load(params).expect("stored");
    assert_eq!(reloaded.tip(), blocks[3_500].hash());
    assert_eq!(
        reloaded.utxo().digest(),
        node.chain().expect("chain").utxo().digest()
    );
}

// ----- rival branches ----------------------------------------------------------------------

/// A tab trusting the honest relay's block at 2,500 holds the honest download up to 2,499.
/// The attacker then sends its own branch from genesis past the assumed height (so the tab
/// stops trusting anything and checks every block), with a block spending nothing at
/// 1,500. Its first step connects in the event of its last block; the next step fails;
/// by the end of that same event the tip must be the heaviest valid block, the honest
/// 2,499th, and the honest 2,500th then extends it.
#[test]
fn an_attackers_longer_branch_failing_in_its_second_step_gives_way_to_the_honest_download() {
    let honest = download(2_500, b"honest", None);
    let attacker = download(2_501, b"attacker", Some((1_500, Flaw::SpendsNothing)));
    let params = trusting(2_500, honest[2_500].hash());
    let mut node = tab(&params);
    for r in submit_all(&mut node, &honest[1..2_500]) {
        assert_eq!(r, Ok(AcceptOutcome::Held));
    }
    for r in submit_all(&mut node, &attacker[1..2_501]) {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(node_tip(&node).1, 0, "all held until the assumed height");
    let last = node.submit_block(NOW, attacker[2_501].clone());
    assert!(last.is_ok(), "its first step connects: {last:?}");
    assert_eq!(
        node_tip(&node),
        (honest[2_499].hash(), 2_499),
        "by the end of the event the heaviest valid block"
    );
    let c = node.chain().expect("chain");
    assert!(c.is_invalid(&attacker[1_500].hash()));
    assert_eq!(
        node.submit_block(NOW, honest[2_500].clone())
            .map(|o| matches!(o, AcceptOutcome::TipChanged(_))),
        Ok(true)
    );
    assert_eq!(node_tip(&node), (honest[2_500].hash(), 2_500));
    let c = node.chain().expect("chain");
    assert_eq!(c.utxo().digest(), replayed(c).utxo().digest());
}

/// A chain used directly (not through a node) with a step still pending: a heavier branch
/// forking below the tip arrives block by block before the next step is asked for. Each
/// block may reorganise; whenever the steps are then drained, the tip is the heaviest block
/// of either branch, with the coins of a replay.
#[test]
fn a_heavier_branch_arriving_while_a_step_is_pending_wins_once_the_steps_run() {
    let held = download(2_500, b"held", None);
    let rival = {
        let mut r = held[..=500].to_vec();
        for h in 501..=2_600u64 {
            let parent = r.last().expect("genesis").clone();
            r.push(child_of(&parent, h, key(6).pubkey_hash(), vec![], b"rival"));
        }
        r
    };
    let params = trusting(2_500, held[2_500].hash());
    let mut chain = fresh(&params);
    hand_over(&mut chain, &held[1..]);
    assert_eq!(chain.height(), CONNECT_STEP_BLOCKS as u64);
    for r in hand_over(&mut chain, &rival[501..]) {
        assert!(r.is_ok(), "{r:?}");
    }
    drain(&mut chain, &mut StoredChain::default());
    assert_eq!(chain.tip(), rival[2_600].hash());
    assert_eq!(chain.utxo().digest(), replayed(&chain).utxo().digest());
}

/// The same race, and what the chain keeps: the pending branch the rival overtook is no
/// longer the best, so its blocks are side blocks, counted against the side-branch budget
/// (and forgotten first when over it). Every indexed block is active or on the side list.
#[test]
fn an_overtaken_pending_branch_is_accounted_as_a_side_branch() {
    let held = download(2_500, b"held", None);
    let mut rival = held[..=500].to_vec();
    for h in 501..=2_600u64 {
        let parent = rival.last().expect("genesis").clone();
        rival.push(child_of(&parent, h, key(6).pubkey_hash(), vec![], b"rival"));
    }
    let params = trusting(2_500, held[2_500].hash());
    let mut chain = fresh(&params);
    hand_over(&mut chain, &held[1..]);
    hand_over(&mut chain, &rival[501..]);
    drain(&mut chain, &mut StoredChain::default());
    let indexed = chain.entries().count();
    assert_eq!(
        indexed,
        chain.height() as usize + 1 + chain.side_branch_size().0,
        "indexed blocks neither active nor on the side list"
    );
}

// ----- orphans and the mempool --------------------------------------------------------------

/// The download arrives out of order: the block at 1,500 comes last, after the 50 blocks
/// above it (orphans), the assumed block among them. Its arrival indexes the orphans, the
/// assumed block starts the steps in the middle of that cascade, and the blocks after it in
/// the cascade extend the tip; by the end of the event the tip is the highest block and no
/// orphan is left.
#[test]
fn orphans_released_in_the_middle_of_the_steps_end_at_the_highest_block() {
    let blocks = download(1_550, b"orphans", None);
    let params = trusting(1_520, blocks[1_520].hash());
    let mut node = tab(&params);
    for r in submit_all(&mut node, &blocks[1..1_500]) {
        assert_eq!(r, Ok(AcceptOutcome::Held));
    }
    for r in submit_all(&mut node, &blocks[1_501..]) {
        assert!(matches!(r, Ok(AcceptOutcome::Orphan { .. })), "{r:?}");
    }
    let r = node.submit_block(NOW, blocks[1_500].clone());
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(node_tip(&node), (blocks[1_550].hash(), 1_550));
    let c = node.chain().expect("chain");
    assert_eq!(c.orphan_count(), 0);
    assert_eq!(c.utxo().digest(), replayed(c).utxo().digest());
}

/// A tab holding its download has payments in its mempool: `a` spends genesis's coin and
/// `b` spends `a`. The held branch confirms `a` in the second step and `b` in the third,
/// or confirms a conflicting spend of genesis's coin right at the start of the second
/// step. After the event, the mempool holds none of the confirmed transactions nor what
/// conflicts with them; with only `a` confirmed, `b` stays.
#[test]
fn the_mempool_after_the_steps_holds_nothing_the_steps_confirmed_or_spent() {
    let coin = coinbase_of(&genesis());
    let a = pay(&victim(), &[coin], &[(key(7).pubkey_hash(), SUBSIDY)]);
    let b = pay(
        &key(7),
        &[outpoint(&a, 0)],
        &[(key(8).pubkey_hash(), SUBSIDY)],
    );
    let rival = pay(&victim(), &[coin], &[(key(9).pubkey_hash(), SUBSIDY)]);
    type Case = (&'static str, Vec<(u64, Transaction)>, Vec<Txid>);
    let cases: Vec<Case> = vec![
        (
            "both confirmed",
            vec![(1_500, a.clone()), (2_001, b.clone())],
            vec![],
        ),
        ("only a confirmed", vec![(1_500, a.clone())], vec![b.txid()]),
        ("a conflict confirmed", vec![(1_001, rival.clone())], vec![]),
    ];
    for (story, placed, left) in cases {
        let blocks = download_with(2_500, b"mempool", None, |h| {
            placed
                .iter()
                .filter(|(at, _)| *at == h)
                .map(|(_, tx)| tx.clone())
                .collect()
        });
        let params = trusting(2_500, blocks[2_500].hash());
        let mut node = tab(&params);
        assert!(node.submit_transaction(NOW, a.clone()).is_ok(), "{story}");
        assert!(node.submit_transaction(NOW, b.clone()).is_ok(), "{story}");
        submit_all(&mut node, &blocks[1..]);
        assert_eq!(node_tip(&node).1, 2_500, "{story}");
        assert_eq!(node.mempool().txids(), left, "{story}");
        let c = node.chain().expect("chain");
        for txid in node.mempool().txids() {
            let tx = node.mempool().get(&txid).expect("held");
            for input in &tx.inputs {
                assert!(
                    c.utxo().get(&input.prev).is_some(),
                    "{story}: spends a coin"
                );
            }
        }
    }
}

/// Through a node, every step's batch is persisted and every step's tip announced: the
/// tab's notifications say the tip was at each step's end, and the batches, written in
/// order, store the chain the node has.
#[test]
fn every_step_of_a_node_is_persisted_and_reported_in_order() {
    let blocks = download(2_300, b"notify", None);
    let params = trusting(2_300, blocks[2_300].hash());
    let mut node = tab(&params);
    let mut store = StoredChain::default();
    for b in persisted(&node.drain_actions()) {
        store.apply(&b);
    }
    submit_all(&mut node, &blocks[1..]);
    let actions = node.drain_actions();
    for b in persisted(&actions) {
        store.apply(&b);
    }
    let heights: Vec<u64> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify(Notification::TipChanged { height, .. }) => Some(*height),
            _ => None,
        })
        .collect();
    assert_eq!(heights, [1_000, 2_000, 2_300]);
    let reloaded = store.load(params).expect("stored");
    assert_eq!(reloaded.tip(), blocks[2_300].hash());
    assert_eq!(
        reloaded.utxo().digest(),
        node.chain().expect("chain").utxo().digest()
    );
}

// ----- KeyedMap against BTreeMap ------------------------------------------------------------

/// One operation on a map under test.
#[derive(Debug, Clone)]
enum Op {
    Insert(usize, u32),
    Remove(usize),
    /// Removes the key most recently inserted new (the slab's last slot, unless a removal
    /// moved it since).
    RemoveNewest,
    GetOrInsert(usize, u32),
    GetMut(usize, u32),
    Retain(u32),
    Clear,
    Check,
}

fn arb_op(keys: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (0..keys + 2).prop_map(Op::Remove),
        2 => Just(Op::RemoveNewest),
        2 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
        1 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        1 => (2..5u32).prop_map(Op::Retain),
        1 => Just(Op::Clear),
        2 => Just(Op::Check),
    ]
}

/// Runs `ops` on a `KeyedMap<K, u32>` and on a `BTreeMap` keyed by each key's raw form (the
/// map's documented order), checking every answer, and the whole contents at each `Check`
/// and at the end. Keys past `keys.len()` are absent keys.
fn agrees_with_btree<K: MapKey + std::fmt::Debug>(
    keys: &[K],
    absent: &[K],
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut ours: KeyedMap<K, u32> = KeyedMap::new();
    let mut model: BTreeMap<RawKey, (K, u32)> = BTreeMap::new();
    let mut newest: Option<K> = None;
    let pick = |i: usize| {
        if i < keys.len() {
            keys[i]
        } else {
            absent[i % absent.len()]
        }
    };
    let same = |ours: &KeyedMap<K, u32>,
                model: &BTreeMap<RawKey, (K, u32)>|
     -> Result<(), TestCaseError> {
        prop_assert_eq!(ours.len(), model.len());
        prop_assert_eq!(ours.is_empty(), model.is_empty());
        prop_assert!(ours
            .iter()
            .map(|(k, v)| (*k, *v))
            .eq(model.values().copied()));
        prop_assert!(ours
            .iter()
            .rev()
            .map(|(k, v)| (*k, *v))
            .eq(model.values().rev().copied()));
        prop_assert_eq!(
            ours.first_key_value().map(|(k, v)| (*k, *v)),
            model.values().next().copied()
        );
        prop_assert_eq!(ours.iter().size_hint(), (model.len(), Some(model.len())));
        for k in keys.iter().chain(absent) {
            prop_assert_eq!(ours.get(k).copied(), model.get(&k.raw()).map(|(_, v)| *v));
            prop_assert_eq!(ours.contains_key(k), model.contains_key(&k.raw()));
        }
        Ok(())
    };
    for op in ops {
        match *op {
            Op::Insert(i, v) => {
                let k = pick(i);
                let old = model.insert(k.raw(), (k, v)).map(|(_, v)| v);
                if old.is_none() {
                    newest = Some(k);
                }
                prop_assert_eq!(ours.insert(k, v), old);
            }
            Op::Remove(i) => {
                let k = pick(i);
                prop_assert_eq!(ours.remove(&k), model.remove(&k.raw()).map(|(_, v)| v));
            }
            Op::RemoveNewest => {
                if let Some(k) = newest.take() {
                    prop_assert_eq!(ours.remove(&k), model.remove(&k.raw()).map(|(_, v)| v));
                    // Removed twice: the second finds nothing and moves nothing.
                    prop_assert_eq!(ours.remove(&k), None);
                }
            }
            Op::GetOrInsert(i, v) => {
                let k = pick(i);
                let had = model.contains_key(&k.raw());
                let mut made = false;
                let got = *ours.get_or_insert_with(k, || {
                    made = true;
                    v
                });
                let entry = model.entry(k.raw()).or_insert_with(|| (k, v));
                prop_assert_eq!(got, entry.1);
                if made {
                    newest = Some(k);
                }
                prop_assert_eq!(made, !had, "make runs only for a new key");
            }
            Op::GetMut(i, v) => {
                let k = pick(i);
                match (ours.get_mut(&k), model.get_mut(&k.raw())) {
                    (Some(a), Some(b)) => {
                        *a = v;
                        b.1 = v;
                    }
                    (None, None) => {}
                    (a, b) => prop_assert!(false, "get_mut disagrees: {:?} vs {:?}", a, b),
                }
            }
            Op::Retain(m) => {
                let mut seen_ours = Vec::new();
                ours.retain(|k, v| {
                    seen_ours.push(*k);
                    *v = v.wrapping_add(1);
                    *v % m != 0
                });
                let mut seen_model = Vec::new();
                model.retain(|_, (k, v)| {
                    seen_model.push(*k);
                    *v = v.wrapping_add(1);
                    *v % m != 0
                });
                prop_assert_eq!(seen_ours, seen_model, "retain visits in key order");
                if newest.is_some_and(|k| !model.contains_key(&k.raw())) {
                    newest = None;
                }
            }
            Op::Clear => {
                ours.clear();
                model.clear();
                newest = None;
            }
            Op::Check => same(&ours, &model)?,
        }
        prop_assert_eq!(ours.len(), model.len());
    }
    same(&ours, &model)?;
    let cloned = ours.clone();
    prop_assert!(cloned == ours);
    prop_assert!(ours
        .into_iter()
        .eq(model.values().copied().collect::<Vec<_>>()));
    prop_assert!(cloned
        .into_values()
        .eq(model.values().map(|(_, v)| *v).collect::<Vec<_>>()));
    Ok(())
}

fn block_key(n: u8) -> BlockHash {
    let mut b = [0u8; 32];
    b[31] = n;
    b[0] = n.wrapping_mul(37);
    BlockHash::from_hash(Hash256(b))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random churn over a handful of block hashes (so keys are removed, reinserted and
    /// moved about the slab all the time), with absent keys removed too: every answer, the
    /// order, the first entry, `retain`'s order of visits, `clear`, `into_iter` and
    /// `into_values` are `BTreeMap`'s.
    #[test]
    fn keyed_maps_of_hashes_agree_with_btree_maps(ops in proptest::collection::vec(arb_op(12), 0..300)) {
        let keys: Vec<BlockHash> = (0..12).map(block_key).collect();
        let absent: Vec<BlockHash> = (200..202).map(block_key).collect();
        agrees_with_btree(&keys, &absent, &ops)?;
    }

    /// The same with outpoints that share a txid and differ by output.
    #[test]
    fn keyed_maps_of_outpoints_agree_with_btree_maps(ops in proptest::collection::vec(arb_op(10), 0..300)) {
        let keys: Vec<OutPoint> = (0..10u32)
            .map(|i| OutPoint { txid: Txid::from_hash(Hash256([(i % 3) as u8; 32])), vout: i })
            .collect();
        let absent = vec![OutPoint { txid: Txid::from_hash(Hash256([9; 32])), vout: 0 }];
        agrees_with_btree(&keys, &absent, &ops)?;
    }

    /// Announced items: a block and a transaction with the same hash are two keys.
    #[test]
    fn keyed_maps_of_announced_items_agree_with_btree_maps(ops in proptest::collection::vec(arb_op(8), 0..300)) {
        let keys: Vec<InvItem> = (0..8u8)
            .map(|i| {
                let h = Hash256([i / 2; 32]);
                if i % 2 == 0 {
                    InvItem::Block(BlockHash::from_hash(h))
                } else {
                    InvItem::Tx(Txid::from_hash(h))
                }
            })
            .collect();
        let absent = vec![InvItem::Tx(Txid::from_hash(Hash256([0xEE; 32])))];
        agrees_with_btree(&keys, &absent, &ops)?;
    }

    /// Sets: inserts, removals of present and absent members, retain, clear and the
    /// consuming iterator are `BTreeSet`'s.
    #[test]
    fn keyed_sets_agree_with_btree_sets(ops in proptest::collection::vec((0..4u8, 0..14u8), 0..300)) {
        let mut ours: KeyedSet<BlockHash> = KeyedSet::new();
        let mut model: BTreeSet<BlockHash> = BTreeSet::new();
        for (kind, n) in ops {
            let k = block_key(n);
            match kind {
                0 | 1 => prop_assert_eq!(ours.insert(k), model.insert(k)),
                2 => prop_assert_eq!(ours.remove(&k), model.remove(&k)),
                _ if n == 13 => {
                    ours.clear();
                    model.clear();
                }
                _ => {
                    ours.retain(|h| h.to_hash().0[31] % 3 != n % 3);
                    model.retain(|h| h.to_hash().0[31] % 3 != n % 3);
                }
            }
            prop_assert_eq!(ours.len(), model.len());
            prop_assert!(ours.iter().eq(model.iter()));
            prop_assert!((0..14).all(|i| ours.contains(&block_key(i)) == model.contains(&block_key(i))));
        }
        prop_assert!((&ours).into_iter().eq(model.iter()));
        prop_assert!(ours.into_iter().eq(model));
    }
}

/// Removing the entry in the slab's last slot, the only entry, the same key twice, and
/// keys that were never there; then reinserting: nothing is lost or duplicated, and a
/// removed key's old value never comes back.
#[test]
fn removing_the_last_slot_the_only_entry_and_absent_keys_loses_nothing() {
    let mut m: KeyedMap<BlockHash, u32> = KeyedMap::new();
    assert_eq!(m.remove(&block_key(1)), None, "from an empty map");
    m.insert(block_key(1), 1);
    assert_eq!(m.remove(&block_key(1)), Some(1), "the only entry");
    assert_eq!(m.remove(&block_key(1)), None);
    assert!(m.is_empty() && m.iter().next().is_none());
    for n in 1..=5 {
        m.insert(block_key(n), u32::from(n));
    }
    assert_eq!(m.remove(&block_key(5)), Some(5), "the last slot");
    assert_eq!(m.remove(&block_key(9)), None, "never there");
    assert_eq!(
        m.remove(&block_key(1)),
        Some(1),
        "the first slot: 4 moves in"
    );
    assert_eq!(
        m.remove(&block_key(4)),
        Some(4),
        "the moved entry, now the first slot"
    );
    m.insert(block_key(5), 50);
    m.insert(block_key(1), 10);
    assert_eq!(m.get(&block_key(5)), Some(&50));
    assert_eq!(m.get(&block_key(4)), None);
    let all: Vec<(BlockHash, u32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
    let mut expected = vec![
        (block_key(1), 10),
        (block_key(2), 2),
        (block_key(3), 3),
        (block_key(5), 50),
    ];
    expected.sort();
    assert_eq!(all, expected);
    for (k, _) in &expected {
        assert!(m.remove(k).is_some());
    }
    assert!(m.is_empty() && m.first_key_value().is_none());
}

/// A `make` that panics inside `get_or_insert_with` (a native relay whose task survives a
/// panic, behind `catch_unwind`): the map must stay a map. Here the key was indexed before
/// `make` ran, so the map counts an entry it cannot return; removing that key moves the
/// last entry into its slot, and the moved key must still be found (it once was not: the
/// removal returned early on the empty slot without re-pointing it).
#[test]
fn a_panicking_make_leaves_the_map_consistent() {
    let mut m: KeyedMap<BlockHash, u32> = KeyedMap::new();
    m.insert(block_key(1), 1);
    m.insert(block_key(2), 2);
    let r = catch_unwind(AssertUnwindSafe(|| {
        m.get_or_insert_with(block_key(3), || panic!("make failed"));
    }));
    assert!(r.is_err());
    m.insert(block_key(4), 4);
    m.remove(&block_key(3));
    m.insert(block_key(5), 5);
    assert_eq!(m.get(&block_key(4)), Some(&4));
    assert_eq!(m.len(), m.iter().count());
    assert!(!m.contains_key(&block_key(3)) || m.get(&block_key(3)).is_some());
}
