//! Attacks on the tab's chain storage as it is now: block bodies and undo records in an
//! append-only body file of the origin private file system, named by span from an IndexedDB
//! journal. Each test damages the file or the spans (as anyone with the browser's developer
//! tools could), then starts the node or loads the store, and checks what the design
//! promises: no panic, no unbounded allocation, no coin that no block created after a
//! verifying start, a one-line warning where the damage is detected, and nothing
//! acknowledged lost across a close and a restart in the same worker.
#![cfg(target_arch = "wasm32")]

use node_core::chain::ChainChanges;
use node_core::{consensus::pow, Address, Block, BlockHash, Chain, ChainParams};
use node_wasm::body_file::{BodyFile, Span};
use node_wasm::driver::{Driver, DriverConfig};
use node_wasm::error::NodeError;
use node_wasm::storage::{ChainStore, JournalBatch};
use node_wasm::stored_bodies::StoredBodies;
use std::sync::Arc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

mod common;
use common::{journaled, key, offline_config, small_chain_with_reorg, store_chain, unique, Net};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Stores `batches` as node `id`'s chain, as its driver would (bodies written to the file,
/// then one journal record each), but with the journal's batches passed through `edit`
/// first: the spans and records an attacker rewrote.
async fn store_edited(id: &str, batches: &[ChainChanges], edit: impl FnOnce(&mut [JournalBatch])) {
    let bodies = open_bodies(id).await;
    let mut journal: Vec<JournalBatch> = batches
        .iter()
        .map(|b| journaled(&bodies, b.clone()))
        .collect();
    bodies.file().write_out().expect("written");
    edit(&mut journal);
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    for b in &journal {
        store
            .persist(std::slice::from_ref(b))
            .await
            .expect("persist");
    }
    store.close();
    bodies.file().close();
}

/// Node `id`'s body file, opened as the driver opens it (in this worker: on disk).
async fn open_bodies(id: &str) -> StoredBodies {
    let (file, in_memory) = BodyFile::open(&format!("bodies-{id}"))
        .await
        .expect("body file");
    assert!(in_memory.is_none(), "a worker has sync file access");
    StoredBodies::new(file, Default::default())
}

/// The size of node `id`'s body file, opened and closed again.
async fn file_size(id: &str) -> u64 {
    let (file, _) = BodyFile::open(&format!("bodies-{id}"))
        .await
        .expect("body file");
    let size = file.end();
    file.close();
    size
}

/// Replaces the bytes of node `id`'s body file by `bytes` (a file edited or swapped).
async fn overwrite_file(id: &str, bytes: &[u8]) {
    let (file, _) = BodyFile::open(&format!("bodies-{id}"))
        .await
        .expect("body file");
    file.clear().expect("truncated");
    if !bytes.is_empty() {
        file.append(bytes).expect("appended");
    }
    file.close();
}

/// The whole of node `id`'s body file.
async fn file_bytes(id: &str) -> Vec<u8> {
    let (file, _) = BodyFile::open(&format!("bodies-{id}"))
        .await
        .expect("body file");
    let len = file.end();
    let bytes = file
        .read(Span {
            offset: 0,
            len: len as u32,
        })
        .expect("the whole file reads");
    file.close();
    bytes
}

/// Deletes node `id`'s body file from the origin private file system.
async fn remove_file(id: &str) {
    let storage = node_wasm::global_scope::storage_manager().expect("navigator.storage");
    let dir: web_sys::FileSystemDirectoryHandle = JsFuture::from(storage.get_directory())
        .await
        .expect("the origin's directory")
        .unchecked_into();
    JsFuture::from(dir.remove_entry(&format!("bodies-{id}")))
        .await
        .expect("the file is removed");
}

fn config(id: &str, replay: bool) -> DriverConfig {
    DriverConfig {
        replay_storage: replay,
        ..offline_config(id)
    }
}

