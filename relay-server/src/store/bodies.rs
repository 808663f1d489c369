//! Block bodies and undo records read from the chain file when the chain asks: the relay's
//! [`BodySource`], so its memory holds the header index and the UTXO set, not its history.
//!
//! Each read is its own read transaction (redb's are snapshots, cheap to begin), so it sees
//! every batch the hub committed. A read that fails (a damaged row, an I/O error) answers
//! "not stored" with a warning: the peer asking gets `notfound`, and a reorganisation that
//! needed the body forgets the block so it can be fetched again.

use std::path::PathBuf;
use std::sync::Arc;

use node_core::chain::BodySource;
use node_core::primitives::codec;
use node_core::utxo::BlockUndo;
use node_core::{Block, BlockHash};
use redb::{Database, TableDefinition};

use super::{BLOCKS, UNDO};
use crate::util::panic_barrier::barrier;

/// Bytes an undo record may decode from: a block of the largest size spends at most this
/// many bytes' worth of outputs.
const UNDO_ROW_LIMIT: usize = node_core::primitives::block::MAX_BLOCK_SIZE * 4;

/// Reads bodies and undo records from one chain file.
#[derive(Clone)]
pub struct StoredBodies {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for StoredBodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredBodies")
            .field("path", &self.path)
            .finish()
    }
}

impl StoredBodies {
    pub(super) fn new(db: Arc<Database>, path: PathBuf) -> Self {
        StoredBodies { db, path }
    }

    /// The raw row of `hash` in `table`, if stored and readable.
    fn row(&self, table: TableDefinition<&[u8], &[u8]>, hash: &BlockHash) -> Option<Vec<u8>> {
        self.look(table, hash, |v| v.to_vec())
    }

    /// Whether `table` holds a row for `hash` (without copying it).
    fn holds(&self, table: TableDefinition<&[u8], &[u8]>, hash: &BlockHash) -> bool {
        self.look(table, hash, |_| ()).is_some()
    }

    /// `f` of the row of `hash` in `table`, if stored and readable.
    fn look<T>(
        &self,
        table: TableDefinition<&[u8], &[u8]>,
        hash: &BlockHash,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Option<T> {
        let read = || -> Result<Option<T>, Box<redb::Error>> {
            let txn = self.db.begin_read().map_err(|e| Box::new(e.into()))?;
            let t = txn.open_table(table).map_err(|e| Box::new(e.into()))?;
            let row = t
                .get(hash.as_bytes().as_slice())
                .map_err(|e| Box::new(e.into()))?;
            Ok(row.map(|v| f(v.value())))
        };
        match barrier(read) {
            Ok(Ok(row)) => row,
            Ok(Err(e)) => {
                tracing::warn!(path = %self.path.display(), %hash, "cannot read a stored row: {e}");
                None
            }
            Err(panic) => {
                tracing::warn!(path = %self.path.display(), %hash, "cannot read a stored row: {panic}");
                None
            }
        }
    }
}

impl BodySource for StoredBodies {
    fn block(&self, hash: &BlockHash) -> Option<Block> {
        let bytes = self.row(BLOCKS, hash)?;
        match Block::decode(&bytes) {
            Ok(b) if b.hash() == *hash => Some(b),
            _ => {
                tracing::warn!(path = %self.path.display(), %hash,
                    "a stored block does not decode to its hash (`reindexutxo` drops it)");
                None
            }
        }
    }

    fn undo(&self, hash: &BlockHash) -> Option<BlockUndo> {
        let bytes = self.row(UNDO, hash)?;
        match codec::decode(&bytes, UNDO_ROW_LIMIT) {
            Ok(u) => Some(u),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), %hash,
                    "stored undo data does not decode: {e}");
                None
            }
        }
    }

    fn has_block(&self, hash: &BlockHash) -> bool {
        self.holds(BLOCKS, hash)
    }

    fn has_undo(&self, hash: &BlockHash) -> bool {
        self.holds(UNDO, hash)
    }
}
