//! The chain in IndexedDB: one database per node id (`chain-3001`) holding an append-only
//! journal of [`ChainChanges`] batches.
//!
//! # Overview
//! One object store, `journal`, maps a sequence number to one record: a batch of
//! `ChainChanges` as the driver handed it over, postcard-encoded (cut into several records
//! above [`RECORD_TARGET_BYTES`]). Each batch is written in one readwrite transaction, so a
//! tab closed at any instant keeps either all of a batch or none of it. A load reads the records in key order (each record's size checked
//! before it is copied) and folds them into a [`StoredChain`]; that becomes the `Chain` only
//! if its UTXO set and undo data are exactly what its blocks prove
//! ([`crate::journal_audit`]). A journal that fails to decode or to agree with its blocks is
//! not used at all: the driver clears it and the chain is downloaded again.
//!
//! One record per batch, rather than one per block and UTXO entry as schema 1 had, is what
//! keeps the initial sync fast: a block of 3 payments used to cost ~16 IndexedDB requests
//! (block, undo, each UTXO written or deleted, the tip), now a batch of up to 256 blocks
//! costs one. A journal of many small batches (a tab that mined block after block, or
//! downloaded while validating slowly) is compacted by the driver once the node is idle:
//! rewritten from the chain in memory as a few large records, in one transaction.
//!
//! Schema 1 (a store per kind of record) is dropped on upgrade; the chain is downloaded
//! again. The wallet lives in its own database and is untouched.
//!
//! # Usage
//! ```text
//! let store = ChainStore::open("chain-3001").await?;
//! let chain = store.load(ChainParams::default()).await?;   // None on a fresh node
//! store.persist(&[changes]).await?;
//! ```

use std::borrow::Borrow;
use std::cell::Cell;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use indexed_db_futures::database::Database;
use indexed_db_futures::future::BasicRequest;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::Uint8Array;
use node_core::chain::ChainChanges;
use node_core::primitives::codec;
use node_core::store::StoredChain;
use node_core::{Block, Chain, ChainParams};
use wasm_bindgen::JsValue;

use crate::bounded_copy::{self, NotCopied};
use crate::error::NodeError;
use crate::idb_open;
use crate::journal_audit;

const JOURNAL: &str = "journal";
/// Stores of schema 1, dropped on upgrade.
const SCHEMA_1_STORES: [&str; 4] = ["blocks", "undo", "utxo", "meta"];
/// Schema version of the chain database.
const VERSION: u32 = 2;

/// Largest journal record accepted on load: far above what the tab writes
/// ([`RECORD_TARGET_BYTES`]), so only a record that one reorganisation of hundreds of full
/// blocks made by itself could exceed it.
const MAX_RECORD_BYTES: usize = 256 << 20;
/// Records are written at about this size at most: a batch of changes above it is cut into
/// several records, put in the same transaction (so still all or nothing). A relay feeding
/// full blocks thus never makes the tab encode one huge record in wasm memory, nor write
/// one it would refuse to read back.
pub const RECORD_TARGET_BYTES: usize = 16 << 20;
/// Upper bounds of encoded sizes, for [`estimated_size`]: an outpoint (txid and varint
/// index), a UTXO entry (varint value, owner, varint height, flag), a block hash.
const OUTPOINT_BYTES: usize = 32 + 5;
const UTXO_ENTRY_BYTES: usize = 10 + 20 + 10 + 1 + 1;
const HASH_BYTES: usize = 32;
/// Record numbers stay below 2^53, where every whole number is exact in a JavaScript
/// number: above it `key + 1` would equal `key` and the next write would replace a record.
const MAX_KEY: f64 = 9_007_199_254_740_992.0;
/// A journal of more records than this is worth compacting.
const COMPACT_ABOVE: usize = 256;

/// What a load read: the folded state and how many records it took.
#[derive(Debug, Clone, Default)]
pub struct JournalRead {
    /// The state the journal folds into.
    pub stored: StoredChain,
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
            if !db.object_store_names().contains(JOURNAL) {
                db.create_object_store(JOURNAL)?;
            }
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
    pub async fn persist(&self, batch: &[ChainChanges]) -> Result<(), NodeError> {
        if batch.iter().all(ChainChanges::is_empty) {
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

    /// Replaces the journal by a snapshot of `chain` (a few large records). The transaction
    /// is created, and its requests issued, before this returns, so writes started after it
    /// land after it; the returned future awaits the commit. `chain` may already include
    /// batches that are still being written: replaying them on top of it is harmless, each
    /// write being a put or delete of a whole value.
    pub fn compact(
        &self,
        chain: &Chain,
    ) -> Result<impl Future<Output = Result<(), NodeError>> + '_, NodeError> {
        self.begin_rewrite(&mut chain.snapshot(1))
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
            let batch: Vec<ChainChanges> = codec::decode(&raw, MAX_RECORD_BYTES)
                .map_err(|e| NodeError::Corrupt(format!("journal record: {e}")))?;
            for changes in batch {
                out.stored.apply_owned(changes);
            }
            out.records += 1;
        }
        drop(tx);
        self.next_key.set(next_key);
        self.records.set(out.records);
        Ok(out)
    }

    /// Reads and rebuilds the chain; `None` on a node that never stored one. A journal whose
    /// UTXO set or undo data is not what its blocks prove ([`journal_audit::audit`]) is
    /// `Corrupt`, as is one that does not decode: none of it is used.
    pub async fn load(&self, params: ChainParams) -> Result<Option<Chain>, NodeError> {
        let stored = self.read().await?.stored;
        journal_audit::audit(&stored, &params).map_err(NodeError::Corrupt)?;
        stored
            .into_chain(params)
            .map_err(|e| NodeError::Corrupt(e.to_string()))
    }

    /// Replaces the whole journal by `batches` (grouped into records of about
    /// [`RECORD_TARGET_BYTES`]), in one transaction created now; the future awaits its commit.
    /// Each record is encoded and handed to IndexedDB before the next batch is taken, so a
    /// lazy snapshot ([`Chain::snapshot`]) never has the whole chain copied in wasm memory.
    fn begin_rewrite<'s>(
        &'s self,
        batches: &mut dyn Iterator<Item = ChainChanges>,
    ) -> Result<impl Future<Output = Result<(), NodeError>> + use<'s>, NodeError> {
        let tx = self
            .db
            .transaction(JOURNAL)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let journal = tx.object_store(JOURNAL)?;
        let clear = journal.clear()?;
        let puts = put_records(&journal, 0.0, batches)?;
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
        self.begin_rewrite(&mut core::iter::empty())?.await
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
    T: Borrow<ChainChanges> + serde::Serialize,
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

/// The encoded size of `c`, or more: blocks exactly, every other entry at its largest.
fn estimated_size(c: &ChainChanges) -> usize {
    let blocks: usize = c.blocks.iter().map(Block::encoded_size).sum();
    let undo: usize = c
        .undo
        .iter()
        .map(|(_, u)| {
            HASH_BYTES
                + 10
                + u.spent.len() * (OUTPOINT_BYTES + UTXO_ENTRY_BYTES)
                + u.created.len() * OUTPOINT_BYTES
        })
        .sum();
    blocks
        + undo
        + c.utxo.len() * (OUTPOINT_BYTES + UTXO_ENTRY_BYTES)
        + c.removed.len() * HASH_BYTES
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