/// Starts node `id` offline and checks it dropped its stored chain, said why in one line
/// naming `why`, and cleared the journal and the file for the download.
async fn starts_without(id: &str, why: &str, replay: bool) -> Driver {
    let node = Driver::start(config(id, replay))
        .await
        .expect("damaged storage never stops the node from starting");
    let status = node.status();
    assert_eq!(status.tip, None, "the stored chain is not used");
    assert_eq!(
        status.storage_warnings.len(),
        1,
        "{:?}",
        status.storage_warnings
    );
    let line = &status.storage_warnings[0];
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(line.contains("downloaded again"), "{line}");
    assert!(line.contains(why), "{line}");
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    assert_eq!(
        store.read().await.expect("read").records,
        0,
        "journal cleared"
    );
    store.close();
    node
}

/// Starts node `id` offline and checks it took its stored chain without a warning.
async fn starts_with_chain(id: &str, replay: bool, height: u64) -> Driver {
    let node = Driver::start(config(id, replay))
        .await
        .expect("the node starts");
    let status = node.status();
    assert!(
        status.storage_warnings.is_empty(),
        "{:?}",
        status.storage_warnings
    );
    assert_eq!(status.height, height, "the stored chain is used");
    node
}

/// Loads node `id`'s stored chain straight from the store (as `Driver::start` does).
async fn load(id: &str, replay: bool) -> (Result<Option<Chain>, NodeError>, Arc<StoredBodies>) {
    let (chain, bodies, store) = load_keeping_store(id, replay).await;
    store.close();
    (chain, bodies)
}

/// As [`load`], keeping the store open for the writes that follow (its next record number
/// is known once it has read the journal).
async fn load_keeping_store(
    id: &str,
    replay: bool,
) -> (
    Result<Option<Chain>, NodeError>,
    Arc<StoredBodies>,
    ChainStore,
) {
    let bodies = Arc::new(open_bodies(id).await);
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    let chain = store.load(ChainParams::default(), &bodies, replay).await;
    (chain, bodies, store)
}

fn address(seed: u8) -> String {
    Address(key(seed).pubkey_hash()).to_string()
}

/// The span the journal gives block `hash`'s body.
fn span_of(journal: &[JournalBatch], hash: BlockHash) -> Span {
    journal
        .iter()
        .flat_map(|b| b.blocks.iter())
        .find(|(h, _)| h.hash() == hash)
        .map(|(_, s)| *s)
        .expect("a journaled block")
}

/// Sets the span the journal gives block `hash`'s body.
fn set_span(journal: &mut [JournalBatch], hash: BlockHash, span: Span) {
    for (h, s) in journal.iter_mut().flat_map(|b| b.blocks.iter_mut()) {
        if h.hash() == hash {
            *s = span;
        }
    }
}

/// The span the journal gives block `hash`'s undo record (its last one).
fn undo_span_of(journal: &[JournalBatch], hash: BlockHash) -> Span {
    journal
        .iter()
        .rev()
        .flat_map(|b| b.undo.iter().rev())
        .find(|(h, _)| *h == hash)
        .map(|(_, s)| *s)
        .expect("a journaled undo record")
}

/// Sets every span the journal gives block `hash`'s undo record.
fn set_undo_span(journal: &mut [JournalBatch], hash: BlockHash, span: Span) {
    for (h, s) in journal.iter_mut().flat_map(|b| b.undo.iter_mut()) {
        if *h == hash {
            *s = span;
        }
    }
}

/// The test chain's blocks by name: genesis, b1, b2 (now a side block), x2, x3 (the tip).
struct Named {
    genesis: BlockHash,
    b1: BlockHash,
    b2: BlockHash,
    x2: BlockHash,
    x3: BlockHash,
}

fn named(batches: &[ChainChanges]) -> Named {
    Named {
        genesis: batches[0].blocks[0].hash(),
        b1: batches[1].blocks[0].hash(),
        b2: batches[2].blocks[0].hash(),
        x2: batches[3].blocks[0].hash(),
        x3: batches[4].blocks[0].hash(),
    }
}

