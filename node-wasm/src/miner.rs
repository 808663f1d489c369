//! Mining in Web Workers: the worker entry ([`mine_chunk`], exported as `mineChunk`) and the
//! pool of workers the driver hands templates to.
//!
//! # Overview
//! `www/worker.js` is a module worker that loads the workers' build of this crate
//! (`www/pkg-miner`, see the crate docs) and loops `mineChunk(header,
//! start, count)` over its share of the nonce space, 2^16 nonces at a time, yielding between
//! chunks so a new job or a stop message takes effect at once. It posts
//! `{type: "progress", tried}` about four times a second and `{type: "found", jobId, nonce}`
//! (the nonce as a decimal string) when it wins.
//!
//! [`MinerPool`] starts the workers (`navigator.hardwareConcurrency - 1` by default, at least
//! one), splits the 2^64 nonces into equal ranges, posts each job as
//! `{type: "job", jobId, header, start, count}` (88 header bytes; `start` and `count` as
//! BigInts), and measures each worker's hash rate from its progress reports.

use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::{BigInt, Object, Reflect, Uint8Array};
use node_core::consensus::pow::{self, Midstate};
use node_core::primitives::block::{BlockHeader, HEADER_SIZE};
use node_core::primitives::hash::Hash256;
use node_core::BlockHash;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::bounded_copy;
use crate::error::{js_message, NodeError};

/// Rebuilds a header from its fixed 88-byte layout (the inverse of `BlockHeader::to_bytes`).
pub fn header_from_bytes(bytes: &[u8]) -> Result<BlockHeader, NodeError> {
    let b: &[u8; HEADER_SIZE] = bytes.try_into().map_err(|_| {
        NodeError::BadOption(format!(
            "a block header is {HEADER_SIZE} bytes, got {}",
            bytes.len()
        ))
    })?;
    let mut prev = [0u8; 32];
    prev.copy_from_slice(&b[4..36]);
    let mut merkle = [0u8; 32];
    merkle.copy_from_slice(&b[36..68]);
    let le_u32 = |r: &[u8]| r.iter().rev().fold(0u32, |a, x| (a << 8) | u32::from(*x));
    let le_u64 = |r: &[u8]| r.iter().rev().fold(0u64, |a, x| (a << 8) | u64::from(*x));
    Ok(BlockHeader {
        version: le_u32(&b[0..4]),
        prev: BlockHash::from_hash(Hash256(prev)),
        merkle_root: Hash256(merkle),
        timestamp: le_u64(&b[68..76]),
        bits: le_u32(&b[76..80]),
        nonce: le_u64(&b[80..88]),
    })
}

/// Tries nonces `start .. start + count` on an 88-byte header with the midstate search;
/// returns the first nonce that meets the header's target, or `undefined`. Exported by the
/// workers' build only (without the `page` feature).
#[cfg_attr(not(feature = "page"), wasm_bindgen(js_name = mineChunk))]
pub fn mine_chunk(header: &[u8], start: u64, count: u32) -> Result<Option<u64>, JsError> {
    let header = header_from_bytes(header)?;
    let midstate = Midstate::new(&header);
    let outcome = pow::search(&midstate, start, u64::from(count));
    Ok(outcome.found.map(|(nonce, _)| nonce))
}

/// What a worker reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerReport {
    /// It hashed this many nonces since its last report.
    Progress(u64),
    /// It found a nonce for a job.
    Found {
        /// The job.
        job: u64,
        /// The winning nonce.
        nonce: u64,
    },
    /// Its share of the nonce space is used up without a result.
    Exhausted,
    /// It failed (script did not load, wasm did not start, ...).
    Failed(String),
}

/// Longest message type a worker sends (`"exhausted"`).
const MAX_REPORT_TYPE_UNITS: usize = 16;
/// A nonce is a u64 in decimal: 20 digits.
const MAX_NONCE_UNITS: usize = 20;
/// A worker's error message is cut to this many UTF-16 units.
const MAX_WORKER_ERROR_UNITS: usize = 300;

