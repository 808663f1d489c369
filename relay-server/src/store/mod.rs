//! The chain store: one redb file per node id, written one transaction per change set.
//!
//! redb is the Rust counterpart of the seed's BoltDB. Where the seed kept only blocks and
//! re-indexed the UTXO set after every download, this store keeps everything a restart needs
//! so the node comes back without replaying the chain: block bodies, per-block undo data,
//! the UTXO set and the active tip. One [`ChainChanges`] (a block, its undo data and its UTXO
//! writes) commits as one durable transaction, so a crash at any instant leaves either the
//! state before it or the state after it, never a UTXO set out of step with the tip.
//!
//! [`reindex`] rebuilds a chain from stored blocks it does not trust (`reindexutxo`).
//!
//! May depend on: `util`.

mod bodies;
mod closing;
mod coins;
mod headers;
pub mod reindex;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use node_core::chain::ChainChanges;
use node_core::chain::{BlockEntry, BlockIndex};
use node_core::primitives::codec;
use node_core::{
    Block, BlockHash, Chain, ChainError, ChainParams, OutPoint, Txid, UtxoEntry, UtxoSet,
};
use redb::{ReadableTable, TableDefinition};

pub use bodies::StoredBodies;
pub use coins::StoredCoins;

use crate::util::panic_barrier::barrier;

/// Block hash → `Block::encode()`.
const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("blocks");
/// Block hash → postcard [`headers::HeaderRow`] (header, height, cumulative work): the block
/// index loads from it alone at start, without reading a body or replaying. Written and
/// removed in the same transactions as `BLOCKS`.
const HEADERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("headers");
/// Block hash → postcard `BlockUndo`.
const UNDO: TableDefinition<&[u8], &[u8]> = TableDefinition::new("undo");
/// Outpoint (txid ‖ vout big-endian) → postcard `UtxoEntry`.
const UTXO: TableDefinition<&[u8], &[u8]> = TableDefinition::new("utxo");
/// Small named values: the tip and the schema version.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_TIP: &str = "tip";
const META_SCHEMA: &str = "schema";
/// Bumped whenever the layout above changes incompatibly.
const SCHEMA_VERSION: u8 = 3;
/// The layout before `HEADERS`: opened files of it gain the table (built from `BLOCKS`).
const SCHEMA_WITHOUT_HEADERS: u8 = 1;
/// The layout whose `HEADERS` rows are bare headers: opened files of it gain each row's
/// height and work (from the headers alone, no body read).
const SCHEMA_BARE_HEADERS: u8 = 2;
/// Bytes a stored UTXO entry may decode from.
const UTXO_ROW_LIMIT: usize = 1024;

/// Bytes of file pages redb keeps in memory (its default is 1 GiB, which a relay serving a
/// long chain to syncing peers would fill with pages it read once). Bodies are read from
/// the file as peers ask; the operating system's page cache, not the process, holds them.
/// 4 MiB, not 16: start-up reads every header and coin row once, which filled 16 MiB at
/// 100,000 blocks (11 MB of the relay's resident memory) for pages not read again, and a
/// 10,000-block download served and written at 4 MiB took as long (BENCHMARKS.md, session 8).
const DB_CACHE_BYTES: usize = 4 << 20;

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// There is no chain file for this node id.
    #[error("No existing blockchain found. Create one first.")]
    Missing,
    /// A chain file already exists (createblockchain).
    #[error("Blockchain already exists at {0}.")]
    Exists(PathBuf),
    /// Another process holds the database (a running node whose control endpoint did not answer).
    #[error(
        "the blockchain file {0} is in use by another process (is a node running on this id?)"
    )]
    Locked(PathBuf),
    /// redb reported an error.
    #[error("database error in {path}: {source}")]
    Db {
        /// The file.
        path: PathBuf,
        /// What redb said (boxed: it is large, and errors travel by value).
        source: Box<redb::Error>,
    },
    /// Stored bytes do not decode or do not form a chain; the blocks that are valid can be
    /// kept by `reindexutxo`.
    #[error("stored chain in {path} is corrupt ({what}); `reindexutxo` rebuilds it from the blocks that are valid")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The file itself cannot be read as a database (cut short, overwritten).
    #[error("the blockchain file {path} is damaged and cannot be read ({what}); move it aside and start the node with --peer to download the chain again")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What failed.
        what: String,
    },
    /// A coin could not be read while the node ran: nothing decided since is written.
    #[error("the blockchain file {path} could not be read while the node ran ({what}); nothing decided since was written. Restart the node; if this repeats, run `reindexutxo` or move the file aside and download the chain again")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The first read that failed.
        what: String,
    },
}