/// Two blocks on the side block b2 (c3, c4): accepted by a chain at x3 they make it
/// reorganise, disconnecting x3 and x2 and connecting b2, all read from the store.
fn heavier_branch_on_b2(batches: &[ChainChanges]) -> Vec<Block> {
    let net = Net::new();
    let m = key(3);
    let genesis = batches[0].blocks[0].clone();
    let mut chain = Chain::new(ChainParams::default(), genesis, net.now).expect("genesis");
    for b in [&batches[1].blocks[0], &batches[2].blocks[0]] {
        chain.accept_block(b.clone(), net.now).expect("b1, b2");
    }
    let c3 = net.block(&chain, m.pubkey_hash(), vec![], 5, b"c3");
    chain.accept_block(c3.clone(), net.now).expect("c3");
    let c4 = net.block(&chain, m.pubkey_hash(), vec![], 6, b"c4");
    vec![c3, c4]
}

// ---------------------------------------------------------------------------------------
// Spans the file does not hold
// ---------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_journal_span_past_the_files_end_drops_the_chain_and_the_next_start_is_clean() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        let s = span_of(j, n.x3);
        set_span(
            j,
            n.x3,
            Span {
                offset: s.offset + 1_000_000,
                len: s.len,
            },
        );
    })
    .await;

    let node = starts_without(&id, "the body file holds", false).await;
    node.close();
    assert_eq!(
        file_size(&id).await,
        0,
        "the file was emptied with the journal"
    );
    let again = Driver::start(offline_config(&id)).await.expect("start");
    assert!(again.status().storage_warnings.is_empty());
    assert_eq!(again.status().tip, None);
    again.close();
}

#[wasm_bindgen_test]
async fn a_journal_span_of_4_gib_is_refused_before_anything_is_read() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        let s = span_of(j, n.b1);
        set_span(
            j,
            n.b1,
            Span {
                offset: s.offset,
                len: u32::MAX,
            },
        );
    })
    .await;
    let node = starts_without(&id, "the body file holds", false).await;
    node.close();

    // The same for an undo record, on a verifying start.
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        set_undo_span(
            j,
            n.x2,
            Span {
                offset: 0,
                len: u32::MAX,
            },
        )
    })
    .await;
    let node = starts_without(&id, "the body file holds", true).await;
    node.close();
}

#[wasm_bindgen_test]
async fn a_span_at_the_top_of_u64_does_not_wrap_around_into_the_file() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        set_span(
            j,
            n.b1,
            Span {
                offset: u64::MAX - 10,
                len: 100,
            },
        )
    })
    .await;
    let node = starts_without(&id, "the body file holds", false).await;
    node.close();

    // Straight on the file: such spans read nothing, whether on disk or in pending.
    for file in [
        BodyFile::in_memory(),
        BodyFile::open(&format!("bodies-{}", unique("f")))
            .await
            .expect("file")
            .0,
    ] {
        let a = file.append(&[1u8; 100]).expect("a");
        file.write_out().expect("written");
        let b = file.append(&[2u8; 50]).expect("b (pending)");
        assert_eq!(file.read(a), Some(vec![1u8; 100]));
        assert_eq!(file.read(b), Some(vec![2u8; 50]));
        for span in [
            Span {
                offset: u64::MAX - 10,
                len: 100,
            },
            Span {
                offset: u64::MAX,
                len: u32::MAX,
            },
            Span {
                offset: u64::MAX - 149,
                len: 150,
            },
            Span {
                offset: 0,
                len: u32::MAX,
            },
            Span {
                offset: 1,
                len: 150,
            },
            Span {
                offset: 151,
                len: 0,
            },
        ] {
            assert_eq!(file.read(span), None, "{span:?}");
        }
        // Straddling what is on the file and what is pending: refused, not half read.
        assert_eq!(
            file.read(Span {
                offset: 90,
                len: 20
            }),
            None
        );
        file.close();
    }
}

