//! Signature checks by the browser's own ECDSA P-256 (WebCrypto) in Web Workers, ahead of the
//! node.
//!
//! # Why
//! node-core checks a signature with the `p256` crate, which compiled to wasm32 (32-bit
//! limbs) takes about 0.7 ms here: a 10,000-block download with 60,000 signatures would spend
//! 40 s on them. WebCrypto runs BoringSSL's native P-256, ~16,000 checks a second, but on the
//! thread that calls it; so the checks go to a few workers (`www/verify-worker.js`), one
//! block's signatures per message, while the tab's thread goes on validating everything
//! else. The driver tells the node which blocks and transactions were vouched for
//! (`Node::note_verified_block`, `Node::note_verified_signatures`); the node skips only those
//! checks.
//!
//! # Same rules on both paths
//! WebCrypto accepts high-S signatures and other key encodings that node-core refuses, so
//! every signature first passes `node_core::primitives::keys::check_encoding` here, in Rust (uncompressed
//! key on the curve, `r` and `s` in range, low S); only the ECDSA equation itself is left to
//! WebCrypto, over the same message (SHA-256 of the signature message). Anything not
//! confirmed is simply not vouched for: the node checks it itself and reports the precise
//! error. A page without WebCrypto (served over plain http from another host) or whose
//! workers fail to start loses nothing but speed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gloo_events::EventListener;
use js_sys::{Object, Reflect, Uint8Array};
use node_core::primitives::keys::{self, PUBLIC_KEY_SIZE, SIGNATURE_SIZE};
use node_core::Transaction;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

/// Bytes of one check sent to a worker: key, signature, message.
pub const CHECK_SIZE: usize = PUBLIC_KEY_SIZE + SIGNATURE_SIZE + 32;

/// The checks of `txs` (their non-coinbase inputs) packed for a worker, `CHECK_SIZE` bytes
/// each; `None` when one breaks an encoding rule (the node will say which) or there is none.
pub fn pack_checks(txs: &[Transaction]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for tx in txs.iter().filter(|t| !t.is_coinbase()) {
        let message = tx.signature_message();
        for input in &tx.inputs {
            keys::check_encoding(&input.public_key, &input.signature).ok()?;
            out.extend_from_slice(&input.public_key);
            out.extend_from_slice(&input.signature);
            out.extend_from_slice(&message);
        }
    }
    (!out.is_empty()).then_some(out)
}

struct Slot {
    worker: Worker,
    /// Requests sent to this worker and not answered yet: a few hundred at most (the
    /// inbound queue's bound), so a list; a `BTreeSet` cost the page module a B-tree
    /// instance of its own (~3 KB gzipped).
    outstanding: Rc<RefCell<Vec<u64>>>,
    _listeners: [EventListener; 2],
}

/// A few workers checking signatures with WebCrypto; answers go to one callback as
/// `(request id, all held)`. The workers start with the first request: a tab that never
/// receives a signature to check (a download under assume-valid) never starts them.
pub struct VerifierPool {
    url: String,
    count: usize,
    on_result: Rc<dyn Fn(u64, bool)>,
    slots: RefCell<Vec<Slot>>,
    next: Cell<usize>,
    broken: Rc<Cell<bool>>,
}

impl VerifierPool {
    /// A pool of `count` workers from `url`; `None` when `count` is 0 or the page has no
    /// WebCrypto.
    pub fn start(url: &str, count: usize, on_result: Rc<dyn Fn(u64, bool)>) -> Option<Self> {
        if count == 0 || !has_webcrypto() {
            return None;
        }
        Some(VerifierPool {
            url: url.to_string(),
            count,
            on_result,
            slots: RefCell::new(Vec::new()),
            next: Cell::new(0),
            broken: Rc::new(Cell::new(false)),
        })
    }

