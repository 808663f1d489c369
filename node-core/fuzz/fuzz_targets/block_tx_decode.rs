//! Any bytes as a block or a transaction: decoding and the context-free checks never panic,
//! and what decodes round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::consensus::params::ChainParams;
use node_core::consensus::validation::{check_block_txids as check_block, check_transaction};
use node_core::{Block, Transaction};

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode(data) {
        let _ = check_block(&block, 8, &ChainParams::default(), u64::MAX / 2);
        let _ = block.hash();
        assert_eq!(Block::decode(&block.encode()).ok(), Some(block));
    }
    if let Ok(tx) = Transaction::decode(data) {
        let _ = check_transaction(&tx);
        let _ = tx.signature_message();
        assert_eq!(Transaction::decode(&tx.encode()).ok(), Some(tx));
    }
});
