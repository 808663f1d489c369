//! Loading a stored chain: the block index (heights and cumulative work) and the active
//! chain rebuilt from stored headers alone, without a body or a replay.

use alloc::collections::VecDeque;
#[cfg(feature = "stored-bodies")]
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::active_chain::ActiveChain;
use super::bodies::Bodies;
#[cfg(feature = "stored-bodies")]
use super::bodies::BodySource;
use super::{BlockEntry, BlockIndex, Chain, ChainError};
use crate::consensus::params::ChainParams;
use crate::consensus::pow;
use crate::primitives::block::{Block, BlockHeader};
use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::KeyedMap;
#[cfg(feature = "body-source")]
use crate::util::keyed_map::KeyedSet;
use crate::utxo::{BlockUndo, UtxoSet};

impl Chain {
    /// Restores a chain from storage without revalidating it: stored blocks (any order), the
    /// active tip, the stored UTXO set and undo data, all kept in memory.
    pub fn from_stored(
        params: ChainParams,
        blocks: Vec<Block>,
        tip: BlockHash,
        utxo: UtxoSet,
        undo: Vec<(BlockHash, BlockUndo)>,
    ) -> Result<Self, ChainError> {
        let mut by_hash: KeyedMap<BlockHash, Block> = KeyedMap::new();
        for b in blocks {
            by_hash.insert(b.hash(), b);
        }
        let LoadedIndex {
            index,
            active,
            bits,
        } = index_stored(
            by_hash.keys().copied(),
            |h| by_hash.get(h).map(|b| b.header),
            tip,
        )?;
        by_hash.retain(|h, _| index.contains_key(h));
        let mut undo_by_hash = KeyedMap::new();
        undo_by_hash.extend(undo);
        let bodies = Bodies::in_memory(by_hash, undo_by_hash);
        Ok(Chain::loaded(params, bits, index, bodies, active, utxo))
    }

    /// Restores a chain from a stored block index without revalidating it, reading any
    /// body or replaying: `index` holds every stored block's height and cumulative work
    /// (as the shell stored them beside its header), `bits` is genesis's. Every link is
    /// checked (each entry one above its parent, with its parent's work plus one block's);
    /// side entries not linked to the active chain are dropped, and a tip not linked to
    /// genesis is refused. Bodies and undo data stay in `source` and are read when needed;
    /// only recent ones are kept in memory ([`super::RECENT_BODIES`]), so memory does not grow
    /// with the chain's history, and nothing but the index itself is built on the way.
    #[cfg(feature = "body-source")]
    pub fn from_stored_index(
        params: ChainParams,
        bits: u32,
        mut index: BlockIndex,
        tip: BlockHash,
        utxo: UtxoSet,
        source: Arc<dyn BodySource>,
    ) -> Result<Self, ChainError> {
        let active = linked_index(&mut index, bits, tip)?;
        let bodies = Bodies::over(source);
        Ok(Chain::loaded(params, bits, index, bodies, active, utxo))
    }

    /// Restores a chain from stored headers without revalidating it, reading any body or
    /// replaying: the index is built down from genesis through the headers' parents (so
    /// every entry links), and bodies and undo data stay in `source`, read when needed, with
    /// only recent ones in memory. The browser tab's load: its journal keeps headers, coins
    /// and where each body lies in its body file, never the bodies themselves.
    #[cfg(feature = "stored-bodies")]
    /// `hashes` are the stored blocks' and `header` gives each one's stored header (the
    /// shell's own table of them: nothing is copied on the way).
    pub fn from_stored_headers(
        params: ChainParams,
        hashes: impl Iterator<Item = BlockHash>,
        header: impl Fn(&BlockHash) -> Option<BlockHeader>,
        tip: BlockHash,
        utxo: UtxoSet,
        source: Arc<dyn BodySource>,
    ) -> Result<Self, ChainError> {
        let LoadedIndex {
            index,
            active,
            bits,
        } = index_stored(hashes, header, tip)?;
        Ok(Chain::loaded(
            params,
            bits,
            index,
            Bodies::over(source),
            active,
            utxo,
        ))
    }

    /// A chain of loaded parts, its assume-valid state and side branches resumed.
    fn loaded(
        params: ChainParams,
        bits: u32,
        index: BlockIndex,
        bodies: Bodies,
        active: ActiveChain,
        utxo: UtxoSet,
    ) -> Self {
        let mut chain = Chain::from_parts(params, bits, index, bodies, active, utxo);
        chain.resume_assumed_after_load();
        chain.classify_side_blocks();
        chain
    }
}

/// What stored headers rebuild.
pub(super) struct LoadedIndex {
    /// Every block reachable from genesis.
    pub(super) index: BlockIndex,
    /// The active chain, genesis first.
    pub(super) active: ActiveChain,
    /// The network's bits (genesis's).
    pub(super) bits: u32,
}

