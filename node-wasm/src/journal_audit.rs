//! What a load may trust of the chain journal: nothing that the stored blocks do not prove.
//!
//! # Why
//! A load folds the journal's records into blocks, undo data, a UTXO set and a tip, and
//! `Chain::from_stored` takes all four as they are. IndexedDB can be damaged, or edited from
//! the browser's developer tools: a UTXO record with a larger value, or one more, would be
//! coins that no block ever created; undo data that does not match its block would create
//! them on the next reorganisation; a block body swapped under its header would be a history
//! no peer agrees with. So before the journal is used, [`audit`] replays the active chain
//! from genesis with every rule that decides who owns what (node-core's context-free block
//! checks: proof of work, Merkle root, sizes, one coinbase; then each input exists, belongs
//! to the key presented and covers its outputs, the coinbase claims no more than subsidy
//! and fees, its height is the block's) and requires the stored UTXO set and the active
//! blocks' undo data to be exactly what that replay produces. Side-branch blocks must match
//! their headers too. A journal that fails is not trusted at all: the driver drops it and
//! downloads the chain again.
//!
//! Signatures are not checked again: they were checked when each block connected, and
//! blocks connected without that check are marked so in the journal by node-core.
//!
//! The replay costs one pass over the stored blocks (hashing each transaction once), far
//! less than downloading them.

use core::fmt::Display;

use node_core::chain::Chain;
use node_core::consensus::validation::{check_block_spends, check_block_txids as check_block};
use node_core::store::StoredChain;
use node_core::util::keyed_map::KeyedSet;
use node_core::utxo::UtxoSet;
use node_core::{Block, BlockHash, ChainParams, Txid, ValidationError};

/// One line saying what is wrong with the block at `height` (or the store as a whole).
fn fault(height: u64, what: &str, detail: &dyn Display) -> String {
    format!("block #{height} {what}{detail}")
}

/// Whether `stored` folds into a chain whose UTXO set and undo data are exactly what its
/// blocks prove; `Err` says what does not hold, in one line. A store without a tip (nothing
/// stored) passes.
pub fn audit(stored: &StoredChain, params: &ChainParams) -> Result<(), String> {
    let Some(tip) = stored.tip else {
        return Ok(());
    };
    let active = active_chain(stored, tip)?;
    let Some((_, genesis)) = active.first().copied() else {
        return Err("the stored chain has no blocks".into());
    };
    // Stored blocks are not judged by the time they are loaded: a block accepted a while
    // ago is not "from the future" because the clock was set back since.
    let any_time = u64::MAX;
    // Chain::new holds the rules for a genesis block.
    Chain::new(params.clone(), genesis.clone(), any_time)
        .map_err(|e| fault(0, "is not a valid genesis: ", &e))?;
    let bits = genesis.header.bits;
    let mut utxo = UtxoSet::new();
    let mut on_active = KeyedSet::new();
    for (height, (hash, block)) in active.iter().enumerate() {
        let height = height as u64;
        on_active.insert(*hash);
        let txids = check_block(block, bits, params, any_time)
            .map_err(|e| fault(height, "does not match its header: ", &e))?;
        if height > 0 {
            connect_checks(block, &txids, height, &utxo, params)
                .map_err(|e| fault(height, "is not valid on its chain: ", &e))?;
        }
        let undo = utxo.apply_with_txids(block, height, &txids);
        if stored.undo.get(hash) != Some(&undo) {
            return Err(fault(height, "has undo data that does not match it", &""));
        }
    }
    let mut differs = utxo.len() != stored.utxo.len();
    utxo.for_each(|op, e| differs |= stored.utxo.get(&op) != Some(&e));
    if differs {
        return Err(fault(
            active.len() as u64 - 1,
            "is the tip, and the stored UTXO set is not the one the blocks up to it create",
            &"",
        ));
    }
    for (hash, block) in stored.blocks.iter() {
        if !on_active.contains(hash) {
            check_block(block, bits, params, any_time)
                .map_err(|e| format!("a side-branch block does not match its header: {e}"))?;
        }
    }
    Ok(())
}

/// The active chain from genesis to `tip`, following each block's parent.
fn active_chain(stored: &StoredChain, tip: BlockHash) -> Result<Vec<(BlockHash, &Block)>, String> {
    let mut active = Vec::new();
    let mut cursor = tip;
    loop {
        let block = stored
            .blocks
            .get(&cursor)
            .ok_or_else(|| format!("a block {} below the tip is missing", active.len()))?;
        active.push((cursor, block));
        if block.header.prev == BlockHash::ZERO {
            break;
        }
        // Every step takes a distinct stored block; more steps than blocks is a loop.
        if active.len() > stored.blocks.len() {
            return Err("the stored blocks form a loop".into());
        }
        cursor = block.header.prev;
    }
    active.reverse();
    Ok(active)
}

/// The rules of connecting `block` at `height` on `utxo` that decide who owns what: its
/// coinbase names the height, and node-core's [`check_block_spends`] (signatures skipped).
fn connect_checks(
    block: &Block,
    txids: &[Txid],
    height: u64,
    utxo: &UtxoSet,
    params: &ChainParams,
) -> Result<(), ValidationError> {
    let got = block.coinbase_height().unwrap_or(u64::MAX);
    if got != height {
        return Err(ValidationError::CoinbaseWrongHeight {
            expected: height,
            got,
        });
    }
    check_block_spends(block, txids, utxo, false, params.subsidy)
}
