//! The tab's wallet: P-256 keys kept in IndexedDB (`wallet-3001`), as the seed's
//! `wallet_3001.dat` keeps them in a file.
//!
//! A key's 32 secret bytes are stored under its address, with the time it was made so the
//! list keeps creation order. Keys are never sent anywhere and never logged; they leave this
//! module only through [`Wallet::export`], as the bytes the page encrypts with the user's
//! passphrase into a backup file (www/ui/backup.js), and come back through
//! [`Wallet::change`]. One node's database has one writer (its worker holds the node's Web
//! Lock), and a record under an address can only hold that address's key, so writing one
//! over another loses nothing but what sealing means to remove.
//!
//! With a passphrase set the wallet is *sealed* ([`Change::Seal`]): each record keeps only
//! the creation time, the page keeps the keys encrypted (www/ui/key-lock.js), and the keys
//! are in memory only while the page has unlocked them. Locked, the wallet still knows its
//! addresses, so balances show and coins can be mined to them, but nothing can be signed.

use std::cell::{Cell, RefCell};

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
/// Bytes of a sealed record: the creation time alone.
const SEALED_RECORD_BYTES: usize = 8;
/// Keys one wallet holds at most: far more than anyone makes by hand. Every key costs each
/// refresh of the page a pass over the coins (its balance), and an import checks each
/// against the others, so this bounds what a crafted backup can make the node's thread do.
pub const MAX_WALLET_KEYS: usize = 1_000;

/// Longest record key read back: an address is about 34 characters.
const MAX_ADDRESS_UNITS: usize = 64;

/// A key, its address (worked out once: it costs two hashes) and when it was made.
struct StoredKey {
    /// `None` while the wallet is locked.
    key: Option<KeyPair>,
    address: Address,
    created_ms: u64,
}

impl StoredKey {
    /// Its record: the 32 secret bytes (unless `sealed`, or not held), then the creation
    /// time.
    fn record(&self, sealed: bool) -> Vec<u8> {
        let mut record = Vec::with_capacity(RECORD_BYTES);
        if let (false, Some(key)) = (sealed, &self.key) {
            record.extend_from_slice(&key.secret_bytes());
        }
        record.extend_from_slice(&self.created_ms.to_le_bytes());
        record
    }
}

/// A change of the wallet ([`Wallet::change`]).
#[derive(Clone, Copy)]
pub enum Change<'a> {
    /// A new key from the browser's random source.
    New,
    /// The keys of a backup (records as [`Wallet::export`] writes them) for addresses this
    /// wallet does not hold yet.
    Import(&'a [u8]),
    /// Keeps the keys at rest sealed or not. `sealed`: every record is rewritten without its
    /// secret (the page keeps the keys, encrypted with the user's passphrase); not `sealed`:
    /// every key held is written out whole again. `keys` (records as [`Wallet::export`]
    /// writes them) unlocks: those of this wallet's addresses are held in memory again.
    /// `None` with `sealed` locks: once the records are rewritten, every key is forgotten.
    Seal {
        keys: Option<&'a [u8]>,
        sealed: bool,
    },
}

/// The keys of one node, loaded in memory and written through to IndexedDB.
pub struct Wallet {
    db: Database,
    keys: RefCell<Vec<StoredKey>>,
    unreadable: Vec<String>,
    /// The records keep no secrets (see [`Change::Seal`]).
    sealed: Cell<bool>,
}

impl Wallet {
    /// Opens (creating if needed) the wallet database `name` and loads its keys. A record
    /// that is damaged or was edited (not 40 or 8 bytes, not a valid key, or the key of another
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
            sealed: Cell::new(keys.iter().any(|k| k.key.is_none())),
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

    /// Makes the `change` (see [`Change`]): every input is checked, then the records it
    /// touches are written in one IndexedDB transaction, then the keys in memory follow; a
    /// refusal or a failed write changes nothing. Returns the addresses added. (One async
    /// function for every change: each costs the page module its own state machine.)
    pub async fn change(&self, change: Change<'_>, now_ms: u64) -> Result<Vec<Address>, NodeError> {
        let (new, sealed, lock) = match change {
            Change::New | Change::Import(_)
                if self.sealed.get() && self.keys.borrow().iter().any(|k| k.key.is_none()) =>
            {
                return Err(NodeError::BadKeys("the wallet is locked".into()));
            }
            Change::New => {
                let key = crate::web_random::new_key()?;
                let new = StoredKey {
                    address: key.address(),
                    key: Some(key),
                    created_ms: 0,
                };
                (
                    self.after_held(vec![new], now_ms)?,
                    self.sealed.get(),
                    false,
                )
            }
            Change::Import(records) => {
                let new = self.new_keys_of(records)?;
                (self.after_held(new, now_ms)?, self.sealed.get(), false)
            }
            Change::Seal { keys, sealed } => {
                if let Some(records) = keys {
                    let given = decode_records(records)?;
                    for k in self.keys.borrow_mut().iter_mut() {
                        if let Some(g) = given.iter().find(|g| g.address == k.address) {
                            k.key.clone_from(&g.key);
                        }
                    }
                }
                (Vec::new(), sealed, sealed && keys.is_none())
            }
        };
        // A new key's record, or (sealing) every record: whole keys only when not sealed.
        let records: Vec<(JsValue, JsValue)> = {
            let held = self.keys.borrow();
            let touched = if matches!(change, Change::Seal { .. }) {
                &held[..]
            } else {
                &new[..]
            };
            touched
                .iter()
                .filter(|k| sealed || k.key.is_some())
                .map(|k| {
                    let value = Uint8Array::from(k.record(sealed).as_slice());
                    (JsValue::from_str(&k.address.to_string()), value.into())
                })
                .collect()
        };
        if !records.is_empty() {
            let tx = self
                .db
                .transaction(KEYS)
                .with_mode(TransactionMode::Readwrite)
                .build()?;
            let store = tx.object_store(KEYS)?;
            let mut requests = Vec::with_capacity(records.len());
            for (name, value) in records {
                requests.push(store.put(value).with_key(name).primitive()?);
            }
            tx.commit().await?;
            drop(requests);
        }
        self.sealed.set(sealed);
        let mut keys = self.keys.borrow_mut();
        if lock {
            for k in keys.iter_mut() {
                k.key = None;
            }
        }
        let addresses = new.iter().map(|k| k.address).collect();
        // New keys come after every key held: the list stays in creation order.
        keys.extend(new);
        Ok(addresses)
    }

