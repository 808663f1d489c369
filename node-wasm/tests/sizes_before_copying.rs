//! Whatever comes into the tab from outside (a relay's message, a worker's message, an
//! IndexedDB record) has its size checked before it is copied into wasm memory, which
//! never shrinks once grown. A counting allocator measures the most this test module held
//! at once while the tab read each oversized value.
#![cfg(target_arch = "wasm32")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use js_sys::{ArrayBuffer, JsString, Object, Reflect, Uint8Array};
use node_core::protocol::{decode_frame, FrameError, MAX_FRAME_SIZE};
use node_core::{Action, Event, Node, NodeConfig};
use node_wasm::miner::{parse_report, WorkerReport};
use node_wasm::transport::{frame_from_data, MAX_COPIED_BYTES};
use node_wasm::wallet::Wallet;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

mod common;
use common::unique;

wasm_bindgen_test_configure!(run_in_browser);

/// Counts the bytes held and the most held at once.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let held = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(held, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts measuring: the peak is reset to what is held now.
fn start_measuring() -> usize {
    let held = HELD.load(Ordering::Relaxed);
    PEAK.store(held, Ordering::Relaxed);
    held
}

/// The most held at once since `start_measuring` returned `base`, above `base`.
fn most_held_since(base: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

const MIB: usize = 1 << 20;
/// What reading an oversized value may cost: one frame's worth, and change.
const ONE_FRAME_AND_CHANGE: usize = MAX_COPIED_BYTES + MIB;

#[wasm_bindgen_test]
fn a_relay_message_of_64_mib_puts_no_more_than_one_frame_into_wasm_memory_and_costs_the_relay_its_connection(
) {
    let message = ArrayBuffer::new((64 * MIB) as u32);
    let base = start_measuring();
    let frame = frame_from_data(&message.into()).expect("binary");
    let held = most_held_since(base);
    assert!(
        held <= ONE_FRAME_AND_CHANGE,
        "reading the message held {held} bytes"
    );
    assert_eq!(frame.size, 64 * MIB);
    assert!(frame.is_oversized());
    assert_eq!(frame.bytes.len(), MAX_COPIED_BYTES);
    assert_eq!(
        decode_frame(&frame.bytes),
        Err(FrameError::TooLarge(MAX_FRAME_SIZE + 1))
    );

    // The node refuses it as it refuses any oversized frame: the relay is scored for it and
    // disconnected, with a reason that says so.
    let mut node = Node::new(NodeConfig::default(), None);
    node.handle(
        0,
        Event::PeerConnected {
            peer: 1,
            outbound: true,
        },
    );
    node.drain_actions();
    node.handle(
        1,
        Event::Frame {
            peer: 1,
            bytes: frame.bytes,
        },
    );
    let closed = node.drain_actions().into_iter().find_map(|a| match a {
        Action::Disconnect {
            peer: 1,
            reason,
            misbehaved: true,
        } => Some(reason),
        _ => None,
    });
    let reason = closed.expect("the relay is disconnected as misbehaving");
    assert!(reason.contains("exceeds"), "{reason}");
}

#[wasm_bindgen_test]
fn a_text_message_of_16_mib_is_cut_before_it_is_copied() {
    let message = JsString::from("x").repeat((16 * MIB) as i32);
    let base = start_measuring();
    let frame = frame_from_data(&message.into()).expect("text");
    let held = most_held_since(base);
    assert!(
        held <= 2 * ONE_FRAME_AND_CHANGE,
        "reading the text held {held} bytes"
    );
    assert!(frame.is_oversized());
    assert_eq!(frame.size, 16 * MIB);
    assert_eq!(frame.bytes.len(), MAX_COPIED_BYTES);
}

/// A worker message `{type, <field>: value}`.
fn worker_message(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let m = Object::new();
    Reflect::set(&m, &"type".into(), &kind.into()).expect("set");
    for (k, v) in fields {
        Reflect::set(&m, &(*k).into(), v).expect("set");
    }
    m.into()
}

#[wasm_bindgen_test]
fn a_worker_message_with_a_16_mib_string_is_read_only_as_far_as_it_can_be_valid() {
    let huge: JsValue = JsString::from("1").repeat((16 * MIB) as i32).into();
    let base = start_measuring();
    let found = parse_report(&worker_message(
        "found",
        &[("jobId", 1.0.into()), ("nonce", huge.clone())],
    ));
    let failed = parse_report(&worker_message("error", &[("message", huge.clone())]));
    let odd_type = parse_report(&worker_message("x", &[]));
    let held = most_held_since(base);
    assert!(held <= MIB, "reading the messages held {held} bytes");
    assert_eq!(found, None, "a 16-million-digit nonce is no nonce");
    match failed {
        Some(WorkerReport::Failed(m)) => assert!(m.len() <= 300, "{} bytes kept", m.len()),
        other => panic!("an error report: {other:?}"),
    }
    assert_eq!(odd_type, None);
    let long_type: JsValue = JsString::from("t").repeat((16 * MIB) as i32).into();
    let base = start_measuring();
    let m = Object::new();
    Reflect::set(&m, &"type".into(), &long_type).expect("set");
    assert_eq!(parse_report(&m.into()), None);
    assert!(most_held_since(base) <= MIB);
}

#[wasm_bindgen_test]
async fn a_wallet_record_of_16_mib_is_not_copied_and_is_reported() {
    let name = unique("wallet-big");
    Wallet::open(&name).await.expect("create").close();
    {
        use indexed_db_futures::database::Database;
        use indexed_db_futures::prelude::*;
        use indexed_db_futures::transaction::TransactionMode;
        let db = Database::open(name.as_str()).await.expect("open");
        let tx = db
            .transaction("keys")
            .with_mode(TransactionMode::Readwrite)
            .build()
            .expect("tx");
        let big: JsValue = Uint8Array::new_with_length((16 * MIB) as u32).into();
        let request = tx
            .object_store("keys")
            .expect("store")
            .put(big)
            .with_key(JsValue::from_str("1Big"))
            .primitive()
            .expect("put");
        tx.commit().await.expect("commit");
        drop(request);
        db.close();
    }
    let base = start_measuring();
    let wallet = Wallet::open(&name)
        .await
        .expect("a big record never stops the wallet");
    let held = most_held_since(base);
    assert!(held <= MIB, "opening the wallet held {held} bytes");
    assert!(wallet.addresses().is_empty());
    assert_eq!(wallet.unreadable().len(), 1);
    let line = &wallet.unreadable()[0];
    assert!(
        line.contains("1Big") && line.contains("16777216 bytes"),
        "{line}"
    );
    wallet.close();
}

/// A block of about `bytes` bytes (one coinbase with many outputs): what a relay feeding
/// full blocks sends. It need not be valid to be written.
fn big_block(height: u64, bytes: usize) -> node_core::Block {
    let to = common::key(4).pubkey_hash();
    let mut coinbase = node_core::Transaction::new_coinbase(height, to, 1, b"full");
    let output = node_core::TxOut {
        value: 1,
        pubkey_hash: to,
    };
    coinbase.outputs = vec![output; bytes / 21];
    node_core::Block::new_template(node_core::BlockHash::ZERO, height, 8, vec![coinbase])
}

#[wasm_bindgen_test]
async fn a_relay_feeding_full_blocks_cannot_make_the_tab_write_a_record_larger_than_it_reads_back()
{
    use node_core::chain::ChainChanges;
    use node_wasm::storage::{ChainStore, JournalBatch, RECORD_TARGET_BYTES};
    use node_wasm::stored_bodies::StoredBodies;
    // 40 blocks of 1 MiB downloaded into one batch, as the driver gathers them while syncing:
    // their bodies go to the body file, the journal names them.
    let bodies = StoredBodies::new(
        node_wasm::body_file::BodyFile::in_memory(),
        Default::default(),
    );
    let batch: Vec<JournalBatch> = (1..=40)
        .map(|h| {
            let mut changes = ChainChanges {
                blocks: vec![big_block(h, MIB)],
                ..ChainChanges::default()
            };
            bodies.write(&mut changes).expect("written");
            JournalBatch::of(changes, &bodies)
        })
        .collect();
    let store = ChainStore::open(&unique("test-full-blocks"))
        .await
        .expect("open");
    store.persist(&batch).await.expect("persist");
    let read = store.read().await.expect("read");
    assert!(
        read.largest_record <= RECORD_TARGET_BYTES / 1024,
        "a record of {} bytes: bodies belong in the body file",
        read.largest_record
    );
    assert_eq!(
        read.stored.located.len(),
        40,
        "every block is named in the journal"
    );
    assert!(
        bodies.file().end() >= 40 * MIB as u64,
        "and its body is in the file"
    );
    store.close();
}
