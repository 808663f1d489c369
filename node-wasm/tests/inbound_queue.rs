//! Frames wait for the signature workers in arrival order, and what waits is bounded in
//! bytes: a relay that sends faster than the workers check cannot grow the tab's memory.
#![cfg(target_arch = "wasm32")]

use node_core::primitives::hash::sha256;
use node_core::Txid;
use node_wasm::inbound::{InboundQueue, Vouched, MAX_WAITING_BYTES};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MIB: usize = 1 << 20;

fn tx(n: u32) -> Vouched {
    Vouched::Tx(Txid::from_hash(sha256(&n.to_le_bytes())))
}

#[wasm_bindgen_test]
fn a_relay_outpacing_the_signature_workers_cannot_queue_more_than_the_budget_behind_them() {
    // The relay sends 1 MiB transactions full of signatures, 80 of them, while the workers
    // answer none: the driver hands on whatever is ready after each frame.
    let mut q = InboundQueue::new();
    let mut handed_on = Vec::new();
    let mut abandoned = 0;
    for n in 0..80u32 {
        let id = q.take_id();
        abandoned += q.push(id, 1, vec![0; MIB], Some(tx(n)), 0);
        while let Some(f) = q.pop_ready() {
            assert_eq!(
                f.verified, None,
                "nothing the workers did not answer is vouched"
            );
            handed_on.push(f.id);
        }
        assert!(
            q.bytes() <= MAX_WAITING_BYTES,
            "{} bytes wait after frame {n}",
            q.bytes()
        );
    }
    assert!(abandoned > 0, "the workers were given up on");
    assert_eq!(
        handed_on,
        (0..handed_on.len() as u64).collect::<Vec<_>>(),
        "in arrival order"
    );
    assert!(handed_on.len() >= 80 - MAX_WAITING_BYTES / MIB);
}

#[wasm_bindgen_test]
fn a_frame_waits_behind_one_being_checked_and_only_what_held_is_vouched_for() {
    let mut q = InboundQueue::new();
    let (a, b, c) = (q.take_id(), q.take_id(), q.take_id());
    assert_eq!(q.push(a, 1, vec![1], Some(tx(1)), 0), 0);
    q.push(b, 1, vec![2], None, 0);
    q.push(c, 1, vec![3], Some(tx(3)), 0);
    assert!(q.pop_ready().is_none(), "b waits behind a");
    q.settle(c, false);
    q.settle(99, true); // an answer for nothing waiting changes nothing
    assert!(q.pop_ready().is_none());
    assert_eq!(q.checking_since_before(u64::MAX), vec![a]);
    q.settle(a, true);
    let first = q.pop_ready().expect("a is ready");
    assert_eq!((first.id, first.verified), (a, Some(tx(1))));
    let second = q.pop_ready().expect("b follows");
    assert_eq!((second.id, second.verified), (b, None));
    let third = q.pop_ready().expect("c follows");
    assert_eq!(
        (third.id, third.verified),
        (c, None),
        "a failed check vouches nothing"
    );
    assert!(q.is_empty());
    assert_eq!(q.bytes(), 0);
}