// ---------------------------------------------------------------------------------------
// Spans naming the wrong bytes
// ---------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_span_naming_another_blocks_body_reads_as_missing_and_verifying_refuses_it() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let edit = |j: &mut [JournalBatch]| {
        let genesis = span_of(j, n.genesis);
        set_span(j, n.b1, genesis);
    };
    let id = unique("t");
    store_edited(&id, &batches, edit).await;

    // A plain start reads no body: it takes the chain...
    let node = starts_with_chain(&id, false, 3).await;
    // ...and never lends genesis's body as b1's.
    assert!(node.block(&n.b1.to_string()).is_none());
    assert!(node.block(&n.genesis.to_string()).is_some());
    let shown: Vec<String> = node.print_chain(None).into_iter().map(|b| b.hash).collect();
    assert!(!shown.contains(&n.b1.to_string()), "{shown:?}");
    assert!(shown.contains(&n.x3.to_string()));
    node.close();

    let id = unique("t");
    store_edited(&id, &batches, edit).await;
    let node = starts_without(&id, "missing from the body file, or damaged there", true).await;
    node.close();
}

#[wasm_bindgen_test]
async fn overlapping_spans_read_as_missing_and_verifying_refuses_them() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let edit = |j: &mut [JournalBatch]| {
        // x2's span starts three bytes into b1's record.
        let b1 = span_of(j, n.b1);
        let x2 = span_of(j, n.x2);
        set_span(
            j,
            n.x2,
            Span {
                offset: b1.offset + 3,
                len: x2.len,
            },
        );
    };
    let id = unique("t");
    store_edited(&id, &batches, edit).await;
    let node = starts_with_chain(&id, false, 3).await;
    assert!(node.block(&n.x2.to_string()).is_none());
    assert!(
        node.block(&n.b1.to_string()).is_some(),
        "b1 itself is whole"
    );
    node.close();

    let id = unique("t");
    store_edited(&id, &batches, edit).await;
    let node = starts_without(&id, "missing from the body file, or damaged there", true).await;
    node.close();
}

#[wasm_bindgen_test]
async fn a_side_blocks_span_naming_another_body_is_refused_by_verifying() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        let b1 = span_of(j, n.b1);
        set_span(j, n.b2, b1);
    })
    .await;
    let node = starts_without(&id, "side-branch block", true).await;
    node.close();
}

#[wasm_bindgen_test]
async fn an_undo_span_naming_another_blocks_undo_is_refused_by_verifying_and_a_reorganisation_over_it_does_not_panic(
) {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let edit = |j: &mut [JournalBatch]| {
        let x2 = undo_span_of(j, n.x2);
        set_undo_span(j, n.x3, x2);
    };
    let id = unique("t");
    store_edited(&id, &batches, edit).await;
    let node = starts_without(&id, "undo data that does not match", true).await;
    node.close();

    // A plain start takes it (no undo record is read): a reorganisation that disconnects
    // x3 then applies x2's undo record to it. Coins may come out wrong (a plain start
    // trusts its storage), but nothing panics and the chain stays linked.
    let id = unique("t");
    store_edited(&id, &batches, edit).await;
    let (chain, bodies) = load(&id, false).await;
    let mut chain = chain.expect("load").expect("a chain");
    let net = Net::new();
    for b in heavier_branch_on_b2(&batches) {
        let _ = chain.accept_block(b, net.now);
    }
    assert_eq!(chain.height(), 4);
    assert!(chain.is_active(&n.b2));
    assert!(chain.is_active(&chain.tip()));
    bodies.file().close();
}

// ---------------------------------------------------------------------------------------
// The file itself damaged, deleted, grown, replaced
// ---------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_body_file_deleted_under_an_intact_journal_drops_the_chain_and_starts_clean() {
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches).await;
    remove_file(&id).await;
    let node = starts_without(&id, "the body file holds 0", false).await;
    node.close();
    let again = Driver::start(offline_config(&id)).await.expect("start");
    assert!(again.status().storage_warnings.is_empty());
    again.close();
}

