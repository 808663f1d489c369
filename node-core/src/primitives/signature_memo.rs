//! The simulator's shared memory of signature checks (simulator builds only).
//!
//! A simulated network runs a thousand nodes on one thread, and every node checks every
//! payment's signatures, as real nodes on a thousand machines would. The check is a pure
//! function of (key, message, signature), so the simulator computes each distinct one once
//! and gives the same answer to every node that asks: what each node decides is unchanged,
//! and a run's wall time measures the network, not a thousand copies of one ECDSA equation.
//! [`Counts`] keeps both figures, so a report says how many checks the nodes asked for.
//!
//! Off unless a thread turns it on ([`share_on_this_thread`], which `Sim::new` calls): a
//! node, or a test that does not simulate, always computes.

use alloc::collections::BTreeMap;
use core::cell::{Cell, RefCell};

use super::hash::{sha256, Hash256};

/// Distinct checks remembered before the memory starts over: far above the few thousand
/// payments of a simulated run, and at ~100 bytes an entry, a bounded 10 MB.
const MEMO_CAP: usize = 100_000;

/// Signature checks on this thread: asked for by nodes, and actually computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Checks the nodes asked for.
    pub asked: u64,
    /// Checks computed (the rest were answered from the shared memory).
    pub computed: u64,
}

std::thread_local! {
    static SHARED: Cell<bool> = const { Cell::new(false) };
    static COUNTS: Cell<Counts> = const { Cell::new(Counts { asked: 0, computed: 0 }) };
    static MEMO: RefCell<BTreeMap<Hash256, u8>> =
        const { RefCell::new(BTreeMap::new()) };
}

/// Turns the shared memory on for this thread (the simulator's).
pub fn share_on_this_thread() {
    SHARED.with(|s| s.set(true));
}

/// This thread's counts so far.
pub fn counts_on_this_thread() -> Counts {
    COUNTS.with(Cell::get)
}

/// `check()`'s verdict for this (key, message, signature), computed once per distinct triple
/// when sharing is on. The verdict is the caller's code for its answer (a byte, so this
/// module needs nothing from the one that checks).
pub(super) fn checked(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
    check: impl FnOnce() -> u8,
) -> u8 {
    let count = |computed: bool| {
        COUNTS.with(|c| {
            let mut n = c.get();
            n.asked += 1;
            n.computed += u64::from(computed);
            c.set(n);
        })
    };
    if !SHARED.with(Cell::get) {
        count(true);
        return check();
    }
    let mut id =
        alloc::vec::Vec::with_capacity(public_key.len() + message.len() + signature.len() + 16);
    for part in [public_key, message, signature] {
        id.extend_from_slice(&(part.len() as u64).to_le_bytes());
        id.extend_from_slice(part);
    }
    let id = sha256(&id);
    if let Some(known) = MEMO.with(|m| m.borrow().get(&id).copied()) {
        count(false);
        return known;
    }
    count(true);
    let result = check();
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_CAP {
            m.clear();
        }
        m.insert(id, result);
    });
    result
}
