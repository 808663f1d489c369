//! The chain in IndexedDB: one database per node id (`chain-3001`) holding an append-only
//! journal of [`JournalBatch`]es, beside the node's body file ([`crate::body_file`]).
//!
//! # Overview
//! One object store, `journal`, maps a sequence number to one record: batches of changes
//! as the driver handed them over, postcard-encoded (cut into several records above
//! [`RECORD_TARGET_BYTES`]). A batch names each new block by its header and where its body
//! lies in the body file, and each undo record by its place; the bodies themselves were
//! written and flushed to the file before ([`crate::stored_bodies`]). Each batch is written
//! in one readwrite transaction, so a tab closed at any instant keeps either all of a batch
//! or none of it. A load reads the records in key order (each record's size checked before
//! it is copied) and folds them into a [`StoredIndex`]: headers, places, the UTXO set, the
//! tip. That becomes the `Chain` (its index built from the headers, its bodies left in the
//! file) only if the file holds every byte named and the UTXO set and undo data are exactly
//! what the blocks prove ([`crate::journal_audit`]). A journal that fails is not used at
//! all: the driver clears it and the file, and the chain is downloaded again.
//!
//! One record per batch, rather than one per block and UTXO entry as schema 1 had, is what
//! keeps the initial sync fast. A journal of many small batches (a tab that mined block
//! after block, or downloaded while validating slowly) is compacted by the driver once the
//! node is idle: rewritten as a few records naming the same bodies, in one transaction.
//!
//! Schemas 1 and 2 (2 carried the bodies inside the journal, so a load read every byte of
//! the chain) are dropped on upgrade; the chain is downloaded again. The wallet lives in
//! its own database and is untouched.
//!
//! # Usage
//! ```text
//! let store = ChainStore::open("chain-3001").await?;
//! let chain = store.load(ChainParams::default(), &bodies).await?;   // None on a fresh node
//! store.persist(&[JournalBatch::of(changes, &bodies)]).await?;
//! ```

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use indexed_db_futures::database::Database;
use indexed_db_futures::future::BasicRequest;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::Uint8Array;
use node_core::chain::ChainChanges;
use node_core::primitives::block::BlockHeader;
use node_core::primitives::codec;
use node_core::primitives::tx::OutPoint;
use node_core::util::keyed_map::{KeyedMap, KeyedSet};
use node_core::utxo::{UtxoChange, UtxoEntry, UtxoSet};
use node_core::{BlockHash, Chain, ChainParams};
use wasm_bindgen::JsValue;

use crate::body_file::Span;
use crate::bounded_copy::{self, NotCopied};
use crate::error::NodeError;
use crate::idb_open;
use crate::journal_audit;
use crate::stored_bodies::{Located, StoredBodies};

const JOURNAL: &str = "journal";
/// Stores of schema 1, dropped on upgrade.
const SCHEMA_1_STORES: [&str; 4] = ["blocks", "undo", "utxo", "meta"];
/// Schema version of the chain database. 3: records name bodies in the body file instead of
/// carrying them; a schema-2 journal is dropped on upgrade and the chain downloaded again.
const VERSION: u32 = 3;

/// Largest journal record accepted on load: far above what the tab writes
/// ([`RECORD_TARGET_BYTES`]).
const MAX_RECORD_BYTES: usize = 256 << 20;
/// Records are written at about this size at most: a batch of changes above it is cut into
/// several records, put in the same transaction (so still all or nothing).
pub const RECORD_TARGET_BYTES: usize = 16 << 20;
/// Upper bounds of encoded sizes, for [`estimated_size`]: an outpoint (txid and varint
/// index), a UTXO entry (varint value, owner, varint height, flag), a block hash, a header
/// and a span.
const OUTPOINT_BYTES: usize = 32 + 5;
const UTXO_ENTRY_BYTES: usize = 10 + 20 + 10 + 1 + 1;
const HASH_BYTES: usize = 32;
const HEADER_BYTES: usize = 5 + 32 + 32 + 10 + 5 + 10;
const SPAN_BYTES: usize = 10 + 5;
/// Record numbers stay below 2^53, where every whole number is exact in a JavaScript
/// number: above it `key + 1` would equal `key` and the next write would replace a record.
const MAX_KEY: f64 = 9_007_199_254_740_992.0;
/// A journal of more records than this is worth compacting.
const COMPACT_ABOVE: usize = 256;
/// Blocks a compacted journal names per batch.
const COMPACT_BLOCKS_PER_BATCH: usize = 4_096;

