//! Feeding the node, and the queue of its actions: carried out strictly in order by one async
//! pump, with the `Persist` actions queued behind a write gathered into one IndexedDB
//! transaction.

use std::collections::VecDeque;

use gloo_timers::future::TimeoutFuture;
use node_core::chain::ChainChanges;
use node_core::protocol;
use node_core::{Action, Event};
use wasm_bindgen_futures::spawn_local;

use super::{now_ms, Driver};
use crate::peer_text::console_error;
use crate::storage::JournalBatch;

/// Actions carried out between two yields to the browser.
const ACTIONS_PER_YIELD: usize = 256;
/// Most `ChainChanges` written in one IndexedDB transaction.
const MAX_PERSIST_BATCH: usize = 256;
/// While downloading, a write waits up to this long for more blocks to share its transaction,
/// until [`PERSIST_GATHER_BELOW`] actions are queued behind it.
const PERSIST_GATHER_MS: u64 = 100;
const PERSIST_GATHER_BELOW: usize = 32;

/// Whether an action reaches outside the tab (a frame, a disconnect, a mining job) rather
/// than being a write or a notification.
fn reaches_out(action: &Action) -> bool {
    !matches!(action, Action::Persist(_) | Action::Notify(_))
}

impl Driver {
    /// Feeds one event to the node and queues its actions.
    pub(super) fn handle(&self, event: Event) {
        if self.inner.closed.get() {
            return;
        }
        self.inner.node.borrow_mut().handle(now_ms(), event);
        self.drain();
    }

    /// Moves the node's actions to the queue and makes sure the pump runs.
    ///
    /// A frame that only requests data (`getdata`, `getblocks`) goes out at once when
    /// nothing but writes and notifications wait ahead of it: it announces nothing a closed
    /// tab could lose, and holding it behind an IndexedDB commit would let the download's
    /// pipeline run dry. Frames keep their order among themselves.
    pub(super) fn drain(&self) {
        let actions = self.inner.node.borrow_mut().drain_actions();
        if actions.is_empty() {
            return;
        }
        {
            let mut queue = self.inner.queue.borrow_mut();
            for mut action in actions {
                // Bodies go to the body file at once, so the chain can let them go from
                // memory; the journal record naming them follows in the pump.
                if let Action::Persist(changes) = &mut action {
                    self.write_bodies(changes);
                }
                let request = matches!(&action, Action::Send { frame, .. }
                    if protocol::frame_only_requests(frame));
                if request && self.inner.outward_queued.get() == 0 {
                    drop(queue);
                    // A frame: nothing comes back to write.
                    let to_write = self.carry_out(action);
                    debug_assert!(to_write.is_none());
                    queue = self.inner.queue.borrow_mut();
                    continue;
                }
                if reaches_out(&action) {
                    self.inner
                        .outward_queued
                        .set(self.inner.outward_queued.get() + 1);
                }
                queue.push_back(action);
            }
        }
        if self.inner.queue.borrow().is_empty() {
            return;
        }
        if !self.inner.pumping.replace(true) {
            let driver = self.clone();
            spawn_local(async move { driver.pump().await });
        }
    }

    /// Carries queued actions out in order until the queue is empty.
    async fn pump(self) {
        let mut since_yield = 0;
        loop {
            let next = self.inner.queue.borrow_mut().pop_front();
            let Some(action) = next else { break };
            if reaches_out(&action) {
                self.inner
                    .outward_queued
                    .set(self.inner.outward_queued.get().saturating_sub(1));
            }
            // A `Persist` comes back from the shell to be written here (see `TabShell`).
            if let Some(first) = self.carry_out(action) {
                // While downloading, a short queue means each block would get a transaction
                // (and a journal record) of its own: let the next ones join it, for up to
                // PERSIST_GATHER_MS. Nothing waiting is announced before the write, and a
                // download lost to a closed tab is fetched again.
                if self.inner.node.borrow().is_syncing() {
                    let start = now_ms();
                    while self.inner.queue.borrow().len() < PERSIST_GATHER_BELOW
                        && now_ms().saturating_sub(start) < PERSIST_GATHER_MS
                    {
                        TimeoutFuture::new(5).await;
                    }
                }
                let batch = self.take_persist_batch(first);
                self.persist(batch).await;
            }
            since_yield += 1;
            if since_yield >= ACTIONS_PER_YIELD {
                since_yield = 0;
                TimeoutFuture::new(0).await;
            }
        }
        self.inner.pumping.set(false);
    }

    /// `first` and the `Persist` actions queued after it up to the next action that reaches
    /// outside (a frame, a disconnect, a mining job); notifications in between stay queued.
    fn take_persist_batch(&self, first: ChainChanges) -> Vec<ChainChanges> {
        let mut queue = self.inner.queue.borrow_mut();
        let mut batch = vec![first];
        let mut rest = VecDeque::with_capacity(queue.len());
        let mut gathering = true;
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Persist(c) if gathering && batch.len() < MAX_PERSIST_BATCH => batch.push(c),
                a @ Action::Notify(_) => rest.push_back(a),
                a => {
                    gathering = false;
                    rest.push_back(a);
                }
            }
        }
        *queue = rest;
        batch
    }

    /// Writes the bodies and undo records of `changes` to the body file (see
    /// [`crate::stored_bodies::StoredBodies::write`]), or records why storage failed.
    fn write_bodies(&self, changes: &mut ChainChanges) {
        if self.inner.storage_error.borrow().is_some() {
            return;
        }
        if let Err(e) = self.inner.bodies.write(changes) {
            console_error(&format!("node {}: {e}", self.inner.node_id));
            *self.inner.storage_error.borrow_mut() = Some(e.to_string());
        }
    }

    /// Writes a batch, or records why storage failed. After a failure nothing more is
    /// written: the stored chain stays whole at its last good state, and a reload resumes
    /// from there.
    async fn persist(&self, batch: Vec<ChainChanges>) {
        if self.inner.storage_error.borrow().is_some() {
            return;
        }
        let batch: Vec<JournalBatch> = batch
            .into_iter()
            .map(|c| JournalBatch::of(c, &self.inner.bodies))
            .collect();
        // The records the batch names reach the file before the journal names them.
        let written = match self.inner.bodies.file().write_out() {
            Ok(()) => self.inner.store.persist(&batch).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            console_error(&format!("node {}: {e}", self.inner.node_id));
            *self.inner.storage_error.borrow_mut() = Some(e.to_string());
        }
    }
}
