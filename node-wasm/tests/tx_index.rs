//! The transaction index follows the active chain through reorganisations and keeps to its
//! bound, with blocks built by hand (the index trusts the node's order, not the blocks).
#![cfg(target_arch = "wasm32")]

use node_core::primitives::block::Block;
use node_core::primitives::hash::PubKeyHash;
use node_core::primitives::tx::Transaction;
use node_core::{BlockHash, Hash256, Txid};
use node_wasm::tx_index::{TxIndex, MAX_INDEXED_TXS};
use std::borrow::Cow;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const ALICE: PubKeyHash = PubKeyHash([1; 20]);
const BOB: PubKeyHash = PubKeyHash([2; 20]);

/// A block at `height` whose coinbase pays `to`; `tag` tells apart blocks of one height.
fn block(height: u64, to: PubKeyHash, tag: u8) -> (BlockHash, Block, Txid) {
    let coinbase = Transaction::new_coinbase(height, to, 10, &[tag]);
    let txid = coinbase.txid();
    let block = Block::new_template(BlockHash::ZERO, 0, 1, vec![coinbase]);
    (block.hash(), block, txid)
}

/// The blocks a test stored, as the chain would hand them to the index.
fn store(blocks: &[&(BlockHash, Block, Txid)]) -> Vec<(BlockHash, Block)> {
    blocks.iter().map(|(h, b, _)| (*h, b.clone())).collect()
}

#[wasm_bindgen_test]
fn a_block_connected_again_at_a_height_replaces_what_was_there() {
    let mut index = TxIndex::default();
    let (b0, b1, b2, b1b) = (
        block(0, ALICE, 0),
        block(1, BOB, 0),
        block(2, ALICE, 0),
        block(1, ALICE, 9),
    );
    let stored = store(&[&b0, &b1, &b2, &b1b]);
    let block_of = |h: &BlockHash| {
        stored
            .iter()
            .find(|(s, _)| s == h)
            .map(|(_, b)| Cow::Borrowed(b))
    };
    let ((h0, _, t0), (h1, _, t1), (h2, _, t2), (h1b, _, t1b)) = (&b0, &b1, &b2, &b1b);
    let (h0, h1, h2, h1b) = (*h0, *h1, *h2, *h1b);
    index.connect(0, h0, 1);
    index.connect(1, h1, 1);
    index.connect(2, h2, 1);
    assert_eq!(index.place(t2, &block_of), Some((2, h2)));
    let alice: Vec<u64> = index
        .history(&ALICE, &block_of, 10)
        .into_iter()
        .map(|(h, _, _)| h)
        .collect();
    assert_eq!(alice, [2, 0], "newest first");

    // A reorganisation from height 1: the new branch is reported from its fork point up.
    index.connect(1, h1b, 1);
    assert_eq!(
        index.place(t1, &block_of),
        None,
        "the replaced block's transaction left"
    );
    assert_eq!(
        index.place(t2, &block_of),
        None,
        "so did the block above it"
    );
    assert_eq!(index.place(t1b, &block_of), Some((1, h1b)));
    assert_eq!(index.history(&BOB, &block_of, 10).len(), 0);
    assert_eq!(index.place(t0, &block_of), Some((0, h0)));

    // The tip moved back without a new block: what is above it leaves.
    index.truncate_above(Some(0));
    assert_eq!(index.place(t1b, &block_of), None);
    assert_eq!(index.len(), 1);
}

#[wasm_bindgen_test]
fn the_index_keeps_only_the_newest_transactions() {
    let mut index = TxIndex::default();
    let (_, b, _) = block(0, ALICE, 0);
    let block_of = |_: &BlockHash| Some(Cow::Borrowed(&b));
    let blocks = MAX_INDEXED_TXS as u64 + 5;
    for height in 0..blocks {
        let hash = BlockHash::from_hash(Hash256([(height % 251) as u8; 32]));
        index.connect(height, hash, 1);
    }
    assert_eq!(index.len(), MAX_INDEXED_TXS);
    assert_eq!(index.lowest_height(), Some(5));
    assert_eq!(
        index.history(&ALICE, &block_of, usize::MAX).len(),
        MAX_INDEXED_TXS
    );
}

#[wasm_bindgen_test]
fn a_gap_starts_the_index_again() {
    let mut index = TxIndex::default();
    let (b0, b5) = (block(0, ALICE, 0), block(5, ALICE, 0));
    let stored = store(&[&b0, &b5]);
    let block_of = |h: &BlockHash| {
        stored
            .iter()
            .find(|(s, _)| s == h)
            .map(|(_, b)| Cow::Borrowed(b))
    };
    let ((h0, _, t0), (h5, _, t5)) = (&b0, &b5);
    let (h0, h5) = (*h0, *h5);
    assert!(index.connect(0, h0, 1), "the genesis starts an index");
    assert!(!index.connect(5, h5, 1), "a gap is reported");
    assert_eq!(index.place(t0, &block_of), None);
    assert_eq!(index.place(t5, &block_of), Some((5, h5)));
    assert_eq!(index.hash_at(5), Some(h5));
    assert_eq!(index.lowest_height(), Some(5));
}