/// One batch of changes as the journal keeps it: [`ChainChanges`] with each block named by
/// its header and where its body lies in the body file, and each undo record by its place.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalBatch {
    /// Blocks connected without a signature check, or checked since.
    pub unchecked: Vec<(BlockHash, bool)>,
    /// Newly stored blocks: header and body's place.
    pub blocks: Vec<(BlockHeader, Span)>,
    /// Blocks to forget.
    pub removed: Vec<BlockHash>,
    /// Undo records of newly connected blocks, by place.
    pub undo: Vec<(BlockHash, Span)>,
    /// UTXO writes and deletes, in order.
    pub utxo: Vec<UtxoChange>,
    /// The stored UTXO set is replaced by `utxo` alone.
    pub utxo_reset: bool,
    /// The new active tip, if it moved.
    pub tip: Option<BlockHash>,
}

impl JournalBatch {
    /// The journal's batch for `changes` whose bodies [`StoredBodies::write`] wrote: each
    /// block and undo record named by where it went. Batches are journaled in the order
    /// they were written: a block a later batch (written, not yet journaled) forgot is still
    /// named here, so that a record making it the tip names it too.
    pub fn of(changes: ChainChanges, bodies: &StoredBodies) -> Self {
        let blocks = changes
            .blocks
            .iter()
            .filter_map(|b| Some((b.header, bodies.locate_for_journal(&b.header.hash())?.block)))
            .collect();
        let undo = changes
            .undo
            .iter()
            .filter_map(|(h, _)| Some((*h, bodies.locate_for_journal(h)?.undo?)))
            .collect();
        bodies.journaled_removal(&changes.removed);
        JournalBatch {
            unchecked: changes.unchecked,
            blocks,
            removed: changes.removed,
            undo,
            utxo: changes.utxo,
            utxo_reset: changes.utxo_reset,
            tip: changes.tip,
        }
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.unchecked.is_empty()
            && self.removed.is_empty()
            && self.undo.is_empty()
            && self.utxo.is_empty()
            && self.tip.is_none()
            && !self.utxo_reset
    }
}

/// What a journal folds into: every stored block's header and places, the UTXO set, the tip
/// and the blocks connected unchecked.
#[derive(Debug, Clone, Default)]
pub struct StoredIndex {
    /// Stored blocks by hash (active and side branches).
    pub located: KeyedMap<BlockHash, Located>,
    /// The UTXO set of the tip.
    pub utxo: KeyedMap<OutPoint, UtxoEntry>,
    /// The active tip, once a chain was stored.
    pub tip: Option<BlockHash>,
    /// Blocks connected without a signature check.
    pub unchecked: KeyedSet<BlockHash>,
}

impl StoredIndex {
    /// Applies one batch, as its transaction did.
    pub fn apply(&mut self, b: JournalBatch) {
        for (header, block) in b.blocks {
            self.located.insert(
                header.hash(),
                Located {
                    header,
                    block,
                    undo: None,
                },
            );
        }
        for (h, span) in b.undo {
            if let Some(l) = self.located.get_mut(&h) {
                l.undo = Some(span);
            }
        }
        for h in &b.removed {
            self.located.remove(h);
            self.unchecked.remove(h);
        }
        for (h, unchecked) in b.unchecked {
            if unchecked {
                self.unchecked.insert(h);
            } else {
                self.unchecked.remove(&h);
            }
        }
        if b.utxo_reset {
            self.utxo.clear();
        }
        for (op, e) in b.utxo {
            match e {
                Some(e) => self.utxo.insert(op, e),
                None => self.utxo.remove(&op),
            };
        }
        if let Some(t) = b.tip {
            self.tip = Some(t);
        }
    }