#[wasm_bindgen_test]
async fn a_body_file_cut_short_drops_the_chain() {
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches).await;
    let bytes = file_bytes(&id).await;
    overwrite_file(&id, &bytes[..bytes.len() - 1]).await;
    let node = starts_without(&id, "the body file holds", false).await;
    node.close();
}

#[wasm_bindgen_test]
async fn a_journal_cleared_under_a_full_file_empties_the_file_so_no_old_byte_is_reused() {
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches).await;
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    store.clear().await.expect("cleared");
    store.close();
    assert!(file_size(&id).await > 0);

    let node = Driver::start(offline_config(&id)).await.expect("start");
    assert_eq!(node.status().tip, None);
    node.close();
    assert_eq!(
        file_size(&id).await,
        0,
        "nothing named: the file is emptied"
    );

    // A new chain stored from there verifies: its spans name its own bytes only.
    store_chain(&id, &batches[..3]).await;
    let node = starts_with_chain(&id, true, 2).await;
    node.close();
}

#[wasm_bindgen_test]
async fn garbage_appended_to_the_file_is_overwritten_by_the_next_record_and_never_read() {
    let (chain, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches[..4]).await;
    let named_end = file_size(&id).await;
    let mut bytes = file_bytes(&id).await;
    bytes.extend(std::iter::repeat_n(0xAB, 5_000));
    overwrite_file(&id, &bytes).await;

    // A load names the old end as the next record's place.
    let (loaded, bodies, store) = load_keeping_store(&id, true).await;
    loaded.expect("load").expect("a chain");
    assert_eq!(bodies.file().end(), named_end);
    // The last batch is written over the garbage and the whole chain verifies.
    let batch = journaled(&bodies, batches[4].clone());
    for (_, s) in &batch.blocks {
        assert_eq!(s.offset, named_end, "written where the garbage began");
    }
    bodies.file().write_out().expect("written");
    store
        .persist(std::slice::from_ref(&batch))
        .await
        .expect("persist");
    store.close();
    bodies.file().close();
    drop(bodies);
    let (again, bodies) = load(&id, true).await;
    let again = again.expect("verifies").expect("a chain");
    assert_eq!(again.tip(), chain.tip());
    bodies.file().close();
}

#[wasm_bindgen_test]
async fn a_body_file_replaced_by_a_larger_one_loads_without_bodies_and_verifying_refuses_it() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    store_chain(&id, &batches).await;
    let size = file_size(&id).await as usize;
    let other: Vec<u8> = (0..size * 2).map(|i| (i * 7 + 3) as u8).collect();
    overwrite_file(&id, &other).await;

    // A plain start reads no body: every body now reads as missing, and nothing panics.
    let node = starts_with_chain(&id, false, 3).await;
    assert!(node.block(&n.x3.to_string()).is_none());
    assert!(node.print_chain(None).is_empty());
    assert_eq!(
        node.balance(&address(2)).expect("address"),
        20,
        "coins as stored"
    );
    node.close();

    let id2 = unique("t");
    store_chain(&id2, &batches).await;
    overwrite_file(&id2, &other).await;
    let node = starts_without(&id2, "missing from the body file, or damaged there", true).await;
    node.close();
}

