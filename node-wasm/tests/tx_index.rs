//! The transaction index follows the active chain through reorganisations and keeps to its
//! bound, with blocks built by hand (the index trusts the node's order, not the blocks).
#![cfg(target_arch = "wasm32")]

use node_core::primitives::block::Block;
use node_core::primitives::hash::PubKeyHash;
use node_core::primitives::tx::Transaction;
use node_core::{BlockHash, Hash256, Txid};
use node_wasm::tx_index::{TxIndex, MAX_INDEXED_TXS};
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

#[wasm_bindgen_test]
fn a_block_connected_again_at_a_height_replaces_what_was_there() {
    let mut index = TxIndex::default();
    let (h0, b0, t0) = block(0, ALICE, 0);
    let (h1, b1, t1) = block(1, BOB, 0);
    let (h2, b2, t2) = block(2, ALICE, 0);
    index.connect(0, h0, &b0);
    index.connect(1, h1, &b1);
    index.connect(2, h2, &b2);
    assert_eq!(index.place(&t2), Some((2, h2)));
    let alice: Vec<u64> = index.history(&ALICE).map(|(h, _, _)| h).collect();
    assert_eq!(alice, [2, 0], "newest first");

    // A reorganisation from height 1: the new branch is reported from its fork point up.
    let (h1b, b1b, t1b) = block(1, ALICE, 9);
    index.connect(1, h1b, &b1b);
    assert_eq!(
        index.place(&t1),
        None,
        "the replaced block's transaction left"
    );
    assert_eq!(index.place(&t2), None, "so did the block above it");
    assert_eq!(index.place(&t1b), Some((1, h1b)));
    assert_eq!(index.history(&BOB).count(), 0);
    assert_eq!(index.place(&t0), Some((0, h0)));

    // The tip moved back without a new block: what is above it leaves.
    index.truncate_above(Some(0));
    assert_eq!(index.place(&t1b), None);
    assert_eq!(index.len(), 1);
}

#[wasm_bindgen_test]
fn the_index_keeps_only_the_newest_transactions() {
    let mut index = TxIndex::default();
    let (_, b, _) = block(0, ALICE, 0);
    let blocks = MAX_INDEXED_TXS as u64 + 5;
    for height in 0..blocks {
        let hash = BlockHash::from_hash(Hash256([(height % 251) as u8; 32]));
        index.connect(height, hash, &b);
    }
    assert_eq!(index.len(), MAX_INDEXED_TXS);
    assert_eq!(index.lowest_height(), Some(5));
    assert_eq!(index.history(&ALICE).count(), MAX_INDEXED_TXS);
}

#[wasm_bindgen_test]
fn a_gap_starts_the_index_again() {
    let mut index = TxIndex::default();
    let (h0, b0, t0) = block(0, ALICE, 0);
    let (h5, b5, t5) = block(5, ALICE, 0);
    index.connect(0, h0, &b0);
    index.connect(5, h5, &b5);
    assert_eq!(index.place(&t0), None);
    assert_eq!(index.place(&t5), Some((5, h5)));
    assert_eq!(index.hash_at(5), Some(h5));
    assert_eq!(index.lowest_height(), Some(5));
}
