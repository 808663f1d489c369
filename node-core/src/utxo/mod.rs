//! The UTXO set: every unspent output, updated block by block.
//!
//! [`UtxoSet::apply`] connects a block and returns the [`BlockUndo`] that
//! [`UtxoSet::undo`] needs to disconnect it again; the seed's reindex after every block is
//! gone.
//!
//! A set holds every coin in memory, or (the relay, `body-source`) only the coins changed
//! since its shell last stored them, over a `CoinSource` that reads the rest from disk: its
//! memory then holds the changes not yet written, not the history's coins.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::primitives::block::Block;
use crate::primitives::hash::{Hash256, PubKeyHash, Txid};
use crate::primitives::tx::{OutPoint, TxOut};
use crate::util::keyed_map::KeyedMap;

#[cfg(feature = "body-source")]
mod stored;
#[cfg(feature = "body-source")]
use stored::Backing;
#[cfg(feature = "body-source")]
pub use stored::CoinSource;

/// An unspent output and where it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UtxoEntry {
    /// The output itself.
    pub output: TxOut,
    /// Height of the block that created it.
    pub height: u64,
    /// Whether a coinbase created it.
    pub coinbase: bool,
}

/// What disconnecting a block needs: the outputs it spent and the ones it created.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockUndo {
    /// Outputs the block spent, to restore.
    pub spent: Vec<(OutPoint, UtxoEntry)>,
    /// Outputs the block created, to remove.
    pub created: Vec<OutPoint>,
}

/// One change to the stored UTXO set: `Some` writes an entry, `None` deletes it.
pub type UtxoChange = (OutPoint, Option<UtxoEntry>);

/// The set of unspent outputs.
///
/// There is no index by owner: an owner's outputs are found by a scan, as the seed's
/// `FindUTXO` does. Keeping such an index up to date was half of every block's UTXO update
/// during a sync, while balances are asked for a few times a second at most and a scan of
/// tens of thousands of entries takes a millisecond.
#[derive(Debug, Clone, Default)]
pub struct UtxoSet {
    /// Every coin; over a source, the coins created since the last store.
    entries: KeyedMap<OutPoint, UtxoEntry>,
    /// The stored coins and what memory changed of them.
    #[cfg(feature = "body-source")]
    backing: Option<alloc::boxed::Box<Backing>>,
}

/// Two sets are equal when they hold the same coins.
impl PartialEq for UtxoSet {
    fn eq(&self, other: &Self) -> bool {
        self.digest() == other.digest()
    }
}

impl Eq for UtxoSet {}