#[wasm_bindgen_test]
async fn a_failed_reorganisation_over_lost_bodies_leaves_the_tip_on_the_active_chain() {
    // A plain start over a file where x2's and b2's bodies are lost (their spans name
    // genesis): a heavier branch on b2 disconnects x3 and x2, fails to connect b2, and puts
    // the old chain back. x2 cannot be put back; x3 must then not be stacked on b1.
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        let genesis = span_of(j, n.genesis);
        set_span(j, n.x2, genesis);
        set_span(j, n.b2, genesis);
    })
    .await;
    let (chain, bodies) = load(&id, false).await;
    let mut chain = chain.expect("load").expect("a chain");
    let net = Net::new();
    for b in heavier_branch_on_b2(&batches) {
        let _ = chain.accept_block(b, net.now);
    }
    let tip = chain.tip();
    let entry = chain.entry(&tip).expect("the tip is indexed");
    assert_eq!(
        entry.height,
        chain.height(),
        "the tip's indexed height is the chain's height"
    );
    assert!(chain.is_active(&tip), "the tip is on the active chain");
    assert_eq!(chain.hash_at(chain.height()), Some(tip));
    bodies.file().close();
}

// ---------------------------------------------------------------------------------------
// What a plain start's quick check catches, and what it leaves to verifying
// ---------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn coins_moved_between_owners_pass_a_plain_start_a_known_limit_and_verifying_refuses_them() {
    let (_, batches) = small_chain_with_reorg();
    let thief = key(9).pubkey_hash();
    let edit = |j: &mut [JournalBatch]| {
        // Every coin of the last record now belongs to key 9: the total is unchanged.
        for (_, e) in j.last_mut().expect("records").utxo.iter_mut() {
            if let Some(e) = e {
                e.output.pubkey_hash = thief;
            }
        }
    };
    let id = unique("t");
    store_edited(&id, &batches, edit).await;
    // Known limit: a plain start reads no body, and the sum of coins is what it checks.
    let node = starts_with_chain(&id, false, 3).await;
    assert!(node.balance(&address(9)).expect("address") > 0);
    node.close();

    let id = unique("t");
    store_edited(&id, &batches, edit).await;
    let node = starts_without(&id, "stored UTXO set is not the one", true).await;
    assert_eq!(node.balance(&address(9)).expect("address"), 0);
    node.close();
}

#[wasm_bindgen_test]
async fn a_coin_dated_above_the_tip_is_refused_on_a_plain_start() {
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        let (_, e) = j
            .last_mut()
            .expect("records")
            .utxo
            .iter_mut()
            .find(|(_, e)| e.is_some())
            .expect("a coin written");
        if let Some(e) = e {
            e.height = 1_000;
        }
    })
    .await;
    let node = starts_without(&id, "younger than the tip", false).await;
    node.close();
}

#[wasm_bindgen_test]
async fn a_stored_header_without_its_proof_of_work_is_refused_on_a_plain_start() {
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        // The side block b2's header, its nonce changed until it no longer meets its bits.
        for (h, _) in j.iter_mut().flat_map(|b| b.blocks.iter_mut()) {
            if h.hash() == n.b2 {
                while pow::meets_target(&h.hash(), h.bits) {
                    h.nonce = h.nonce.wrapping_add(1);
                }
            }
        }
    })
    .await;
    let node = starts_without(&id, "does not carry its proof of work", false).await;
    node.close();

    // A header of other (easier) bits, even with its work, is refused too.
    let id = unique("t");
    store_edited(&id, &batches, |j| {
        for (h, _) in j.iter_mut().flat_map(|b| b.blocks.iter_mut()) {
            if h.hash() == n.b2 {
                h.bits = 1;
                while !pow::meets_target(&h.hash(), 1) {
                    h.nonce = h.nonce.wrapping_add(1);
                }
            }
        }
    })
    .await;
    let node = starts_without(&id, "does not carry its proof of work", false).await;
    node.close();
}

// ---------------------------------------------------------------------------------------
// Close, restart, writes after close, compaction with pending records
// ---------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn a_node_closed_and_started_again_in_the_same_worker_reopens_its_file_every_time() {
    let (chain, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches).await;
    for replay in [false, true, false, true] {
        let node = starts_with_chain(&id, replay, 3).await;
        assert!(
            node.block(&chain.tip().to_string()).is_some(),
            "the tip's body is read from the reopened file"
        );
        assert_eq!(node.print_chain(None).len(), 4);
        node.close();
        // A closed node reads nothing and does not panic when asked.
        assert!(node.block(&chain.tip().to_string()).is_none());
        let _ = node.print_chain(None);
    }
}

