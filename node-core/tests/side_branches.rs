//! Attacks on what a node keeps of blocks that cannot become its tip soon: side branches
//! and orphans are bounded in bytes and count, whatever a peer mines.

mod support;

use node_core::chain::{
    AcceptOutcome, MAX_ORPHAN_BYTES, MAX_SIDE_BRANCH_BLOCKS, MAX_SIDE_BRANCH_BYTES,
};
use node_core::primitives::hash::sha256;
use node_core::{Block, OutPoint, Transaction, TxIn, TxOut, Txid};
use support::chain::*;
use support::*;

/// `n` transactions that pass every context-free check (shape, sizes) but spend outputs
/// that do not exist: junk that costs an attacker nothing to make, to fatten a block that
/// will never be connected.
fn junk(tag: u64, n: usize) -> Vec<Transaction> {
    let to = key(9).pubkey_hash();
    (0..n)
        .map(|i| Transaction {
            coinbase: None,
            inputs: vec![TxIn {
                prev: OutPoint {
                    txid: Txid::from_hash(sha256(
                        &[tag.to_le_bytes(), (i as u64).to_le_bytes()].concat(),
                    )),
                    vout: 0,
                },
                signature: vec![1; 64],
                public_key: vec![4; 65],
            }],
            outputs: vec![TxOut {
                value: 1,
                pubkey_hash: to,
            }],
        })
        .collect()
}

/// Review item 6: 40 siblings of block 1 of ~400 KB each (16 MB) were all kept in memory and
/// stored for a few thousand hashes each.
#[test]
fn forty_fat_siblings_of_an_active_block_cost_the_attacker_their_work_but_do_not_fill_our_memory() {
    let honest = key(1);
    let mut chain = new_chain(honest.pubkey_hash());
    let genesis = chain.block_at(0).unwrap().clone();
    // Two blocks: siblings of block 1 have less work than the tip, so they stay side blocks.
    mine_empty(&mut chain, honest.pubkey_hash(), 2);
    let tip = chain.tip();
    let mut store = Store::default();
    store.sync(&mut chain);
    let mut siblings: Vec<Block> = Vec::new();
    for s in 0..40u64 {
        let mut block = child_of(
            &genesis,
            1,
            key(2).pubkey_hash(),
            junk(s, 2_300),
            &s.to_le_bytes(),
        );
        block.header.merkle_root = block.compute_merkle_root();
        mine(&mut block);
        // Equal work to the tip: a side block, never connected, so its junk is never looked at.
        let outcome = accept(&mut chain, block.clone());
        assert!(
            matches!(outcome, Ok(AcceptOutcome::SideChain)),
            "{outcome:?}"
        );
        store.sync(&mut chain);
        siblings.push(block);
    }
    let size = siblings[0].encoded_size();
    assert!(size > 350_000, "each sibling is fat: {size} bytes");
    let (count, bytes) = chain.side_branch_size();
    // The common budget, plus the heaviest side branch's own (here one sibling: it is the
    // one that could overtake next).
    assert!(
        bytes <= MAX_SIDE_BRANCH_BYTES + size,
        "{bytes} bytes of side branches kept"
    );
    let kept = siblings
        .iter()
        .filter(|b| chain.block(&b.hash()).is_some())
        .count();
    assert_eq!(kept, count);
    assert!(
        kept < 40 && (kept - 1) * size <= MAX_SIDE_BRANCH_BYTES,
        "{kept} of 40 kept"
    );
    // Storage follows: what was forgotten was deleted there too.
    let stored = siblings
        .iter()
        .filter(|b| store.0.blocks.contains_key(&b.hash()))
        .count();
    assert_eq!(stored, kept);
    // Forgotten, not condemned: the same block may come again (and would be kept again).
    assert!(siblings.iter().all(|b| !chain.is_invalid(&b.hash())));
    assert_eq!(chain.tip(), tip);
    // The budget forgets the side blocks, never the active chain.
    assert!(chain.block(&tip).is_some());
    let reloaded = store.restore(Default::default()).unwrap();
    assert_eq!(reloaded.tip(), tip);
    assert!(reloaded.side_branch_size().1 <= MAX_SIDE_BRANCH_BYTES + size);
}

#[test]
fn thousands_of_tiny_side_blocks_are_bounded_in_count() {
    let honest = key(1);
    let mut chain = new_chain(honest.pubkey_hash());
    let genesis = chain.block_at(0).unwrap().clone();
    mine_empty(&mut chain, honest.pubkey_hash(), 2);
    for s in 0..(MAX_SIDE_BRANCH_BLOCKS as u64 + 300) {
        let block = child_of(&genesis, 1, key(3).pubkey_hash(), vec![], &s.to_le_bytes());
        assert!(accept(&mut chain, block).is_ok());
    }
    let (count, _) = chain.side_branch_size();
    assert!(
        count <= MAX_SIDE_BRANCH_BLOCKS + 1,
        "{count} side blocks kept"
    );
    assert_eq!(chain.height(), 2);
}

#[test]
fn a_side_branch_that_overtakes_is_kept_and_wins() {
    let honest = key(1);
    let mut chain = new_chain(honest.pubkey_hash());
    let genesis = chain.block_at(0).unwrap().clone();
    let main = mine_empty(&mut chain, honest.pubkey_hash(), 3);
    // A competing branch of 4 from genesis: side blocks until it has more work.
    let mut parent = genesis;
    let mut branch = Vec::new();
    for h in 1..=4u64 {
        let b = child_of(&parent, h, key(4).pubkey_hash(), vec![], b"rival");
        let outcome = accept(&mut chain, b.clone());
        if h < 4 {
            assert!(matches!(
                outcome,
                Ok(AcceptOutcome::SideChain) | Ok(AcceptOutcome::TipChanged(_))
            ));
        } else {
            assert!(
                matches!(outcome, Ok(AcceptOutcome::TipChanged(_))),
                "{outcome:?}"
            );
        }
        parent = b.clone();
        branch.push(b);
    }
    assert_eq!(chain.tip(), branch[3].hash());
    // The old main chain is a side branch now, still kept (well within the budget).
    assert!(main.iter().all(|b| chain.block(&b.hash()).is_some()));
    assert_eq!(chain.side_branch_size().0, 3);
}

#[test]
fn orphans_are_bounded_in_bytes() {
    let honest = key(1);
    let mut chain = new_chain(honest.pubkey_hash());
    let mut fake_parent = chain.block_at(0).unwrap().clone();
    fake_parent.header.nonce ^= 1; // not a block anyone has
    let mut fat = Vec::new();
    for s in 0..60u64 {
        let mut block = child_of(
            &fake_parent,
            1,
            key(5).pubkey_hash(),
            junk(100 + s, 2_300),
            &s.to_le_bytes(),
        );
        block.header.merkle_root = block.compute_merkle_root();
        mine(&mut block);
        assert!(matches!(
            accept(&mut chain, block.clone()),
            Ok(AcceptOutcome::Orphan { .. })
        ));
        fat.push(block);
    }
    let held: usize = fat
        .iter()
        .filter(|b| chain.is_orphan(&b.hash()))
        .map(Block::encoded_size)
        .sum();
    assert!(held <= MAX_ORPHAN_BYTES, "{held} bytes of orphans held");
    assert!(chain.is_orphan(&fat[59].hash()), "the newest stays");
}
