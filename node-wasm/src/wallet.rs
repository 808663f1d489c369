//! The tab's wallet: P-256 keys kept in IndexedDB (`wallet-3001`), as the seed's
//! `wallet_3001.dat` keeps them in a file.
//!
//! A key's 32 secret bytes are stored under its address, with the time it was made so the
//! list keeps creation order. Keys are never sent anywhere and never logged; they leave this
//! module only through [`Wallet::export`], as the bytes the page encrypts with the user's
//! passphrase into a backup file (www/ui/backup.js), and come back through
//! [`Wallet::import`]. Records are *added*, never overwritten, so two tabs opened on the same
//! node id cannot replace each other's keys.

use std::cell::RefCell;

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::Uint8Array;
use node_core::{Address, KeyPair};
use wasm_bindgen::JsValue;

use crate::bounded_copy::{self, NotCopied};
use crate::error::{idb_error_text, NodeError};
use crate::idb_open;
use crate::peer_text::shown;

const KEYS: &str = "keys";
const VERSION: u8 = 1;

/// Bytes of one record: the 32-byte secret, then the creation time (u64, little-endian).
const RECORD_BYTES: usize = 40;
/// Keys one wallet holds at most: far more than anyone makes by hand. Every key costs each
/// refresh of the page a pass over the coins (its balance), and an import checks each
/// against the others, so this bounds what a crafted backup can make the node's thread do.
pub const MAX_WALLET_KEYS: usize = 1_000;

/// Longest record key read back: an address is about 34 characters.
const MAX_ADDRESS_UNITS: usize = 64;

/// A key, its address (worked out once: it costs two hashes) and when it was made.
struct StoredKey {
    key: KeyPair,
    address: Address,
    created_ms: u64,
}

impl StoredKey {
    /// Its record: the 32 secret bytes, then the creation time.
    fn record(&self) -> Vec<u8> {
        let mut record = Vec::with_capacity(RECORD_BYTES);
        record.extend_from_slice(&self.key.secret_bytes());
        record.extend_from_slice(&self.created_ms.to_le_bytes());
        record
    }
}

/// The keys of one node, loaded in memory and written through to IndexedDB.
pub struct Wallet {
    db: Database,
    keys: RefCell<Vec<StoredKey>>,
    unreadable: Vec<String>,
}

impl Wallet {
    /// Opens (creating if needed) the wallet database `name` and loads its keys. A record
    /// that is damaged or was edited (not 40 bytes, not a valid key, or the key of another
    /// address than the one it is stored under) is skipped and named in
    /// [`Wallet::unreadable`]; every other key stays usable. The record itself is left as
    /// it is, for whoever wants to look at it.
    pub async fn open(name: &str) -> Result<Self, NodeError> {
        let db = idb_open::open(name, VERSION.into(), |db| {
            if !db.object_store_names().contains(KEYS) {
                db.create_object_store(KEYS)?;
            }
            Ok(())
        })
        .await?;
        let mut keys = Vec::new();
        let mut unreadable = Vec::new();
        {
            let tx = db.transaction(KEYS).build()?;
            let store = tx.object_store(KEYS)?;
            // Both in key order, from one transaction: the n-th value is the n-th key's.
            let names = store.get_all_keys::<JsValue>().primitive()?;
            let values = store.get_all::<JsValue>().primitive()?;
            let names = names.await?;
            let values = values.await?;
            for (name, value) in names.zip(values) {
                let name = name
                    .ok()
                    .and_then(|n| bounded_copy::string(&n, MAX_ADDRESS_UNITS));
                let shown_name = shown(name.as_deref().unwrap_or("?"), MAX_ADDRESS_UNITS);
                match value
                    .map_err(|e| idb_error_text(&e))
                    .and_then(|v| decode_key(&v, name.as_deref()))
                {
                    Ok(key) => keys.push(key),
                    Err(why) => unreadable.push(format!("{shown_name}: {why}")),
                }
            }
        }
        let keys = node_core::util::ordering::sorted_by_key(keys, |k| k.created_ms);
        Ok(Wallet {
            db,
            keys: RefCell::new(keys),
            unreadable,
        })
    }

    /// The records [`Wallet::open`] skipped, one line each (`address: why`).
    pub fn unreadable(&self) -> &[String] {
        &self.unreadable
    }

    /// One line on the skipped records, if any: how many, and each with why.
    pub fn unreadable_summary(&self) -> Option<String> {
        let (first, rest) = self.unreadable.split_first()?;
        let mut line = format!(
            "{} wallet record(s) could not be read and their keys are not usable (the other keys are): {first}",
            self.unreadable.len()
        );
        for r in rest {
            line.push_str("; ");
            line.push_str(r);
        }
        Some(line)
    }