/// What `reindexutxo` reads from a store it does not trust: the blocks that decode, the keys
/// of rows that do not, and the tip if it is readable. The UTXO set and undo data, which it
/// rebuilds, are not read at all.
pub struct StoredBlocks {
    /// Blocks stored under their own hash.
    pub blocks: Vec<Block>,
    /// Keys of block rows that do not decode or hold another block.
    pub bad_keys: Vec<Vec<u8>>,
    /// The stored tip, if readable.
    pub tip: Option<BlockHash>,
}

/// An open chain database.
pub struct Store {
    db: Arc<closing::Db>,
    path: PathBuf,
    /// What [`StoredBodies`] and [`StoredCoins`] read from; forgotten after each commit.
    snapshot: Arc<snapshot::Snapshot>,
    /// Set when a coin could not be read: no write is made after it.
    unreadable: Arc<coins::Unreadable>,
}

/// The key of an outpoint: txid then vout, big-endian so keys sort by (txid, vout).
fn outpoint_key(op: &OutPoint) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[..32].copy_from_slice(op.txid.as_bytes());
    k[32..].copy_from_slice(&op.vout.to_be_bytes());
    k
}

fn outpoint_from_key(k: &[u8]) -> Option<OutPoint> {
    if k.len() != 36 {
        return None;
    }
    let mut txid = [0u8; 32];
    txid.copy_from_slice(&k[..32]);
    let mut vout = [0u8; 4];
    vout.copy_from_slice(&k[32..]);
    Some(OutPoint {
        txid: Txid::from_hash(node_core::Hash256(txid)),
        vout: u32::from_be_bytes(vout),
    })
}

fn hash_from_key(k: &[u8]) -> Option<BlockHash> {
    let bytes: [u8; 32] = k.try_into().ok()?;
    Some(BlockHash::from_hash(node_core::Hash256(bytes)))
}

