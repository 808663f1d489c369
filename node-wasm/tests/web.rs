//! Runs in headless Chromium: `wasm-pack test --headless --chrome node-wasm`.
//!
//! Every test is async and awaits its result (an assertion inside `spawn_local` could pass
//! before it ran). Databases get unique names so runs never see each other's data.
#![cfg(target_arch = "wasm32")]

use node_core::chain;
use node_core::primitives::block::BlockHeader;
use node_core::primitives::hash::sha256;
use node_core::protocol::{decode_frame, encode_frame, FrameError, Message};
use node_core::{consensus::pow, BlockHash, Chain, ChainParams, Transaction, TxOut};
use node_wasm::driver::Driver;
use node_wasm::miner::{header_from_bytes, mine_chunk, nonce_range};
use node_wasm::storage::ChainStore;
use node_wasm::transport::{frame_from_data, pick_relay, relay_url, Backoff};
use node_wasm::verifier::{pack_checks, VerifierPool, CHECK_SIZE};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

mod common;
use common::{
    journaled, key, memory_bodies, offline_config, small_chain_with_reorg, store_chain, unique,
    Net, BITS,
};

// In a dedicated worker, as the node runs (www/node-worker.js): only there are block
// bodies kept in a file (the origin private file system's sync access handles).
wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
async fn indexeddb_round_trip_restores_tip_utxo_and_side_branches() {
    let (chain, batches) = small_chain_with_reorg();
    let name = unique("test-chain");
    let bodies = memory_bodies();
    let batches: Vec<_> = batches.into_iter().map(|b| journaled(&bodies, b)).collect();
    let store = ChainStore::open(&name).await.expect("open");
    // The first two batches in one transaction (as the driver batches while syncing), the
    // rest one each.
    store.persist(&batches[..2]).await.expect("persist");
    for b in &batches[2..] {
        store
            .persist(std::slice::from_ref(b))
            .await
            .expect("persist");
    }
    store.close();

    let again = ChainStore::open(&name).await.expect("reopen");
    let loaded = again
        .load(ChainParams::default(), &bodies, true)
        .await
        .expect("load")
        .expect("a chain was stored");
    assert_eq!(loaded.tip(), chain.tip());
    assert_eq!(loaded.height(), 3);
    assert_eq!(loaded.utxo().digest(), chain.utxo().digest());
    assert_eq!(loaded.utxo().len(), chain.utxo().len());
    assert_eq!(
        loaded.entries().count(),
        chain.entries().count(),
        "side branch kept"
    );
    // The undone payment is gone from the set: B has only its two branch coinbases.
    assert_eq!(loaded.utxo().balance(&key(2).pubkey_hash()), 20);
    assert_eq!(loaded.utxo().balance(&key(1).pubkey_hash()), 10);
}

#[wasm_bindgen_test]
async fn a_long_journal_compacts_while_writes_go_on_and_loads_the_same_chain() {
    let net = Net::new();
    let m = key(3);
    let genesis = chain::mine_genesis(m.pubkey_hash(), 10, net.t0, BITS, b"genesis");
    let mut chain = Chain::new(ChainParams::default(), genesis, net.now).expect("genesis is valid");
    let name = unique("test-compact");
    let bodies = memory_bodies();
    let store = ChainStore::open(&name).await.expect("open");
    store
        .persist(&[journaled(&bodies, chain.take_changes())])
        .await
        .expect("persist");
    // One record per block, as a mining tab writes them: 300 records.
    for n in 1..300u64 {
        let tag = n.to_le_bytes();
        let b = net.block(&chain, m.pubkey_hash(), vec![], n / 10, &tag);
        chain.accept_block(b, net.now).expect("a valid block");
        store
            .persist(&[journaled(&bodies, chain.take_changes())])
            .await
            .expect("persist");
    }
    assert_eq!(store.read().await.expect("read").records, 300);

    let loaded = store
        .load(ChainParams::default(), &bodies, false)
        .await
        .expect("load")
        .expect("a chain was stored");
    assert_eq!(loaded.tip(), chain.tip());
    assert!(store.needs_compaction());
    // Compaction starts its transaction at once: a write begun after it, even before its
    // commit, lands after it (and is not wiped by its clear).
    let commit = store.compact(&loaded, &bodies).expect("compaction starts");
    let b = net.block(&chain, m.pubkey_hash(), vec![], 31, b"after");
    chain.accept_block(b, net.now).expect("a valid block");
    store
        .persist(&[journaled(&bodies, chain.take_changes())])
        .await
        .expect("persist");
    commit.await.expect("compaction commits");
    assert!(!store.needs_compaction());
    let compacted = store.read().await.expect("read");
    assert!(
        compacted.records < 10,
        "{} records after compaction",
        compacted.records
    );
    store.close();
    let again = ChainStore::open(&name).await.expect("reopen");
    let reloaded = again
        .load(ChainParams::default(), &bodies, true)
        .await
        .expect("load")
        .expect("a chain was stored");
    assert_eq!(reloaded.height(), 300);
    assert_eq!(reloaded.tip(), chain.tip());
    assert_eq!(reloaded.utxo().digest(), chain.utxo().digest());
}

