//! Block bodies and undo records read from the chain file when the chain asks: the relay's
//! [`BodySource`], so its memory holds the header index and the UTXO set, not its history.
//!
//! Reads share one read transaction until the store commits the next write ([`Snapshot`]):
//! a `getdata` round of many blocks, or the chain's checks that what it evicts is stored,
//! open one transaction between two commits instead of one (or two) per body, and every
//! read still sees every batch the hub committed. A read that fails (a damaged row, an I/O error) answers
//! "not stored" with a warning: the peer asking gets `notfound`, and a reorganisation that
//! needed the body forgets the block so it can be fetched again.

use std::path::PathBuf;
use std::sync::Arc;

use node_core::chain::BodySource;
use node_core::primitives::codec;
use node_core::utxo::BlockUndo;
use node_core::{Block, BlockHash};

use super::closing::Db;
use super::snapshot::{Kind, Snapshot};

/// Bytes an undo record may decode from: a block of the largest size spends at most this
/// many bytes' worth of outputs.
const UNDO_ROW_LIMIT: usize = node_core::primitives::block::MAX_BLOCK_SIZE * 4;

/// Reads bodies and undo records from one chain file.
#[derive(Clone)]
pub struct StoredBodies {
    db: Arc<Db>,
    path: PathBuf,
    snapshot: Arc<Snapshot>,
}

impl std::fmt::Debug for StoredBodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredBodies")
            .field("path", &self.path)
            .finish()
    }
}

impl StoredBodies {
    pub(super) fn new(db: Arc<Db>, path: PathBuf, snapshot: Arc<Snapshot>) -> Self {
        StoredBodies { db, path, snapshot }
    }

    /// The raw row of `hash` in `kind`'s table, if stored and readable.
    fn row(&self, kind: Kind, hash: &BlockHash) -> Option<Vec<u8>> {
        self.look(kind, hash, |v| v.to_vec())
    }

    /// Whether `kind`'s table holds a row for `hash` (without copying it).
    fn holds(&self, kind: Kind, hash: &BlockHash) -> bool {
        self.look(kind, hash, |_| ()).is_some()
    }

    /// `f` of the row of `hash` in `kind`'s table, if stored and readable (a failed read
    /// is logged and answers "not stored").
    fn look<T>(&self, kind: Kind, hash: &BlockHash, f: impl FnOnce(&[u8]) -> T) -> Option<T> {
        match self.snapshot.look(&self.db, kind, hash.as_bytes(), f) {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), %hash, "cannot read a stored row: {e}");
                None
            }
        }
    }
}

impl BodySource for StoredBodies {
    fn block(&self, hash: &BlockHash) -> Option<Block> {
        let bytes = self.row(Kind::Block, hash)?;
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
        let bytes = self.row(Kind::Undo, hash)?;
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
        self.holds(Kind::Block, hash)
    }

    fn has_undo(&self, hash: &BlockHash) -> bool {
        self.holds(Kind::Undo, hash)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;
    use node_core::chain::mine_genesis;
    use node_core::consensus::pow;
    use node_core::{Chain, ChainParams, PubKeyHash};

    /// Test outcome: a failed step is an error naming it, not a panic.
    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    #[test]
    fn reads_share_a_snapshot_until_the_next_commit_and_then_see_it() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = Store::create(&dir.path().join("c.db"))?;
        let genesis = mine_genesis(PubKeyHash([1; 20]), 10, 1_700_000_000_000, 4, b"g");
        let mut c = Chain::new(ChainParams::default(), genesis, 1_700_000_000_000)?;
        store.apply(&[c.take_changes()])?;
        let bodies = store.bodies();
        let genesis = c.tip();
        assert!(bodies.has_block(&genesis));
        let now = c.entry(&genesis).map_or(0, |e| e.timestamp) + 1000;
        let mut b = c.template(PubKeyHash([2; 20]), vec![], 0, now, b"");
        pow::mine(&mut b.header);
        let hash = b.hash();
        c.accept_block(b, now)?;
        assert!(!bodies.has_block(&hash), "not committed yet");
        assert!(
            bodies.snapshot.is_open(),
            "the read kept its transaction for the next one"
        );
        store.apply(&[c.take_changes()])?;
        // A snapshot kept across the commit would still say "not stored", and the chain
        // would never let the body leave memory.
        assert!(bodies.has_block(&hash), "a commit is seen by the next read");
        assert!(bodies.has_undo(&hash));
        assert_eq!(bodies.block(&hash).map(|b| b.hash()), Some(hash));
        Ok(())
    }
}