#[wasm_bindgen_test]
async fn a_second_start_while_the_first_node_holds_the_file_fails_and_harms_nothing() {
    let (chain, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches).await;
    let first = starts_with_chain(&id, false, 3).await;
    let second = Driver::start(offline_config(&id)).await;
    assert!(second.is_err(), "the file is held by the first node");
    assert!(first.block(&chain.tip().to_string()).is_some());
    first.close();
    let third = starts_with_chain(&id, true, 3).await;
    third.close();
}

#[wasm_bindgen_test]
async fn writes_after_close_fail_and_reads_find_nothing_on_disk_or_in_memory() {
    for file in [
        BodyFile::in_memory(),
        BodyFile::open(&format!("bodies-{}", unique("f")))
            .await
            .expect("file")
            .0,
    ] {
        let a = file.append(b"record").expect("appended");
        file.close();
        assert_eq!(file.read(a), None);
        assert!(matches!(file.append(b"more"), Err(NodeError::Closed)));
        assert!(
            file.write_out().is_ok(),
            "nothing pending: flushed at close"
        );
        file.close();
    }
    // The bytes appended before the close were flushed by it.
    let name = format!("bodies-{}", unique("f"));
    let (file, _) = BodyFile::open(&name).await.expect("file");
    let a = file.append(b"kept by close").expect("appended");
    file.close();
    let (file, _) = BodyFile::open(&name).await.expect("reopened");
    assert_eq!(file.read(a).as_deref(), Some(&b"kept by close"[..]));
    file.close();
}

#[wasm_bindgen_test]
async fn a_compaction_while_records_are_still_pending_names_only_bytes_already_in_the_file() {
    let (chain, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches[..4]).await;
    let (loaded, bodies) = load(&id, false).await;
    let mut loaded = loaded.expect("load").expect("a chain");
    // The last batch's bodies are written (pending) but neither written out nor journaled,
    // as in the driver between `drain` and `persist`; the chain in memory already has it.
    let x3 = batches[4].blocks[0].clone();
    let net = Net::new();
    loaded.accept_block(x3, net.now).expect("x3");
    let mut changes = loaded.take_changes();
    bodies.write(&mut changes).expect("bodies appended");
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    store
        .compact(&loaded, &bodies)
        .expect("compaction starts")
        .await
        .expect("compaction commits");
    // Whatever the journal now names is in the file, as another handle (after a crash)
    // would find it: read the file's size through its async File view.
    let named = store.read().await.expect("read").stored.file_end();
    store.close();
    let on_disk = disk_size_while_open(&id).await;
    let on_disk = on_disk.expect("this browser reads a file a sync handle holds");
    assert!(
        named <= on_disk,
        "journal names {named} bytes, file has {on_disk}"
    );
    bodies.file().close();
    drop(bodies);
    let (again, bodies) = load(&id, true).await;
    let again = again.expect("verifies").expect("a chain");
    assert_eq!(again.tip(), chain.tip());
    bodies.file().close();
}

/// The size of node `id`'s body file through `getFile()` (no sync handle), if the browser
/// lets the file be read while a sync handle is open.
async fn disk_size_while_open(id: &str) -> Option<u64> {
    let storage = node_wasm::global_scope::storage_manager()?;
    let dir: web_sys::FileSystemDirectoryHandle = JsFuture::from(storage.get_directory())
        .await
        .ok()?
        .unchecked_into();
    let handle: web_sys::FileSystemFileHandle =
        JsFuture::from(dir.get_file_handle(&format!("bodies-{id}")))
            .await
            .ok()?
            .unchecked_into();
    let file = JsFuture::from(handle.get_file()).await.ok()?;
    js_sys::Reflect::get(&file, &"size".into())
        .ok()?
        .as_f64()
        .map(|s| s as u64)
}

