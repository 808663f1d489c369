//! Proof-of-work search on every core, for `send --mine` and for `startnode --miner`.
//!
//! The header's first 64 bytes do not change with the nonce, so each thread hashes them once
//! ([`pow::Midstate`]) and then only the tail per nonce. Threads take interleaved chunks of
//! the nonce space and check a cancel flag between chunks, so a new template or a block from
//! the network stops stale work within a few milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use node_core::consensus::pow;
use node_core::node::MiningJob;
use node_core::BlockHeader;
use tokio::sync::mpsc;

/// Nonces one thread tries between two looks at the cancel flag.
const CHUNK: u64 = 1 << 16;

/// Finds a nonce for `header` using every core; `None` if `cancel` was raised first.
pub fn solve(header: &BlockHeader, cancel: &AtomicBool) -> Option<u64> {
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 64) as u64;
    let midstate = pow::Midstate::new(header);
    let found = AtomicBool::new(false);
    let result = Mutex::new(None);
    thread::scope(|s| {
        for i in 0..threads {
            let (midstate, found, result) = (&midstate, &found, &result);
            s.spawn(move || {
                let mut start = i * CHUNK;
                loop {
                    if cancel.load(Ordering::Relaxed) || found.load(Ordering::Relaxed) {
                        return;
                    }
                    let outcome = pow::search(midstate, start, CHUNK);
                    if let Some((nonce, _)) = outcome.found {
                        if !found.swap(true, Ordering::AcqRel) {
                            if let Ok(mut r) = result.lock() {
                                *r = Some(nonce);
                            }
                        }
                        return;
                    }
                    start = start.wrapping_add(threads * CHUNK);
                }
            });
        }
    });
    result.into_inner().ok().flatten()
}

/// A nonce found for a mining job.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    /// The job it solves.
    pub job_id: u64,
    /// The winning nonce.
    pub nonce: u64,
}

/// The background miner of a running node: at most one job at a time.
pub struct Miner {
    current: Option<Arc<AtomicBool>>,
    results: mpsc::Sender<Found>,
}

impl Miner {
    /// A miner reporting nonces on `results`.
    pub fn new(results: mpsc::Sender<Found>) -> Self {
        Miner {
            current: None,
            results,
        }
    }

    /// Starts mining `job` on a blocking thread, cancelling the job before it.
    pub fn start(&mut self, job: MiningJob) {
        self.stop();
        let cancel = Arc::new(AtomicBool::new(false));
        self.current = Some(cancel.clone());
        let results = self.results.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(nonce) = solve(&job.template.header, &cancel) {
                if !cancel.load(Ordering::Relaxed) {
                    let _ = results.blocking_send(Found {
                        job_id: job.id,
                        nonce,
                    });
                }
            }
        });
    }

    /// Cancels the current job, if any.
    pub fn stop(&mut self) {
        if let Some(c) = self.current.take() {
            c.store(true, Ordering::Relaxed);
        }
    }

    /// Whether a job is being mined.
    pub fn is_active(&self) -> bool {
        self.current.is_some()
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::{BlockHash, Hash256};

    #[test]
    fn the_nonce_found_meets_the_target() -> Result<(), &'static str> {
        let mut header = BlockHeader {
            version: 1,
            prev: BlockHash::from_hash(Hash256([3; 32])),
            merkle_root: Hash256([4; 32]),
            timestamp: 1,
            bits: 12,
            nonce: 0,
        };
        let nonce = solve(&header, &AtomicBool::new(false)).ok_or("no nonce found")?;
        header.nonce = nonce;
        assert!(pow::meets_target(&header.hash(), 12));
        Ok(())
    }

    #[test]
    fn a_raised_cancel_flag_stops_the_search() {
        let header = BlockHeader {
            version: 1,
            prev: BlockHash::ZERO,
            merkle_root: Hash256::ZERO,
            timestamp: 1,
            bits: 64,
            nonce: 0,
        };
        assert_eq!(solve(&header, &AtomicBool::new(true)), None);
    }
}
