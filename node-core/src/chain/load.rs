//! Loading a stored chain: the block index (heights and cumulative work) and the active
//! chain rebuilt from stored headers alone, without a body or a replay.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::bodies::{Bodies, BodySource};
use super::{BlockEntry, Chain, ChainError};
use crate::consensus::params::ChainParams;
use crate::consensus::pow;
use crate::primitives::block::{Block, BlockHeader};
use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::KeyedMap;
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
        let headers: Vec<(BlockHash, BlockHeader)> =
            blocks.iter().map(|b| (b.hash(), b.header)).collect();
        let LoadedIndex {
            index,
            active,
            bits,
        } = index_headers(headers, tip)?;
        let mut by_hash: KeyedMap<BlockHash, Block> = KeyedMap::new();
        for b in blocks {
            let h = b.hash();
            if index.contains_key(&h) {
                by_hash.insert(h, b);
            }
        }
        let mut undo_by_hash = KeyedMap::new();
        undo_by_hash.extend(undo);
        let bodies = Bodies::in_memory(by_hash, undo_by_hash);
        Ok(Chain::loaded(params, bits, index, bodies, active, utxo))
    }

    /// Restores a chain from storage without revalidating it or reading any body: the stored
    /// headers (any order, each with its hash), the active tip and the stored UTXO set.
    /// Bodies and undo data stay in `source` and are read when needed; only recent ones are
    /// kept in memory ([`super::RECENT_BODIES`]), so memory does not grow with the chain's history.
    pub fn from_stored_headers(
        params: ChainParams,
        headers: Vec<(BlockHash, BlockHeader)>,
        tip: BlockHash,
        utxo: UtxoSet,
        source: Arc<dyn BodySource>,
    ) -> Result<Self, ChainError> {
        let LoadedIndex {
            index,
            active,
            bits,
        } = index_headers(headers, tip)?;
        let bodies = Bodies::over(source);
        Ok(Chain::loaded(params, bits, index, bodies, active, utxo))
    }

    /// A chain of loaded parts, its assume-valid state and side branches resumed.
    fn loaded(
        params: ChainParams,
        bits: u32,
        index: KeyedMap<BlockHash, BlockEntry>,
        bodies: Bodies,
        active: Vec<BlockHash>,
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
    pub(super) index: KeyedMap<BlockHash, BlockEntry>,
    /// The active chain, genesis first.
    pub(super) active: Vec<BlockHash>,
    /// The network's bits (genesis's).
    pub(super) bits: u32,
}

/// The block index of stored headers (each with its hash), the active chain ending at `tip`,
/// and the network's bits (genesis's).
pub(super) fn index_headers(
    headers: Vec<(BlockHash, BlockHeader)>,
    tip: BlockHash,
) -> Result<LoadedIndex, ChainError> {
    let mut by_hash: KeyedMap<BlockHash, BlockHeader> = KeyedMap::new();
    let mut children: KeyedMap<BlockHash, Vec<BlockHash>> = KeyedMap::new();
    let mut genesis = None;
    for (h, header) in headers {
        if header.prev == BlockHash::ZERO {
            if genesis.is_some_and(|g| g != h) {
                return Err(ChainError::Corrupt("two genesis blocks"));
            }
            genesis = Some(h);
        } else {
            children.get_or_default(header.prev).push(h);
        }
        by_hash.insert(h, header);
    }
    let genesis = genesis.ok_or(ChainError::Corrupt("no genesis block"))?;
    let bits = by_hash[&genesis].bits;
    let mut index = KeyedMap::new();
    let mut queue = VecDeque::from([(genesis, 0u64, 0u128)]);
    while let Some((h, height, parent_work)) = queue.pop_front() {
        let header = by_hash[&h];
        let chain_work = parent_work.saturating_add(pow::work(header.bits));
        index.insert(
            h,
            BlockEntry {
                height,
                chain_work,
                prev: header.prev,
                timestamp: header.timestamp,
            },
        );
        for c in children.remove(&h).unwrap_or_default() {
            queue.push_back((c, height + 1, chain_work));
        }
    }
    let tip_entry = index
        .get(&tip)
        .ok_or(ChainError::Corrupt("tip block missing"))?;
    let mut active = alloc::vec![BlockHash::ZERO; tip_entry.height as usize + 1];
    let mut cursor = tip;
    loop {
        let e = index[&cursor];
        active[e.height as usize] = cursor;
        if e.height == 0 {
            break;
        }
        cursor = e.prev;
    }
    Ok(LoadedIndex {
        index,
        active,
        bits,
    })
}
