//! A chain file that is closed without a panic, whatever happened to it while open.
//!
//! redb writes when a database is dropped (it settles its allocator state). If the file was
//! damaged while the node ran — overwritten by another program, a failing disk — that last
//! write can trip an assertion inside redb, and a relay stopping with one clear error line
//! (`StoreError::Unreadable`) would end in a panic instead. [`Db`] drops the database behind
//! [`barrier`], like every other call into redb that reads what the disk holds.

use std::ops::Deref;

use redb::Database;

use crate::util::panic_barrier::barrier;

/// An open redb database whose drop cannot panic.
pub(super) struct Db(Option<Database>);

impl Db {
    pub(super) fn new(db: Database) -> Self {
        Db(Some(db))
    }
}

impl Deref for Db {
    type Target = Database;

    fn deref(&self) -> &Database {
        self.0
            .as_ref()
            .expect("only drop takes the database out, and nothing derefs after drop")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(db) = self.0.take() {
            if let Err(what) = barrier(move || drop(db)) {
                tracing::error!("closing the chain file failed: {what}");
            }
        }
    }
}
