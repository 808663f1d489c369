//! The chain's block bodies and undo records as the tab keeps them: in its [`BodyFile`],
//! each found through where it lies, so the chain holds only recent ones in wasm memory.
//!
//! # Overview
//! [`StoredBodies`] is node-core's [`BodySource`] for the tab's chain. The driver hands it
//! every batch of changes the node asks to persist as soon as the node gives it up
//! ([`StoredBodies::write`]): the bodies and undo records go to the file at once and leave
//! the batch, which keeps only the blocks' headers on its way to the IndexedDB journal
//! ([`crate::storage`]), where [`crate::storage::JournalBatch::of`] names each record's place.
//! The chain then lets the bodies go from memory, and reads them back from the file when a
//! reorganisation, a peer or the explorer needs one.
//!
//! What is known of every stored block (its header and the places of its body and undo
//! record) stays in memory: ~150 bytes a block, against ~3 KB for the body and undo data.

use std::cell::RefCell;

use node_core::chain::{BodySource, ChainChanges};
use node_core::primitives::block::{BlockHeader, MAX_BLOCK_SIZE};
use node_core::primitives::codec;
use node_core::util::keyed_map::KeyedMap;
use node_core::utxo::BlockUndo;
use node_core::{Block, BlockHash};

use crate::body_file::{BodyFile, Span};
use crate::error::NodeError;

/// Largest undo record read back: a block's inputs and outputs, each far smaller encoded
/// than the block bytes that carry it.
const MAX_UNDO_BYTES: usize = 2 * MAX_BLOCK_SIZE;

/// What is known of one stored block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Its header (a load builds the index from headers alone).
    pub header: BlockHeader,
    /// Where its body lies.
    pub block: Span,
    /// Where its undo record lies, once connected.
    pub undo: Option<Span>,
}

/// See the module docs.
pub struct StoredBodies {
    file: BodyFile,
    located: RefCell<KeyedMap<BlockHash, Located>>,
    /// Blocks a batch forgot ([`ChainChanges::removed`]) whose places an earlier batch's
    /// journal record, built later, must still name (a block connected, then found invalid
    /// on a recheck): kept until the batch that forgot them is journaled
    /// ([`StoredBodies::journaled_removal`]).
    forgotten: RefCell<KeyedMap<BlockHash, Located>>,
}

impl std::fmt::Debug for StoredBodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredBodies")
    }
}

// SAFETY: the page's module is built without threads (no atomics), so a value is never
// reached from two threads; node-core asks `Send + Sync` of a body source for the relay.
unsafe impl Send for StoredBodies {}
// SAFETY: as for `Send`.
unsafe impl Sync for StoredBodies {}

impl StoredBodies {
    /// Over `file`, whose stored blocks are `located` (what the journal named).
    pub fn new(file: BodyFile, located: KeyedMap<BlockHash, Located>) -> Self {
        StoredBodies {
            file,
            located: RefCell::new(located),
            forgotten: RefCell::default(),
        }
    }

    /// Takes `located` as every stored block (a load's, or nothing after a clear).
    pub fn replace_located(&self, located: KeyedMap<BlockHash, Located>) {
        *self.located.borrow_mut() = located;
        self.forgotten.borrow_mut().clear();
    }

    /// The body file.
    pub fn file(&self) -> &BodyFile {
        &self.file
    }

    /// Writes the bodies and undo records of `changes` to the file, then takes them out of
    /// `changes`: its blocks keep their headers only, its undo records are emptied. Where
    /// each went is remembered for [`crate::storage::JournalBatch::of`]. The bytes are in
    /// the file before the journal record naming them is even created, so a tab or browser
    /// that closes or crashes never leaves a record naming bytes that are not there (see
    /// [`crate::body_file`] on durability).
    pub fn write(&self, changes: &mut ChainChanges) -> Result<(), NodeError> {
        let mut located = self.located.borrow_mut();
        for block in &mut changes.blocks {
            let span = self.file.append(&codec::encode(&*block))?;
            block.transactions = Vec::new();
            let l = Located {
                header: block.header,
                block: span,
                undo: None,
            };
            located.insert(block.header.hash(), l);
        }
        for (hash, undo) in &mut changes.undo {
            let span = self.file.append(&codec::encode(&*undo))?;
            *undo = BlockUndo::default();
            if let Some(l) = located.get_mut(hash) {
                l.undo = Some(span);
            }
        }
        let mut forgotten = self.forgotten.borrow_mut();
        for hash in &changes.removed {
            if let Some(l) = located.remove(hash) {
                forgotten.insert(*hash, l);
            }
        }
        Ok(())
    }

    /// Number of stored blocks.
    pub fn len(&self) -> usize {
        self.located.borrow().len()
    }

    /// Whether no block is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every stored block and empties the file (the journal was cleared).
    pub fn clear(&self) -> Result<(), NodeError> {
        self.replace_located(KeyedMap::new());
        self.file.clear()
    }

    /// Where a stored block lies, if stored.
    pub fn locate(&self, hash: &BlockHash) -> Option<Located> {
        self.located.borrow().get(hash).copied()
    }

    /// Where a block lies for a journal record: stored, or forgotten by a batch not yet
    /// journaled (see `forgotten`).
    pub fn locate_for_journal(&self, hash: &BlockHash) -> Option<Located> {
        self.locate(hash)
            .or_else(|| self.forgotten.borrow().get(hash).copied())
    }

    /// The batch that forgot `removed` is journaled: no earlier record names them any more.
    pub fn journaled_removal(&self, removed: &[BlockHash]) {
        let mut forgotten = self.forgotten.borrow_mut();
        for hash in removed {
            forgotten.remove(hash);
        }
    }

    /// Every stored block, as the journal would name them.
    pub fn each_located(&self, f: &mut dyn FnMut(&BlockHash, &Located)) {
        for (h, l) in self.located.borrow().iter() {
            f(h, l);
        }
    }

    /// The undo record of `hash` as stored, read from the file.
    pub fn stored_undo(&self, hash: &BlockHash) -> Option<BlockUndo> {
        let span = self.locate(hash)?.undo?;
        // A place the journal gives is not trusted to be small: a damaged one could name
        // the whole file; nothing larger than a record can be is read.
        if span.len as usize > MAX_UNDO_BYTES {
            return None;
        }
        codec::decode(&self.file.read(span)?, MAX_UNDO_BYTES).ok()
    }
}

impl BodySource for StoredBodies {
    /// The body of `hash`, if stored, readable and still the block of that hash.
    fn block(&self, hash: &BlockHash) -> Option<Block> {
        let span = self.locate(hash)?.block;
        if span.len as usize > MAX_BLOCK_SIZE {
            return None;
        }
        let block: Block = codec::decode(&self.file.read(span)?, MAX_BLOCK_SIZE).ok()?;
        (block.header.hash() == *hash).then_some(block)
    }

    fn undo(&self, hash: &BlockHash) -> Option<BlockUndo> {
        self.stored_undo(hash)
    }

    fn has_block(&self, hash: &BlockHash) -> bool {
        self.located.borrow().contains_key(hash)
    }

    fn has_undo(&self, hash: &BlockHash) -> bool {
        self.located
            .borrow()
            .get(hash)
            .is_some_and(|l| l.undo.is_some())
    }
}
