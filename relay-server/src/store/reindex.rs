//! `reindexutxo`: the chain rebuilt from its stored blocks, every one of them validated.
//!
//! The seed's `reindexutxo` replays the blocks to rebuild the UTXO set, trusting them; it is
//! also what an operator runs when the store is in doubt. Replaying a store whose blocks
//! were edited (a coinbase paying itself a million, re-mined at the network's low
//! difficulty) then mints those coins. Here every stored block goes through the same checks
//! as a block from a peer — proof of work, Merkle root, coinbase amount, signatures, inputs —
//! starting from the stored genesis: the first invalid block and everything built on it are
//! dropped, and the chain ends at its last valid block, from where peers supply the rest.
//! Nothing stored but the blocks is read: the UTXO set and the undo data, whatever state
//! they are in, are rebuilt.

use std::collections::{HashMap, VecDeque};

use node_core::{Block, BlockHash, Chain, ChainParams};

use node_core::chain::ChainChanges;

/// Why no chain could be rebuilt at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    /// No stored block is a genesis.
    #[error("no genesis block is stored: nothing to rebuild from")]
    NoGenesis,
    /// Several are, and the stored tip does not lead to one of them.
    #[error("{0} genesis blocks are stored and the stored tip leads to none of them")]
    ManyGeneses(usize),
    /// The genesis breaks the rules.
    #[error("the stored genesis block is invalid: {0}")]
    BadGenesis(String),
}

/// The first invalid block on the stored tip's branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBlock {
    /// Its height on that branch.
    pub height: u64,
    /// Its hash.
    pub hash: BlockHash,
    /// The rule it breaks.
    pub reason: String,
}

/// A chain rebuilt from stored blocks.
pub struct Rebuilt {
    /// Every valid stored block, the best valid branch active.
    pub chain: Chain,
    /// Stored blocks not kept: invalid, built on an invalid block, or not reachable from the
    /// genesis.
    pub dropped: Vec<BlockHash>,
    /// Where the stored tip's branch stopped being valid, if it did.
    pub first_invalid: Option<InvalidBlock>,
}

impl Rebuilt {
    /// What replaces the store's UTXO set, undo data and tip, and removes the dropped blocks.
    pub fn changes(&mut self) -> ChainChanges {
        // The replayed blocks are stored already; their undo and UTXO writes are replaced
        // by a full rebuild of the (now validated) active chain.
        drop(self.chain.take_changes());
        self.chain.reindex_utxo();
        let mut changes = self.chain.take_changes();
        changes.tip = Some(self.chain.tip());
        changes.removed = self.dropped.clone();
        changes
    }
}

