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

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::consensus::params::{ChainParams, MAX_BITS};
use crate::consensus::pow;
use crate::consensus::validation::{self, check_block, ValidationError};
use crate::primitives::block::Block;
use crate::primitives::hash::{BlockHash, PubKeyHash, Txid};
use crate::primitives::tx::Transaction;
use crate::util::keyed_map::{KeyedMap, KeyedSet};
use crate::util::ordering;
use crate::utxo::{BlockUndo, UtxoChange, UtxoSet};

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

/// What must be written to storage, all together, after a change. Serialisable, so a shell
/// may store a batch as one record (see [`crate::store`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainChanges {
    /// Blocks connected without a signature check (`true`), or checked since (`false`):
    /// stored so that a reload knows which blocks still rest on a vouching block.
    pub unchecked: Vec<(BlockHash, bool)>,
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
            && self.unchecked.is_empty()
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

/// Bytes of orphan blocks kept at most: 16 full blocks, far more than a download keeps
/// ahead of its parents (blocks arrive nearly in order), and a bound on what a peer sending
/// parentless blocks can make a node hold whatever the count limit says.
pub const MAX_ORPHAN_BYTES: usize = 16 << 20;
/// Bytes of side-branch bodies (blocks that do not add work to the best chain) kept at most.
/// Honest side branches are the few blocks of a race between miners or the losing side of a
/// partition; 8 MiB holds dozens of full blocks and thousands of small ones.
pub const MAX_SIDE_BRANCH_BYTES: usize = 8 << 20;
/// Side-branch blocks kept at most, whatever their size.
pub const MAX_SIDE_BRANCH_BLOCKS: usize = 2_000;
/// Bytes the heaviest side branch may hold on its own: it may be a heavier chain arriving in
/// order (a healed partition), which stays a side branch until its last block. 64 full
/// blocks past the fork; a deeper fork of full blocks is not followed until headers-first
/// sync (known gap), while its cost to an attacker is that many blocks of proof of work.
pub const MAX_BEST_SIDE_BRANCH_BYTES: usize = 64 << 20;
/// Blocks the heaviest side branch may hold on its own.
pub const MAX_BEST_SIDE_BRANCH_BLOCKS: usize = 20_000;

/// Blocks whose parent is unknown, bounded in count and bytes, oldest evicted first.
#[derive(Debug, Clone, Default)]
struct OrphanPool {
    blocks: KeyedMap<BlockHash, Block>,
    by_parent: KeyedMap<BlockHash, Vec<BlockHash>>,
    order: VecDeque<BlockHash>,
    bytes: usize,
}

impl OrphanPool {
    fn insert(&mut self, block: Block, max: usize) {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) || max == 0 {
            return;
        }
        let size = block.encoded_size();
        while self.blocks.len() >= max || self.bytes.saturating_add(size) > MAX_ORPHAN_BYTES {
            match self.order.pop_front() {
                Some(old) => self.remove(&old),
                None => break,
            }
        }
        self.by_parent.get_or_default(block.header.prev).push(hash);
        self.blocks.insert(hash, block);
        self.order.push_back(hash);
        self.bytes += size;
    }

    fn remove(&mut self, hash: &BlockHash) {
        if let Some(b) = self.blocks.remove(hash) {
            self.bytes = self.bytes.saturating_sub(b.encoded_size());
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
                self.bytes = self.bytes.saturating_sub(b.encoded_size());
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
    /// Blocks connected without their signatures checked (ancestors of the assumed block,
    /// or restored from storage as such).
    unchecked: KeyedSet<BlockHash>,
    /// Lowest active height that may hold an unchecked block no assumed block vouches for
    /// (a reload given another or no assume-valid block): checked a slice at a time.
    recheck_from: Option<u64>,
    /// Where the wait for the assume-valid block stands.
    assumed: Assumed,
    /// While waiting for the assumed block: the heaviest indexed block held back from the
    /// active chain.
    held: Option<BlockHash>,
    /// Side-branch blocks (indexed, adding no work to the best chain) and their sizes.
    side: KeyedMap<BlockHash, usize>,
    /// Total bytes of `side`.
    side_bytes: usize,
    /// Blocks whose signatures the shell already verified (natively, off the thread that
    /// validates): their signature checks are skipped once. A hint only, bounded.
    presigned: KeyedSet<BlockHash>,
    /// The hint for the next block given to [`Chain::accept_block`]: it becomes a
    /// `presigned` entry only if that block's body is the one its header commits to.
    pending_presigned: Option<BlockHash>,
    /// The txids `check_block` computed for the block being accepted, for connecting it.
    checked_txids: Option<(BlockHash, Vec<Txid>)>,
}

/// The state of the wait for the assume-valid block (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Assumed {
    /// No assume-valid block, or it was given up: every signature is checked.
    Off,
    /// The assumed block is not indexed yet: blocks up to its height are held back.
    Waiting {
        /// Its height, as the relay that vouched for it said.
        height: u64,
        /// Its hash: the only thing that vouches.
        hash: BlockHash,
        /// When the best held block last gained work (`None` until the first check).
        progress_at: Option<u64>,
    },
    /// The assumed block is indexed: its ancestors by height, itself last.
    Known {
        /// `ancestors[h]` is the assumed block's ancestor at height `h`.
        ancestors: Vec<BlockHash>,
    },
}