    /// The offset just past the last body record named, which the body file must reach.
    pub fn file_end(&self) -> u64 {
        self.located
            .values()
            .map(|l| l.undo.map_or(0, |u| u.end()).max(l.block.end()))
            .max()
            .unwrap_or(0)
    }
}

/// What a load read: the folded state and how many records it took.
#[derive(Debug, Clone, Default)]
pub struct JournalRead {
    /// The state the journal folds into.
    pub stored: StoredIndex,
    /// Records read.
    pub records: usize,
    /// Bytes of the largest record.
    pub largest_record: usize,
    /// The key the next record gets.
    pub next_key: f64,
}

/// One node's chain database.
pub struct ChainStore {
    db: Database,
    next_key: Cell<f64>,
    records: Cell<usize>,
}

impl ChainStore {
    /// Opens (creating or upgrading if needed) the database `name`.
    pub async fn open(name: &str) -> Result<Self, NodeError> {
        let db = idb_open::open(name, VERSION, |db| {
            for old in SCHEMA_1_STORES {
                if db.object_store_names().contains(old) {
                    db.delete_object_store(old)?;
                }
            }
            // A schema-2 journal carries bodies inline: not read any more, dropped.
            if db.object_store_names().contains(JOURNAL) {
                db.delete_object_store(JOURNAL)?;
            }
            db.create_object_store(JOURNAL)?;
            Ok(())
        })
        .await?;
        Ok(ChainStore {
            db,
            next_key: Cell::new(0.0),
            records: Cell::new(0),
        })
    }

    /// The database name.
    pub fn name(&self) -> String {
        self.db.name()
    }

    /// Writes `batch` in one readwrite transaction, as one record or, above
    /// [`RECORD_TARGET_BYTES`], as several in a row: all of it commits or none of it does.
    pub async fn persist(&self, batch: &[JournalBatch]) -> Result<(), NodeError> {
        if batch.iter().all(JournalBatch::is_empty) {
            return Ok(());
        }
        let first_key = self.next_key.get();
        let tx = self
            .db
            .transaction(JOURNAL)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let journal = tx.object_store(JOURNAL)?;
        // A request goes out when built; its future is only kept until the commit resolves.
        let requests = put_records(&journal, first_key, batch.iter())?;
        let records = requests.len();
        tx.commit().await?;
        drop(requests);
        self.next_key.set(first_key + records as f64);
        self.records.set(self.records.get() + records);
        Ok(())
    }

    /// Records in the journal (as far as this connection wrote or read them).
    pub fn records(&self) -> usize {
        self.records.get()
    }

    /// Whether the journal has grown long enough to compact.
    pub fn needs_compaction(&self) -> bool {
        self.records.get() > COMPACT_ABOVE
    }

