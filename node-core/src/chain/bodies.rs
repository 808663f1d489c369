//! Where a chain keeps block bodies and undo data: all in memory (a tab, the simulator), or
//! on a shell's disk behind a [`BodySource`] with only recent ones in memory (the relay).
//! The disk path is the `body-source` feature: the relay enables it; the browser page's
//! module leaves it out and keeps the plain maps (it pays bytes for every line of code).
//!
//! Validation and fork choice need only the header index and the UTXO set; a body is needed
//! again only when a peer asks for it, when a reorganisation disconnects or reconnects it, or
//! when someone looks at it. A chain given a [`BodySource`] keeps in memory the bodies not yet
//! confirmed stored and the most recent [`RECENT_BODIES`] beside them, so its memory does
//! not grow with its history (Bitcoin Core keeps block files and undo files on disk the same
//! way).

#[cfg(feature = "stored-bodies")]
use alloc::borrow::Cow;
#[cfg(feature = "stored-bodies")]
use alloc::collections::VecDeque;
#[cfg(feature = "stored-bodies")]
use alloc::sync::Arc;
use core::fmt;

use crate::primitives::block::Block;
use crate::primitives::hash::BlockHash;
use crate::util::keyed_map::KeyedMap;
use crate::utxo::BlockUndo;

/// A body the chain lends: borrowed from memory, or read from the [`BodySource`].
#[cfg(feature = "stored-bodies")]
pub type BodyRef<'a> = Cow<'a, Block>;
/// A body the chain lends: always borrowed from memory without a body source.
#[cfg(not(feature = "stored-bodies"))]
pub type BodyRef<'a> = Lent<'a, Block>;
/// An undo record the chain lends, as [`BodyRef`].
#[cfg(feature = "stored-bodies")]
pub(super) type UndoRef<'a> = Cow<'a, BlockUndo>;
/// An undo record the chain lends, as [`BodyRef`].
#[cfg(not(feature = "stored-bodies"))]
pub(super) type UndoRef<'a> = Lent<'a, BlockUndo>;

/// A value borrowed from memory, used like the `Cow` a body source's build lends, so the
/// chain's code reads the same with and without the feature.
#[cfg(not(feature = "stored-bodies"))]
#[derive(Debug, Clone, Copy)]
pub struct Lent<'a, T>(&'a T);

#[cfg(not(feature = "stored-bodies"))]
impl<T> core::ops::Deref for Lent<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
    }
}

/// The lent body as an owned one (moved when it was read from the source).
pub fn owned(body: BodyRef<'_>) -> Block {
    #[cfg(feature = "stored-bodies")]
    return body.into_owned();
    #[cfg(not(feature = "stored-bodies"))]
    return body.0.clone();
}

/// Recent bodies (and undo records) a disk-backed chain keeps in memory beside those not yet
/// confirmed stored: the tip's neighbourhood, which peers ask for as it is announced and a
/// short reorganisation disconnects, without a disk read. 64 blocks of the largest size
/// are 64 MiB at most; a usual block is a few KB.
#[cfg(feature = "stored-bodies")]
pub const RECENT_BODIES: usize = 64;

/// Stored bodies and undo records a chain reads when it does not hold them in memory. A
/// shell implements it over its database; reads are synchronous (the state machine asks in
/// the middle of a step) and must see everything the shell committed.
#[cfg(feature = "stored-bodies")]
pub trait BodySource: fmt::Debug + Send + Sync {
    /// The stored body of `hash`, if stored and readable.
    fn block(&self, hash: &BlockHash) -> Option<Block>;
    /// The stored undo record of `hash`, if stored and readable.
    fn undo(&self, hash: &BlockHash) -> Option<BlockUndo>;
    /// Whether the body of `hash` is stored (committed): only then may it leave memory.
    fn has_block(&self, hash: &BlockHash) -> bool;
    /// Whether the undo record of `hash` is stored (committed).
    fn has_undo(&self, hash: &BlockHash) -> bool;
}

/// Bodies and undo records of a chain: every one in memory, or recent ones in memory over a
/// [`BodySource`].
#[derive(Clone, Default)]
pub(super) struct Bodies {
    blocks: KeyedMap<BlockHash, Block>,
    undo: KeyedMap<BlockHash, BlockUndo>,
    /// Hashes in `blocks` and `undo`, oldest first (kept only with a source).
    #[cfg(feature = "stored-bodies")]
    recent: VecDeque<BlockHash>,
    #[cfg(feature = "stored-bodies")]
    source: Option<Arc<dyn BodySource>>,
}

impl fmt::Debug for Bodies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Bodies");
        d.field("blocks_in_memory", &self.blocks.len())
            .field("undo_in_memory", &self.undo.len());
        #[cfg(feature = "stored-bodies")]
        d.field("source", &self.source);
        d.finish()
    }
}