impl UtxoSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set over the coins `source` stores: memory holds only what changes until the shell
    /// reports it stored ([`UtxoSet::stored`]).
    #[cfg(feature = "body-source")]
    pub fn over(source: alloc::sync::Arc<dyn CoinSource>) -> Self {
        UtxoSet {
            entries: KeyedMap::new(),
            backing: Some(alloc::boxed::Box::new(Backing::over(source))),
        }
    }

    /// Reads stored coins from `source` from now on (a chain created in memory, then handed
    /// to a shell that stores it). The coins held now stay in memory until the next batch the
    /// shell reports stored: by then everything they came from is written. A set already
    /// over a source keeps it.
    #[cfg(feature = "body-source")]
    pub fn back_with(&mut self, source: alloc::sync::Arc<dyn CoinSource>) {
        if self.backing.is_some() {
            return;
        }
        let mut backing = Backing::over(source);
        for (op, _) in self.entries.iter() {
            backing.created(*op);
        }
        self.backing = Some(alloc::boxed::Box::new(backing));
    }

    /// Closes the batch of changes being handed to the shell; its number is what the shell
    /// reports to [`UtxoSet::stored`] once it is written.
    #[cfg(feature = "body-source")]
    pub(crate) fn seal_batch(&mut self) -> u64 {
        self.backing.as_mut().map_or(0, |b| b.seal())
    }

    /// Batches up to `batch` are written: the coins they changed are read from the source
    /// from now on.
    #[cfg(feature = "body-source")]
    pub fn stored(&mut self, batch: u64) {
        if let Some(b) = &mut self.backing {
            b.settle(batch, &mut self.entries);
        }
    }

    /// Coins held in memory: all of them, or over a source the changes not stored yet.
    pub fn held_in_memory(&self) -> usize {
        #[cfg(feature = "body-source")]
        if let Some(b) = &self.backing {
            return b.changes_held();
        }
        self.entries.len()
    }

    /// Builds a set from stored entries.
    pub fn from_entries(entries: impl IntoIterator<Item = (OutPoint, UtxoEntry)>) -> Self {
        let mut set = Self::new();
        for (op, e) in entries {
            set.insert(op, e);
        }
        set
    }

    /// The entry for `outpoint`, if unspent.
    pub fn get(&self, outpoint: &OutPoint) -> Option<UtxoEntry> {
        if let Some(e) = self.entries.get(outpoint) {
            return Some(*e);
        }
        #[cfg(feature = "body-source")]
        if let Some(b) = &self.backing {
            return b.stored(outpoint);
        }
        None
    }

    /// Number of unspent outputs (over a source, counted by reading every stored coin).
    pub fn len(&self) -> usize {
        #[cfg(feature = "body-source")]
        if self.backing.is_some() {
            let mut n = 0;
            self.for_each(|_, _| n += 1);
            return n;
        }
        self.entries.len()
    }

    /// Whether no output is unspent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every entry, in outpoint order.
    pub fn for_each(&self, mut f: impl FnMut(OutPoint, UtxoEntry)) {
        #[cfg(feature = "body-source")]
        if let Some(b) = &self.backing {
            b.merged(&self.entries, &mut f);
            return;
        }
        for (op, e) in self.entries.iter() {
            f(*op, *e);
        }
    }

    /// Every entry, in outpoint order, as a list.
    pub fn entries(&self) -> Vec<(OutPoint, UtxoEntry)> {
        let mut out = Vec::new();
        self.for_each(|op, e| out.push((op, e)));
        out
    }

    fn insert(&mut self, op: OutPoint, e: UtxoEntry) {
        self.entries.insert(op, e);
        #[cfg(feature = "body-source")]
        if let Some(b) = &mut self.backing {
            b.created(op);
        }
    }

    fn remove(&mut self, op: &OutPoint) -> Option<UtxoEntry> {
        let held = self.entries.remove(op);
        #[cfg(feature = "body-source")]
        if let Some(b) = &mut self.backing {
            return b.spent(op, held);
        }
        held
    }

    /// Connects a block whose inputs were validated: spends its inputs and adds its outputs.
    /// An input that is missing anyway is skipped (and then not restored by the undo).
    pub fn apply(&mut self, block: &Block, height: u64) -> BlockUndo {
        self.apply_with_txids(block, height, &block.txids())
    }

    /// [`UtxoSet::apply`] with the block's txids already computed (`txids[i]` is the id of
    /// transaction `i`).
    pub fn apply_with_txids(&mut self, block: &Block, height: u64, txids: &[Txid]) -> BlockUndo {
        let mut undo = BlockUndo::default();
        for (tx, txid) in block.transactions.iter().zip(txids) {
            let txid = *txid;
            for input in &tx.inputs {
                if let Some(e) = self.remove(&input.prev) {
                    undo.spent.push((input.prev, e));
                }
            }
            for (vout, output) in tx.outputs.iter().enumerate() {
                let op = OutPoint {
                    txid,
                    vout: vout as u32,
                };
                self.insert(
                    op,
                    UtxoEntry {
                        output: *output,
                        height,
                        coinbase: tx.is_coinbase(),
                    },
                );
                undo.created.push(op);
            }
        }
        undo
    }

    /// Disconnects the block `undo` came from: the exact inverse of [`UtxoSet::apply`].
    ///
    /// Spent outputs are restored before created ones are removed: an output created and
    /// spent inside the same block is in both lists and must end up absent.
    pub fn undo(&mut self, undo: &BlockUndo) {
        for (op, e) in undo.spent.iter().rev() {
            self.insert(*op, *e);
        }
        for op in undo.created.iter().rev() {
            self.remove(op);
        }
    }

    /// Changes to store after `apply` produced `undo`.
    pub fn changes_for_apply(&self, undo: &BlockUndo) -> Vec<UtxoChange> {
        let mut out: Vec<UtxoChange> = undo.spent.iter().map(|(op, _)| (*op, None)).collect();
        out.extend(undo.created.iter().map(|op| (*op, self.get(op))));
        out
    }

    /// Changes to store after `undo` was applied (writes first, then deletes, as in `undo`).
    pub fn changes_for_undo(undo: &BlockUndo) -> Vec<UtxoChange> {
        let mut out: Vec<UtxoChange> = undo.spent.iter().map(|(op, e)| (*op, Some(*e))).collect();
        out.extend(undo.created.iter().map(|op| (*op, None)));
        out
    }

    /// Sum of the unspent outputs locked to `owner`.
    pub fn balance(&self, owner: &PubKeyHash) -> u64 {
        self.outputs_of(owner)
            .iter()
            .map(|(_, e)| e.output.value)
            .fold(0u64, u64::saturating_add)
    }

    /// The unspent outputs locked to `owner`, in outpoint order.
    pub fn outputs_of(&self, owner: &PubKeyHash) -> Vec<(OutPoint, UtxoEntry)> {
        let mut out = Vec::new();
        self.for_each(|op, e| {
            if e.output.pubkey_hash == *owner {
                out.push((op, e));
            }
        });
        out
    }

    /// A digest of the whole set, to compare two nodes' sets cheaply.
    pub fn digest(&self) -> Hash256 {
        let mut h = Sha256::new();
        self.for_each(|op, e| {
            h.update(op.txid.as_bytes());
            h.update(op.vout.to_le_bytes());
            h.update(e.output.value.to_le_bytes());
            h.update(e.output.pubkey_hash.0);
            h.update(e.height.to_le_bytes());
            h.update([e.coinbase as u8]);
        });
        Hash256(h.finalize().into())
    }
}