/// Reads a worker's message. Strings are copied only up to their expected size
/// ([`crate::bounded_copy`]).
pub fn parse_report(data: &JsValue) -> Option<WorkerReport> {
    let get = |k: &str| Reflect::get(data, &JsValue::from_str(k)).ok();
    let kind = bounded_copy::string(&get("type")?, MAX_REPORT_TYPE_UNITS)?;
    match kind.as_str() {
        "progress" => Some(WorkerReport::Progress(
            get("tried")?.as_f64()?.max(0.0) as u64
        )),
        "found" => Some(WorkerReport::Found {
            job: get("jobId")?.as_f64()? as u64,
            nonce: bounded_copy::string(&get("nonce")?, MAX_NONCE_UNITS + 1)?
                .parse()
                .ok()?,
        }),
        "exhausted" => Some(WorkerReport::Exhausted),
        "error" => Some(WorkerReport::Failed(
            get("message")
                .and_then(|m| bounded_copy::string(&m, MAX_WORKER_ERROR_UNITS))
                .unwrap_or_else(|| "worker failed".into()),
        )),
        _ => None,
    }
}

/// The nonce range of worker `i` of `n`: equal shares of the 2^64 nonces.
/// In 64-bit arithmetic (u128 division links 1 KB into the page module): with
/// 2^64 = q * n + r, share k starts at q * k + r * k / n, and r * k < n^2 fits in a u64 for
/// any n a usize holds in wasm32. The last share ends at 2^64, which wraps to 0; a single
/// share, the whole space (q wraps to 0 for n = 1), is counted as u64::MAX nonces.
pub fn nonce_range(i: usize, n: usize) -> (u64, u64) {
    let n = n.max(1) as u64;
    let i = (i as u64).min(n - 1);
    let (mut q, mut r) = (u64::MAX / n, u64::MAX % n + 1);
    if r == n {
        q = q.wrapping_add(1);
        r = 0;
    }
    let boundary = |k: u64| q.wrapping_mul(k).wrapping_add(r * k / n);
    let start = boundary(i);
    let count = boundary(i + 1).wrapping_sub(start);
    (start, if count == 0 { u64::MAX } else { count })
}

/// Hash rates in hashes per second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashRate {
    /// All workers together.
    pub total: f64,
    /// Each worker.
    pub workers: Vec<f64>,
}

struct Slot {
    worker: Worker,
    _listeners: [EventListener; 2],
    tried: u64,
    rate: f64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The mining workers of one node.
pub struct MinerPool {
    url: String,
    count: usize,
    slots: Vec<Slot>,
    job: Option<(u64, [u8; HEADER_SIZE])>,
    on_report: Rc<dyn Fn(usize, WorkerReport)>,
    window_start_ms: f64,
    rate: HashRate,
}

impl MinerPool {
    /// A pool of `count` workers running the module script at `url`; they start with the
    /// first job. Reports go to `on_report` with the worker's index.
    pub fn new(url: String, count: usize, on_report: Rc<dyn Fn(usize, WorkerReport)>) -> Self {
        MinerPool {
            url,
            count: count.max(1),
            slots: Vec::new(),
            job: None,
            on_report,
            window_start_ms: 0.0,
            rate: HashRate::default(),
        }
    }

    /// The default worker count: all cores but the one the node runs on, at least one.
    pub fn default_count() -> usize {
        let cores = crate::global_scope::hardware_concurrency();
        (cores as usize).saturating_sub(1).max(1)
    }

    /// Number of workers the pool runs when mining.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether a job is being mined.
    pub fn is_active(&self) -> bool {
        self.job.is_some()
    }

    /// Changes the number of workers; a job being mined is spread over the new set.
    pub fn set_count(&mut self, count: usize) -> Result<(), NodeError> {
        self.count = count.clamp(1, 64);
        if self.slots.len() > self.count {
            self.slots.truncate(self.count);
        }
        if let Some((id, header)) = self.job {
            self.post_job(id, &header)?;
        }
        Ok(())
    }