/// Most blocks remembered as verified ahead of connection; more than a download keeps in
/// flight.
const MAX_PRESIGNED: usize = 4096;

/// How long a node waits, with nothing downloading and no new work on the held branch, for
/// the assumed block before it connects what it holds with every signature checked.
pub const ASSUMED_BLOCK_PATIENCE_MS: u64 = 5_000;

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
            unchecked: KeyedSet::new(),
            recheck_from: None,
            assumed: Assumed::Off,
            held: None,
            side: KeyedMap::new(),
            side_bytes: 0,
            presigned: KeyedSet::new(),
            pending_presigned: None,
            checked_txids: None,
        };
        chain.assumed = chain.initial_assumed();
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
        chain.note_assumed_indexed(hash, 0);
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
            unchecked: KeyedSet::new(),
            recheck_from: None,
            assumed: Assumed::Off,
            held: None,
            side: KeyedMap::new(),
            side_bytes: 0,
            presigned: KeyedSet::new(),
            pending_presigned: None,
            checked_txids: None,
        };
        chain.assumed = chain.initial_assumed();
        if let Assumed::Waiting { hash, .. } = chain.assumed {
            if let Some(e) = chain.index.get(&hash).copied() {
                chain.note_assumed_indexed(hash, e.height);
            } else if chain.index.values().any(
                |e| matches!(chain.assumed, Assumed::Waiting { height, .. } if e.height > height),
            ) {
                chain.assumed = Assumed::Off;
            }
        }
        // Blocks stored but not connected (held while waiting, or a crash before they were
        // connected): the heaviest is held, or connected now if nothing holds it back.
        let best = chain.heaviest_indexed();
        if best != chain.tip() {
            if matches!(chain.assumed, Assumed::Waiting { .. }) {
                chain.held = Some(best);
            } else {
                let mut steps = Vec::new();
                chain.activate_best(Some(best), &mut steps);
            }
        }
        chain.classify_side_blocks();
        Ok(chain)
    }

    /// Marks stored blocks as connected without a signature check (what a store recorded
    /// through [`ChainChanges::unchecked`]). Those on the active chain that the assumed
    /// block given now does not vouch for are checked again, a slice at a time, by
    /// [`Chain::check_skipped_signatures`].
    pub fn restore_unchecked(&mut self, unchecked: impl IntoIterator<Item = BlockHash>) {
        for h in unchecked {
            if self.index.contains_key(&h) {
                self.unchecked.insert(h);
            }
        }
        self.recheck_from = self
            .unchecked
            .iter()
            .filter(|h| self.is_active(h))
            .filter_map(|h| self.index.get(h).map(|e| (e.height, *h)))
            .filter(|(height, h)| !self.is_vouched(h, *height))
            .map(|(height, _)| height)
            .min();
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
            self.unchecked.iter().copied(),
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
    /// The most work of any indexed block: the active tip's, or a held block's while the
    /// node waits for the assumed block.
    pub fn best_work(&self) -> u128 {
        let held = self
            .held
            .and_then(|h| self.index.get(&h))
            .map_or(0, |e| e.chain_work);
        self.tip_work().max(held)
    }
    /// Height of the best indexed block (see [`Chain::best_work`]): how far a download got,
    /// even while blocks are held back.
    pub fn best_height(&self) -> u64 {
        self.held
            .and_then(|h| self.index.get(&h))
            .map_or(0, |e| e.height)
            .max(self.height())
    }
    /// Whether a block with this header, received unasked, deserves processing: its parent
    /// is unknown (the orphan rules apply), or it would add work to the best chain. A peer
    /// pushing low-work blocks nobody asked for makes the node spend memory and time for
    /// nothing (Bitcoin Core processes an unrequested block only if it has more work too).
    pub fn would_add_work(&self, header: &crate::primitives::block::BlockHeader) -> bool {
        self.index.get(&header.prev).is_none_or(|parent| {
            parent.chain_work.saturating_add(pow::work(header.bits)) > self.best_work()
        })
    }
    /// Whether a header carries the network's bits and meets them: the cheap check that
    /// comes before any other, so a header without work is refused as invalid at once.
    pub fn proves_work(&self, header: &crate::primitives::block::BlockHeader) -> bool {
        header.bits == self.bits && pow::meets_target(&header.hash(), self.bits)
    }
    /// Whether the node still waits for its assume-valid block, holding blocks back.
    pub fn waits_for_assumed_block(&self) -> bool {
        matches!(self.assumed, Assumed::Waiting { .. })
    }
    /// Number of side-branch blocks kept, and their bytes.
    pub fn side_branch_size(&self) -> (usize, usize) {
        (self.side.len(), self.side_bytes)
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
    ///
    /// While blocks are held back (waiting for the assumed block) it starts from the best
    /// held block instead, so a download carries on from where it got.
    pub fn locator(&self) -> Vec<BlockHash> {
        let mut out = Vec::new();
        if let Some(held) = self.held {
            // The held branch down to the active chain, then the active chain's locator.
            let mut cursor = held;
            let mut taken = 0;
            while !self.is_active(&cursor) && taken < 10 {
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
        let verified_here = self.pending_presigned.take() == Some(hash);
        if self.index.contains_key(&hash) || self.orphans.blocks.contains_key(&hash) {
            return Ok(AcceptOutcome::AlreadyKnown);
        }
        if self.invalid.contains(&hash) {
            return Err(ValidationError::InvalidAncestor(hash));
        }
        // Once `check_block` passes, the body is the one the header commits to (a
        // domain-separated Merkle tree and no repeated transaction): a later failure condemns
        // the header. A failure inside it does not: another body could pass under it.
        let txids = check_block(&block, self.bits, &self.params, now_ms)?;
        if verified_here {
            if self.presigned.len() >= MAX_PRESIGNED {
                self.presigned.clear();
            }
            self.presigned.insert(hash);
        }
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
        let first = self.index_block(block, now_ms, &mut steps);
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
                if self.index_block(child, now_ms, &mut steps).is_ok() {
                    ready.push(child_hash);
                }
            }
        }
        self.checked_txids = None;
        self.trim_side_branches();
        first?;
        if !steps.is_empty() {
            Ok(AcceptOutcome::TipChanged(steps))
        } else if self.held.is_some()
            && self.index.contains_key(&hash)
            && !self.side.contains_key(&hash)
        {
            Ok(AcceptOutcome::Held)
        } else {
            Ok(AcceptOutcome::SideChain)
        }
    }

    /// Indexes a checked block whose parent is indexed, and moves the tip if it is heavier
    /// (or holds it back while waiting for the assumed block). An error is this block's or
    /// its branch's.
    fn index_block(
        &mut self,
        block: Block,
        now_ms: u64,
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
        let size = block.encoded_size();
        let best = self.best_block();
        self.index.insert(hash, entry);
        self.changes.blocks.push(block.clone());
        self.bodies.insert(hash, block);
        let adds_work = self.is_heavier(&hash, &best);
        let was_waiting = self.waits_for_assumed_block();
        self.note_assumed_indexed(hash, height);
        if !adds_work {
            self.side.insert(hash, size);
            self.side_bytes += size;
        }
        if let Assumed::Waiting { progress_at, .. } = &mut self.assumed {
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
        match self.activate_best(Some(hash), steps) {
            Some((_, e)) if !self.index.contains_key(&hash) => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether block `a` beats block `b` (both indexed) in fork choice: most work, and
    /// between equal work the lower hash, so a network whose miners found two blocks at once
    /// agrees without waiting for the next block.
    fn is_heavier(&self, a: &BlockHash, b: &BlockHash) -> bool {
        let work = |h: &BlockHash| self.index.get(h).map_or(0, |e| e.chain_work);
        work(a) > work(b) || (work(a) == work(b) && a < b)
    }

    /// The best indexed block: the held one while waiting, else the active tip.
    fn best_block(&self) -> BlockHash {
        match self.held {
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

    /// Makes `hash` the held block: its branch is the download's; the branch held before,
    /// if it was another, becomes a side branch.
    fn hold(&mut self, hash: BlockHash) {
        let prev = self.index.get(&hash).map(|e| e.prev);
        if let Some(old) = self.held.filter(|old| Some(*old) != prev) {
            for h in self.branch_not_leading_to(old, hash) {
                let size = self.bodies.get(&h).map_or(0, Block::encoded_size);
                if self.side.insert(h, size).is_none() {
                    self.side_bytes += size;
                }
            }
        }
        self.held = Some(hash);
        self.unmark_side_ancestors(hash);
    }

    /// The blocks from `from` down to (not including) its common ancestor with `to`.
    fn branch_not_leading_to(&self, from: BlockHash, to: BlockHash) -> Vec<BlockHash> {
        let height = |h: &BlockHash| self.index.get(h).map(|e| e.height);
        let prev = |h: &BlockHash| self.index.get(h).map(|e| e.prev);
        let (mut a, mut b) = (from, to);
        let mut out = Vec::new();
        loop {
            let (Some(ha), Some(hb)) = (height(&a), height(&b)) else {
                return out;
            };
            if a == b {
                return out;
            }
            if ha >= hb {
                out.push(a);
                match prev(&a) {
                    Some(p) if ha > 0 => a = p,
                    _ => return out,
                }
            } else {
                match prev(&b) {
                    Some(p) => b = p,
                    None => return out,
                }
            }
        }
    }

    /// Ancestors of `hash` that were side blocks are on the best branch now.
    fn unmark_side_ancestors(&mut self, hash: BlockHash) {
        let mut cursor = self.index.get(&hash).map(|e| e.prev);
        while let Some(h) = cursor {
            let Some(size) = self.side.remove(&h) else {
                break;
            };
            self.side_bytes = self.side_bytes.saturating_sub(size);
            cursor = self.index.get(&h).map(|e| e.prev);
        }
    }

    /// Connects the heaviest of `candidate`, the held block and the tip; when a branch
    /// fails, the next heaviest. Returns the first failure (the block and why).
    fn activate_best(
        &mut self,
        candidate: Option<BlockHash>,
        steps: &mut Vec<TipStep>,
    ) -> Option<(BlockHash, ValidationError)> {
        let mut target = self.best_block();
        if let Some(c) = candidate.filter(|c| self.index.contains_key(c)) {
            if self.is_heavier(&c, &target) {
                target = c;
            }
        }
        self.held = None;
        let mut first_failure = None;
        while self.is_heavier(&target, &self.tip()) {
            match self.activate(target, steps) {
                Ok(()) => break,
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                    target = self.heaviest_indexed();
                }
            }
        }
        first_failure
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
    /// connect the branch; on an invalid branch block, restore the old chain, forget the bad
    /// block and what was built on it, and say which block failed.
    fn activate(
        &mut self,
        new_tip: BlockHash,
        steps: &mut Vec<TipStep>,
    ) -> Result<(), (BlockHash, ValidationError)> {
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
        let unchecked_mark = self.changes.unchecked.len();
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
                for h in &branch[..i] {
                    // Never connected after all.
                    self.unchecked.remove(h);
                }
                for h in &old {
                    self.connect_unchecked(*h);
                }
                // The restore undid every UTXO write of the attempt.
                self.changes.utxo.truncate(mark);
                self.changes.unchecked.truncate(unchecked_mark);
                self.changes.tip = tip_mark;
                let failed = branch[i];
                self.forget_branch(&branch[i..], validation::condemns_header(&e));
                return Err((failed, e));
            }
            local.push(TipStep::Connected(self.bodies[h].clone()));
        }
        for h in &old {
            let size = self.bodies.get(h).map_or(0, Block::encoded_size);
            if self.side.insert(*h, size).is_none() {
                self.side_bytes += size;
            }
        }
        for h in &branch {
            if let Some(size) = self.side.remove(h) {
                self.side_bytes = self.side_bytes.saturating_sub(size);
            }
        }
        steps.extend(local);
        Ok(())
    }

    /// Drops `bad` blocks and everything indexed on top of them; remembers them as invalid
    /// when the failure proves the header bad (otherwise a correct body may still come).
    /// One pass over the blocks above the lowest bad one, in height order: linear in the
    /// index, however deep the branch.
    fn forget_branch(&mut self, bad: &[BlockHash], condemn: bool) {
        let gone = self.with_descendants(bad, self.index.keys());
        self.drop_blocks(&gone, condemn);
    }

    /// `roots` and every block among `candidates` built on one of them: one pass over the
    /// candidates above the lowest root, in height order.
    fn with_descendants<'a>(
        &self,
        roots: &[BlockHash],
        candidates: impl Iterator<Item = &'a BlockHash>,
    ) -> KeyedSet<BlockHash> {
        let mut gone = KeyedSet::new();
        gone.extend(roots.iter().copied());
        let Some(lowest) = roots
            .iter()
            .filter_map(|h| self.index.get(h))
            .map(|e| e.height)
            .min()
        else {
            return gone;
        };
        let above: Vec<(u64, BlockHash)> = candidates
            .filter_map(|h| self.index.get(h).map(|e| (e.height, *h)))
            .filter(|(height, _)| *height > lowest)
            .collect();
        for (_, h) in ordering::sorted_by_key(above, |(height, _)| *height) {
            if self.index.get(&h).is_some_and(|e| gone.contains(&e.prev)) {
                gone.insert(h);
            }
        }
        gone
    }

    /// Removes indexed blocks (none of them active) from memory and storage.
    fn drop_blocks(&mut self, gone: &KeyedSet<BlockHash>, condemn: bool) {
        for h in gone {
            self.index.remove(h);
            self.bodies.remove(h);
            self.undo.remove(h);
            self.unchecked.remove(h);
            if let Some(size) = self.side.remove(h) {
                self.side_bytes = self.side_bytes.saturating_sub(size);
            }
            if condemn {
                self.invalid.insert(*h);
            }
        }
        if self.held.is_some_and(|h| gone.contains(&h)) {
            self.held = None;
            let best = self.heaviest_indexed();
            if best != self.tip() {
                self.held = Some(best);
            }
        }
        if let Assumed::Known { ancestors } = &self.assumed {
            if ancestors.last().is_some_and(|a| gone.contains(a)) && condemn {
                // The vouched-for block is invalid: nothing is vouched for any more.
                self.assumed = Assumed::Off;
            }
        }
        self.changes.blocks.retain(|b| !gone.contains(&b.hash()));
        self.changes.removed.extend(gone.iter().copied());
    }

    /// Forgets the lowest-work side branches while they hold more than the budget. They are
    /// not condemned: a peer may send them again if they ever lead somewhere.
    ///
    /// The heaviest side branch has a budget of its own ([`MAX_BEST_SIDE_BRANCH_BYTES`]): it
    /// is the one that may overtake the tip next (the bits are fixed, so work is height), and
    /// a heavier chain arriving in order is a side branch until its last block. Forgetting
    /// its first blocks under the common budget would drop all of it, every time it came:
    /// two sides of a healed partition deeper than the budget would never agree.
    fn trim_side_branches(&mut self) {
        if self.side_bytes <= MAX_SIDE_BRANCH_BYTES && self.side.len() <= MAX_SIDE_BRANCH_BLOCKS {
            return;
        }
        loop {
            let best = self.best_side_branch();
            let best_bytes: usize = best.iter().filter_map(|h| self.side.get(h)).sum();
            let other_bytes = self.side_bytes.saturating_sub(best_bytes);
            let other_count = self.side.len().saturating_sub(best.len());
            let victim =
                if other_bytes > MAX_SIDE_BRANCH_BYTES || other_count > MAX_SIDE_BRANCH_BLOCKS {
                    self.lowest_side_block(|h| !best.contains(h))
                } else if best_bytes > MAX_BEST_SIDE_BRANCH_BYTES
                    || best.len() > MAX_BEST_SIDE_BRANCH_BLOCKS
                {
                    self.lowest_side_block(|_| true)
                } else {
                    None
                };
            let Some(victim) = victim else {
                break;
            };
            // Everything built on a side block is on a side branch too (a block on the
            // best branch would have taken its ancestors off the side list).
            let gone = self.with_descendants(&[victim], self.side.keys());
            self.drop_blocks(&gone, false);
        }
    }

    /// The side blocks on the way to the heaviest side block (its side ancestors).
    fn best_side_branch(&self) -> KeyedSet<BlockHash> {
        let mut out = KeyedSet::new();
        let mut best: Option<BlockHash> = None;
        for h in self.side.keys() {
            if best.is_none_or(|b| self.is_heavier(h, &b)) {
                best = Some(*h);
            }
        }
        let mut cursor = best;
        while let Some(h) = cursor.filter(|h| self.side.contains_key(h)) {
            out.insert(h);
            cursor = self.index.get(&h).map(|e| e.prev);
        }
        out
    }

    /// The side block with the least work among those `eligible` (ties: the higher hash).
    fn lowest_side_block(&self, eligible: impl Fn(&BlockHash) -> bool) -> Option<BlockHash> {
        self.side
            .keys()
            .filter(|h| eligible(h))
            .filter_map(|h| self.index.get(h).map(|e| (e.chain_work, *h)))
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, h)| h)
    }

    /// Checks every input of the block at the tip's next height, then connects it.
    fn connect(&mut self, hash: BlockHash) -> Result<(), ValidationError> {
        let height = self.index[&hash].height;
        let skip_signatures = self.is_vouched(&hash, height);
        let presigned = self.presigned.remove(&hash);
        let block = &self.bodies[&hash];
        let txids = match self.checked_txids.take() {
            Some((h, txids)) if h == hash => txids,
            _ => block.txids(),
        };
        validation::check_block_spends(
            block,
            &txids,
            &self.utxo,
            !skip_signatures && !presigned,
            self.params.subsidy,
        )?;
        self.connect_with_txids(hash, &txids);
        if skip_signatures && !presigned && block_has_signatures(&self.bodies[&hash]) {
            self.unchecked.insert(hash);
            self.changes.unchecked.push((hash, true));
        }
        Ok(())
    }

    /// Whether a block at `height` may have its signatures skipped when it connects: only
    /// below the assume-valid block's height while it is awaited or known (and then only
    /// its exact ancestors are skipped). A shell that verifies signatures elsewhere asks
    /// this first, to skip work the chain will likely skip.
    pub fn checks_signatures_at(&self, height: u64) -> bool {
        match &self.assumed {
            Assumed::Off => true,
            Assumed::Waiting { height: h, .. } => height > *h,
            Assumed::Known { ancestors } => height >= ancestors.len() as u64,
        }
    }

    /// Whether the block `hash` at `height` is an ancestor of (or is) the assumed block.
    fn is_vouched(&self, hash: &BlockHash, height: u64) -> bool {
        match &self.assumed {
            Assumed::Known { ancestors } => {
                usize::try_from(height).ok().and_then(|h| ancestors.get(h)) == Some(hash)
            }
            _ => false,
        }
    }

    /// The wait state for the configured assume-valid block, before any block is indexed.
    fn initial_assumed(&self) -> Assumed {
        match self.params.assume_valid {
            Some((height, hash)) => Assumed::Waiting {
                height,
                hash,
                progress_at: None,
            },
            None => Assumed::Off,
        }
    }

    /// Moves the wait on when a block is indexed: the assumed block itself makes its
    /// ancestry known; a block above its height without it means it is not coming.
    fn note_assumed_indexed(&mut self, hash: BlockHash, height: u64) {
        if let Assumed::Waiting {
            height: awaited_height,
            hash: awaited,
            ..
        } = self.assumed
        {
            if hash == awaited {
                self.assumed = Assumed::Known {
                    ancestors: self.ancestry(hash),
                };
            } else if height > awaited_height {
                self.assumed = Assumed::Off;
            }
        }
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

    /// Gives up waiting for the assumed block once nothing is downloading (`downloading`
    /// false) and the held branch has gained no work for [`ASSUMED_BLOCK_PATIENCE_MS`]:
    /// what is held then connects with every signature checked. Returns the tip's steps
    /// when it gave up. Nothing a peer claims (heights, say) enters this decision.
    pub fn give_up_on_assumed_block_if_stalled(
        &mut self,
        now_ms: u64,
        downloading: bool,
    ) -> Option<Vec<TipStep>> {
        let Assumed::Waiting { progress_at, .. } = &mut self.assumed else {
            return None;
        };
        let since = *progress_at.get_or_insert(now_ms);
        if downloading
            || self.held.is_none()
            || now_ms.saturating_sub(since) < ASSUMED_BLOCK_PATIENCE_MS
        {
            return None;
        }
        self.assumed = Assumed::Off;
        let mut steps = Vec::new();
        self.activate_best(None, &mut steps);
        self.trim_side_branches();
        Some(steps)
    }

    /// Records that every signature of the block about to be given to
    /// [`Chain::accept_block`] (hash `hash`) was verified by the caller (with
    /// [`crate::primitives::keys::verify`]'s rules: uncompressed key, low-S, ECDSA P-256 over SHA-256 of
    /// the signature message), so connecting it skips them. The note applies to that next
    /// call only, and only if its body passes [`check_block`]: what was verified is a list
    /// of transactions, and only the committed list may profit. Everything else is still
    /// checked, including that each key matches the output it spends.
    pub fn note_signatures_verified(&mut self, hash: BlockHash) {
        self.pending_presigned = Some(hash);
    }

    /// Whether block `hash` was connected without its signatures checked (vouched for by
    /// the assumed block, or restored as such): its transactions need a signature check
    /// before they may enter a mempool.
    pub fn connected_unchecked(&self, hash: &BlockHash) -> bool {
        self.unchecked.contains(hash)
    }

    /// Lowest active height that may hold a block connected unchecked that no assumed block
    /// vouches for now, if any.
    pub fn recheck_from(&self) -> Option<u64> {
        self.recheck_from
    }

    /// Checks the signatures of active blocks connected unchecked that nothing vouches for
    /// now (restored from storage), at most `max_blocks` blocks from the lowest; returns
    /// whether none is left. A block with a bad signature is disconnected with everything
    /// above it and remembered as invalid; the error comes back with the steps the tip
    /// took, for the mempool.
    pub fn check_skipped_signatures(
        &mut self,
        max_blocks: u64,
    ) -> Result<bool, (BlockHash, ValidationError, Vec<TipStep>)> {
        let Some(from) = self.recheck_from else {
            return Ok(true);
        };
        if self.waits_for_assumed_block() {
            // The block that may vouch for them is still awaited.
            return Ok(false);
        }
        let top = self.height();
        let last = from.saturating_add(max_blocks.max(1) - 1).min(top);
        for height in from..=last {
            let Some(hash) = self.hash_at(height) else {
                break;
            };
            if !self.unchecked.contains(&hash) || self.is_vouched(&hash, height) {
                continue;
            }
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
                self.recheck_from = None;
                self.activate_best(None, &mut steps);
                return Err((hash, e, steps));
            }
            self.unchecked.remove(&hash);
            self.changes.unchecked.push((hash, false));
        }
        self.recheck_from = if last >= top { None } else { Some(last + 1) };
        Ok(self.recheck_from.is_none())
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
        if self.recheck_from.is_some_and(|u| u > self.height()) {
            self.recheck_from = None;
        }
    }

    /// Puts every indexed block that neither is active nor leads to the best block on the
    /// side-branch list (after a load), and trims it to the budget.
    fn classify_side_blocks(&mut self) {
        let best = self.best_block();
        let on_best: KeyedSet<BlockHash> = {
            let mut s = KeyedSet::new();
            s.extend(self.ancestry(best));
            s
        };
        let side: Vec<(BlockHash, usize)> = self
            .index
            .keys()
            .filter(|h| !on_best.contains(*h) && !self.is_active(h))
            .map(|h| (*h, self.bodies.get(h).map_or(0, Block::encoded_size)))
            .collect();
        for (h, size) in side {
            if self.side.insert(h, size).is_none() {
                self.side_bytes += size;
            }
        }
        self.trim_side_branches();
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

/// Whether a block has any signature to check (a block of only a coinbase has none).
fn block_has_signatures(block: &Block) -> bool {
    block.transactions.len() > 1
}

/// Checks every input signature of a block whose other rules were checked when it was
/// connected (the public keys were matched to the spent outputs then).
fn verify_block_signatures(block: &Block) -> Result<(), ValidationError> {
    for tx in block.transactions.iter().skip(1) {
        validation::verify_signatures(tx)?;
    }
    Ok(())
}
