//! Chain state: the block index, the active chain, the UTXO set, and fork choice.
//!
//! Every block is checked on arrival ([`check_block`]) before anything is kept,
//! then indexed under its parent with its cumulative work. The active chain is the one with
//! the most work; a block that makes a side branch heavier triggers a reorganisation that
//! disconnects blocks with their undo data and connects the branch, checking every input and
//! signature as it goes. If a branch block turns out invalid the old chain is restored.
//! Blocks whose parent is unknown wait, bounded, in an orphan pool.
//!
//! All changes to persist are gathered in [`ChainChanges`]; the caller takes them with
//! [`Chain::take_changes`] and writes them as one transaction.
//!
//! # Assume-valid, bound to one block
//! A tab may be given one block hash by the relay that served its page (as Bitcoin Core
//! ships one in its code). Signatures are skipped only for blocks that are ancestors of that
//! exact block: while it has not arrived, blocks up to its height are indexed (every other
//! rule of [`check_block`] checked) but not connected, so nothing unverified ever reaches the
//! UTXO set; once it is indexed its ancestry is known and the branch connects with the
//! ancestors' signatures skipped. Any other block, on any branch, after any reorganisation,
//! is checked in full. If it never comes (the chain goes past its height without it, or the
//! node gives up waiting), the held blocks connect with every signature checked. Blocks
//! connected unchecked are recorded and stored ([`ChainChanges::unchecked`]), so a reload
//! that is not given the same vouching block checks them, and their transactions re-enter
//! a mempool only after a signature check.
//!
//! # Bounded side branches
//! A block that does not add work is a side block: kept only within a byte and count budget
//! ([`MAX_SIDE_BRANCH_BYTES`]), the lowest-work side branches forgotten first (they are not
//! condemned and may be fetched again). Orphans are bounded in count and bytes.
//!
//! # What lives where
//! - `mod.rs`: [`Chain`], its index of blocks, accepting and indexing a block, fork choice,
//!   and the public questions asked of a chain (tip, heights, locator, templates).
//! - `connect.rs`: connecting and disconnecting blocks with their undo data, and
//!   reorganising to a heavier branch.
//! - `assumed.rs`: assume-valid: the wait for the vouching block, held blocks, giving up
//!   when stalled, and the later check of blocks connected unchecked.
//! - `presigned.rs`: signatures a shell verified ahead of connection.
//! - `side_branches.rs`: the side-branch budgets, and forgetting blocks.
//! - `orphans.rs`: blocks waiting for their parent.
//! - `changes.rs`: [`ChainChanges`] and the snapshot of a whole chain as such batches.
//!
//! # May depend on
//! `consensus` (the rules, and [`CheckedBlock`], the proof that a block passed them),
//! `primitives`, `utxo`, `util`. Not on `store`, `mempool`, `protocol` or `node`: they
//! depend on the chain.

#[cfg(feature = "stored-bodies")]
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::consensus::params::{ChainParams, MAX_BITS};
use crate::consensus::pow;
use crate::consensus::validation::{check_block, CheckedBlock, ValidationError, MEDIAN_TIME_SPAN};
use crate::primitives::block::{Block, BlockHeader};
use crate::primitives::hash::{BlockHash, PubKeyHash};
use crate::primitives::tx::Transaction;
#[cfg(feature = "stored-bodies")]
use crate::util::keyed_map::KeyedMap;
use crate::util::keyed_map::KeyedSet;
use crate::util::ordering;
#[cfg(feature = "stored-bodies")]
use crate::utxo::BlockUndo;
use crate::utxo::UtxoSet;

mod active_chain;
mod assumed;
mod block_index;
mod bodies;
mod changes;
mod connect;
mod load;
mod orphans;
mod presigned;
mod side_branches;

use active_chain::ActiveChain;
use assumed::{AssumeValid, Assumed};
use bodies::Bodies;
use connect::JustChecked;
use orphans::OrphanPool;
use presigned::PresignedHints;
use side_branches::SideBranches;

