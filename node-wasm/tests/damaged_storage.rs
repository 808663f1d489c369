//! What a tab reads back from its own IndexedDB and body file may have been damaged, or
//! edited from the browser's developer tools. Each test writes such records into a real
//! IndexedDB and body file (in the origin private file system: these tests run in a
//! dedicated worker, as the node does), starts the node on them, and checks that it never
//! panics, never counts coins no block created, says in one line what it did, and keeps
//! every key that is still whole. A plain start checks what needs no body read; a start
//! that verifies the stored chain (the page's "verify my chain") replays it all.
#![cfg(target_arch = "wasm32")]

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use node_core::chain::ChainChanges;
use node_core::primitives::hash::sha256;
use node_core::{
    consensus::pow, primitives::codec, Address, ChainParams, OutPoint, Txid, UtxoEntry,
};
use node_wasm::body_file::BodyFile;
use node_wasm::driver::Driver;
use node_wasm::error::NodeError;
use node_wasm::storage::ChainStore;
use node_wasm::stored_bodies::StoredBodies;
use node_wasm::wallet::Wallet;
use std::sync::Arc;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

mod common;
use common::{journaled, key, offline_config, small_chain_with_reorg, store_chain, unique, Net};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const FORGED: u64 = 1_000_000;

/// Writes `value` under `key` in object store `store` of database `db`, as anyone with
/// access to the browser profile could.
async fn put_raw(db: &str, store: &str, key: JsValue, value: JsValue) {
    let db = Database::open(db).await.expect("the database exists");
    let tx = db
        .transaction(store)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .expect("a readwrite transaction");
    let request = tx
        .object_store(store)
        .expect("the store exists")
        .put(value)
        .with_key(key)
        .primitive()
        .expect("a put");
    tx.commit().await.expect("the write commits");
    drop(request);
    db.close();
}

/// Stores `batches` as node `id`'s chain: bodies in its body file, one journal record each.
async fn store_journal(id: &str, batches: &[ChainChanges]) {
    store_chain(id, batches).await;
}

fn address(seed: u8) -> String {
    Address(key(seed).pubkey_hash()).to_string()
}

/// Starts node `id` offline and checks that it dropped its stored chain and said why in
/// one line that mentions `why`.
async fn starts_without_the_stored_chain(id: &str, why: &str) -> Driver {
    starts_without(id, why, false).await
}

/// As [`starts_without_the_stored_chain`], on a start that verifies (replays) the chain.
async fn verifying_start_drops_the_stored_chain(id: &str, why: &str) -> Driver {
    starts_without(id, why, true).await
}

async fn starts_without(id: &str, why: &str, replay: bool) -> Driver {
    let config = node_wasm::driver::DriverConfig {
        replay_storage: replay,
        ..offline_config(id)
    };
    let node = Driver::start(config)
        .await
        .expect("a damaged journal never stops the node from starting");
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
        "the journal was cleared for the download"
    );
    store.close();
    node
}

#[wasm_bindgen_test]
async fn a_journal_whose_utxo_record_was_raised_gives_no_coins() {
    let (_, mut batches) = small_chain_with_reorg();
    // The attacker raises B's coinbase output in the last record from 10 to a million.
    let b = key(2).pubkey_hash();
    let last = batches.last_mut().expect("batches");
    let entry = last
        .utxo
        .iter_mut()
        .find_map(|(_, e)| e.as_mut().filter(|e| e.output.pubkey_hash == b))
        .expect("the reorganisation wrote B's coinbase");
    entry.output.value = FORGED;
    let id = unique("t");
    store_journal(&id, &batches).await;

    // Even a plain start, which reads no body, counts more coins than were ever mined.
    let node = starts_without_the_stored_chain(&id, "the stored coins add up to").await;
    assert_eq!(node.balance(&address(2)).expect("an address"), 0);
    node.close();
}