    /// Replaces the journal by a snapshot of `chain` whose bodies are in `bodies` (a few
    /// large records naming them; the bodies stay where they are). The transaction is
    /// created, and its requests issued, before this returns, so writes started after it
    /// land after it; the returned future awaits the commit. `chain` may already include
    /// batches that are still being written: replaying them on top of it is harmless, each
    /// write being a put or delete of a whole value.
    pub fn compact<'s>(
        &'s self,
        chain: &Chain,
        bodies: &StoredBodies,
    ) -> Result<impl Future<Output = Result<(), NodeError>> + use<'s>, NodeError> {
        // The records about to be named reach the disk first.
        bodies.file().flush()?;
        let first = JournalBatch {
            utxo: chain
                .utxo()
                .entries()
                .into_iter()
                .map(|(op, e)| (op, Some(e)))
                .collect(),
            unchecked: chain.unchecked().map(|h| (h, true)).collect(),
            utxo_reset: true,
            tip: Some(chain.tip()),
            ..JournalBatch::default()
        };
        let mut batches = vec![first];
        let mut batch = JournalBatch::default();
        bodies.each_located(&mut |h, l| {
            if !chain.contains(h) {
                return;
            }
            batch.blocks.push((l.header, l.block));
            if let Some(u) = l.undo {
                batch.undo.push((*h, u));
            }
            if batch.blocks.len() >= COMPACT_BLOCKS_PER_BATCH {
                batches.push(std::mem::take(&mut batch));
            }
        });
        batches.push(batch);
        self.begin_rewrite(&batches)
    }

    /// Reads the journal in one readonly transaction and folds it.
    pub async fn read(&self) -> Result<JournalRead, NodeError> {
        let tx = self.db.transaction(JOURNAL).build()?;
        let journal = tx.object_store(JOURNAL)?;
        let keys = journal.get_all_keys::<JsValue>().primitive()?;
        let values = journal.get_all::<JsValue>().primitive()?;
        let mut next_key = 0.0f64;
        for key in keys.await? {
            let key = key?
                .as_f64()
                .filter(|k| k.fract() == 0.0 && (0.0..MAX_KEY).contains(k))
                .ok_or_else(|| NodeError::Corrupt("a journal key is not a record number".into()))?;
            next_key = next_key.max(key + 1.0);
        }
        let mut out = JournalRead {
            next_key,
            ..JournalRead::default()
        };
        for value in values.await? {
            let raw = value_bytes(&value?)?;
            out.largest_record = out.largest_record.max(raw.len());
            let batch: Vec<JournalBatch> = codec::decode(&raw, MAX_RECORD_BYTES)
                .map_err(|e| NodeError::Corrupt(format!("journal record: {e}")))?;
            for b in batch {
                out.stored.apply(b);
            }
            out.records += 1;
        }
        drop(tx);
        self.next_key.set(next_key);
        self.records.set(out.records);
        Ok(out)
    }

    /// Reads and rebuilds the chain over `bodies`, which learns where every stored body
    /// lies; `None` on a node that never stored one. Nothing is replayed: the index is built
    /// from the stored headers and the UTXO set is taken as stored, after the checks that
    /// cost no body read ([`journal_audit::quick_check`]); with `replay`, every stored block
    /// is also read and replayed from genesis ([`journal_audit::audit`], the page's "verify
    /// my chain"). A journal that names bytes the body file does not hold, fails a check or
    /// does not decode is `Corrupt`: none of it is used.
    pub async fn load(
        &self,
        params: ChainParams,
        bodies: &Arc<StoredBodies>,
        replay: bool,
    ) -> Result<Option<Chain>, NodeError> {
        let stored = self.read().await?.stored;
        let Some(tip) = stored.tip else {
            // Nothing stored: whatever the body file holds is named by no one.
            bodies.clear()?;
            return Ok(None);
        };
        let end = stored.file_end();
        if end > bodies.file().end() {
            return Err(NodeError::Corrupt(format!(
                "the body file holds {} of the {end} bytes the journal names",
                bodies.file().end()
            )));
        }
        // Bytes past the last record named were never journaled: the next write reuses them.
        bodies.file().set_end(end)?;
        let StoredIndex {
            located,
            utxo,
            unchecked,
            ..
        } = stored;
        let hashes: Vec<BlockHash> = located.keys().copied().collect();
        bodies.replace_located(located);
        let utxo = UtxoSet::from_entries(utxo);
        if replay {
            journal_audit::audit(bodies, &utxo, tip, &params).map_err(NodeError::Corrupt)?;
        }
        let source: Arc<dyn node_core::chain::BodySource> = bodies.clone();
        let subsidy = params.subsidy;
        let header = |h: &BlockHash| bodies.locate(h).map(|l| l.header);
        let mut chain =
            Chain::from_stored_headers(params, hashes.into_iter(), header, tip, utxo, source)
                .map_err(|e| NodeError::Corrupt(e.to_string()))?;
        journal_audit::quick_check(&chain, bodies, subsidy).map_err(NodeError::Corrupt)?;
        chain.restore_unchecked(unchecked);
        Ok(Some(chain))
    }

    /// Replaces the whole journal by `batches` (grouped into records of about
    /// [`RECORD_TARGET_BYTES`]), in one transaction created now; the future awaits its commit.
    /// The batches name bodies, never hold them: a few megabytes even at 100,000 blocks.
    fn begin_rewrite<'s>(
        &'s self,
        batches: &[JournalBatch],
    ) -> Result<impl Future<Output = Result<(), NodeError>> + use<'s>, NodeError> {
        let tx = self
            .db
            .transaction(JOURNAL)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let journal = tx.object_store(JOURNAL)?;
        let clear = journal.clear()?;
        let puts = put_records(&journal, 0.0, batches.iter())?;
        let records = puts.len();
        // Keys only grow: should this transaction fail, later records must still land after
        // every record it meant to replace.
        self.next_key.set(self.next_key.get().max(records as f64));
        self.records.set(records);
        // Polled once now, so the commit is requested before anything else can run (a
        // transaction that finished first could no longer be committed, and one dropped
        // uncommitted is aborted). The waker is a no-op: whoever awaits the returned future
        // polls it again with a real one, and it then sees the outcome.
        let mut commit = Box::pin(tx.commit());
        let first = commit
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()));
        Ok(async move {
            let result = match first {
                Poll::Ready(result) => result,
                Poll::Pending => commit.await,
            };
            drop((clear, puts));
            result.map_err(NodeError::from)
        })
    }

    /// Deletes every record (a corrupt database is cleared so the node can download again).
    pub async fn clear(&self) -> Result<(), NodeError> {
        self.begin_rewrite(&[])?.await
    }

    /// Closes the connection to the database.
    pub fn close(self) {
        self.db.close();
    }
}