    fn spawn(&mut self) -> Result<(), NodeError> {
        while self.slots.len() < self.count {
            let index = self.slots.len();
            let options = WorkerOptions::new();
            options.set_type(WorkerType::Module);
            let worker = Worker::new_with_options(&self.url, &options).map_err(|e| {
                NodeError::Browser(format!("worker {}: {}", self.url, js_message(&e)))
            })?;
            let on_message = {
                let report = self.on_report.clone();
                EventListener::new(&worker, "message", move |e| {
                    if let Some(r) = e
                        .dyn_ref::<MessageEvent>()
                        .and_then(|m| parse_report(&m.data()))
                    {
                        report(index, r);
                    }
                })
            };
            let on_error = {
                let report = self.on_report.clone();
                let url = self.url.clone();
                EventListener::new(&worker, "error", move |e| {
                    let detail = Reflect::get(e, &JsValue::from_str("message"))
                        .ok()
                        .and_then(|m| bounded_copy::string(&m, MAX_WORKER_ERROR_UNITS))
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| format!("could not start {url}"));
                    report(index, WorkerReport::Failed(detail));
                })
            };
            self.slots.push(Slot {
                worker,
                _listeners: [on_message, on_error],
                tried: 0,
                rate: 0.0,
            });
        }
        Ok(())
    }

    fn post_job(&mut self, id: u64, header: &[u8; HEADER_SIZE]) -> Result<(), NodeError> {
        self.spawn()?;
        let n = self.slots.len();
        for (i, slot) in self.slots.iter().enumerate() {
            let (start, count) = nonce_range(i, n);
            let msg = Object::new();
            let set = |k: &str, v: &JsValue| Reflect::set(&msg, &JsValue::from_str(k), v);
            let header = Uint8Array::from(header.as_slice());
            let ok = set("type", &"job".into()).is_ok()
                && set("jobId", &JsValue::from_f64(id as f64)).is_ok()
                && set("header", &header).is_ok()
                && set("start", &BigInt::from(start).into()).is_ok()
                && set("count", &BigInt::from(count).into()).is_ok();
            if !ok {
                return Err(NodeError::Browser("could not build a job message".into()));
            }
            slot.worker
                .post_message(&msg)
                .map_err(|e| NodeError::Browser(format!("post to worker: {}", js_message(&e))))?;
        }
        Ok(())
    }

    /// Mines `header` (88 bytes, nonce ignored) as job `id`, replacing any job before it.
    pub fn start(
        &mut self,
        id: u64,
        header: [u8; HEADER_SIZE],
        now_ms: f64,
    ) -> Result<(), NodeError> {
        if self.job.is_none() {
            self.window_start_ms = now_ms;
            for s in &mut self.slots {
                s.tried = 0;
            }
        }
        self.job = Some((id, header));
        self.post_job(id, &header)
    }

    /// The job being mined, if any.
    pub fn job_id(&self) -> Option<u64> {
        self.job.map(|(id, _)| id)
    }

    /// Stops every worker's search (the workers stay loaded for the next job).
    pub fn stop(&mut self) {
        self.job = None;
        let msg = Object::new();
        let _ = Reflect::set(&msg, &JsValue::from_str("type"), &"stop".into());
        for slot in &self.slots {
            let _ = slot.worker.post_message(&msg);
        }
        self.rate = HashRate {
            total: 0.0,
            workers: vec![0.0; self.slots.len()],
        };
        for s in &mut self.slots {
            s.rate = 0.0;
            s.tried = 0;
        }
    }

    /// Counts nonces a worker reported.
    pub fn record(&mut self, worker: usize, tried: u64) {
        if let Some(s) = self.slots.get_mut(worker) {
            s.tried = s.tried.saturating_add(tried);
        }
    }

    /// Recomputes rates once a second of reports has gathered; returns them if they changed.
    pub fn sample(&mut self, now_ms: f64) -> Option<HashRate> {
        self.job?;
        let elapsed = now_ms - self.window_start_ms;
        if elapsed < 1000.0 {
            return None;
        }
        for s in &mut self.slots {
            s.rate = s.tried as f64 * 1000.0 / elapsed;
            s.tried = 0;
        }
        self.window_start_ms = now_ms;
        self.rate = HashRate {
            total: self.slots.iter().map(|s| s.rate).sum(),
            workers: self.slots.iter().map(|s| s.rate).collect(),
        };
        Some(self.rate.clone())
    }

    /// The last measured rates.
    pub fn rate(&self) -> &HashRate {
        &self.rate
    }

    /// Terminates every worker.
    pub fn shutdown(&mut self) {
        self.job = None;
        self.slots.clear();
    }
}
