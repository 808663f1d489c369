//! The databases' schema upgrade runs on web-sys (`node_wasm::idb_open`), not through
//! indexed_db_futures' listener. A chain database an older build left at schema 1 must still
//! come out of it with only the journal, and a database opened for the first time with its
//! store, so a tab updated in place keeps working.
#![cfg(target_arch = "wasm32")]

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use node_core::ChainParams;
use node_wasm::storage::ChainStore;
use node_wasm::wallet::Wallet;
use wasm_bindgen_test::*;

mod common;
use common::unique;

wasm_bindgen_test_configure!(run_in_browser);

/// The object stores of database `name`, and its version.
async fn schema_of(name: &str) -> (Vec<String>, f64) {
    let db = Database::open(name).await.expect("the database reopens");
    let stores = db.object_store_names().collect();
    let version = db.version();
    db.close();
    (stores, version)
}

#[wasm_bindgen_test]
async fn a_chain_database_left_at_schema_1_opens_with_its_old_stores_dropped_and_no_chain() {
    let name = format!("chain-{}", unique("schema-1"));
    let old = Database::open(name.as_str())
        .with_version(1u32)
        .with_on_upgrade_needed(|_event, db: Database| {
            for store in ["blocks", "undo", "utxo", "meta"] {
                db.create_object_store(store).build()?;
            }
            Ok(())
        })
        .await
        .expect("a schema-1 database");
    old.close();

    let store = ChainStore::open(&name).await.expect("the upgrade runs");
    let bodies = std::sync::Arc::new(node_wasm::stored_bodies::StoredBodies::new(
        node_wasm::body_file::BodyFile::in_memory(),
        Default::default(),
    ));
    let chain = store
        .load(ChainParams::default(), &bodies, false)
        .await
        .expect("an empty journal loads");
    assert!(chain.is_none(), "nothing was stored in the journal");
    store.close();

    assert_eq!(schema_of(&name).await, (vec!["journal".to_string()], 3.0));
}

#[wasm_bindgen_test]
async fn new_databases_are_created_with_their_stores() {
    let chain = format!("chain-{}", unique("fresh"));
    ChainStore::open(&chain).await.expect("created").close();
    assert_eq!(schema_of(&chain).await, (vec!["journal".to_string()], 3.0));

    let wallet = format!("wallet-{}", unique("fresh"));
    Wallet::open(&wallet).await.expect("created").close();
    let (stores, _) = schema_of(&wallet).await;
    assert_eq!(
        stores.len(),
        1,
        "the wallet's one store of keys: {stores:?}"
    );
}