#[wasm_bindgen_test]
async fn a_journal_whose_undo_data_restores_a_coin_that_never_existed_is_refused_by_verifying() {
    let (chain, mut batches) = small_chain_with_reorg();
    // The undo data of the tip claims it spent a million coins of key 9: disconnecting the
    // tip in the next reorganisation would give them to key 9.
    let tip = chain.tip();
    let last = batches.last_mut().expect("batches");
    let (_, undo) = last
        .undo
        .iter_mut()
        .find(|(h, _)| *h == tip)
        .expect("the tip's undo data");
    undo.spent.push((
        OutPoint {
            txid: Txid::from_hash(sha256(b"never created")),
            vout: 0,
        },
        UtxoEntry {
            output: node_core::TxOut {
                value: FORGED,
                pubkey_hash: key(9).pubkey_hash(),
            },
            height: 1,
            coinbase: false,
        },
    ));
    let id = unique("t");
    store_journal(&id, &batches).await;

    // A plain start reads no undo record; verifying the stored chain replays every block.
    let (file, _) = BodyFile::open(&format!("bodies-{id}"))
        .await
        .expect("body file");
    let bodies = Arc::new(StoredBodies::new(file, Default::default()));
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    match store.load(ChainParams::default(), &bodies, true).await {
        Err(NodeError::Corrupt(why)) => {
            assert!(why.contains("undo data that does not match"), "{why}")
        }
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("a journal with forged undo data was loaded"),
    }
    store.close();
    bodies.file().close();
}

#[wasm_bindgen_test]
async fn a_self_consistent_journal_whose_block_pays_its_miner_a_million_gives_no_coins() {
    let (chain, mut batches) = small_chain_with_reorg();
    // The attacker mines (8 bits: instant) a block whose coinbase claims a million and writes
    // it with exactly the UTXO changes and undo data it would produce, as the tip.
    let net = Net::new();
    let mut forged = chain.template(
        key(9).pubkey_hash(),
        vec![],
        FORGED - 10,
        net.now,
        b"forged",
    );
    pow::mine(&mut forged.header).expect("8 bits");
    let hash = forged.hash();
    let mut utxo = chain.utxo().clone();
    let undo = utxo.apply(&forged, chain.height() + 1);
    batches.push(ChainChanges {
        utxo: utxo.changes_for_apply(&undo),
        blocks: vec![forged],
        undo: vec![(hash, undo)],
        tip: Some(hash),
        ..ChainChanges::default()
    });
    let id = unique("t");
    store_journal(&id, &batches).await;

    // A plain start sees more coins than were mined; verifying names the block.
    let node = starts_without_the_stored_chain(&id, "more than the 50 the chain mined").await;
    assert_eq!(node.balance(&address(9)).expect("an address"), 0);
    node.close();
    let id = unique("t");
    store_journal(&id, &batches).await;
    let node = verifying_start_drops_the_stored_chain(&id, "coinbase pays 1000000").await;
    node.close();
}

#[wasm_bindgen_test]
async fn a_block_body_swapped_under_its_header_with_matching_utxo_records_gives_no_coins() {
    let (_, mut batches) = small_chain_with_reorg();
    // Block 1's coinbase now pays the miner a million; its UTXO record and undo data are
    // rewritten to match the new coinbase, so only the header no longer fits the body.
    let batch = &mut batches[1];
    let block = &mut batch.blocks[0];
    let old_txid = block.transactions[0].txid();
    block.transactions[0].outputs[0].value = FORGED;
    let new_txid = block.transactions[0].txid();
    let hash = block.hash();
    for (op, e) in batch.utxo.iter_mut() {
        if op.txid == old_txid {
            op.txid = new_txid;
            if let Some(e) = e {
                e.output.value = FORGED;
            }
        }
    }
    for (h, undo) in batch.undo.iter_mut() {
        if *h == hash {
            for op in undo.created.iter_mut() {
                op.txid = new_txid;
            }
        }
    }
    let id = unique("t");
    store_journal(&id, &batches).await;

    let node = verifying_start_drops_the_stored_chain(&id, "does not match its header").await;
    assert_eq!(node.balance(&address(3)).expect("an address"), 0);
    node.close();
}