pub use assumed::ASSUMED_BLOCK_PATIENCE_MS;
pub use block_index::{BlockIndex, Position, Unlinked};
pub use bodies::{owned as owned_body, BodyRef};
#[cfg(feature = "stored-bodies")]
pub use bodies::{BodySource, RECENT_BODIES};
pub use changes::{snapshot, ChainChanges};
pub use connect::CONNECT_STEP_BLOCKS;
pub use orphans::{OrphanMark, MAX_ORPHAN_BYTES};
pub use side_branches::{
    MAX_BEST_SIDE_BRANCH_BLOCKS, MAX_BEST_SIDE_BRANCH_BYTES, MAX_SIDE_BRANCH_BLOCKS,
    MAX_SIDE_BRANCH_BYTES,
};

/// Distance between locator entries doubles after this many entries (the newest blocks are
/// listed one by one, where two branches most likely part).
const LOCATOR_DENSE_ENTRIES: usize = 10;
/// Blocks of a held branch listed at most at the head of a locator: the download resumes
/// from the newest of them, and older ones are found through the active chain's part.
const LOCATOR_HELD_ENTRIES: usize = 10;

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
    /// Stored on the best branch but not connected yet: the node waits for its
    /// assume-valid block, which decides which blocks may skip their signature checks.
    Held,
    /// Kept until its parent arrives.
    Orphan {
        /// The earliest ancestor missing.
        missing: BlockHash,
    },
    /// Already known; nothing changed.
    AlreadyKnown,
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

/// The chain state of one node.
#[derive(Debug, Clone)]
pub struct Chain {
    params: ChainParams,
    bits: u32,
    index: BlockIndex,
    /// Block bodies and undo data: all in memory, or recent ones over a body source.
    bodies: Bodies,
    active: ActiveChain,
    utxo: UtxoSet,
    invalid: KeyedSet<BlockHash>,
    orphans: OrphanPool,
    changes: ChainChanges,
    /// Signatures skipped or to be skipped: the wait for the assume-valid block, held
    /// blocks, blocks connected unchecked.
    assume_valid: AssumeValid,
    /// Side-branch blocks and their sizes.
    side: SideBranches,
    /// Blocks whose signatures the shell already verified.
    presigned: PresignedHints,
    /// The block a step stopped short of ([`CONNECT_STEP_BLOCKS`]), to connect towards
    /// with [`Chain::connect_next_step`].
    connect_pending: Option<BlockHash>,
}