impl Bodies {
    /// Everything in memory, from these maps.
    pub(super) fn in_memory(
        blocks: KeyedMap<BlockHash, Block>,
        undo: KeyedMap<BlockHash, BlockUndo>,
    ) -> Self {
        Bodies {
            blocks,
            undo,
            #[cfg(feature = "stored-bodies")]
            recent: VecDeque::new(),
            #[cfg(feature = "stored-bodies")]
            source: None,
        }
    }

    /// Whether bodies live on a source rather than all in memory.
    pub(super) fn is_backed(&self) -> bool {
        #[cfg(feature = "stored-bodies")]
        return self.source.is_some();
        #[cfg(not(feature = "stored-bodies"))]
        return false;
    }

    /// The body of `hash`, from memory or the source.
    pub(super) fn block(&self, hash: &BlockHash) -> Option<BodyRef<'_>> {
        #[cfg(feature = "stored-bodies")]
        return match self.blocks.get(hash) {
            Some(b) => Some(Cow::Borrowed(b)),
            None => self.source.as_ref()?.block(hash).map(Cow::Owned),
        };
        #[cfg(not(feature = "stored-bodies"))]
        return self.blocks.get(hash).map(Lent);
    }

    /// The body of `hash` if it is in memory.
    pub(super) fn in_memory_block(&self, hash: &BlockHash) -> Option<&Block> {
        self.blocks.get(hash)
    }

    /// The undo record of `hash`, from memory or the source.
    pub(super) fn undo(&self, hash: &BlockHash) -> Option<UndoRef<'_>> {
        #[cfg(feature = "stored-bodies")]
        return match self.undo.get(hash) {
            Some(u) => Some(Cow::Borrowed(u)),
            None => self.source.as_ref()?.undo(hash).map(Cow::Owned),
        };
        #[cfg(not(feature = "stored-bodies"))]
        return self.undo.get(hash).map(Lent);
    }

    /// Keeps a new body in memory (until stored and no longer recent).
    pub(super) fn insert_block(&mut self, hash: BlockHash, block: Block) {
        #[cfg(not(feature = "stored-bodies"))]
        self.blocks.insert(hash, block);
        #[cfg(feature = "stored-bodies")]
        if self.blocks.insert(hash, block).is_none() && self.source.is_some() {
            self.recent.push_back(hash);
            self.evict();
        }
    }

    /// Keeps a new undo record in memory (until stored and no longer recent).
    pub(super) fn insert_undo(&mut self, hash: BlockHash, undo: BlockUndo) {
        self.undo.insert(hash, undo);
        #[cfg(feature = "stored-bodies")]
        if self.source.is_some() && !self.recent.contains(&hash) {
            self.recent.push_back(hash);
            self.evict();
        }
    }

    /// Forgets a body and its undo record from memory (storage forgets them through
    /// [`super::ChainChanges::removed`]).
    pub(super) fn remove(&mut self, hash: &BlockHash) {
        self.blocks.remove(hash);
        self.undo.remove(hash);
    }

    /// Replaces every undo record (a rebuilt UTXO set).
    pub(super) fn replace_undo(&mut self, undo: KeyedMap<BlockHash, BlockUndo>) {
        self.undo = undo;
    }

    /// Bodies held in memory (all of them when not backed).
    pub(super) fn memory_blocks(&self) -> impl Iterator<Item = (&BlockHash, &Block)> {
        self.blocks.iter()
    }

    /// The undo record of `hash` if it is in memory.
    pub(super) fn in_memory_undo(&self, hash: &BlockHash) -> Option<&BlockUndo> {
        self.undo.get(hash)
    }
}

#[cfg(feature = "stored-bodies")]
impl Bodies {
    /// Nothing in memory yet; everything stored is read from `source`.
    pub(super) fn over(source: Arc<dyn BodySource>) -> Self {
        Bodies {
            source: Some(source),
            ..Bodies::default()
        }
    }

    /// Reads from `source` from now on; what is in memory leaves once stored and old.
    pub(super) fn back_with(&mut self, source: Arc<dyn BodySource>) {
        self.source = Some(source);
        self.recent = self
            .blocks
            .keys()
            .chain(self.undo.keys())
            .copied()
            .collect();
        let mut seen = crate::util::keyed_map::KeyedSet::new();
        self.recent.retain(|h| seen.insert(*h));
        self.evict();
    }

    /// Drops the oldest bodies and undo records past [`RECENT_BODIES`] that the source holds.
    /// Batches are committed in order, so when the oldest is not stored yet neither are the
    /// newer ones: eviction waits for the next insert.
    fn evict(&mut self) {
        let Some(source) = self.source.as_ref() else {
            return;
        };
        while self.recent.len() > RECENT_BODIES {
            let Some(&h) = self.recent.front() else {
                break;
            };
            let block_stored = !self.blocks.contains_key(&h) || source.has_block(&h);
            let undo_stored = !self.undo.contains_key(&h) || source.has_undo(&h);
            if !(block_stored && undo_stored) {
                break;
            }
            self.recent.pop_front();
            self.blocks.remove(&h);
            self.undo.remove(&h);
        }
    }
}
