//! Chain state: the block index, the active chain, the UTXO set, and fork choice.
//!
//! Every block is checked on arrival ([`validation::check_block`]) before anything is kept,
//! then indexed under its parent with its cumulative work. The active chain is the one with
//! the most work; a block that makes a side branch heavier triggers a reorganisation that
//! disconnects blocks with their undo data and connects the branch, checking every input and
//! signature as it goes. If a branch block turns out invalid the old chain is restored.
//! Blocks whose parent is unknown wait, bounded, in an orphan pool.
//!
//! All changes to persist are gathered in [`ChainChanges`]; the caller takes them with
//! [`Chain::take_changes`] and writes them as one transaction.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::block::Block;
use crate::hash::{BlockHash, PubKeyHash, Txid};
use crate::keyed_map::{KeyedMap, KeyedSet};
use crate::ordering;
use crate::params::{ChainParams, MAX_BITS};
use crate::pow;
use crate::tx::{OutPoint, Transaction, TxOut};
use crate::utxo::{BlockUndo, UtxoChange, UtxoSet};
use crate::validation::{self, check_block, check_inputs, ValidationError};

/// Number of blocks whose median timestamp a new block must exceed.
const MEDIAN_TIME_SPAN: usize = 11;

/// What the index knows of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEntry {
    /// Distance from genesis.
    pub height: u64,
    /// Work of this block and all its ancestors.
    pub chain_work: u128,
    /// The block's parent.
    pub prev: BlockHash,
    /// The block's timestamp.
    pub timestamp: u64,
}

/// One step of a tip change, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TipStep {
    /// The block joined the active chain.
    Connected(Block),
    /// The block left the active chain (a reorganisation).
    Disconnected(Block),
}

/// What accepting a block did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// The active chain changed; the steps say how (orphans that could follow are included).
    TipChanged(Vec<TipStep>),
    /// Stored on a branch with less work than the active chain.
    SideChain,
    /// Kept until its parent arrives.
    Orphan {
        /// The earliest ancestor missing.
        missing: BlockHash,
    },
    /// Already known; nothing changed.
    AlreadyKnown,
}

/// What must be written to storage, all together, after a change. Serialisable, so a shell
/// may store a batch as one record (see [`crate::store`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainChanges {
    /// Newly indexed blocks (active or side branch).
    pub blocks: Vec<Block>,
    /// Blocks found invalid after they were indexed: delete them from storage.
    pub removed: Vec<BlockHash>,
    /// Undo data of newly connected blocks.
    pub undo: Vec<(BlockHash, BlockUndo)>,
    /// UTXO writes and deletes, in order.
    pub utxo: Vec<UtxoChange>,
    /// The UTXO set was rebuilt: the stored one must be replaced by `utxo` writes alone.
    pub utxo_reset: bool,
    /// The new active tip, if it moved.
    pub tip: Option<BlockHash>,
}

impl ChainChanges {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.removed.is_empty()
            && self.utxo.is_empty()
            && self.tip.is_none()
            && !self.utxo_reset
    }
}

