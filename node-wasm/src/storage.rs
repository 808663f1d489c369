//! The chain in IndexedDB: one database per node id (`chain-3001`), written one transaction
//! per batch of [`ChainChanges`].
//!
//! # Overview
//! Four object stores hold what `node_core::sim::MemStore` holds in memory:
//!
//! | store   | key                    | value (bytes, postcard)        |
//! |---------|------------------------|--------------------------------|
//! | `blocks`| block hash (hex)       | `Block::encode()`              |
//! | `undo`  | block hash (hex)       | `(BlockHash, BlockUndo)`       |
//! | `utxo`  | `txid:vout`            | `(OutPoint, UtxoEntry)`        |
//! | `meta`  | `"tip"`                | tip hash (hex string)          |
//!
//! Values carry their own key so a load needs only `getAll` per store. A [`ChainChanges`] is
//! written whole inside one readwrite transaction over all four stores, so a tab closed at any
//! instant leaves either all of it or none of it; several may share one transaction (the
//! driver batches them while syncing), each still whole.
//!
//! # Usage
//! ```text
//! let store = ChainStore::open("chain-3001").await?;
//! let chain = store.load(ChainParams::default()).await?;   // None on a fresh node
//! store.persist(&[changes]).await?;
//! ```

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::Uint8Array;
use node_core::chain::ChainChanges;
use node_core::codec;
use node_core::tx::OutPoint;
use node_core::utxo::{BlockUndo, UtxoEntry};
use node_core::{Block, BlockHash, Chain, ChainParams, UtxoSet};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::NodeError;

const BLOCKS: &str = "blocks";
const UNDO: &str = "undo";
const UTXO: &str = "utxo";
const META: &str = "meta";
const ALL: [&str; 4] = [BLOCKS, UNDO, UTXO, META];
const TIP_KEY: &str = "tip";
/// Schema version of the chain database.
const VERSION: u8 = 1;

/// Largest stored undo record accepted on load (a block's worth of spent outputs).
const MAX_UNDO_BYTES: usize = 4 << 20;

/// What was read back from storage, before it becomes a [`Chain`].
#[derive(Debug, Clone, Default)]
pub struct StoredChain {
    /// Every stored block (active and side branches).
    pub blocks: Vec<Block>,
    /// The active tip, if a chain was ever stored.
    pub tip: Option<BlockHash>,
    /// The UTXO set of the tip.
    pub utxo: Vec<(OutPoint, UtxoEntry)>,
    /// Undo data by block.
    pub undo: Vec<(BlockHash, BlockUndo)>,
}

impl StoredChain {
    /// Builds the chain state without revalidating (it was validated before it was stored).
    pub fn into_chain(self, params: ChainParams) -> Result<Option<Chain>, NodeError> {
        let Some(tip) = self.tip else {
            return Ok(None);
        };
        let utxo = UtxoSet::from_entries(self.utxo);
        Chain::from_stored(params, self.blocks, tip, utxo, self.undo)
            .map(Some)
            .map_err(|e| NodeError::Corrupt(e.to_string()))
    }
}

/// One node's chain database.
pub struct ChainStore {
    db: Database,
}

impl ChainStore {
    /// Opens (creating if needed) the database `name`.
    pub async fn open(name: &str) -> Result<Self, NodeError> {
        let db = Database::open(name)
            .with_version(VERSION)
            .with_on_upgrade_needed(|_event, db: Database| {
                for store in ALL {
                    let exists = db.object_store_names().any(|n| n == store);
                    if !exists {
                        db.create_object_store(store).build()?;
                    }
                }
                Ok(())
            })
            .await?;
        Ok(ChainStore { db })
    }

    /// The database name.
    pub fn name(&self) -> String {
        self.db.name()
    }