#[wasm_bindgen_test]
async fn a_journal_record_of_garbage_is_dropped_without_a_panic_and_said_so() {
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_journal(&id, &batches).await;
    let garbage: JsValue = js_sys::Uint8Array::from(&[0xff_u8, 0xfe, 0x01][..]).into();
    put_raw(
        &format!("chain-{id}"),
        "journal",
        JsValue::from_f64(2.0),
        garbage,
    )
    .await;

    let node = starts_without_the_stored_chain(&id, "journal record").await;
    node.close();
}

#[wasm_bindgen_test]
async fn a_journal_record_numbered_past_2_pow_53_is_not_trusted_to_order_later_writes() {
    // Above 2^53, key + 1 == key in a JavaScript number: the next batch would overwrite that
    // record instead of following it.
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_journal(&id, &batches[..4]).await;
    let (file, _) = BodyFile::open(&format!("bodies-{id}"))
        .await
        .expect("body file");
    let bodies = StoredBodies::new(file, Default::default());
    let last = journaled(&bodies, batches[4].clone());
    bodies.file().close();
    let record: JsValue = js_sys::Uint8Array::from(codec::encode(&vec![last]).as_slice()).into();
    put_raw(
        &format!("chain-{id}"),
        "journal",
        JsValue::from_f64(9_007_199_254_740_992.0),
        record,
    )
    .await;

    let node = starts_without_the_stored_chain(&id, "journal key").await;
    node.close();
}

/// A wallet record as the tab writes one: the secret, then the creation time.
fn wallet_record(secret_seed: u8, created_ms: u64) -> JsValue {
    let mut bytes = [secret_seed; 32].to_vec();
    bytes.extend_from_slice(&created_ms.to_le_bytes());
    js_sys::Uint8Array::from(bytes.as_slice()).into()
}

#[wasm_bindgen_test]
async fn damaged_wallet_records_are_skipped_and_named_and_every_other_key_still_pays() {
    let (_, batches) = small_chain_with_reorg();
    let id = unique("t");
    store_journal(&id, &batches).await;
    let wallet_db = format!("wallet-{id}");
    Wallet::open(&wallet_db).await.expect("create").close();
    // Key 1 (10 coins on the stored chain) as the tab stored it, then three bad records: a
    // truncated one, text instead of bytes, and key 5's secret under key 6's address.
    put_raw(&wallet_db, "keys", address(1).into(), wallet_record(1, 1)).await;
    let short: JsValue = js_sys::Uint8Array::from(&[7u8; 12][..]).into();
    put_raw(&wallet_db, "keys", "1Truncated".into(), short).await;
    put_raw(&wallet_db, "keys", "1Text".into(), "not a key".into()).await;
    put_raw(&wallet_db, "keys", address(6).into(), wallet_record(5, 2)).await;

    let node = Driver::start(offline_config(&id))
        .await
        .expect("bad wallet records never stop the node");
    assert_eq!(node.list_addresses(), vec![address(1)]);
    let status = node.status();
    assert_eq!(
        status.storage_warnings.len(),
        1,
        "{:?}",
        status.storage_warnings
    );
    let line = &status.storage_warnings[0];
    assert!(
        line.starts_with("3 wallet record(s) could not be read"),
        "{line}"
    );
    for named in ["1Truncated", "1Text", address(6).as_str()] {
        assert!(line.contains(named), "{named} is named in: {line}");
    }
    assert!(line.contains("the key of another address"), "{line}");
    assert_eq!(status.height, 3, "the chain is untouched");
    node.send(&address(1), &address(9), 4)
        .expect("the good key still pays");
    // New keys can still be made next to the bad records.
    let fresh = node.create_wallet().await.expect("a new key");
    assert_eq!(node.list_addresses(), vec![address(1), fresh]);
    node.close();
}