    /// Without `backup`: makes a new key from the browser's random source and stores it.
    /// With it: adds the keys of `backup` (records as [`Wallet::export`] writes them) that
    /// this wallet does not hold yet; every record is checked before anything is written,
    /// so bad input changes nothing. Returns the addresses added. (One function for both:
    /// each async function costs the page module its own state machine.)
    ///
    /// Keys added come after every key held, in the order given: a backup's creation times
    /// are not trusted, or a crafted one could put its key first, where the page picks its
    /// default address to be paid to.
    pub async fn add(&self, backup: Option<&[u8]>, now_ms: u64) -> Result<Vec<Address>, NodeError> {
        let mut new = match backup {
            None => {
                let key = crate::web_random::new_key()?;
                vec![StoredKey {
                    address: key.address(),
                    key,
                    created_ms: 0,
                }]
            }
            Some(records) => self.new_keys_of(records)?,
        };
        let held = self.keys.borrow().len();
        if held + new.len() > MAX_WALLET_KEYS {
            return Err(NodeError::BadKeys(format!(
                "this would bring the wallet to {} keys, more than the {MAX_WALLET_KEYS} it holds at most",
                held + new.len()
            )));
        }
        let newest = self.keys.borrow().last().map_or(0, |k| k.created_ms + 1);
        for (i, k) in new.iter_mut().enumerate() {
            k.created_ms = now_ms.max(newest) + i as u64;
        }
        let addresses = new.iter().map(|k| k.address).collect();
        if !new.is_empty() {
            self.store(new).await?;
        }
        Ok(addresses)
    }

    /// The keys of backup `records` this wallet does not hold, each checked.
    fn new_keys_of(&self, records: &[u8]) -> Result<Vec<StoredKey>, NodeError> {
        if records.is_empty() || records.len() % RECORD_BYTES != 0 {
            return Err(bad_size(records.len()));
        }
        let mut new: Vec<StoredKey> = Vec::new();
        for (i, record) in records.chunks(RECORD_BYTES).enumerate() {
            let key = decode_record(record)
                .map_err(|why| NodeError::BadKeys(format!("key {}: {why}", i + 1)))?;
            if self.key(&key.address).is_none() && !new.iter().any(|k| k.address == key.address) {
                new.push(key);
            }
        }
        Ok(new)
    }

    /// Adds `new` keys in one IndexedDB transaction (added, never overwriting), then to the
    /// list, which stays in creation order.
    async fn store(&self, new: Vec<StoredKey>) -> Result<(), NodeError> {
        let tx = self
            .db
            .transaction(KEYS)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let store = tx.object_store(KEYS)?;
        let mut requests = Vec::with_capacity(new.len());
        for k in &new {
            let value: JsValue = Uint8Array::from(k.record().as_slice()).into();
            requests.push(
                store
                    .add(value)
                    .with_key(k.address.to_string())
                    .primitive()?,
            );
        }
        tx.commit().await?;
        drop(requests);
        let mut keys = self.keys.borrow_mut();
        let mut all = std::mem::take(&mut *keys);
        all.extend(new);
        *keys = node_core::util::ordering::sorted_by_key(all, |k| k.created_ms);
        Ok(())
    }

    /// Addresses in creation order.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys.borrow().iter().map(|k| k.address).collect()
    }

    /// The key of `address`, if this wallet holds it.
    pub fn key(&self, address: &Address) -> Option<KeyPair> {
        self.keys
            .borrow()
            .iter()
            .find(|k| k.address == *address)
            .map(|k| k.key.clone())
    }

    /// Every key as its stored record (32 secret bytes, then the creation time), one after
    /// another in creation order: what a backup holds.
    pub fn export(&self) -> Vec<u8> {
        let keys = self.keys.borrow();
        let mut out = Vec::with_capacity(keys.len() * RECORD_BYTES);
        for k in keys.iter() {
            out.extend_from_slice(&k.record());
        }
        out
    }

    /// Closes the database.
    pub fn close(self) {
        self.db.close();
    }
}

/// Decodes one record stored under `name`: 32 secret bytes then the creation time; the
/// key's address must be `name`. The size is checked before anything is copied.
fn decode_key(value: &JsValue, name: Option<&str>) -> Result<StoredKey, String> {
    let bytes = bounded_copy::bytes(value, RECORD_BYTES).map_err(|e| match e {
        NotCopied::NotBytes => "the record is not bytes".to_string(),
        NotCopied::TooLong(n) => format!("the record has {n} bytes, expected {RECORD_BYTES}"),
    })?;
    let key = decode_record(&bytes)?;
    if name != Some(key.address.to_string().as_str()) {
        return Err("the record holds the key of another address".into());
    }
    Ok(key)
}

/// Decodes one record: 32 secret bytes then the creation time (u64, little-endian).
fn decode_record(bytes: &[u8]) -> Result<StoredKey, String> {
    let (Ok(secret), Ok(created)) = (
        <[u8; 32]>::try_from(bytes.get(..32).unwrap_or_default()),
        <[u8; 8]>::try_from(bytes.get(32..).unwrap_or_default()),
    ) else {
        return Err(format!(
            "the record has {} bytes, expected {RECORD_BYTES}",
            bytes.len()
        ));
    };
    let key = KeyPair::from_secret_bytes(&secret)
        .ok_or_else(|| "the record holds no valid key".to_string())?;
    Ok(StoredKey {
        address: key.address(),
        key,
        created_ms: u64::from_le_bytes(created),
    })
}

/// The refusal of `len` bytes that cannot be a wallet's keys by their size alone.
pub fn bad_size(len: usize) -> NodeError {
    NodeError::BadKeys(format!(
        "{len} bytes are not 1 to {MAX_WALLET_KEYS} keys of {RECORD_BYTES} bytes"
    ))
}