/// Why a stored or given chain cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The genesis block breaks a rule.
    InvalidGenesis(ValidationError),
    /// The genesis block is not shaped like one (has a parent, wrong height, bad bits).
    NotAGenesis(&'static str),
    /// Stored data does not form a chain.
    Corrupt(&'static str),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::InvalidGenesis(e) => write!(f, "invalid genesis block: {e}"),
            ChainError::NotAGenesis(why) => write!(f, "not a genesis block: {why}"),
            ChainError::Corrupt(why) => write!(f, "stored chain is corrupt: {why}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ChainError {}

/// Blocks whose parent is unknown, bounded, oldest evicted first.
#[derive(Debug, Clone, Default)]
struct OrphanPool {
    blocks: KeyedMap<BlockHash, Block>,
    by_parent: KeyedMap<BlockHash, Vec<BlockHash>>,
    order: VecDeque<BlockHash>,
}

impl OrphanPool {
    fn insert(&mut self, block: Block, max: usize) {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) || max == 0 {
            return;
        }
        while self.blocks.len() >= max {
            match self.order.pop_front() {
                Some(old) => self.remove(&old),
                None => break,
            }
        }
        self.by_parent.get_or_default(block.header.prev).push(hash);
        self.blocks.insert(hash, block);
        self.order.push_back(hash);
    }

    fn remove(&mut self, hash: &BlockHash) {
        if let Some(b) = self.blocks.remove(hash) {
            if let Some(children) = self.by_parent.get_mut(&b.header.prev) {
                children.retain(|h| h != hash);
                if children.is_empty() {
                    self.by_parent.remove(&b.header.prev);
                }
            }
            self.order.retain(|h| h != hash);
        }
    }

    fn take_children(&mut self, parent: &BlockHash) -> Vec<Block> {
        let hashes = self.by_parent.remove(parent).unwrap_or_default();
        let mut out = Vec::new();
        for h in hashes {
            if let Some(b) = self.blocks.remove(&h) {
                self.order.retain(|x| *x != h);
                out.push(b);
            }
        }
        out
    }

    /// Follows parents inside the pool down to the first one that is not in it.
    fn missing_root(&self, mut hash: BlockHash) -> BlockHash {
        let mut steps = 0;
        while let Some(b) = self.blocks.get(&hash) {
            hash = b.header.prev;
            steps += 1;
            if steps > self.blocks.len() {
                break;
            }
        }
        hash
    }
}

/// The chain state of one node.
#[derive(Debug, Clone)]
pub struct Chain {
    params: ChainParams,
    bits: u32,
    index: KeyedMap<BlockHash, BlockEntry>,
    bodies: KeyedMap<BlockHash, Block>,
    undo: KeyedMap<BlockHash, BlockUndo>,
    active: Vec<BlockHash>,
    utxo: UtxoSet,
    invalid: KeyedSet<BlockHash>,
    orphans: OrphanPool,
    changes: ChainChanges,
    /// Lowest active height connected without signature checks (assume-valid), if any.
    unchecked_from: Option<u64>,
    /// Blocks whose signatures the shell already verified (natively, off the thread that
    /// validates): their signature checks are skipped once. A hint only, bounded.
    presigned: KeyedSet<BlockHash>,
    /// The txids `check_block` computed for the block being accepted, for connecting it.
    checked_txids: Option<(BlockHash, Vec<Txid>)>,
}

/// Most blocks remembered as verified ahead of connection; more than a download keeps in
/// flight.
const MAX_PRESIGNED: usize = 4096;

/// Mines a genesis block paying `subsidy` to `to` at difficulty `bits`.
pub fn mine_genesis(to: PubKeyHash, subsidy: u64, timestamp: u64, bits: u32, data: &[u8]) -> Block {
    let coinbase = Transaction::new_coinbase(0, to, subsidy, data);
    let mut block =
        Block::new_template(BlockHash::default(), timestamp, bits, alloc::vec![coinbase]);
    // 2^64 nonces always contain a solution for bits <= 64, so `mine` returns Some.
    let _ = pow::mine(&mut block.header);
    block
}

impl Chain {
    /// Starts a chain from its genesis block, which fixes the network's proof-of-work bits.
    pub fn new(params: ChainParams, genesis: Block, now_ms: u64) -> Result<Self, ChainError> {
        let bits = genesis.header.bits;
        if bits == 0 || bits > MAX_BITS {
            return Err(ChainError::NotAGenesis("bits must be between 1 and 64"));
        }
        if genesis.header.prev != BlockHash::default() {
            return Err(ChainError::NotAGenesis("it has a parent"));
        }
        check_block(&genesis, bits, &params, now_ms).map_err(ChainError::InvalidGenesis)?;
        if genesis.coinbase_height() != Some(0) || genesis.transactions.len() != 1 {
            return Err(ChainError::NotAGenesis(
                "it must hold only a coinbase at height 0",
            ));
        }
        let value = genesis.transactions[0].output_total().unwrap_or(u64::MAX);
        if value > params.subsidy {
            return Err(ChainError::InvalidGenesis(
                ValidationError::CoinbaseOverpays {
                    value,
                    allowed: params.subsidy,
                },
            ));
        }
        let hash = genesis.hash();
        let mut chain = Chain {
            params,
            bits,
            index: KeyedMap::new(),
            bodies: KeyedMap::new(),
            undo: KeyedMap::new(),
            active: Vec::new(),
            utxo: UtxoSet::new(),
            invalid: KeyedSet::new(),
            orphans: OrphanPool::default(),
            changes: ChainChanges::default(),
            unchecked_from: None,
            presigned: KeyedSet::new(),
            checked_txids: None,
        };
        chain.index.insert(
            hash,
            BlockEntry {
                height: 0,
                chain_work: pow::work(bits),
                prev: genesis.header.prev,
                timestamp: genesis.header.timestamp,
            },
        );
        chain.changes.blocks.push(genesis.clone());
        chain.bodies.insert(hash, genesis);
        chain.connect_unchecked(hash);
        Ok(chain)
    }

    /// Restores a chain from storage without revalidating it: stored blocks (any order), the
    /// active tip, the stored UTXO set and undo data.
    pub fn from_stored(
        params: ChainParams,
        blocks: Vec<Block>,
        tip: BlockHash,
        utxo: UtxoSet,
        undo: Vec<(BlockHash, BlockUndo)>,
    ) -> Result<Self, ChainError> {
        let mut by_hash: KeyedMap<BlockHash, Block> = KeyedMap::new();
        let mut children: KeyedMap<BlockHash, Vec<BlockHash>> = KeyedMap::new();
        let mut genesis = None;
        for b in blocks {
            let h = b.hash();
            if b.header.prev == BlockHash::default() {
                if genesis.is_some_and(|g| g != h) {
                    return Err(ChainError::Corrupt("two genesis blocks"));
                }
                genesis = Some(h);
            } else {
                children.get_or_default(b.header.prev).push(h);
            }
            by_hash.insert(h, b);
        }
        let genesis = genesis.ok_or(ChainError::Corrupt("no genesis block"))?;
        let mut undo_by_hash = KeyedMap::new();
        undo_by_hash.extend(undo);
        let bits = by_hash[&genesis].header.bits;
        let mut index = KeyedMap::new();
        let mut queue = VecDeque::from([(genesis, 0u64, 0u128)]);
        while let Some((h, height, parent_work)) = queue.pop_front() {
            let header = by_hash[&h].header;
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
        by_hash.retain(|h, _| index.contains_key(h));
        let tip_entry = index
            .get(&tip)
            .ok_or(ChainError::Corrupt("tip block missing"))?;
        let mut active = alloc::vec![BlockHash::default(); tip_entry.height as usize + 1];
        let mut cursor = tip;
        loop {
            let e = index[&cursor];
            active[e.height as usize] = cursor;
            if e.height == 0 {
                break;
            }
            cursor = e.prev;
        }
        let mut chain = Chain {
            params,
            bits,
            index,
            bodies: by_hash,
            undo: undo_by_hash,
            active,
            utxo,
            invalid: KeyedSet::new(),
            orphans: OrphanPool::default(),
            changes: ChainChanges::default(),
            unchecked_from: None,
            presigned: KeyedSet::new(),
            checked_txids: None,
        };
        // Which stored blocks had their signatures checked is not stored; unless the
        // assumed block vouches for them, check them again (from height 1, to be safe).
        if chain.params.assume_valid.is_some()
            && !chain.assumed_block_reached()
            && chain.height() > 0
        {
            chain.unchecked_from = Some(1);
        }
        Ok(chain)
    }

    /// Everything a store must hold to restore this chain (blocks of every branch, undo
    /// data, the UTXO set, the tip) as batches for an empty store (see
    /// [`crate::store::snapshot`]): to rewrite a journal of many small batches. Orphans and
    /// the invalid-block memory are not stored.
    pub fn snapshot(&self, blocks_per_batch: usize) -> Vec<ChainChanges> {
        crate::store::snapshot(
            self.bodies.iter(),
            |h| self.undo.get(h),
            self.utxo.iter().map(|(op, e)| (*op, *e)),
            Some(self.tip()),
            blocks_per_batch,
        )
    }

    /// The network parameters.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }
    /// The proof-of-work bits fixed by genesis.
    pub fn bits(&self) -> u32 {
        self.bits
    }
    /// The genesis block's hash: the network's identity.
    pub fn genesis_hash(&self) -> BlockHash {
        self.active[0]
    }
    /// The active tip.
    pub fn tip(&self) -> BlockHash {
        *self.active.last().unwrap_or(&BlockHash::default())
    }
    /// Height of the active tip.
    pub fn height(&self) -> u64 {
        self.active.len() as u64 - 1
    }
    /// Cumulative work of the active tip.
    pub fn tip_work(&self) -> u128 {
        self.index.get(&self.tip()).map_or(0, |e| e.chain_work)
    }
    /// The UTXO set of the active tip.
    pub fn utxo(&self) -> &UtxoSet {
        &self.utxo
    }
    /// The index entry of a known block.
    pub fn entry(&self, hash: &BlockHash) -> Option<&BlockEntry> {
        self.index.get(hash)
    }
    /// Whether a block is indexed (active or side branch).
    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.index.contains_key(hash)
    }
    /// Whether a block is waiting in the orphan pool.
    pub fn is_orphan(&self, hash: &BlockHash) -> bool {
        self.orphans.blocks.contains_key(hash)
    }
    /// Whether a block was found invalid.
    pub fn is_invalid(&self, hash: &BlockHash) -> bool {
        self.invalid.contains(hash)
    }
    /// Number of blocks in the orphan pool.
    pub fn orphan_count(&self) -> usize {
        self.orphans.blocks.len()
    }
    /// A stored block by hash.
    pub fn block(&self, hash: &BlockHash) -> Option<&Block> {
        self.bodies.get(hash)
    }
    /// The active block at `height`.
    pub fn block_at(&self, height: u64) -> Option<&Block> {
        self.active
            .get(usize::try_from(height).ok()?)
            .and_then(|h| self.bodies.get(h))
    }
    /// The active chain's hash at `height`.
    pub fn hash_at(&self, height: u64) -> Option<BlockHash> {
        self.active.get(usize::try_from(height).ok()?).copied()
    }
    /// Whether `hash` is on the active chain.
    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.index
            .get(hash)
            .is_some_and(|e| self.active.get(e.height as usize) == Some(hash))
    }
    /// Every indexed block with its entry, for drawing the block tree.
    pub fn entries(&self) -> impl Iterator<Item = (&BlockHash, &BlockEntry)> {
        self.index.iter()
    }

    /// Takes the changes to persist since the last call.
    pub fn take_changes(&mut self) -> ChainChanges {
        core::mem::take(&mut self.changes)
    }

    /// A block locator: the tip, then back 1 at a time for 10 blocks, then doubling, then
    /// genesis — so a peer on another branch finds the most recent common block.
    pub fn locator(&self) -> Vec<BlockHash> {
        let mut out = Vec::new();
        let mut height = self.height() as i64;
        let mut step = 1i64;
        while height > 0 {
            out.push(self.active[height as usize]);
            if out.len() >= 10 {
                step *= 2;
            }
            height -= step;
        }
        out.push(self.active[0]);
        out
    }

    /// Active-chain hashes after the first locator entry we have on our active chain (from
    /// genesis if none), at most `max`, stopping after `stop` if given.
    pub fn hashes_after(
        &self,
        locator: &[BlockHash],
        stop: Option<BlockHash>,
        max: usize,
    ) -> Vec<BlockHash> {
        let start = locator
            .iter()
            .find(|h| self.is_active(h))
            .and_then(|h| self.index.get(h))
            .map_or(0, |e| e.height as usize + 1);
        let mut out = Vec::new();
        for h in self.active.iter().skip(start).take(max) {
            out.push(*h);
            if Some(*h) == stop {
                break;
            }
        }
        out
    }

    /// For an orphan, the earliest missing ancestor to ask peers for.
    pub fn missing_ancestor(&self, orphan: &BlockHash) -> BlockHash {
        self.orphans.missing_root(*orphan)
    }

    /// Median timestamp of the 11 blocks ending at `hash`.
    pub fn median_time_past(&self, hash: &BlockHash) -> u64 {
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        let mut cursor = Some(*hash);
        while let Some(h) = cursor {
            let Some(e) = self.index.get(&h) else { break };
            times.push(e.timestamp);
            if times.len() == MEDIAN_TIME_SPAN || e.height == 0 {
                break;
            }
            cursor = Some(e.prev);
        }
        let order = ordering::ascending(times.iter().copied());
        order
            .get(order.len() / 2)
            .and_then(|&i| times.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// A block template on the active tip: a coinbase paying `subsidy + fees` to `to` at the
    /// next height, then `txs`; timestamp `now_ms`, raised past the median time if needed.
    pub fn template(
        &self,
        to: PubKeyHash,
        txs: Vec<Transaction>,
        fees: u64,
        now_ms: u64,
        data: &[u8],
    ) -> Block {
        let height = self.height() + 1;
        let mut all = Vec::with_capacity(txs.len() + 1);
        all.push(Transaction::new_coinbase(
            height,
            to,
            self.params.subsidy.saturating_add(fees),
            data,
        ));
        all.extend(txs);
        let timestamp = now_ms.max(self.median_time_past(&self.tip()) + 1);
        Block::new_template(self.tip(), timestamp, self.bits, all)
    }

    /// Validates and accepts a block from anywhere (peer, miner, local command).
    pub fn accept_block(
        &mut self,
        block: Block,
        now_ms: u64,
    ) -> Result<AcceptOutcome, ValidationError> {
        let hash = block.hash();
        if self.index.contains_key(&hash) || self.orphans.blocks.contains_key(&hash) {
            return Ok(AcceptOutcome::AlreadyKnown);
        }
        if self.invalid.contains(&hash) {
            return Err(ValidationError::InvalidAncestor(hash));
        }
        let txids = check_block(&block, self.bits, &self.params, now_ms)?;
        let parent = block.header.prev;
        if self.invalid.contains(&parent) {
            self.invalid.insert(hash);
            return Err(ValidationError::InvalidAncestor(parent));
        }
        if !self.index.contains_key(&parent) {
            self.orphans.insert(block, self.params.max_orphans);
            return Ok(AcceptOutcome::Orphan {
                missing: self.orphans.missing_root(parent),
            });
        }
        let mut steps = Vec::new();
        self.checked_txids = Some((hash, txids));
        let first = self.index_block(block, &mut steps);
        // Orphans waiting on this block (and on those) can follow now; their failures are
        // theirs, not this block's.
        let mut ready = Vec::new();
        if first.is_ok() {
            ready.push(hash);
        }
        while let Some(h) = ready.pop() {
            for child in self.orphans.take_children(&h) {
                let child_hash = child.hash();
                let Ok(txids) = check_block(&child, self.bits, &self.params, now_ms) else {
                    continue;
                };
                self.checked_txids = Some((child_hash, txids));
                if self.index_block(child, &mut steps).is_ok() {
                    ready.push(child_hash);
                }
            }
        }
        first?;
        if steps.is_empty() {
            Ok(AcceptOutcome::SideChain)
        } else {
            Ok(AcceptOutcome::TipChanged(steps))
        }
    }

    /// Indexes a checked block whose parent is indexed, and moves the tip if it is heavier.
    fn index_block(
        &mut self,
        block: Block,
        steps: &mut Vec<TipStep>,
    ) -> Result<(), ValidationError> {
        let hash = block.hash();
        // An orphan's parent may have been dropped while it waited (its branch failed to
        // connect earlier in the same cascade).
        let Some(parent) = self.index.get(&block.header.prev).copied() else {
            if self.invalid.contains(&block.header.prev) {
                self.invalid.insert(hash);
                return Err(ValidationError::InvalidAncestor(block.header.prev));
            }
            return Err(ValidationError::UnknownParent(block.header.prev));
        };
        let height = parent.height + 1;
        let result = self.check_contextual_header(&block, height);
        if let Err(e) = result {
            self.invalid.insert(hash);
            return Err(e);
        }
        let entry = BlockEntry {
            height,
            chain_work: parent
                .chain_work
                .saturating_add(pow::work(block.header.bits)),
            prev: block.header.prev,
            timestamp: block.header.timestamp,
        };
        self.index.insert(hash, entry);
        self.changes.blocks.push(block.clone());
        self.bodies.insert(hash, block);
        // Most work wins; between equal work the lower hash does, so a network whose miners
        // found two blocks at once agrees without waiting for the next block.
        let heavier = entry.chain_work > self.tip_work()
            || (entry.chain_work == self.tip_work() && hash < self.tip());
        if heavier {
            self.activate(hash, steps)?;
        }
        Ok(())
    }

    fn check_contextual_header(&self, block: &Block, height: u64) -> Result<(), ValidationError> {
        let median = self.median_time_past(&block.header.prev);
        if block.header.timestamp <= median {
            return Err(ValidationError::TimestampTooOld {
                timestamp: block.header.timestamp,
                median,
            });
        }
        let got = block.coinbase_height().unwrap_or(u64::MAX);
        if got != height {
            return Err(ValidationError::CoinbaseWrongHeight {
                expected: height,
                got,
            });
        }
        Ok(())
    }

    /// Makes `new_tip` (heavier than the active tip) active: disconnect to the fork point,
    /// connect the branch; on an invalid branch block, restore the old chain.
    fn activate(
        &mut self,
        new_tip: BlockHash,
        steps: &mut Vec<TipStep>,
    ) -> Result<(), ValidationError> {
        let mut branch = Vec::new();
        let mut cursor = new_tip;
        while !self.is_active(&cursor) {
            branch.push(cursor);
            cursor = self.index[&cursor].prev;
        }
        branch.reverse();
        let fork_height = self.index[&cursor].height;
        let old: Vec<BlockHash> = self.active[fork_height as usize + 1..].to_vec();
        let mark = self.changes.utxo.len();
        let tip_mark = self.changes.tip;
        let mut local = Vec::new();
        for h in old.iter().rev() {
            self.disconnect_tip();
            local.push(TipStep::Disconnected(self.bodies[h].clone()));
        }
        for (i, h) in branch.iter().enumerate() {
            if let Err(e) = self.connect(*h) {
                for _ in 0..i {
                    self.disconnect_tip();
                }
                for h in &old {
                    self.connect_unchecked(*h);
                }
                // The restore undid every UTXO write of the attempt.
                self.changes.utxo.truncate(mark);
                self.changes.tip = tip_mark;
                self.forget_branch(&branch[i..], validation::condemns_header(&e));
                return Err(e);
            }
            local.push(TipStep::Connected(self.bodies[h].clone()));
        }
        steps.extend(local);
        Ok(())
    }

    /// Drops `bad` blocks and everything indexed on top of them; remembers them as invalid
    /// when the failure proves the header bad (otherwise a correct body may still come).
    fn forget_branch(&mut self, bad: &[BlockHash], condemn: bool) {
        let mut gone = KeyedSet::new();
        gone.extend(bad.iter().copied());
        loop {
            let more: Vec<BlockHash> = self
                .index
                .iter()
                .filter(|(h, e)| !gone.contains(*h) && gone.contains(&e.prev))
                .map(|(h, _)| *h)
                .collect();
            if more.is_empty() {
                break;
            }
            gone.extend(more);
        }
        for h in &gone {
            self.index.remove(h);
            self.bodies.remove(h);
            if condemn {
                self.invalid.insert(*h);
            }
        }
        self.changes.blocks.retain(|b| !gone.contains(&b.hash()));
        self.changes.removed.extend(gone);
    }

    /// Checks every input of the block at the tip's next height, then connects it.
    fn connect(&mut self, hash: BlockHash) -> Result<(), ValidationError> {
        let height = self.index[&hash].height;
        let skip_signatures = !self.checks_signatures_at(height);
        let presigned = self.presigned.remove(&hash);
        let block = &self.bodies[&hash];
        let txids = match self.checked_txids.take() {
            Some((h, txids)) if h == hash => txids,
            _ => block.txids(),
        };
        let mut spent_here = KeyedSet::new();
        let mut created_here: KeyedMap<OutPoint, TxOut> = KeyedMap::new();
        let mut fees = 0u64;
        for (tx, txid) in block.transactions.iter().zip(&txids).skip(1) {
            for input in &tx.inputs {
                if spent_here.contains(&input.prev) {
                    return Err(ValidationError::DoubleSpendInBlock(input.prev));
                }
            }
            let fee = check_inputs(
                tx,
                |op| {
                    created_here
                        .get(op)
                        .copied()
                        .or_else(|| self.utxo.get(op).map(|e| e.output))
                },
                !skip_signatures && !presigned,
            )?;
            fees = fees
                .checked_add(fee)
                .ok_or(ValidationError::ValueOverflow)?;
            for input in &tx.inputs {
                spent_here.insert(input.prev);
                created_here.remove(&input.prev);
            }
            for (vout, o) in tx.outputs.iter().enumerate() {
                created_here.insert(
                    OutPoint {
                        txid: *txid,
                        vout: vout as u32,
                    },
                    *o,
                );
            }
        }
        let allowed = self.params.subsidy.saturating_add(fees);
        let value = block.transactions[0]
            .output_total()
            .ok_or(ValidationError::ValueOverflow)?;
        if value > allowed {
            return Err(ValidationError::CoinbaseOverpays { value, allowed });
        }
        self.connect_with_txids(hash, &txids);
        if skip_signatures {
            self.unchecked_from = Some(self.unchecked_from.map_or(height, |u| u.min(height)));
        }
        if self.assumed_block_reached() {
            // The assumed block is on the active chain: its ancestors are vouched for.
            self.unchecked_from = None;
        }
        Ok(())
    }

    /// Whether a block at `height` has its signatures checked when it connects: always,
    /// except below the assume-valid block while the chain does not yet lead to it. A shell
    /// that verifies signatures elsewhere asks this first, to skip work the chain skips.
    pub fn checks_signatures_at(&self, height: u64) -> bool {
        !self
            .params
            .assume_valid
            .is_some_and(|(h, _)| height <= h && !self.assumed_block_reached())
    }

    /// Records that every signature of block `hash` was verified by the caller (with
    /// [`crate::keys::verify`]'s rules: uncompressed key, low-S, ECDSA P-256 over SHA-256 of
    /// the signature message), so connecting it skips them. Everything else is still checked,
    /// including that each key matches the output it spends.
    pub fn note_signatures_verified(&mut self, hash: BlockHash) {
        if self.presigned.len() >= MAX_PRESIGNED {
            self.presigned.clear();
        }
        self.presigned.insert(hash);
    }

    /// Whether the assume-valid block is on the active chain.
    fn assumed_block_reached(&self) -> bool {
        self.params
            .assume_valid
            .is_some_and(|(h, hash)| self.hash_at(h) == Some(hash))
    }

    /// Lowest active height whose signatures were not checked yet (assume-valid), if any.
    pub fn unchecked_from(&self) -> Option<u64> {
        self.unchecked_from
    }

    /// Checks the signatures skipped under assume-valid, at most `max_blocks` blocks from the
    /// lowest; returns whether none is left. A block with a bad signature is disconnected with
    /// everything above it and remembered as invalid; the error comes back with the steps
    /// the tip took, for the mempool.
    pub fn check_skipped_signatures(
        &mut self,
        max_blocks: u64,
    ) -> Result<bool, (BlockHash, ValidationError, Vec<TipStep>)> {
        let Some(from) = self.unchecked_from else {
            return Ok(true);
        };
        let top = self.height();
        let last = from.saturating_add(max_blocks.max(1) - 1).min(top);
        for height in from..=last {
            let Some(hash) = self.hash_at(height) else {
                break;
            };
            let Some(block) = self.bodies.get(&hash) else {
                break;
            };
            if let Err(e) = verify_block_signatures(block) {
                let mut steps = Vec::new();
                while self.height() >= height && self.height() > 0 {
                    let tip = self.tip();
                    self.disconnect_tip();
                    if let Some(b) = self.bodies.get(&tip) {
                        steps.push(TipStep::Disconnected(b.clone()));
                    }
                }
                self.forget_branch(&[hash], true);
                self.unchecked_from = None;
                return Err((hash, e, steps));
            }
        }
        self.unchecked_from = if last >= top { None } else { Some(last + 1) };
        Ok(self.unchecked_from.is_none())
    }

    /// Connects a block known to be valid on the active tip.
    fn connect_unchecked(&mut self, hash: BlockHash) {
        let txids = self.bodies[&hash].txids();
        self.connect_with_txids(hash, &txids);
    }

    /// [`Chain::connect_unchecked`] with the block's txids already computed.
    fn connect_with_txids(&mut self, hash: BlockHash, txids: &[Txid]) {
        let height = self.index[&hash].height;
        let block = &self.bodies[&hash];
        let undo = self.utxo.apply_with_txids(block, height, txids);
        self.changes.utxo.extend(self.utxo.changes_for_apply(&undo));
        self.changes.undo.push((hash, undo.clone()));
        self.undo.insert(hash, undo);
        self.active.push(hash);
        self.changes.tip = Some(hash);
    }

    /// Disconnects the active tip (never genesis) with its undo data.
    fn disconnect_tip(&mut self) {
        if self.active.len() <= 1 {
            return;
        }
        let Some(hash) = self.active.pop() else {
            return;
        };
        if let Some(undo) = self.undo.get(&hash) {
            self.utxo.undo(undo);
            self.changes.utxo.extend(UtxoSet::changes_for_undo(undo));
        }
        self.changes.tip = Some(self.tip());
        if self.unchecked_from.is_some_and(|u| u > self.height()) {
            self.unchecked_from = None;
        }
    }

    /// Rebuilds the UTXO set and undo data by replaying the active chain from genesis (the
    /// seed's `reindexutxo`); the changes replace the stored set.
    pub fn reindex_utxo(&mut self) {
        let mut utxo = UtxoSet::new();
        let mut undo = KeyedMap::new();
        for (height, h) in self.active.iter().enumerate() {
            let u = utxo.apply(&self.bodies[h], height as u64);
            undo.insert(*h, u);
        }
        self.utxo = utxo;
        self.undo = undo;
        self.changes.utxo_reset = true;
        self.changes.utxo = self.utxo.iter().map(|(op, e)| (*op, Some(*e))).collect();
        self.changes.undo = self.undo.iter().map(|(h, u)| (*h, u.clone())).collect();
    }
}

/// Checks every input signature of a block whose other rules were checked when it was
/// connected (the public keys were matched to the spent outputs then).
fn verify_block_signatures(block: &Block) -> Result<(), ValidationError> {
    for tx in block.transactions.iter().skip(1) {
        validation::verify_signatures(tx)?;
    }
    Ok(())
}