    /// Starts the workers; `false` (and the pool broken) if one cannot be created.
    fn spawn(&self) -> bool {
        let mut slots = self.slots.borrow_mut();
        for _ in slots.len()..self.count {
            let options = WorkerOptions::new();
            options.set_type(WorkerType::Module);
            let worker = match Worker::new_with_options(&self.url, &options) {
                Ok(w) => w,
                Err(e) => {
                    web_sys::console::warn_2(&format!("{}:", self.url).into(), &e);
                    self.broken.set(true);
                    return false;
                }
            };
            let outstanding = Rc::new(RefCell::new(Vec::new()));
            let on_message = {
                let outstanding = outstanding.clone();
                let on_result = self.on_result.clone();
                EventListener::new(&worker, "message", move |e| {
                    let Some(data) = e.dyn_ref::<MessageEvent>().map(MessageEvent::data) else {
                        return;
                    };
                    let get = |k: &str| Reflect::get(&data, &k.into()).unwrap_or_default();
                    let Some(id) = get("id").as_f64().map(|f| f as u64) else {
                        return;
                    };
                    let answered = {
                        let mut outstanding = outstanding.borrow_mut();
                        let at = outstanding.iter().position(|o| *o == id);
                        at.map(|at| outstanding.swap_remove(at)).is_some()
                    };
                    if answered {
                        on_result(id, get("ok").as_bool() == Some(true));
                    }
                })
            };
            // A worker that fails (its script missing, say) answers nothing more: everything
            // it held is settled as not vouched for, and the pool stops taking work.
            let on_error = {
                let outstanding = outstanding.clone();
                let on_result = self.on_result.clone();
                let broken = self.broken.clone();
                let url = self.url.clone();
                EventListener::new(&worker, "error", move |_| {
                    if !broken.replace(true) {
                        web_sys::console::warn_1(
                            &format!("{url} failed: signatures are checked in wasm").into(),
                        );
                    }
                    let ids: Vec<u64> = std::mem::take(&mut *outstanding.borrow_mut());
                    for id in ids {
                        on_result(id, false);
                    }
                })
            };
            slots.push(Slot {
                worker,
                outstanding,
                _listeners: [on_message, on_error],
            });
        }
        true
    }

    /// The default number of workers: one per core, at most 4. The page's thread keeps
    /// validating meanwhile; on two cores the three share them.
    pub fn default_count() -> usize {
        let cores = crate::global_scope::hardware_concurrency();
        (cores as usize).clamp(1, 4)
    }

    /// Sends request `id` (checks from [`pack_checks`]) to the next worker. `false` when the
    /// pool cannot take it; the answer then never comes.
    pub fn submit(&self, id: u64, checks: &[u8]) -> bool {
        if self.broken.get() || (self.slots.borrow().is_empty() && !self.spawn()) {
            return false;
        }
        let slots = self.slots.borrow();
        let i = self.next.get() % slots.len();
        self.next.set(i + 1);
        let slot = &slots[i];
        let msg = Object::new();
        let ok = Reflect::set(&msg, &"id".into(), &JsValue::from_f64(id as f64)).is_ok()
            && Reflect::set(&msg, &"checks".into(), &Uint8Array::from(checks)).is_ok();
        if !ok || slot.worker.post_message(&msg).is_err() {
            return false;
        }
        slot.outstanding.borrow_mut().push(id);
        true
    }

    /// Whether the workers still take work.
    pub fn is_working(&self) -> bool {
        !self.broken.get()
    }

    /// Workers taking work (started or not yet): all of them, or none once one failed.
    pub fn working_count(&self) -> usize {
        if self.is_working() {
            self.count
        } else {
            0
        }
    }
}

impl VerifierPool {
    /// Stops the workers; the pool takes no more work.
    pub fn shutdown(&self) {
        self.broken.set(true);
        for slot in self.slots.borrow_mut().drain(..) {
            slot.worker.terminate();
        }
    }
}

impl Drop for VerifierPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Whether this page has `crypto.subtle` (only secure contexts do).
fn has_webcrypto() -> bool {
    Reflect::get(&js_sys::global(), &"crypto".into())
        .and_then(|c| Reflect::get(&c, &"subtle".into()))
        .is_ok_and(|s| !s.is_undefined() && !s.is_null())
}