    /// Writes `batch` in one readwrite transaction: all of it commits or none of it does.
    pub async fn persist(&self, batch: &[ChainChanges]) -> Result<(), NodeError> {
        if batch.iter().all(ChainChanges::is_empty) {
            return Ok(());
        }
        let tx = self
            .db
            .transaction(ALL)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let blocks = tx.object_store(BLOCKS)?;
        let undo = tx.object_store(UNDO)?;
        let utxo = tx.object_store(UTXO)?;
        let meta = tx.object_store(META)?;
        // Requests go out when built and run in order inside the transaction; their futures
        // are only kept until the commit resolves.
        let mut requests = Vec::new();
        let mut deletes = Vec::new();
        let mut clears = Vec::new();
        for c in batch {
            for b in &c.blocks {
                let value = bytes(&b.encode());
                requests.push(
                    blocks
                        .put(value)
                        .with_key(b.hash().to_string())
                        .primitive()?,
                );
            }
            for h in &c.removed {
                deletes.push(blocks.delete(h.to_string()).primitive()?);
                deletes.push(undo.delete(h.to_string()).primitive()?);
            }
            for (h, u) in &c.undo {
                let value = bytes(&codec::encode(&(*h, u)));
                requests.push(undo.put(value).with_key(h.to_string()).primitive()?);
            }
            if c.utxo_reset {
                clears.push(utxo.clear()?);
            }
            for (op, entry) in &c.utxo {
                let key = outpoint_key(op);
                match entry {
                    Some(e) => {
                        let value = bytes(&codec::encode(&(*op, *e)));
                        requests.push(utxo.put(value).with_key(key).primitive()?);
                    }
                    None => deletes.push(utxo.delete(key).primitive()?),
                }
            }
            if let Some(tip) = c.tip {
                let value = JsValue::from_str(&tip.to_string());
                requests.push(meta.put(value).with_key(TIP_KEY.to_string()).primitive()?);
            }
        }
        tx.commit().await?;
        drop((requests, deletes, clears));
        Ok(())
    }

    /// Reads everything back in one readonly transaction.
    pub async fn read(&self) -> Result<StoredChain, NodeError> {
        let tx = self.db.transaction(ALL).build()?;
        let blocks_store = tx.object_store(BLOCKS)?;
        let undo_store = tx.object_store(UNDO)?;
        let utxo_store = tx.object_store(UTXO)?;
        let meta_store = tx.object_store(META)?;

        let tip: Option<JsValue> = meta_store.get(TIP_KEY.to_string()).primitive()?.await?;
        let mut out = StoredChain::default();
        if let Some(tip) = tip {
            let hex = tip
                .as_string()
                .ok_or_else(|| NodeError::Corrupt("tip is not a string".into()))?;
            let hash = BlockHash::from_hex(&hex)
                .ok_or_else(|| NodeError::Corrupt(format!("tip {hex:?} is not a hash")))?;
            out.tip = Some(hash);
        }
        for value in blocks_store.get_all::<JsValue>().primitive()?.await? {
            let raw = value_bytes(value?, BLOCKS)?;
            let block = Block::decode(&raw)
                .map_err(|e| NodeError::Corrupt(format!("stored block: {e}")))?;
            out.blocks.push(block);
        }
        for value in undo_store.get_all::<JsValue>().primitive()?.await? {
            let raw = value_bytes(value?, UNDO)?;
            let entry: (BlockHash, BlockUndo) = codec::decode(&raw, MAX_UNDO_BYTES)
                .map_err(|e| NodeError::Corrupt(format!("stored undo data: {e}")))?;
            out.undo.push(entry);
        }
        for value in utxo_store.get_all::<JsValue>().primitive()?.await? {
            let raw = value_bytes(value?, UTXO)?;
            let entry: (OutPoint, UtxoEntry) = codec::decode(&raw, 1024)
                .map_err(|e| NodeError::Corrupt(format!("stored UTXO entry: {e}")))?;
            out.utxo.push(entry);
        }
        drop(tx);
        Ok(out)
    }

    /// Reads and rebuilds the chain; `None` on a node that never stored one.
    pub async fn load(&self, params: ChainParams) -> Result<Option<Chain>, NodeError> {
        self.read().await?.into_chain(params)
    }

    /// Deletes every record (a corrupt database is cleared so the node can download again).
    pub async fn clear(&self) -> Result<(), NodeError> {
        let tx = self
            .db
            .transaction(ALL)
            .with_mode(TransactionMode::Readwrite)
            .build()?;
        let mut requests = Vec::new();
        for name in ALL {
            requests.push(tx.object_store(name)?.clear()?);
        }
        tx.commit().await?;
        drop(requests);
        Ok(())
    }

    /// Closes the connection to the database.
    pub fn close(self) {
        self.db.close();
    }
}

/// The key of a UTXO record.
fn outpoint_key(op: &OutPoint) -> String {
    format!("{}:{}", op.txid, op.vout)
}

/// Copies bytes into a fresh `Uint8Array` (what IndexedDB stores).
fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// The bytes of a stored value, which must be a `Uint8Array`.
fn value_bytes(value: JsValue, store: &str) -> Result<Vec<u8>, NodeError> {
    value
        .dyn_into::<Uint8Array>()
        .map(|a| a.to_vec())
        .map_err(|_| NodeError::Corrupt(format!("a value in {store} is not bytes")))
}