impl Store {
    /// Creates a new, empty chain file; refuses if one exists.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::Exists(path.to_path_buf()));
        }
        let store = Self::contain(path, || {
            let db = redb::Builder::new()
                .set_cache_size(DB_CACHE_BYTES)
                .create(path)
                .map_err(|e| Self::db_err(path, e.into()))?;
            let store = Store {
                db: Arc::new(closing::Db::new(db)),
                path: path.to_path_buf(),
                snapshot: Arc::default(),
                unreadable: Arc::default(),
            };
            store.init_tables()?;
            Ok(store)
        })?;
        Ok(store)
    }

    /// Runs `f` on the file at `path`; a panic inside redb (a file cut short trips its
    /// assertions) becomes [`StoreError::Damaged`].
    fn contain<T>(path: &Path, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        barrier(f).unwrap_or_else(|what| {
            Err(StoreError::Damaged {
                path: path.to_path_buf(),
                what,
            })
        })
    }

    /// Opens an existing chain file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing);
        }
        Self::contain(path, || {
            let db = redb::Builder::new()
                .set_cache_size(DB_CACHE_BYTES)
                .open(path)
                .map_err(|e| match e {
                    redb::DatabaseError::DatabaseAlreadyOpen => {
                        StoreError::Locked(path.to_path_buf())
                    }
                    redb::DatabaseError::Storage(redb::StorageError::Io(io))
                        if io.kind() != std::io::ErrorKind::PermissionDenied =>
                    {
                        StoreError::Damaged {
                            path: path.to_path_buf(),
                            what: io.to_string(),
                        }
                    }
                    other => Self::db_err(path, other.into()),
                })?;
            let store = Store {
                db: Arc::new(closing::Db::new(db)),
                path: path.to_path_buf(),
                snapshot: Arc::default(),
                unreadable: Arc::default(),
            };
            match store.check_schema()? {
                SCHEMA_WITHOUT_HEADERS => store.upgrade(headers::HeaderSource::Blocks)?,
                SCHEMA_BARE_HEADERS => store.upgrade(headers::HeaderSource::BareHeaders)?,
                _ => {}
            }
            Ok(store)
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db_err(path: &Path, source: redb::Error) -> StoreError {
        StoreError::Db {
            path: path.to_path_buf(),
            source: Box::new(source),
        }
    }

    fn err<E: Into<redb::Error>>(&self) -> impl Fn(E) -> StoreError + '_ {
        move |e| Self::db_err(&self.path, e.into())
    }

    fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn init_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(self.err())?;
        {
            txn.open_table(BLOCKS).map_err(self.err())?;
            txn.open_table(HEADERS).map_err(self.err())?;
            txn.open_table(UNDO).map_err(self.err())?;
            txn.open_table(UTXO).map_err(self.err())?;
            let mut meta = txn.open_table(META).map_err(self.err())?;
            meta.insert(META_SCHEMA, [SCHEMA_VERSION].as_slice())
                .map_err(self.err())?;
        }
        txn.commit().map_err(self.err())
    }

    /// The file's schema version, if this build reads it.
    fn check_schema(&self) -> Result<u8, StoreError> {
        let damaged = |what: String| StoreError::Damaged {
            path: self.path.clone(),
            what,
        };
        let txn = self.db.begin_read().map_err(self.err())?;
        let meta = txn.open_table(META).map_err(|e| damaged(e.to_string()))?;
        let version = meta.get(META_SCHEMA).map_err(|e| damaged(e.to_string()))?;
        match version.as_ref().map(|v| v.value().to_vec()).as_deref() {
            Some([SCHEMA_VERSION]) => Ok(SCHEMA_VERSION),
            Some([SCHEMA_WITHOUT_HEADERS]) => Ok(SCHEMA_WITHOUT_HEADERS),
            Some([SCHEMA_BARE_HEADERS]) => Ok(SCHEMA_BARE_HEADERS),
            Some(other) => Err(damaged(format!("unknown schema version {other:?}"))),
            None => Err(damaged("no schema version".into())),
        }
    }

    /// Upgrades a file of an older layout: one transaction rewrites the `headers` table
    /// with every row positioned (from `source`) and the new version (a crash leaves the old
    /// layout, upgraded again at the next start). Rows that do not decode are left to
    /// `reindexutxo`.
    fn upgrade(&self, source: headers::HeaderSource) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(self.err())?;
        let rows = headers::rebuild(&txn, source).map_err(|e| Self::db_err(&self.path, *e))?;
        {
            let mut meta = txn.open_table(META).map_err(self.err())?;
            meta.insert(META_SCHEMA, [SCHEMA_VERSION].as_slice())
                .map_err(self.err())?;
        }
        txn.commit().map_err(self.err())?;
        tracing::info!(path = %self.path.display(), rows, ?source,
            "upgraded the chain file: each header row holds its height and work");
        Ok(())
    }

    /// What reads bodies and undo records from this file for a chain loaded with
    /// [`Store::load_chain`].
    pub fn bodies(&self) -> StoredBodies {
        StoredBodies::new(self.db.clone(), self.path.clone(), self.snapshot.clone())
    }

    /// What reads coins from this file for a chain loaded with [`Store::load_chain`].
    pub fn coins(&self) -> StoredCoins {
        StoredCoins::new(
            self.db.clone(),
            self.path.clone(),
            self.snapshot.clone(),
            self.unreadable.clone(),
        )
    }

    /// Writes change sets in order as ONE durable transaction: all of them or none. A
    /// chain loaded from this store must then be told ([`Store::persist`] does both).
    pub fn apply(&self, batches: &[ChainChanges]) -> Result<(), StoreError> {
        Self::contain(&self.path, || self.write(batches, None))
    }

    /// Writes `chain`'s changes as one durable transaction, then tells the chain they are
    /// stored, so its UTXO set reads what they changed from the file from now on.
    pub fn persist(&self, chain: &mut Chain) -> Result<(), StoreError> {
        let changes = chain.take_changes();
        self.apply(std::slice::from_ref(&changes))?;
        chain.stored(changes.batch);
        Ok(())
    }

    /// Replaces what `reindexutxo` rebuilt, as one durable transaction: every undo record
    /// goes (they are rewritten for the active chain), so do the block rows that did not
    /// decode, then `changes` (which reset the UTXO set) are written.
    pub fn replace_rebuilt(
        &self,
        changes: &ChainChanges,
        bad_keys: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        Self::contain(&self.path, || {
            self.write(std::slice::from_ref(changes), Some(bad_keys))
        })
    }

    /// The one write path; `rebuild` carries the bad block keys of a rebuild.
    fn write(
        &self,
        batches: &[ChainChanges],
        rebuild: Option<&[Vec<u8>]>,
    ) -> Result<(), StoreError> {
        if let Some(what) = self.unreadable.get() {
            return Err(StoreError::Unreadable {
                path: self.path.clone(),
                what,
            });
        }
        let txn = self.db.begin_write().map_err(self.err())?;
        if let Some(bad_keys) = rebuild {
            txn.delete_table(UNDO).map_err(self.err())?;
            // Their header rows go with the whole table, rebuilt from the bodies below.
            let mut blocks = txn.open_table(BLOCKS).map_err(self.err())?;
            for key in bad_keys {
                blocks.remove(key.as_slice()).map_err(self.err())?;
            }
        }
        // Header rows are positioned once every block of the transaction is in.
        let mut new_headers = Vec::new();
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(self.err())?;
            let mut headers = txn.open_table(HEADERS).map_err(self.err())?;
            let mut undo = txn.open_table(UNDO).map_err(self.err())?;
            let mut meta = txn.open_table(META).map_err(self.err())?;
            for c in batches {
                for b in &c.blocks {
                    let key = b.hash();
                    blocks
                        .insert(key.as_bytes().as_slice(), b.encode().as_slice())
                        .map_err(self.err())?;
                    new_headers.push((key, b.header));
                }
                for h in &c.removed {
                    blocks.remove(h.as_bytes().as_slice()).map_err(self.err())?;
                    headers
                        .remove(h.as_bytes().as_slice())
                        .map_err(self.err())?;
                    undo.remove(h.as_bytes().as_slice()).map_err(self.err())?;
                }
                for (h, u) in &c.undo {
                    undo.insert(h.as_bytes().as_slice(), codec::encode(u).as_slice())
                        .map_err(self.err())?;
                }
                if c.utxo_reset {
                    // Replace the whole set: drop the table and start an empty one.
                    txn.delete_table(UTXO).map_err(self.err())?;
                }
                let mut utxo = txn.open_table(UTXO).map_err(self.err())?;
                for (op, entry) in &c.utxo {
                    let key = outpoint_key(op);
                    match entry {
                        Some(e) => {
                            utxo.insert(key.as_slice(), codec::encode(e).as_slice())
                                .map_err(self.err())?;
                        }
                        None => {
                            utxo.remove(key.as_slice()).map_err(self.err())?;
                        }
                    }
                }
                if let Some(tip) = c.tip {
                    meta.insert(META_TIP, tip.as_bytes().as_slice())
                        .map_err(self.err())?;
                }
            }
        }
        if rebuild.is_some() {
            // `reindexutxo` trusts only the bodies: every row is rewritten from them.
            headers::rebuild(&txn, headers::HeaderSource::Blocks)
                .map_err(|e| Self::db_err(&self.path, *e))?;
        } else {
            headers::position(&txn, new_headers).map_err(|e| Self::db_err(&self.path, *e))?;
        }
        let committed = txn.commit().map_err(self.err());
        self.snapshot.forget();
        committed
    }

    /// Reads the blocks and the tip, tolerating rows that do not decode (see
    /// [`StoredBlocks`]).
    pub fn read_blocks(&self) -> Result<StoredBlocks, StoreError> {
        Self::contain(&self.path, || {
            let txn = self.db.begin_read().map_err(self.err())?;
            let tip = match txn.open_table(META) {
                Ok(meta) => meta
                    .get(META_TIP)
                    .ok()
                    .flatten()
                    .and_then(|t| hash_from_key(t.value())),
                Err(_) => None,
            };
            let table = txn.open_table(BLOCKS).map_err(self.err())?;
            let mut blocks = Vec::new();
            let mut bad_keys = Vec::new();
            for row in table.iter().map_err(self.err())? {
                let (k, v) = row.map_err(self.err())?;
                match Block::decode(v.value()) {
                    Ok(b) if b.hash().as_bytes().as_slice() == k.value() => blocks.push(b),
                    _ => bad_keys.push(k.value().to_vec()),
                }
            }
            Ok(StoredBlocks {
                blocks,
                bad_keys,
                tip,
            })
        })
    }

    /// Loads the stored chain without revalidating or reindexing it, and without reading a
    /// block body: the header index and the UTXO set load; bodies and undo data are read
    /// from the file when needed ([`StoredBodies`]). `None` if no tip was ever written. A file redb cannot read, rows that do not decode, and a UTXO set
    /// holding more coins than were ever mined are refused.
    pub fn load_chain(&self, params: ChainParams) -> Result<Option<Chain>, StoreError> {
        Self::contain(&self.path, || self.load_chain_inner(params))
    }

    fn load_chain_inner(&self, params: ChainParams) -> Result<Option<Chain>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let meta = txn.open_table(META).map_err(self.err())?;
        let Some(tip) = meta.get(META_TIP).map_err(self.err())? else {
            return Ok(None);
        };
        let tip = hash_from_key(tip.value()).ok_or_else(|| self.corrupt("tip is not 32 bytes"))?;

        // The block index only, straight from the rows: bodies and undo data stay in the
        // file, read when needed.
        let table = txn.open_table(HEADERS).map_err(self.err())?;
        let mut rows = Vec::new();
        let mut bits = None;
        for row in table.iter().map_err(self.err())? {
            let (k, v) = row.map_err(self.err())?;
            let row: headers::HeaderRow = codec::decode(v.value(), headers::HEADER_ROW_LIMIT)
                .map_err(|e| self.corrupt(format!("block header does not decode: {e}")))?;
            let hash = row.header.hash();
            if hash.as_bytes().as_slice() != k.value() {
                return Err(self.corrupt("a block header is stored under another hash"));
            }
            // The network's bits are genesis's: the one row without a parent (a row of
            // height 0 that names a parent is unlinked, and left out below).
            if row.header.prev == BlockHash::ZERO {
                if bits.is_some() {
                    return Err(self.corrupt("two genesis blocks"));
                }
                bits = Some(row.header.bits);
            }
            rows.push((
                hash,
                BlockEntry {
                    height: row.height,
                    chain_work: row.chain_work,
                    prev: row.header.prev,
                    timestamp: row.header.timestamp,
                },
            ));
        }
        let bits = bits.ok_or_else(|| self.corrupt("no genesis block"))?;
        // Every block of the active chain is stored with its body, so a tip row without one
        // was made up (its row links, but nothing can be served or built on it).
        let blocks = txn.open_table(BLOCKS).map_err(self.err())?;
        if blocks
            .get(tip.as_bytes().as_slice())
            .map_err(self.err())?
            .is_none()
        {
            return Err(self.corrupt("the tip block's body is not stored"));
        }
        // Rows that do not link to genesis are left out, as a block not reachable from it
        // was never indexed; the tip's own chain must link (checked when the chain loads).
        let (index, _unlinked) = BlockIndex::linked_from(rows);

        // Coins cannot be minted by editing the set: it may hold at most what the coinbases
        // up to the tip created (fees only move coins). Every row is read (and must decode)
        // once here; the set itself stays in the file, read coin by coin when spent.
        let table = txn.open_table(UTXO).map_err(self.err())?;
        let mut held = Some(0u64);
        for row in table.iter().map_err(self.err())? {
            let (k, v) = row.map_err(self.err())?;
            outpoint_from_key(k.value()).ok_or_else(|| self.corrupt("bad outpoint key"))?;
            let e: UtxoEntry = codec::decode(v.value(), UTXO_ROW_LIMIT)
                .map_err(|e| self.corrupt(format!("UTXO entry does not decode: {e}")))?;
            held = held.and_then(|sum: u64| sum.checked_add(e.output.value));
        }
        let utxo = UtxoSet::over(Arc::new(self.coins()));
        let subsidy = params.subsidy;
        let source = Arc::new(self.bodies());
        let chain = Chain::from_stored_index(params, bits, index, tip, utxo, source)
            .map_err(|e: ChainError| self.corrupt(e.to_string()))?;
        let minted = subsidy.checked_mul(chain.height().saturating_add(1));
        match (held, minted) {
            (Some(held), Some(minted)) if held <= minted => Ok(Some(chain)),
            (held, minted) => Err(self.corrupt(format!(
                "the UTXO set holds {} coins, more than the {} mined up to height {}",
                held.map_or("over 2^64".into(), |h| h.to_string()),
                minted.map_or("2^64".into(), |m| m.to_string()),
                chain.height()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test outcome: a failed step is an error naming it, not a panic.
    pub(super) type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;
    use node_core::chain::mine_genesis;
    use node_core::{consensus::pow, PubKeyHash};

    /// A chain of its genesis only (bits 4), paying `PubKeyHash([1; 20])`.
    pub(super) fn chain() -> TestResult<Chain> {
        let genesis = mine_genesis(PubKeyHash([1; 20]), 10, 1_700_000_000_000, 4, b"g");
        Ok(Chain::new(
            ChainParams::default(),
            genesis,
            1_700_000_000_000,
        )?)
    }

    /// Mines an empty block paying `to` on `c`'s tip.
    pub(super) fn mine_next(c: &mut Chain, to: PubKeyHash) -> TestResult {
        let now = c.entry(&c.tip()).map_or(0, |e| e.timestamp) + 1000;
        let mut b = c.template(to, vec![], 0, now, b"");
        pow::mine(&mut b.header);
        c.accept_block(b, now)?;
        Ok(())
    }

    #[test]
    fn changes_round_trip_through_the_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("chain.db");
        let store = Store::create(&path)?;
        let mut c = chain()?;
        store.apply(&[c.take_changes()])?;
        for i in 0..5u8 {
            mine_next(&mut c, PubKeyHash([i; 20]))?;
            store.apply(&[c.take_changes()])?;
        }
        drop(store);
        let store = Store::open(&path)?;
        let loaded = store
            .load_chain(ChainParams::default())?
            .ok_or("no tip was stored")?;
        assert_eq!(loaded.tip(), c.tip());
        assert_eq!(loaded.height(), 5);
        assert_eq!(loaded.utxo().digest(), c.utxo().digest());
        Ok(())
    }

    #[test]
    fn a_reindex_replaces_the_stored_set() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("chain.db");
        let store = Store::create(&path)?;
        let mut c = chain()?;
        mine_next(&mut c, PubKeyHash([7; 20]))?;
        store.apply(&[c.take_changes()])?;
        c.reindex_utxo();
        store.apply(&[c.take_changes()])?;
        let loaded = store.load_chain(ChainParams::default())?;
        assert_eq!(loaded.map(|l| l.utxo().digest()), Some(c.utxo().digest()));
        Ok(())
    }

    #[test]
    fn missing_and_existing_files_are_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("chain.db");
        assert!(matches!(Store::open(&path), Err(StoreError::Missing)));
        assert!(!path.exists(), "opening must not create the file");
        let _s = Store::create(&path)?;
        assert!(matches!(Store::create(&path), Err(StoreError::Exists(_))));
        Ok(())
    }
}
