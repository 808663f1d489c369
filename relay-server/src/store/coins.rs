//! Coins read from the chain file when a block or a payment spends them: the relay's
//! [`CoinSource`], so its memory holds the coins changed since the last commit, not the UTXO
//! set its history created.
//!
//! # A read that fails
//! A coin the file cannot give back (an I/O error, a damaged page, a row that does not
//! decode) must not be taken for a spent one: the chain would refuse a valid block and
//! score the peer that sent it. It answers "absent", as the trait asks for an answer, and
//! marks the store unreadable; the store then refuses every later write
//! ([`super::StoreError::Unreadable`]), so nothing the chain decided on it reaches the file,
//! and the hub stops with that error. A restart on a healthy file judges the block again.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use node_core::primitives::codec;
use node_core::utxo::CoinSource;
use node_core::{OutPoint, UtxoEntry};
use redb::ReadableTable;

use super::closing::Db;
use super::snapshot::{Kind, Snapshot};
use super::{outpoint_from_key, outpoint_key, UTXO, UTXO_ROW_LIMIT};
use crate::util::panic_barrier::barrier;

/// The first read failure, if any: once set, the store writes nothing more.
#[derive(Debug, Default)]
pub(super) struct Unreadable(Mutex<Option<String>>);

impl Unreadable {
    fn lock(&self) -> MutexGuard<'_, Option<String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `what` unless an earlier failure is recorded.
    fn note(&self, what: String) {
        self.lock().get_or_insert(what);
    }

    /// The first failure recorded.
    pub(super) fn get(&self) -> Option<String> {
        self.lock().clone()
    }
}

/// Reads coins from one chain file.
#[derive(Clone)]
pub struct StoredCoins {
    db: Arc<Db>,
    path: PathBuf,
    snapshot: Arc<Snapshot>,
    unreadable: Arc<Unreadable>,
}

impl std::fmt::Debug for StoredCoins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCoins")
            .field("path", &self.path)
            .finish()
    }
}

impl StoredCoins {
    pub(super) fn new(
        db: Arc<Db>,
        path: PathBuf,
        snapshot: Arc<Snapshot>,
        unreadable: Arc<Unreadable>,
    ) -> Self {
        StoredCoins {
            db,
            path,
            snapshot,
            unreadable,
        }
    }

    /// Logs and records a failed read; the store refuses writes from now on.
    fn failed(&self, what: String) {
        tracing::error!(path = %self.path.display(), "cannot read a stored coin: {what}");
        self.unreadable.note(what);
    }
}

impl CoinSource for StoredCoins {
    fn coin(&self, outpoint: &OutPoint) -> Option<UtxoEntry> {
        let row = self
            .snapshot
            .look(&self.db, Kind::Coin, &outpoint_key(outpoint), |v| {
                codec::decode::<UtxoEntry>(v, UTXO_ROW_LIMIT)
            });
        match row {
            Ok(None) => None,
            Ok(Some(Ok(e))) => Some(e),
            Ok(Some(Err(e))) => {
                self.failed(format!(
                    "the coin {}:{} does not decode: {e}",
                    outpoint.txid, outpoint.vout
                ));
                None
            }
            Err(e) => {
                self.failed(e);
                None
            }
        }
    }

    /// Reads in a transaction of its own, so `f` may run long without holding the snapshot.
    fn for_each_coin(&self, f: &mut dyn FnMut(OutPoint, UtxoEntry)) {
        let read = || -> Result<(), String> {
            let txn = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = txn.open_table(UTXO).map_err(|e| e.to_string())?;
            for row in table.iter().map_err(|e| e.to_string())? {
                let (k, v) = row.map_err(|e| e.to_string())?;
                let op = outpoint_from_key(k.value()).ok_or("a coin's key is not an outpoint")?;
                let e: UtxoEntry = codec::decode(v.value(), UTXO_ROW_LIMIT)
                    .map_err(|e| format!("a coin does not decode: {e}"))?;
                f(op, e);
            }
            Ok(())
        };
        match barrier(read) {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => self.failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{chain, mine_next, TestResult};
    use super::super::{outpoint_key, Store, StoreError, UTXO};
    use node_core::{ChainParams, PubKeyHash};

    /// A store holding a chain of its genesis, and that chain loaded from it.
    fn stored_genesis(dir: &tempfile::TempDir) -> TestResult<(Store, node_core::Chain)> {
        let store = Store::create(&dir.path().join("c.db"))?;
        store.persist(&mut chain()?)?;
        let loaded = store.load_chain(ChainParams::default())?.ok_or("no tip")?;
        Ok((store, loaded))
    }

    #[test]
    fn a_loaded_chain_holds_no_coin_in_memory_once_its_changes_are_written() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, mut loaded) = stored_genesis(&dir)?;
        for i in 0..5u8 {
            mine_next(&mut loaded, PubKeyHash([i; 20]))?;
            assert!(
                loaded.utxo().held_in_memory() > 0,
                "a new coinbase waits in memory"
            );
            store.persist(&mut loaded)?;
            assert_eq!(
                loaded.utxo().held_in_memory(),
                0,
                "written, so read from the file"
            );
        }
        assert_eq!(loaded.utxo().len(), 6);
        assert_eq!(loaded.utxo().balance(&PubKeyHash([3; 20])), 10);
        Ok(())
    }

    #[test]
    fn a_coin_row_damaged_while_the_node_runs_stops_every_later_write() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (store, mut loaded) = stored_genesis(&dir)?;
        let (genesis_coin, _) = loaded.utxo().entries()[0];
        // The disk garbles the genesis coin's row after the load checked every row.
        let txn = store.db.begin_write()?;
        txn.open_table(UTXO)?
            .insert(outpoint_key(&genesis_coin).as_slice(), [0xff; 3].as_slice())?;
        txn.commit()?;
        store.snapshot.forget();
        // A block spending it would read "no such coin"; the read is remembered.
        assert_eq!(loaded.utxo().get(&genesis_coin), None);
        mine_next(&mut loaded, PubKeyHash([2; 20]))?;
        let refused = store.persist(&mut loaded);
        assert!(
            matches!(refused, Err(StoreError::Unreadable { ref what, .. }) if what.contains("does not decode")),
            "nothing decided after a failed read is written: {refused:?}"
        );
        let reopened = store.load_chain(ChainParams::default());
        assert!(
            matches!(reopened, Err(StoreError::Corrupt { .. })),
            "a restart names the damage"
        );
        Ok(())
    }
}
