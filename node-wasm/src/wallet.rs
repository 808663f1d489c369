//! The tab's wallet: P-256 keys kept in IndexedDB (`wallet-3001`), as the seed's
//! `wallet_3001.dat` keeps them in a file.
//!
//! A key's 32 secret bytes are stored under its address, with the time it was made so the
//! list keeps creation order. Keys are never sent anywhere, never logged and never handed to
//! the page: only addresses leave this module. Records are *added*, never overwritten, so two
//! tabs opened on the same node id cannot replace each other's keys.

use std::cell::RefCell;

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::Uint8Array;
use node_core::{Address, KeyPair};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::NodeError;

const KEYS: &str = "keys";
const VERSION: u8 = 1;

/// A key and when it was made.
struct StoredKey {
    key: KeyPair,
    created_ms: u64,
}

/// The keys of one node, loaded in memory and written through to IndexedDB.
pub struct Wallet {
    db: Database,
    keys: RefCell<Vec<StoredKey>>,
}

impl Wallet {
    /// Opens (creating if needed) the wallet database `name` and loads its keys.
    pub async fn open(name: &str) -> Result<Self, NodeError> {
        let db = Database::open(name)
            .with_version(VERSION)
            .with_on_upgrade_needed(|_event, db: Database| {
                if !db.object_store_names().any(|n| n == KEYS) {
                    db.create_object_store(KEYS).build()?;
                }
                Ok(())
            })
            .await?;
        let mut keys = Vec::new();
        {
            let tx = db.transaction(KEYS).build()?;
            let store = tx.object_store(KEYS)?;
            for value in store.get_all::<JsValue>().primitive()?.await? {
                keys.push(decode_key(value?)?);
            }
        }
        let keys = node_core::ordering::sorted_by_key(keys, |k| k.created_ms);
        Ok(Wallet {
            db,
            keys: RefCell::new(keys),
        })
    }

    /// Makes a new key from the browser's random source, stores it, returns its address.
    pub async fn create(&self, now_ms: u64) -> Result<Address, NodeError> {
        let key = KeyPair::generate(&mut rand_core::OsRng);
        let address = key.address();
        let mut record = key.secret_bytes().to_vec();
        record.extend_from_slice(&now_ms.to_le_bytes());
        let tx = self
            .db
            .transaction(KEYS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(KEYS)?;
        let value: JsValue = Uint8Array::from(record.as_slice()).into();
        let request = store.add(value).with_key(address.to_string()).primitive()?;
        tx.commit().await?;
        drop(request);
        self.keys.borrow_mut().push(StoredKey {
            key,
            created_ms: now_ms,
        });
        Ok(address)
    }

    /// Addresses in creation order.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys.borrow().iter().map(|k| k.key.address()).collect()
    }

    /// The key of `address`, if this wallet holds it.
    pub fn key(&self, address: &Address) -> Option<KeyPair> {
        self.keys
            .borrow()
            .iter()
            .find(|k| k.key.address() == *address)
            .map(|k| k.key.clone())
    }

    /// Closes the database.
    pub fn close(self) {
        self.db.close();
    }
}

/// Decodes one record: 32 secret bytes then the creation time.
fn decode_key(value: JsValue) -> Result<StoredKey, NodeError> {
    let bytes = value
        .dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| NodeError::Corrupt("a wallet record is not bytes".into()))?;
    if bytes.len() != 40 {
        return Err(NodeError::Corrupt(format!(
            "a wallet record has {} bytes, expected 40",
            bytes.len()
        )));
    }
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&bytes[..32]);
    let mut created = [0u8; 8];
    created.copy_from_slice(&bytes[32..]);
    let key = KeyPair::from_secret_bytes(&secret)
        .ok_or_else(|| NodeError::Corrupt("a wallet record holds an invalid key".into()))?;
    Ok(StoredKey {
        key,
        created_ms: u64::from_le_bytes(created),
    })
}
