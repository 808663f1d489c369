//! Rewriting the chain journal from the chain in memory once it has grown long, while the
//! node is not downloading.

use wasm_bindgen_futures::spawn_local;

use super::Driver;
use crate::peer_text::console_warn;

impl Driver {
    /// Compacts the chain journal when it has grown long and the node is not downloading.
    pub(super) fn maybe_compact(&self) {
        let inner = &self.inner;
        if inner.compacting.get()
            || !inner.store.needs_compaction()
            || inner.storage_error.borrow().is_some()
            || inner.node.borrow().is_syncing()
        {
            return;
        }
        inner.compacting.set(true);
        let driver = self.clone();
        spawn_local(async move {
            driver.compact().await;
            driver.inner.compacting.set(false);
        });
    }

    /// Rewrites the journal from the chain in memory. Taking the state and starting the
    /// write happen in one step, so every write queued after it lands after it.
    async fn compact(&self) {
        let started = match self.inner.node.borrow().chain() {
            Some(chain) => self.inner.store.compact(chain, &self.inner.bodies),
            None => return,
        };
        let result = match started {
            Ok(commit) => commit.await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            console_warn(&format!(
                "node {}: compacting storage: {e}",
                self.inner.node_id
            ));
        }
    }
}