/// Puts `batches` into `journal` as records keyed from `first_key` up, each a run of
/// consecutive batches whose encoding stays within [`RECORD_TARGET_BYTES`] by
/// [`estimated_size`] (a batch larger than that alone is a record of its own); folding the
/// records in order is folding `batches`. Each record is encoded and handed over before the
/// next batch is taken, so a lazy snapshot is never all in wasm memory. Returns the requests
/// (kept until the transaction commits).
fn put_records<T>(
    journal: &ObjectStore<'_>,
    first_key: f64,
    batches: impl Iterator<Item = T>,
) -> Result<Vec<BasicRequest<JsValue>>, NodeError>
where
    T: std::borrow::Borrow<JournalBatch> + serde::Serialize,
{
    let mut requests = Vec::new();
    let (mut group, mut size) = (Vec::new(), 0usize);
    let put = |group: &[T], requests: &mut Vec<_>| -> Result<(), NodeError> {
        let key = first_key + requests.len() as f64;
        requests.push(
            journal
                .put(bytes(&codec::encode(&group)))
                .with_key(JsValue::from_f64(key))
                .primitive()?,
        );
        Ok(())
    };
    for changes in batches {
        let next = estimated_size(changes.borrow());
        if !group.is_empty() && size.saturating_add(next) > RECORD_TARGET_BYTES {
            put(&group, &mut requests)?;
            (group, size) = (Vec::new(), 0);
        }
        size = size.saturating_add(next);
        group.push(changes);
    }
    if !group.is_empty() {
        put(&group, &mut requests)?;
    }
    Ok(requests)
}

/// The encoded size of `c`, or more: every entry at its largest.
fn estimated_size(c: &JournalBatch) -> usize {
    c.blocks.len() * (HEADER_BYTES + SPAN_BYTES)
        + c.undo.len() * (HASH_BYTES + SPAN_BYTES)
        + c.utxo.len() * (OUTPOINT_BYTES + UTXO_ENTRY_BYTES)
        + (c.removed.len() + c.unchecked.len()) * (HASH_BYTES + 1)
        + 64
}

/// Copies bytes into a fresh `Uint8Array` (what IndexedDB stores).
fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// The bytes of a stored value, which must be a `Uint8Array` of at most
/// [`MAX_RECORD_BYTES`]; its size is checked before anything is copied.
fn value_bytes(value: &JsValue) -> Result<Vec<u8>, NodeError> {
    bounded_copy::bytes(value, MAX_RECORD_BYTES).map_err(|e| match e {
        NotCopied::NotBytes => NodeError::Corrupt(format!("a value in {JOURNAL} is not bytes")),
        NotCopied::TooLong(n) => NodeError::Corrupt(format!(
            "a record in {JOURNAL} holds {n} bytes, over the {MAX_RECORD_BYTES}-byte limit"
        )),
    })
}