/// Mines a genesis block paying `subsidy` to `to` at difficulty `bits`.
pub fn mine_genesis(to: PubKeyHash, subsidy: u64, timestamp: u64, bits: u32, data: &[u8]) -> Block {
    let coinbase = Transaction::new_coinbase(0, to, subsidy, data);
    let mut block = Block::new_template(BlockHash::ZERO, timestamp, bits, alloc::vec![coinbase]);
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
        if genesis.header.prev != BlockHash::ZERO {
            return Err(ChainError::NotAGenesis("it has a parent"));
        }
        let checked =
            check_block(genesis, bits, &params, now_ms).map_err(ChainError::InvalidGenesis)?;
        let genesis = checked.block();
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
        let entry = BlockEntry {
            height: 0,
            chain_work: pow::work(bits),
            prev: genesis.header.prev,
            timestamp: genesis.header.timestamp,
        };
        let mut chain = Chain::from_parts(
            params,
            bits,
            BlockIndex::new(),
            Bodies::default(),
            ActiveChain::default(),
            UtxoSet::new(),
        );
        // An empty index takes any entry without a parent at height 0.
        let _ = chain.index.insert(hash, entry);
        let (genesis, txids) = checked.into_parts();
        chain.changes.blocks.push(genesis.clone());
        chain.apply_block(hash, &genesis, &txids);
        chain.bodies.insert_block(hash, genesis);
        chain.note_assumed_indexed(hash, 0);
        Ok(chain)
    }

    /// A chain of these parts, with nothing else known yet (no orphan, invalid or side
    /// block, no change to write), waiting for the configured assume-valid block.
    fn from_parts(
        params: ChainParams,
        bits: u32,
        index: BlockIndex,
        bodies: Bodies,
        active: ActiveChain,
        utxo: UtxoSet,
    ) -> Self {
        Chain {
            assume_valid: AssumeValid::new(&params),
            params,
            bits,
            index,
            bodies,
            active,
            utxo,
            invalid: KeyedSet::new(),
            orphans: OrphanPool::default(),
            changes: ChainChanges::default(),
            side: SideBranches::default(),
            presigned: PresignedHints::default(),
            connect_pending: None,
        }
    }

    /// Keeps bodies and undo data in `source` from now on: those in memory stay until the
    /// source holds them and they are no longer among the [`RECENT_BODIES`].
    #[cfg(feature = "stored-bodies")]
    pub fn keep_bodies_in(&mut self, source: Arc<dyn BodySource>) {
        self.bodies.back_with(source);
    }

    /// Everything a store must hold to restore this chain (blocks of every branch, undo
    /// data, the UTXO set, the tip) as batches for an empty store (see
    /// [`snapshot`]): to rewrite a journal of many small batches. Orphans and
    /// the invalid-block memory are not stored.
    /// Lazy, as [`snapshot`]: each batch's blocks are copied as it is taken.
    pub fn snapshot(&self, blocks_per_batch: usize) -> impl Iterator<Item = ChainChanges> + '_ {
        #[cfg(feature = "stored-bodies")]
        if self.bodies.is_backed() {
            return alloc::boxed::Box::new(self.snapshot_from_source(blocks_per_batch).into_iter())
                as alloc::boxed::Box<dyn Iterator<Item = ChainChanges> + '_>;
        }
        let batches = snapshot(
            self.bodies.memory_blocks(),
            |h| self.bodies.in_memory_undo(h),
            self.utxo.entries().into_iter(),
            self.assume_valid.unchecked.iter().copied(),
            Some(self.tip()),
            blocks_per_batch,
        );
        #[cfg(feature = "stored-bodies")]
        let batches = alloc::boxed::Box::new(batches);
        batches
    }

    /// [`Chain::snapshot`] of a chain whose bodies are on disk: each read once, to hand over.
    #[cfg(feature = "stored-bodies")]
    fn snapshot_from_source(&self, blocks_per_batch: usize) -> Vec<ChainChanges> {
        let blocks: Vec<(BlockHash, Block)> = self
            .index
            .keys()
            .filter_map(|h| self.bodies.block(h).map(|b| (*h, b.into_owned())))
            .collect();
        let undo: KeyedMap<BlockHash, BlockUndo> = blocks
            .iter()
            .filter_map(|(h, _)| self.bodies.undo(h).map(|u| (*h, u.into_owned())))
            .collect();
        snapshot(
            blocks.iter().map(|(h, b)| (h, b)),
            |h| undo.get(h),
            self.utxo.entries().into_iter(),
            self.assume_valid.unchecked.iter().copied(),
            Some(self.tip()),
            blocks_per_batch,
        )
        .collect()
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
        self.active
            .hash_at(&self.index, 0)
            .copied()
            .unwrap_or(BlockHash::ZERO)
    }
    /// The active tip.
    pub fn tip(&self) -> BlockHash {
        self.active.tip(&self.index)
    }
    /// Height of the active tip.
    pub fn height(&self) -> u64 {
        self.active.len() as u64 - 1
    }
    /// Cumulative work of the active tip.
    pub fn tip_work(&self) -> u128 {
        self.index.get(&self.tip()).map_or(0, |e| e.chain_work)
    }
    /// The most work of any indexed block: the active tip's, or a held block's while the
    /// node waits for the assumed block.
    pub fn best_work(&self) -> u128 {
        let held = self
            .assume_valid
            .held
            .and_then(|h| self.index.get(&h))
            .map_or(0, |e| e.chain_work);
        self.tip_work().max(held)
    }
    /// Height of the best indexed block (see [`Chain::best_work`]): how far a download got,
    /// even while blocks are held back.
    pub fn best_height(&self) -> u64 {
        self.assume_valid
            .held
            .and_then(|h| self.index.get(&h))
            .map_or(0, |e| e.height)
            .max(self.height())
    }
    /// Whether a block with this header, received unasked, deserves processing: its parent
    /// is unknown (the orphan rules apply), or it would add work to the best chain. A peer
    /// pushing low-work blocks nobody asked for makes the node spend memory and time for
    /// nothing (Bitcoin Core processes an unrequested block only if it has more work too).
    pub fn would_add_work(&self, header: &BlockHeader) -> bool {
        self.index.get(&header.prev).is_none_or(|parent| {
            parent.chain_work.saturating_add(pow::work(header.bits)) > self.best_work()
        })
    }
    /// Whether a header carries the network's bits and meets them: the cheap check that
    /// comes before any other, so a header without work is refused as invalid at once.
    pub fn proves_work(&self, header: &BlockHeader) -> bool {
        header.bits == self.bits && pow::meets_target(&header.hash(), self.bits)
    }
    /// Number of side-branch blocks kept, and their bytes.
    pub fn side_branch_size(&self) -> (usize, usize) {
        self.side.size()
    }
    /// The UTXO set of the active tip.
    pub fn utxo(&self) -> &UtxoSet {
        &self.utxo
    }
    /// The index entry of a known block.
    pub fn entry(&self, hash: &BlockHash) -> Option<BlockEntry> {
        self.index.get(hash)
    }
    /// Whether a block is indexed (active or side branch).
    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.index.contains_key(hash)
    }
    /// Whether a block was found invalid.
    pub fn is_invalid(&self, hash: &BlockHash) -> bool {
        self.invalid.contains(hash)
    }
    /// A block held in memory, by hash: any indexed block of a chain kept all in memory (a
    /// tab's, the simulator's); only recent ones of a chain over a body source (the
    /// relay's), whose other bodies [`Chain::body`] reads.
    pub fn block(&self, hash: &BlockHash) -> Option<&Block> {
        self.bodies.in_memory_block(hash)
    }
    /// The active block at `height`, if held in memory (see [`Chain::block`]).
    pub fn block_at(&self, height: u64) -> Option<&Block> {
        let hash = self
            .active
            .hash_at(&self.index, usize::try_from(height).ok()?)?;
        self.bodies.in_memory_block(hash)
    }
    /// Any indexed block's body, by hash: from memory, or read from the body source.
    pub fn body(&self, hash: &BlockHash) -> Option<BodyRef<'_>> {
        self.bodies.block(hash)
    }
    /// The active block's body at `height` (see [`Chain::body`]).
    pub fn body_at(&self, height: u64) -> Option<BodyRef<'_>> {
        self.bodies.block(
            self.active
                .hash_at(&self.index, usize::try_from(height).ok()?)?,
        )
    }
    /// The active chain's hash at `height`.
    pub fn hash_at(&self, height: u64) -> Option<BlockHash> {
        self.active
            .hash_at(&self.index, usize::try_from(height).ok()?)
            .copied()
    }
    /// Whether `hash` is on the active chain.
    pub fn is_active(&self, hash: &BlockHash) -> bool {
        self.index
            .get(hash)
            .is_some_and(|e| self.active.has_at(&self.index, hash, e.height))
    }
    /// Every indexed block with its entry, for drawing the block tree.
    pub fn entries(&self) -> impl Iterator<Item = (BlockHash, BlockEntry)> + '_ {
        self.index.iter()
    }

    /// Takes the changes to persist since the last call.
    pub fn take_changes(&mut self) -> ChainChanges {
        #[cfg(feature = "body-source")]
        {
            self.changes.batch = self.utxo.seal_batch();
        }
        core::mem::take(&mut self.changes)
    }

    /// Reads stored coins from `source` from now on: memory keeps only the coins changed and
    /// not yet reported stored ([`Chain::stored`]).
    #[cfg(feature = "body-source")]
    pub fn keep_coins_in(&mut self, source: Arc<dyn crate::utxo::CoinSource>) {
        self.utxo.back_with(source);
    }

    /// The shell wrote the changes of batch `batch` (and every earlier one, in order): a
    /// UTXO set over stored coins reads what they changed from the store from now on.
    #[cfg(feature = "body-source")]
    pub fn stored(&mut self, batch: u64) {
        self.utxo.stored(batch);
    }

    /// A block locator: the tip, then back 1 at a time for 10 blocks
    /// (`LOCATOR_DENSE_ENTRIES`), then doubling, then
    /// genesis — so a peer on another branch finds the most recent common block.
    ///
    /// While blocks are held back (waiting for the assumed block) it starts from the best
    /// held block instead, so a download carries on from where it got.
    pub fn locator(&self) -> Vec<BlockHash> {
        let mut out = Vec::new();
        if let Some(held) = self.assume_valid.held {
            // The held branch down to the active chain, then the active chain's locator.
            let mut cursor = held;
            let mut taken = 0;
            while !self.is_active(&cursor) && taken < LOCATOR_HELD_ENTRIES {
                out.push(cursor);
                taken += 1;
                match self.index.get(&cursor) {
                    Some(e) => cursor = e.prev,
                    None => break,
                }
            }
        }
        let mut height = self.height() as i64;
        let mut step = 1i64;
        while height > 0 {
            if let Some(h) = self.active.hash_at(&self.index, height as usize) {
                out.push(*h);
            }
            if out.len() >= LOCATOR_DENSE_ENTRIES {
                step *= 2;
            }
            height -= step;
        }
        out.push(self.genesis_hash());
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
        let mut height = start;
        while let Some(&h) = self.active.hash_at(&self.index, height) {
            if out.len() == max {
                break;
            }
            out.push(h);
            if Some(h) == stop {
                break;
            }
            height += 1;
        }
        out
    }

    /// Median timestamp of the [`MEDIAN_TIME_SPAN`] blocks ending at `hash`.
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
    ///
    /// An error is the block's own (or its branch's): a failure of a block that was waiting
    /// (an orphan whose parent this one was, a held branch this one let connect) is not
    /// reported here.
    pub fn accept_block(
        &mut self,
        block: Block,
        now_ms: u64,
    ) -> Result<AcceptOutcome, ValidationError> {
        let hash = block.hash();
        // A signature hint speaks for the body it was computed on: this one, and only if it
        // is the body the header commits to (a decoy body under the same header, verified
        // and then refused, must not vouch for the real one).
        let verified_here = self.presigned.take_next(&hash);
        if self.index.contains_key(&hash) || self.orphans.contains(&hash) {
            return Ok(AcceptOutcome::AlreadyKnown);
        }
        if self.invalid.contains(&hash) {
            return Err(ValidationError::InvalidAncestor(hash));
        }
        // Once `check_block` passes, the body is the one the header commits to (a
        // domain-separated Merkle tree and no repeated transaction): a later failure condemns
        // the header. A failure inside it does not: another body could pass under it.
        let checked = check_block(block, self.bits, &self.params, now_ms)?;
        if verified_here {
            self.presigned.keep(hash);
        }
        let parent = checked.block().header.prev;
        if self.invalid.contains(&parent) {
            self.invalid.insert(hash);
            return Err(ValidationError::InvalidAncestor(parent));
        }
        if !self.index.contains_key(&parent) {
            self.orphans
                .insert(checked.into_block(), self.params.max_orphans);
            return Ok(AcceptOutcome::Orphan {
                missing: self.orphans.missing_root(parent),
            });
        }
        let mut steps = Vec::new();
        let first = self.index_block(checked, now_ms, &mut steps);
        // Orphans waiting on this block (and on those) can follow now; their failures are
        // theirs, not this block's.
        let mut ready = Vec::new();
        if first.is_ok() {
            ready.push(hash);
        }
        while let Some(h) = ready.pop() {
            for child in self.orphans.take_children(&h) {
                let child_hash = child.hash();
                let Ok(checked) = check_block(child, self.bits, &self.params, now_ms) else {
                    continue;
                };
                if self.index_block(checked, now_ms, &mut steps).is_ok() {
                    ready.push(child_hash);
                }
            }
        }
        self.trim_side_branches();
        first?;
        if !steps.is_empty() {
            Ok(AcceptOutcome::TipChanged(steps))
        } else if self.assume_valid.held.is_some()
            && self.index.contains_key(&hash)
            && !self.side.contains(&hash)
        {
            Ok(AcceptOutcome::Held)
        } else {
            Ok(AcceptOutcome::SideChain)
        }
    }

    /// Indexes a checked block whose parent is indexed, and moves the tip if it is heavier
    /// (or holds it back while waiting for the assumed block). An error is this block's or
    /// its branch's. Only a [`CheckedBlock`] can be indexed, so every body the chain keeps
    /// (and may connect later) passed [`check_block`].
    fn index_block(
        &mut self,
        checked: CheckedBlock,
        now_ms: u64,
        steps: &mut Vec<TipStep>,
    ) -> Result<(), ValidationError> {
        let block = checked.block();
        let hash = block.hash();
        // An orphan's parent may have been dropped while it waited (its branch failed to
        // connect earlier in the same cascade).
        let Some(parent) = self.index.get(&block.header.prev) else {
            if self.invalid.contains(&block.header.prev) {
                self.invalid.insert(hash);
                return Err(ValidationError::InvalidAncestor(block.header.prev));
            }
            return Err(ValidationError::UnknownParent(block.header.prev));
        };
        let height = parent.height + 1;
        let result = self.check_contextual_header(block, height);
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
        let size = block.encoded_size();
        let best = self.best_block();
        if self.index.insert(hash, entry).is_err() {
            // Its parent is indexed, its height and work follow from its parent's: only a
            // height past 2^32 could be refused, which no index in memory reaches.
            return Err(ValidationError::UnknownParent(block.header.prev));
        }
        let (block, txids) = checked.into_parts();
        self.changes.blocks.push(block.clone());
        self.bodies.insert_block(hash, block);
        let adds_work = self.is_heavier(&hash, &best);
        let was_waiting = self.waits_for_assumed_block();
        self.note_assumed_indexed(hash, height);
        if !adds_work {
            self.side.insert(hash, size);
        }
        if let Assumed::Waiting { progress_at, .. } = &mut self.assume_valid.assumed {
            if adds_work {
                *progress_at = Some(now_ms);
                self.hold(hash);
            }
            return Ok(());
        }
        if !adds_work && !was_waiting {
            return Ok(());
        }
        // Not waiting (any more): the heaviest of this block and what was held connects.
        let just_checked = JustChecked {
            hash,
            txids: &txids,
        };
        match self.activate_best(Some(hash), Some(just_checked), steps) {
            Some((_, e)) if !self.index.contains_key(&hash) => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether block `a` beats block `b` (both indexed) in fork choice (see [`heavier`]).
    fn is_heavier(&self, a: &BlockHash, b: &BlockHash) -> bool {
        heavier(&self.index, a, b)
    }

    /// The best indexed block: the held one while waiting, or the one a step of a long
    /// extension stopped short of (its branch is not a side branch), else the active tip.
    fn best_block(&self) -> BlockHash {
        match self.assume_valid.held.or(self.connect_pending) {
            Some(h) if self.index.contains_key(&h) && self.is_heavier(&h, &self.tip()) => h,
            _ => self.tip(),
        }
    }

    /// The heaviest indexed block, by a scan (after a failure, or on load).
    fn heaviest_indexed(&self) -> BlockHash {
        let mut best = self.tip();
        for h in self.index.keys() {
            if self.is_heavier(h, &best) {
                best = *h;
            }
        }
        best
    }

    /// The rules a block must meet where it sits: a timestamp past the median of its
    /// ancestors', and a coinbase that names its height.
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

    /// The hashes from genesis to `hash` (indexed), by height.
    fn ancestry(&self, hash: BlockHash) -> Vec<BlockHash> {
        let mut out = Vec::new();
        let mut cursor = Some(hash);
        while let Some(h) = cursor {
            let Some(e) = self.index.get(&h) else { break };
            out.push(h);
            cursor = (e.height > 0).then_some(e.prev);
        }
        out.reverse();
        out
    }
}

/// Whether block `a` beats block `b` (both in `index`) in fork choice: most work, and
/// between equal work the lower hash, so a network whose miners found two blocks at once
/// agrees without waiting for the next block.
fn heavier(index: &BlockIndex, a: &BlockHash, b: &BlockHash) -> bool {
    let work = |h: &BlockHash| index.get(h).map_or(0, |e| e.chain_work);
    work(a) > work(b) || (work(a) == work(b) && a < b)
}
