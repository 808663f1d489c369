//! One read transaction shared by every read of bodies, undo records and coins between two
//! commits.
//!
//! A `getdata` round of many blocks, the chain's checks that what it evicts is stored, and
//! the coins a block spends open one transaction between two commits instead of one per
//! row, and every read still sees every batch the hub committed: the store forgets the
//! snapshot after each commit ([`Snapshot::forget`]).

use std::sync::{Mutex, MutexGuard};

use redb::{Database, ReadOnlyTable};

use super::{BLOCKS, UNDO, UTXO};
use crate::util::panic_barrier::barrier;

/// The tables of one read transaction (each keeps the transaction alive).
struct Tables {
    blocks: ReadOnlyTable<&'static [u8], &'static [u8]>,
    undo: ReadOnlyTable<&'static [u8], &'static [u8]>,
    utxo: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

/// Which table a read looks in.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Block,
    Undo,
    Coin,
}

/// The tables reads are served from, opened in one read transaction and kept until the
/// store's next commit.
#[derive(Default)]
pub(super) struct Snapshot(Mutex<Option<Tables>>);

impl Snapshot {
    /// The tables, whatever a panic left (the next read reopens them if it was mid-read).
    fn lock(&self) -> MutexGuard<'_, Option<Tables>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Called after each commit: the next read opens a transaction that sees it. Held
    /// no longer than that, a snapshot keeps few freed pages from reuse.
    pub(super) fn forget(&self) {
        *self.lock() = None;
    }

    /// Whether a snapshot is open (for tests).
    #[cfg(test)]
    pub(super) fn is_open(&self) -> bool {
        self.lock().is_some()
    }

    /// `f` of the row under `key` in `kind`'s table (`None` if there is none); `Err` says
    /// why the file could not be read (an I/O error, a damaged page, a panic inside redb).
    pub(super) fn look<T>(
        &self,
        db: &Database,
        kind: Kind,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> T,
    ) -> Result<Option<T>, String> {
        let read = || -> Result<Option<T>, Box<redb::Error>> {
            let mut snapshot = self.lock();
            let tables = match snapshot.take() {
                Some(t) => t,
                None => {
                    let txn = db.begin_read().map_err(|e| Box::new(e.into()))?;
                    Tables {
                        blocks: txn.open_table(BLOCKS).map_err(|e| Box::new(e.into()))?,
                        undo: txn.open_table(UNDO).map_err(|e| Box::new(e.into()))?,
                        utxo: txn.open_table(UTXO).map_err(|e| Box::new(e.into()))?,
                    }
                }
            };
            let table = match kind {
                Kind::Block => &tables.blocks,
                Kind::Undo => &tables.undo,
                Kind::Coin => &tables.utxo,
            };
            let row = table
                .get(key)
                .map_err(|e| Box::new(e.into()))?
                .map(|v| f(v.value()));
            // Kept only after a read that worked: a failed one reopens next time.
            *snapshot = Some(tables);
            Ok(row)
        };
        match barrier(read) {
            Ok(Ok(row)) => Ok(row),
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(panic),
        }
    }
}