/// Validates `blocks` from their genesis (the one `stored_tip` leads to) and returns the
/// chain of those that are valid. The stored tip's branch is replayed first, so it stays
/// active unless another valid branch has more work.
pub fn rebuild(
    params: ChainParams,
    blocks: Vec<Block>,
    stored_tip: Option<BlockHash>,
    now_ms: u64,
) -> Result<Rebuilt, RebuildError> {
    let mut by_hash: HashMap<BlockHash, Block> =
        blocks.into_iter().map(|b| (b.hash(), b)).collect();
    let all: Vec<BlockHash> = by_hash.keys().copied().collect();
    // The stored tip's branch, genesis first, as far back as it is stored.
    let mut branch = Vec::new();
    let mut cursor = stored_tip;
    while let Some(h) = cursor {
        let Some(block) = by_hash.get(&h) else { break };
        if branch.len() > by_hash.len() {
            break; // a cycle: cannot happen with real hashes; refuse to loop
        }
        branch.push(h);
        let prev = block.header.prev;
        cursor = (prev != BlockHash::ZERO).then_some(prev);
    }
    branch.reverse();
    let is_genesis = |b: &Block| b.header.prev == BlockHash::ZERO;
    let genesis = match branch.first() {
        Some(g) if by_hash.get(g).is_some_and(is_genesis) => *g,
        _ => {
            let geneses: Vec<BlockHash> = by_hash
                .iter()
                .filter(|(_, b)| is_genesis(b))
                .map(|(h, _)| *h)
                .collect();
            match geneses.as_slice() {
                [one] => *one,
                [] => return Err(RebuildError::NoGenesis),
                many => return Err(RebuildError::ManyGeneses(many.len())),
            }
        }
    };
    if branch.first() != Some(&genesis) {
        branch.clear();
    }
    let height_on_branch: HashMap<BlockHash, u64> = branch
        .iter()
        .enumerate()
        .map(|(height, h)| (*h, height as u64))
        .collect();
    let genesis_block = by_hash.remove(&genesis).ok_or(RebuildError::NoGenesis)?;
    let mut chain = Chain::new(params, genesis_block, now_ms)
        .map_err(|e| RebuildError::BadGenesis(e.to_string()))?;

    // Parents before children: the branch, then the rest breadth first from the genesis.
    let mut children: HashMap<BlockHash, Vec<BlockHash>> = HashMap::new();
    for (h, b) in &by_hash {
        children.entry(b.header.prev).or_default().push(*h);
    }
    let mut order: Vec<BlockHash> = branch.iter().skip(1).copied().collect();
    let mut queue = VecDeque::from([genesis]);
    while let Some(h) = queue.pop_front() {
        for c in children.remove(&h).unwrap_or_default() {
            if !height_on_branch.contains_key(&c) {
                order.push(c);
            }
            queue.push_back(c);
        }
    }
    let mut first_invalid = None;
    for hash in order {
        let Some(block) = by_hash.remove(&hash) else {
            continue;
        };
        if let Err(e) = chain.accept_block(block, now_ms) {
            let on_branch = height_on_branch.get(&hash).copied();
            if let (None, Some(height)) = (&first_invalid, on_branch) {
                first_invalid = Some(InvalidBlock {
                    height,
                    hash,
                    reason: e.to_string(),
                });
            }
        }
    }
    let dropped = all.into_iter().filter(|h| !chain.contains(h)).collect();
    Ok(Rebuilt {
        chain,
        dropped,
        first_invalid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::chain::mine_genesis;
    use node_core::{consensus::pow, PubKeyHash, Transaction};

    /// Test outcome: a failed step is an error naming it, not a panic.
    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    const NOW: u64 = 1_700_000_000_000;

    fn chain_of(len: u64) -> TestResult<Chain> {
        let genesis = mine_genesis(PubKeyHash([1; 20]), 10, NOW, 4, b"g");
        let mut c = Chain::new(ChainParams::default(), genesis, NOW)?;
        for i in 0..len {
            let now = NOW + 1000 * (i + 1);
            let mut b = c.template(PubKeyHash([2; 20]), vec![], 0, now, b"");
            pow::mine(&mut b.header);
            c.accept_block(b, now)?;
        }
        Ok(c)
    }

    fn blocks(c: &Chain) -> Vec<Block> {
        (0..=c.height())
            .filter_map(|h| c.block_at(h).cloned())
            .collect()
    }

    #[test]
    fn a_valid_store_rebuilds_to_the_same_chain() -> TestResult {
        let c = chain_of(5)?;
        let mut r = rebuild(
            ChainParams::default(),
            blocks(&c),
            Some(c.tip()),
            NOW + 10_000,
        )?;
        assert_eq!(r.chain.tip(), c.tip());
        assert!(r.dropped.is_empty() && r.first_invalid.is_none());
        let changes = r.changes();
        assert!(changes.utxo_reset);
        assert_eq!(r.chain.utxo().digest(), c.utxo().digest());
        Ok(())
    }

    #[test]
    fn a_block_edited_to_mint_coins_is_dropped_with_all_above_it() -> TestResult {
        let c = chain_of(5)?;
        let mut stored = blocks(&c);
        // Height 3 now pays a million to its miner, re-mined so its proof of work holds;
        // the blocks above are re-linked and re-mined on it too.
        let mut prev = stored[2].hash();
        for b in stored.iter_mut().skip(3) {
            if b.coinbase_height() == Some(3) {
                b.transactions[0] =
                    Transaction::new_coinbase(3, PubKeyHash([9; 20]), 1_000_000, b"");
                b.header.merkle_root = Block::merkle_root_of(&b.txids());
            }
            b.header.prev = prev;
            pow::mine(&mut b.header);
            prev = b.hash();
        }
        let rebuilt = rebuild(ChainParams::default(), stored, Some(prev), NOW + 10_000)?;
        assert_eq!(rebuilt.chain.height(), 2);
        assert_eq!(rebuilt.dropped.len(), 3);
        let bad = rebuilt
            .first_invalid
            .ok_or("the edited block was accepted")?;
        assert_eq!(bad.height, 3);
        assert_eq!(rebuilt.chain.utxo().balance(&PubKeyHash([9; 20])), 0);
        Ok(())
    }

    #[test]
    fn without_a_genesis_nothing_is_rebuilt() -> TestResult {
        let c = chain_of(2)?;
        let stored: Vec<Block> = blocks(&c).into_iter().skip(1).collect();
        let err = rebuild(ChainParams::default(), stored, Some(c.tip()), NOW).err();
        assert_eq!(err, Some(RebuildError::NoGenesis));
        Ok(())
    }
}