/// The block index of stored blocks (`hashes`, each one's header given by `header`), the
/// active chain ending at `tip` and the network's bits (genesis's). A hash whose header
/// `header` does not give is left out.
pub(super) fn index_stored(
    hashes: impl Iterator<Item = BlockHash>,
    header: impl Fn(&BlockHash) -> Option<BlockHeader>,
    tip: BlockHash,
) -> Result<LoadedIndex, ChainError> {
    let mut children: KeyedMap<BlockHash, Vec<BlockHash>> = KeyedMap::new();
    let mut genesis = None;
    for h in hashes {
        let Some(prev) = header(&h).map(|hd| hd.prev) else {
            continue;
        };
        if prev == BlockHash::ZERO {
            if genesis.is_some_and(|g| g != h) {
                return Err(ChainError::Corrupt("two genesis blocks"));
            }
            genesis = Some(h);
        } else {
            children.get_or_default(prev).push(h);
        }
    }
    let genesis = genesis.ok_or(ChainError::Corrupt("no genesis block"))?;
    let bits = header(&genesis)
        .ok_or(ChainError::Corrupt("no genesis block"))?
        .bits;
    let mut index = BlockIndex::new();
    let mut queue = VecDeque::from([(genesis, 0u64, 0u128)]);
    while let Some((h, height, parent_work)) = queue.pop_front() {
        let Some(entry_header) = header(&h) else {
            continue;
        };
        let chain_work = parent_work.saturating_add(pow::work(entry_header.bits));
        let entry = BlockEntry {
            height,
            chain_work,
            prev: entry_header.prev,
            timestamp: entry_header.timestamp,
        };
        // A block that cannot be indexed (another block's bits) is not reachable, nor is
        // anything built on it.
        let children = children.remove(&h).unwrap_or_default();
        if index.insert(h, entry).is_err() {
            continue;
        }
        for c in children {
            queue.push_back((c, height + 1, chain_work));
        }
    }
    // Built down from genesis, every entry is linked: the walk down from the tip needs no
    // check ([`linked_index`] checks a stored index's links).
    if !index.contains_key(&tip) {
        return Err(ChainError::Corrupt(
            "tip block is missing or not linked to genesis",
        ));
    }
    let mut positions = Vec::new();
    let mut cursor = tip;
    while let (Some(at), Some(e)) = (index.position(&cursor), index.get(&cursor)) {
        positions.push(at);
        if e.height == 0 {
            break;
        }
        cursor = e.prev;
    }
    positions.reverse();
    let active = ActiveChain::from_positions(positions);
    Ok(LoadedIndex {
        index,
        active,
        bits,
    })
}

/// The active chain ending at `tip`, walked down to genesis through `index`, every step
/// approved by `linked(entry, parent)` (else the file is corrupt).
#[cfg(feature = "body-source")]
fn active_ending_at(
    index: &BlockIndex,
    tip: BlockHash,
    linked: impl Fn(&BlockEntry, Option<&BlockEntry>) -> bool,
) -> Result<ActiveChain, ChainError> {
    let tip_entry = index.get(&tip).ok_or(ChainError::Corrupt(
        "tip block is missing or not linked to genesis",
    ))?;
    // A height is only believed once linked; this bounds the allocation by the index.
    if tip_entry.height >= index.len() as u64 {
        return Err(ChainError::Corrupt(
            "tip block's height exceeds the stored blocks",
        ));
    }
    let mut positions = Vec::with_capacity(tip_entry.height as usize + 1);
    let mut cursor = tip;
    loop {
        let (Some(at), Some(e)) = (index.position(&cursor), index.get(&cursor)) else {
            return Err(ChainError::Corrupt("tip block is not linked to genesis"));
        };
        let parent = (e.prev != BlockHash::ZERO)
            .then(|| index.get(&e.prev))
            .flatten();
        if !linked(&e, parent.as_ref()) || positions.len() > tip_entry.height as usize {
            return Err(ChainError::Corrupt("tip block is not linked to genesis"));
        }
        positions.push(at);
        if e.height == 0 {
            break;
        }
        cursor = e.prev;
    }
    positions.reverse();
    Ok(ActiveChain::from_positions(positions))
}

/// Checks the links of a stored index and returns its active chain ending at `tip`, genesis
/// first: every active entry one above its parent and holding its parent's work plus one
/// block's of `bits` (else the file is corrupt), then every side entry linked the same way
/// down to the active chain (else it is dropped, as a block not reachable from genesis
/// was before the index was stored). Each side entry is walked once: O(n log n).
#[cfg(feature = "body-source")]
fn linked_index(
    index: &mut BlockIndex,
    bits: u32,
    tip: BlockHash,
) -> Result<ActiveChain, ChainError> {
    let block_work = pow::work(bits);
    let linked = |e: &BlockEntry, parent: Option<&BlockEntry>| match parent {
        Some(p) => {
            e.height > 0
                && p.height.checked_add(1) == Some(e.height)
                && p.chain_work.saturating_add(block_work) == e.chain_work
        }
        None => e.height == 0 && e.prev == BlockHash::ZERO && e.chain_work == block_work,
    };
    let active = active_ending_at(index, tip, linked)?;
    let is_active = |h: &BlockHash, e: &BlockEntry| active.has_at(index, h, e.height);
    let mut good: KeyedSet<BlockHash> = KeyedSet::new();
    let mut bad: KeyedSet<BlockHash> = KeyedSet::new();
    let side: Vec<BlockHash> = index
        .iter()
        .filter(|(h, e)| !is_active(h, e))
        .map(|(h, _)| h)
        .collect();
    for start in side {
        let mut path = Vec::new();
        let mut cursor = start;
        let ok = loop {
            if good.contains(&cursor) {
                break true;
            }
            if bad.contains(&cursor) {
                break false;
            }
            let Some(e) = index.get(&cursor) else {
                break false;
            };
            if is_active(&cursor, &e) {
                break true;
            }
            if e.height == 0 {
                return Err(ChainError::Corrupt("two genesis blocks"));
            }
            path.push(cursor);
            if !linked(&e, index.get(&e.prev).as_ref()) {
                break false;
            }
            cursor = e.prev;
        };
        for h in path {
            if ok {
                good.insert(h);
            } else {
                bad.insert(h);
            }
        }
    }
    index.retain(|h, _| !bad.contains(h));
    Ok(active)
}