    /// `new` keys stamped to come after every key held, in their order: a backup's creation
    /// times are not trusted, or a crafted one could put its key first, where the page picks
    /// its default address to be paid to. Refused if the wallet would hold too many.
    fn after_held(
        &self,
        mut new: Vec<StoredKey>,
        now_ms: u64,
    ) -> Result<Vec<StoredKey>, NodeError> {
        let keys = self.keys.borrow();
        if keys.len() + new.len() > MAX_WALLET_KEYS {
            return Err(NodeError::BadKeys(format!(
                "this would bring the wallet to {} keys, more than the {MAX_WALLET_KEYS} it holds at most",
                keys.len() + new.len()
            )));
        }
        let first = keys.last().map_or(0, |k| k.created_ms + 1).max(now_ms);
        for (i, k) in new.iter_mut().enumerate() {
            k.created_ms = first + i as u64;
        }
        Ok(new)
    }

    /// The keys of backup `records` for addresses this wallet does not hold, each checked.
    fn new_keys_of(&self, records: &[u8]) -> Result<Vec<StoredKey>, NodeError> {
        let mut new: Vec<StoredKey> = Vec::new();
        for key in decode_records(records)? {
            let address = key.address;
            if !self.keys.borrow().iter().any(|k| k.address == address)
                && !new.iter().any(|k| k.address == address)
            {
                new.push(key);
            }
        }
        Ok(new)
    }

    /// Addresses in creation order.
    pub fn addresses(&self) -> Vec<Address> {
        self.keys.borrow().iter().map(|k| k.address).collect()
    }

    /// The key of `address`, if this wallet holds it (and is not locked).
    pub fn key(&self, address: &Address) -> Option<KeyPair> {
        self.keys
            .borrow()
            .iter()
            .find(|k| k.address == *address)
            .and_then(|k| k.key.clone())
    }

    /// Every key held as its record (32 secret bytes, then the creation time), one after
    /// another in creation order: what a backup holds. Empty while locked.
    pub fn export(&self) -> Vec<u8> {
        let keys = self.keys.borrow();
        let mut out = Vec::with_capacity(keys.len() * RECORD_BYTES);
        for k in keys.iter().filter(|k| k.key.is_some()) {
            out.extend_from_slice(&k.record(false));
        }
        out
    }

    /// Closes the database.
    pub fn close(self) {
        self.db.close();
    }
}

/// Decodes one record stored under `name`: 32 secret bytes then the creation time, the
/// key's address being `name`; or, sealed, the creation time alone. The size is checked
/// before anything is copied.
fn decode_key(value: &JsValue, name: Option<&str>) -> Result<StoredKey, String> {
    let bytes = bounded_copy::bytes(value, RECORD_BYTES).map_err(|e| match e {
        NotCopied::NotBytes => "the record is not bytes".to_string(),
        NotCopied::TooLong(n) => wrong_record_size(n),
    })?;
    if let Ok(created) = <[u8; SEALED_RECORD_BYTES]>::try_from(bytes.as_slice()) {
        let address = name
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| "the record is not stored under an address".to_string())?;
        return Ok(StoredKey {
            key: None,
            address,
            created_ms: u64::from_le_bytes(created),
        });
    }
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
        return Err(wrong_record_size(bytes.len()));
    };
    let key = KeyPair::from_secret_bytes(&secret)
        .ok_or_else(|| "the record holds no valid key".to_string())?;
    Ok(StoredKey {
        address: key.address(),
        key: Some(key),
        created_ms: u64::from_le_bytes(created),
    })
}

/// Why a record of `len` bytes is not one (one formatting for every such refusal).
fn wrong_record_size(len: usize) -> String {
    format!("the record has {len} bytes, expected {RECORD_BYTES}")
}

/// Decodes records as [`Wallet::export`] writes them, every one checked. (A loop: a
/// `collect` into a `Result` costs the page module three generic iterator functions.)
fn decode_records(records: &[u8]) -> Result<Vec<StoredKey>, NodeError> {
    if records.is_empty() || records.len() % RECORD_BYTES != 0 {
        return Err(bad_size(records.len()));
    }
    let mut keys = Vec::with_capacity(records.len() / RECORD_BYTES);
    for (i, record) in records.chunks(RECORD_BYTES).enumerate() {
        match decode_record(record) {
            Ok(key) => keys.push(key),
            Err(why) => return Err(NodeError::BadKeys(format!("key {}: {why}", i + 1))),
        }
    }
    Ok(keys)
}

/// The refusal of `len` bytes that cannot be a wallet's keys by their size alone.
pub fn bad_size(len: usize) -> NodeError {
    NodeError::BadKeys(format!(
        "{len} bytes are not 1 to {MAX_WALLET_KEYS} keys of {RECORD_BYTES} bytes"
    ))
}