#[wasm_bindgen_test]
async fn a_schema_1_database_is_replaced_and_downloads_again() {
    use indexed_db_futures::database::Database;
    use indexed_db_futures::prelude::*;
    let name = unique("test-schema1");
    let old = Database::open(name.as_str())
        .with_version(1u32)
        .with_on_upgrade_needed(|_event, db: Database| {
            for store in ["blocks", "undo", "utxo", "meta"] {
                db.create_object_store(store).build()?;
            }
            Ok(())
        })
        .await
        .expect("a schema 1 database");
    old.close();
    let store = ChainStore::open(&name).await.expect("upgrade");
    let loaded = store
        .load(ChainParams::default(), &memory_bodies(), false)
        .await
        .expect("load");
    assert!(loaded.is_none(), "nothing of schema 1 is read");
    assert_eq!(store.read().await.expect("read").records, 0);
}

#[wasm_bindgen_test]
async fn an_empty_database_loads_no_chain() {
    let store = ChainStore::open(&unique("test-empty")).await.expect("open");
    let loaded = store
        .load(ChainParams::default(), &memory_bodies(), false)
        .await
        .expect("load");
    assert!(loaded.is_none());
}

/// `www/verify-worker.js` as a Blob URL.
fn verify_worker_url() -> String {
    let parts = js_sys::Array::of1(&include_str!("../../www/verify-worker.js").into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).expect("blob");
    web_sys::Url::create_object_url_with_blob(&blob).expect("blob URL")
}

/// The answers a pool gave, as `(request id, all held)`.
type Answers = Rc<RefCell<Vec<(u64, bool)>>>;

/// A pool of `count` workers from `url` whose answers are recorded.
fn recording_pool(url: &str, count: usize) -> (VerifierPool, Answers) {
    let answers = Rc::new(RefCell::new(Vec::new()));
    let on_result = {
        let answers = answers.clone();
        Rc::new(move |id: u64, ok: bool| answers.borrow_mut().push((id, ok)))
            as Rc<dyn Fn(u64, bool)>
    };
    let pool = VerifierPool::start(url, count, on_result).expect("WebCrypto in a test page");
    (pool, answers)
}

