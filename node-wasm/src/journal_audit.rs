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

use node_core::chain::{BodySource, Chain};
use node_core::consensus::validation::{check_block_spends, check_block_txids as check_block};
use node_core::util::keyed_map::KeyedSet;
use node_core::utxo::UtxoSet;
use node_core::{Block, BlockHash, ChainParams, Txid, ValidationError};

use crate::stored_bodies::StoredBodies;

/// One line saying what is wrong with the block at `height` (or the store as a whole).
fn fault(height: u64, what: &str, detail: &dyn Display) -> String {
    format!("block #{height} {what}{detail}")
}

/// Whether the stored blocks of `bodies`, up to `tip`, prove exactly the stored UTXO set
/// `utxo` and the undo data stored beside them; `Err` says what does not hold, in one line.
/// Every body is read from the body file once, one at a time.
pub fn audit(
    bodies: &StoredBodies,
    utxo_stored: &UtxoSet,
    tip: BlockHash,
    params: &ChainParams,
) -> Result<(), String> {
    let active = active_chain(bodies, tip)?;
    let body = |height: u64, hash: &BlockHash| {
        bodies
            .block(hash)
            .ok_or_else(|| fault(height, "is missing from the body file, or damaged there", &""))
    };
    let Some(genesis_hash) = active.first() else {
        return Err("the stored chain has no blocks".into());
    };
    let genesis = body(0, genesis_hash)?;
    // Stored blocks are not judged by the time they are loaded: a block accepted a while
    // ago is not "from the future" because the clock was set back since.
    let any_time = u64::MAX;
    let bits = genesis.header.bits;
    // Chain::new holds the rules for a genesis block.
    Chain::new(params.clone(), genesis, any_time)
        .map_err(|e| fault(0, "is not a valid genesis: ", &e))?;
    let mut utxo = UtxoSet::new();
    let mut on_active = KeyedSet::new();
    for (height, hash) in active.iter().enumerate() {
        let height = height as u64;
        on_active.insert(*hash);
        let block = body(height, hash)?;
        let txids = check_block(&block, bits, params, any_time)
            .map_err(|e| fault(height, "does not match its header: ", &e))?;
        if height > 0 {
            connect_checks(&block, &txids, height, &utxo, params)
                .map_err(|e| fault(height, "is not valid on its chain: ", &e))?;
        }
        let undo = utxo.apply_with_txids(&block, height, &txids);
        if bodies.stored_undo(hash).as_ref() != Some(&undo) {
            return Err(fault(height, "has undo data that does not match it", &""));
        }
    }
    let mut differs = utxo.len() != utxo_stored.len();
    utxo.for_each(|op, e| differs |= utxo_stored.get(&op) != Some(e));
    if differs {
        return Err(fault(
            active.len() as u64 - 1,
            "is the tip, and the stored UTXO set is not the one the blocks up to it create",
            &"",
        ));
    }
    let mut side = Vec::new();
    bodies.each_located(|h, _| {
        if !on_active.contains(h) {
            side.push(*h);
        }
    });
    for h in side {
        let block = bodies
            .block(&h)
            .ok_or("a side-branch block is missing from the body file, or damaged there")?;
        check_block(&block, bits, params, any_time)
            .map_err(|e| format!("a side-branch block does not match its header: {e}"))?;
    }
    Ok(())
}

/// The active chain from genesis to `tip`, following each stored header's parent.
fn active_chain(bodies: &StoredBodies, tip: BlockHash) -> Result<Vec<BlockHash>, String> {
    let mut active = Vec::new();
    let mut cursor = tip;
    let stored = bodies.len();
    loop {
        let header = bodies
            .locate(&cursor)
            .ok_or_else(|| format!("a block {} below the tip is missing", active.len()))?
            .header;
        active.push(cursor);
        if header.prev == BlockHash::ZERO {
            break;
        }
        // Every step takes a distinct stored block; more steps than blocks is a loop.
        if active.len() > stored {
            return Err("the stored blocks form a loop".into());
        }
        cursor = header.prev;
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
