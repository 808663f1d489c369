//! The mining workers' reports: progress for the hash rate, a found nonce for the node,
//! failures for the page.

use node_core::node::MinedError;

use super::{now_ms, Driver};
use crate::miner::WorkerReport;
use crate::peer_text::{console_error, console_warn};

impl Driver {
    pub(super) fn on_worker(&self, index: usize, report: WorkerReport) {
        match report {
            WorkerReport::Progress(tried) => self.inner.miner.borrow_mut().record(index, tried),
            WorkerReport::Found { job, nonce } => {
                if self.inner.miner.borrow().job_id() != Some(job) {
                    return;
                }
                self.inner.miner.borrow_mut().stop();
                let result = self
                    .inner
                    .node
                    .borrow_mut()
                    .block_mined(now_ms(), job, nonce);
                self.drain();
                self.emit_hashrate();
                match result {
                    Ok(_) | Err(MinedError::StaleJob(_)) => {}
                    Err(e) => console_warn(&format!("node {}: {e}", self.inner.node_id)),
                }
            }
            WorkerReport::Exhausted => {}
            WorkerReport::Failed(message) => {
                self.miner_failed(format!("worker {index}: {message}"))
            }
        }
    }

    pub(super) fn miner_failed(&self, message: String) {
        console_error(&format!("node {}: mining: {message}", self.inner.node_id));
        *self.inner.miner_error.borrow_mut() = Some(message);
    }
}