/// Submits `checks` as request `id` and waits for the pool's answer.
async fn verify_in_worker(
    pool: &VerifierPool,
    answers: &RefCell<Vec<(u64, bool)>>,
    id: u64,
    checks: &[u8],
) -> bool {
    assert!(pool.submit(id, checks), "the pool takes work");
    for _ in 0..500 {
        if let Some(&(_, ok)) = answers.borrow().iter().find(|(i, _)| *i == id) {
            return ok;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    panic!("no answer for request {id}");
}

#[wasm_bindgen_test]
async fn webcrypto_workers_vouch_for_good_signatures_and_never_for_bad_ones() {
    let (chain, _) = small_chain_with_reorg();
    let (pool, answers) = recording_pool(&verify_worker_url(), 2);

    // A payment signed by key 1 (as in the chain above): vouched for.
    let a = key(1);
    let genesis_cb = chain.block_at(0).expect("genesis").transactions[0].txid();
    let pay = Transaction::new_signed(
        &a,
        &[node_core::OutPoint {
            txid: genesis_cb,
            vout: 0,
        }],
        vec![TxOut {
            value: 10,
            pubkey_hash: key(2).pubkey_hash(),
        }],
    );
    let checks = pack_checks(std::slice::from_ref(&pay)).expect("one signed input");
    assert_eq!(checks.len(), CHECK_SIZE);
    assert!(verify_in_worker(&pool, &answers, 1, &checks).await);

    // The same with one bit of the signature's r flipped: the equation fails in WebCrypto.
    let mut bad = pay.clone();
    bad.inputs[0].signature[5] ^= 1;
    let bad_checks = pack_checks(std::slice::from_ref(&bad)).expect("still well encoded");
    assert!(!verify_in_worker(&pool, &answers, 2, &bad_checks).await);
    // Signed by another key than the one presented: fails.
    let mut other = pay.clone();
    other.inputs[0].public_key = key(5).public_key().to_vec();
    let other_checks = pack_checks(std::slice::from_ref(&other)).expect("well encoded");
    assert!(!verify_in_worker(&pool, &answers, 3, &other_checks).await);
    // A coinbase has nothing to check; a compressed key never reaches WebCrypto.
    assert!(pack_checks(&chain.block_at(0).expect("genesis").transactions).is_none());
    let mut compressed = pay.clone();
    compressed.inputs[0].public_key[0] = 0x02;
    assert!(pack_checks(std::slice::from_ref(&compressed)).is_none());
    // Garbage from a confused caller gets a clear "no", not a hang.
    assert!(!verify_in_worker(&pool, &answers, 4, &[0u8; CHECK_SIZE]).await);
}

#[wasm_bindgen_test]
async fn a_verifier_whose_worker_cannot_load_settles_everything_as_not_vouched() {
    let (pool, answers) = recording_pool("./no-such-verify-worker.js", 1);
    assert!(!verify_in_worker(&pool, &answers, 7, &[0u8; CHECK_SIZE]).await);
    assert!(!pool.is_working());
    assert!(
        !pool.submit(8, &[0u8; CHECK_SIZE]),
        "a broken pool takes no more work"
    );
}

#[wasm_bindgen_test]
async fn a_reloaded_node_resumes_its_chain_and_wallet() {
    let (chain, batches) = small_chain_with_reorg();
    let id = unique("t");
    // A previous session stored the chain...
    store_chain(&id, &batches).await;

    // ...and a first start of the node finds it, offline, and makes a key.
    let first = Driver::start(offline_config(&id)).await.expect("start");
    let status = first.status();
    assert_eq!(status.height, 3);
    assert_eq!(
        status.tip.as_deref(),
        Some(chain.tip().to_string().as_str())
    );
    assert!(!status.connected);
    let address = first.create_wallet().await.expect("create wallet");
    assert_eq!(first.list_addresses(), vec![address.clone()]);
    first.close();

    // A second start (a reload) has both without downloading anything.
    let second = Driver::start(offline_config(&id)).await.expect("restart");
    assert_eq!(second.status().height, 3);
    assert_eq!(second.list_addresses(), vec![address.clone()]);
    let b = node_core::Address(key(2).pubkey_hash()).to_string();
    assert_eq!(second.balance(&b).expect("valid address"), 20);
    second.close();
}

#[wasm_bindgen_test]
async fn send_explains_what_is_wrong() {
    let (_chain, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_chain(&id, &batches).await;
    let node = Driver::start(offline_config(&id)).await.expect("start");
    let mine = node.create_wallet().await.expect("create");
    let other = node_core::Address(key(9).pubkey_hash()).to_string();

    let bad = node
        .send(&mine, "1notanaddress0", 1)
        .expect_err("bad address");
    assert!(
        bad.to_string()
            .contains("invalid address \"1notanaddress0\""),
        "{bad}"
    );
    let foreign = node.send(&other, &mine, 1).expect_err("not ours");
    assert!(
        foreign.to_string().contains("is not in this wallet"),
        "{foreign}"
    );
    let poor = node.send(&mine, &other, 5).expect_err("no coins");
    assert_eq!(poor.to_string(), "not enough funds: have 0, need 5");
    node.close();
}

#[wasm_bindgen_test]
async fn mine_chunk_finds_a_nonce_that_verifies() {
    let header = BlockHeader {
        version: 1,
        prev: BlockHash::from_hash(sha256(b"parent")),
        merkle_root: sha256(b"merkle"),
        timestamp: 1_700_000_000_000,
        bits: BITS,
        nonce: 0,
    };
    let bytes = header.to_bytes();
    assert_eq!(header_from_bytes(&bytes).expect("88 bytes"), header);
    let found = match mine_chunk(&bytes, 0, 1 << 16) {
        Ok(found) => found,
        Err(_) => panic!("an 88-byte header is accepted"),
    };
    let nonce = found.expect("8 bits are met within 2^16 nonces");
    let mut solved = header;
    solved.nonce = nonce;
    assert!(pow::meets_target(&solved.hash(), BITS));
    // A chunk that stops before the winning nonce finds nothing.
    if nonce > 0 {
        assert!(matches!(mine_chunk(&bytes, 0, nonce as u32), Ok(None)));
    }
    assert!(mine_chunk(&bytes[..87], 0, 1).is_err());
    assert!(header_from_bytes(&[0; 89]).is_err());
}

#[wasm_bindgen_test]
async fn nonce_ranges_cover_the_space_without_overlap() {
    for n in 1..6usize {
        let mut next = 0u128;
        for i in 0..n {
            let (start, count) = nonce_range(i, n);
            assert_eq!(u128::from(start), next);
            next = u128::from(start) + u128::from(count);
        }
        assert!(next >= (1u128 << 64) - 1);
    }
}

#[wasm_bindgen_test]
async fn transport_turns_a_binary_frame_into_a_message() {
    let frame = encode_frame(&Message::Ping(7));
    let buffer = js_sys::Uint8Array::from(frame.as_slice()).buffer();
    let data = frame_from_data(&buffer.into()).expect("binary frames are bytes");
    assert_eq!(data.size, frame.len());
    assert!(!data.is_oversized());
    assert_eq!(decode_frame(&data.bytes), Ok(Message::Ping(7)));

    // A text frame reaches the node as bytes it refuses (and scores the sender for).
    let text = frame_from_data(&JsValue::from_str("hello")).expect("text is bytes");
    assert!(matches!(
        decode_frame(&text.bytes),
        Err(FrameError::TooShort(5))
    ));
    assert!(frame_from_data(&JsValue::from_f64(1.0)).is_err());
}

#[wasm_bindgen_test]
async fn a_tab_tries_its_own_relay_twice_then_the_relays_it_learned_of() {
    let home = "ws://127.0.0.1:3000/ws";
    assert_eq!(pick_relay(home, &[], 0), home);
    assert_eq!(pick_relay(home, &[], 7), home);
    let learned = vec![
        "ws://127.0.0.1:3100/ws".to_string(),
        home.to_string(),
        "http://127.0.0.1:3200/".to_string(),
        "wss://relay.example/ws".to_string(),
    ];
    let picks: Vec<&str> = (0..7)
        .map(|failed| pick_relay(home, &learned, failed))
        .collect();
    assert_eq!(
        picks,
        [
            home,
            home,
            "ws://127.0.0.1:3100/ws",
            "wss://relay.example/ws",
            home,
            "ws://127.0.0.1:3100/ws",
            "wss://relay.example/ws",
        ]
    );
}

#[wasm_bindgen_test]
async fn reconnection_backs_off_and_urls_follow_the_page() {
    let mut b = Backoff::new(500, 10_000);
    let delays: Vec<u64> = (0..7).map(|_| b.next_delay()).collect();
    assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    b.reset();
    assert_eq!(b.next_delay(), 500);

    assert_eq!(
        relay_url(None, "http:", "127.0.0.1:3000").ok().as_deref(),
        Some("ws://127.0.0.1:3000/ws")
    );
    assert_eq!(
        relay_url(Some(" "), "https:", "x.org").ok().as_deref(),
        Some("wss://x.org/ws")
    );
    assert_eq!(
        relay_url(Some("ws://127.0.0.1:3999/ws"), "http:", "a")
            .ok()
            .as_deref(),
        Some("ws://127.0.0.1:3999/ws")
    );
    assert!(relay_url(Some("http://nope"), "http:", "a").is_err());
}

#[wasm_bindgen_test]
fn version_is_crate_version() {
    assert_eq!(node_wasm::version(), env!("CARGO_PKG_VERSION"));
}

/// The browser's search hashes eight nonces at once in wasm SIMD lanes; it must find exactly
/// what the one-at-a-time search finds, nonce and count of tries.
#[wasm_bindgen_test]
fn simd_search_agrees_with_the_scalar_search() {
    use node_core::consensus::pow::{search, search_scalar, Midstate};
    for bits in [1u32, 6, 10] {
        let header = BlockHeader {
            version: 1,
            prev: node_core::BlockHash::from_hash(sha256(b"simd")),
            merkle_root: sha256(&bits.to_le_bytes()),
            timestamp: 1_700_000_000_000,
            bits,
            nonce: 0,
        };
        let m = Midstate::new(&header);
        for (start, count) in [(0u64, 1u64 << 14), (u64::from(u32::MAX) - 3, 9), (7, 0)] {
            assert_eq!(search(&m, start, count), search_scalar(&m, start, count));
        }
    }
}
