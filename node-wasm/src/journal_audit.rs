//! What a load may trust of the chain journal: what [`quick_check`] finds on every start,
//! and (the page's "verify my chain") nothing that the stored blocks do not prove.
//!
//! # Why
//! A load folds the journal's records into headers, places of bodies and undo records, a
//! UTXO set and a tip, and takes them as they are. IndexedDB and the body file can be
//! damaged, or edited from the browser's developer tools: a UTXO record with a larger value,
//! or one more, would be coins that no block ever created; undo data that does not match its
//! block would create them on the next reorganisation; a block body swapped under its header
//! would be a history no peer agrees with.
//!
//! # Two depths
//! Every start runs [`quick_check`], which reads no body: start-up must not grow with the
//! chain's history (at 100,000 blocks the replay below took 5 s of a 10.8 s start), and a
//! tab trusts its own storage as the relay trusts its file. It catches coins beyond what
//! the chain mined and headers without their proof of work; the index itself is built
//! from genesis through the headers' parents, so every block links.
//!
//! [`audit`], run when the page asks to verify the stored chain (a restart with `replay`),
//! replays the active chain from genesis, reading every body from the body file, with
//! every rule that decides who owns what (node-core's context-free block checks: proof of
//! work, Merkle root, sizes, one coinbase; then each input exists, belongs to the key
//! presented and covers its outputs, the coinbase claims no more than subsidy and fees, its
//! height is the block's) and requires the stored UTXO set and the active blocks' undo data
//! to be exactly what that replay produces. Side-branch blocks must match their headers too.
//! A journal that fails either is not trusted at all: the driver drops it and downloads the
//! chain again.
//!
//! Signatures are not checked again: they were checked when each block connected, and
//! blocks connected without that check are marked so in the journal by node-core.

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
        bodies.block(hash).ok_or_else(|| {
            fault(
                height,
                "is missing from the body file, or damaged there",
                &"",
            )
        })
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
    bodies.each_located(&mut |h, _| {
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

/// What a start checks without reading a body: every stored header carries its proof of
/// work at the network's bits (the index built from them links each to genesis), and the
/// stored coins are no more than the active chain mined (`subsidy` a block; fees only move
/// coins) and none is younger than the tip. A raised or invented coin fails here unless
/// the forger also lowered others; [`audit`] finds every change.
pub fn quick_check(chain: &Chain, bodies: &StoredBodies, subsidy: u64) -> Result<(), String> {
    let bits = chain.bits();
    let mut unproven = None;
    bodies.each_located(&mut |h, l| {
        if l.header.bits != bits || !node_core::consensus::pow::meets_target(h, bits) {
            unproven = Some(*h);
        }
    });
    if let Some(h) = unproven {
        return Err(format!("stored block {h} does not carry its proof of work"));
    }
    let height = chain.height();
    let mined = subsidy.saturating_mul(height.saturating_add(1));
    let (mut total, mut young) = (0u64, false);
    chain.utxo().for_each(|_, e| {
        total = total.saturating_add(e.output.value);
        young |= e.height > height;
    });
    if total > mined {
        return Err(format!(
            "the stored coins add up to {total}, more than the {mined} the chain mined"
        ));
    }
    if young {
        return Err("a stored coin is younger than the tip".into());
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