#[wasm_bindgen_test]
async fn a_file_end_set_past_its_bytes_is_refused_rather_than_leaving_a_hole() {
    for file in [
        BodyFile::in_memory(),
        BodyFile::open(&format!("bodies-{}", unique("f")))
            .await
            .expect("file")
            .0,
    ] {
        file.append(&[7u8; 50]).expect("a");
        assert!(file.set_end(100).is_err(), "only bytes the file holds");
        let b = file.append(b"after").expect("b");
        file.write_out().expect("written");
        assert_eq!(file.read(b).as_deref(), Some(&b"after"[..]));
        file.close();
    }
}

#[wasm_bindgen_test]
async fn a_directory_in_place_of_the_body_file_never_stops_the_node_from_starting() {
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    let name = format!("bodies-{id}");
    // Only a journal; where the body file goes, someone made a directory of that name.
    store_chain(&id, &batches).await;
    remove_file(&id).await;
    let storage = node_wasm::global_scope::storage_manager().expect("navigator.storage");
    let dir: web_sys::FileSystemDirectoryHandle = JsFuture::from(storage.get_directory())
        .await
        .expect("the origin's directory")
        .unchecked_into();
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"create".into(), &true.into()).expect("an option");
    let make: js_sys::Function = js_sys::Reflect::get(&dir, &"getDirectoryHandle".into())
        .expect("getDirectoryHandle")
        .unchecked_into();
    let made: js_sys::Promise = make
        .call2(&dir, &name.as_str().into(), &options)
        .expect("called")
        .unchecked_into();
    JsFuture::from(made)
        .await
        .expect("a directory in the file's place");

    let node = Driver::start(offline_config(&id))
        .await
        .expect("damaged storage never stops the node from starting");
    let status = node.status();
    assert_eq!(status.tip, None, "no body of the stored chain can be read");
    assert!(!status.storage_warnings.is_empty());
    for line in &status.storage_warnings {
        assert!(!line.contains('\n'), "one line: {line}");
    }
    node.close();
}

#[wasm_bindgen_test]
async fn a_block_removed_after_its_connecting_batch_was_written_still_leaves_that_record_whole() {
    // The driver writes every batch's bodies as soon as the node gives it up, and builds
    // each batch's journal record (`JournalBatch::of`) later, when the pump reaches it. When
    // a later batch (already written) forgets a block an earlier one connected as the tip
    // (found invalid on a recheck), and a frame sits between the two so they commit apart,
    // the earlier record must still name the block it makes the tip: a tab closed between
    // the two commits otherwise leaves a journal whose tip it does not hold, and the whole
    // stored chain is dropped on the next start.
    let (_, batches) = small_chain_with_reorg();
    let n = named(&batches);
    let id = unique("t");
    let bodies = Arc::new(open_bodies(&id).await);
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    for b in &batches[..4] {
        let batch = journaled(&bodies, b.clone());
        bodies.file().write_out().expect("written");
        store
            .persist(std::slice::from_ref(&batch))
            .await
            .expect("persist");
    }
    // Both later batches are written (drain), the first journaled alone (persist).
    let mut connect_x3 = batches[4].clone();
    bodies.write(&mut connect_x3).expect("written");
    let mut forget_x3 = ChainChanges {
        removed: vec![n.x3],
        tip: Some(n.x2),
        ..ChainChanges::default()
    };
    bodies.write(&mut forget_x3).expect("written");
    let record = JournalBatch::of(connect_x3, &bodies);
    bodies.file().write_out().expect("written");
    store
        .persist(std::slice::from_ref(&record))
        .await
        .expect("persist");
    store.close();
    bodies.file().close();
    drop(bodies);
    // The tab closes here. The next start finds the chain up to x3.
    let (chain, bodies) = load(&id, true).await;
    let chain = chain.expect("the journal is whole").expect("a chain");
    assert_eq!(chain.tip(), n.x3);
    bodies.file().close();
}
