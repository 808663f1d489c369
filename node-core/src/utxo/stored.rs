//! A UTXO set over coins stored on disk: memory holds what changed since the shell last
//! stored the chain's changes, not every coin the history created.
//!
//! # Why
//! The relay's UTXO set grows with its chain (about one coin a block on the benchmark chain,
//! ~150 bytes each in memory). Bitcoin Core keeps its chainstate in LevelDB with a bounded
//! cache in front; the relay keeps its coins in redb, which has its own page cache, and reads
//! one coin when a block or a payment spends it.
//!
//! # How memory and disk agree
//! Every change belongs to a *batch*: the changes [`crate::chain::Chain::take_changes`] hands
//! over next, which the shell writes as one transaction. A coin created in memory stays in
//! the set's entries and a stored coin spent in memory is marked spent, each noted with its
//! batch. When the shell says a batch is stored ([`super::UtxoSet::stored`]), every coin whose
//! last change was in that batch or an earlier one leaves memory: the disk now says the
//! same. Reads look in memory first (a created coin, a spent mark), then on disk. Batches
//! are written in order, so "stored up to batch n" is one number; a batch never reported
//! stored keeps its coins in memory, which is never wrong, only larger.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::fmt;

use super::UtxoEntry;
use crate::primitives::tx::OutPoint;
use crate::util::keyed_map::{KeyedMap, KeyedSet};

/// Stored coins a UTXO set reads when memory does not hold them. A shell implements it over
/// its database; reads are synchronous (the chain asks in the middle of validating a block)
/// and must see every batch the shell reported stored.
///
/// A read that fails must not answer "absent" silently: the chain would judge a valid block
/// by it. The relay's answers "absent" and stops the node before anything decided since is
/// written (`relay-server/src/store/coins.rs`).
pub trait CoinSource: fmt::Debug + Send + Sync {
    /// The stored coin at `outpoint`, if there is one.
    fn coin(&self, outpoint: &OutPoint) -> Option<UtxoEntry>;
    /// Calls `f` with every stored coin, in outpoint order.
    fn for_each_coin(&self, f: &mut dyn FnMut(OutPoint, UtxoEntry));
}

/// What a set over a [`CoinSource`] keeps besides the coins it created.
#[derive(Debug, Clone)]
pub(super) struct Backing {
    source: Arc<dyn CoinSource>,
    /// Coins spent in memory whose deletion is not stored yet.
    spent: KeyedSet<OutPoint>,
    /// The batch of each coin's last change, for coins memory holds (created or spent).
    last_change: KeyedMap<OutPoint, u64>,
    /// Every change as (batch, coin), oldest first: what a stored batch settles.
    log: VecDeque<(u64, OutPoint)>,
    /// The batch changes go into now.
    batch: u64,
}

impl Backing {
    /// Nothing changed yet over `source`.
    pub(super) fn over(source: Arc<dyn CoinSource>) -> Self {
        Backing {
            source,
            spent: KeyedSet::new(),
            last_change: KeyedMap::new(),
            log: VecDeque::new(),
            batch: 0,
        }
    }

    /// The stored coin at `op`, unless memory spent it.
    pub(super) fn stored(&self, op: &OutPoint) -> Option<UtxoEntry> {
        if self.spent.contains(op) {
            return None;
        }
        self.source.coin(op)
    }

    /// `op` was created (or restored) in memory.
    pub(super) fn created(&mut self, op: OutPoint) {
        self.spent.remove(&op);
        self.note(op);
    }

    /// `op` was spent: `held` is the coin memory held, if any. Returns the coin spent.
    pub(super) fn spent(&mut self, op: &OutPoint, held: Option<UtxoEntry>) -> Option<UtxoEntry> {
        let was = held.or_else(|| self.stored(op));
        // Marked even when nothing was stored yet: the batch that created it may be
        // written after this read and before the batch that spends it.
        self.spent.insert(*op);
        self.note(*op);
        was
    }

    fn note(&mut self, op: OutPoint) {
        self.last_change.insert(op, self.batch);
        self.log.push_back((self.batch, op));
    }

    /// Closes the current batch (its changes are being handed over) and returns its number.
    pub(super) fn seal(&mut self) -> u64 {
        let sealed = self.batch;
        self.batch += 1;
        sealed
    }

    /// Batches up to `batch` are stored: coins last changed in them leave memory.
    pub(super) fn settle(&mut self, batch: u64, created: &mut KeyedMap<OutPoint, UtxoEntry>) {
        while let Some(&(b, op)) = self.log.front() {
            if b > batch {
                break;
            }
            self.log.pop_front();
            if self.last_change.get(&op) == Some(&b) {
                self.last_change.remove(&op);
                self.spent.remove(&op);
                created.remove(&op);
            }
        }
    }

    /// Coins memory holds a change of (created or spent, not stored yet).
    pub(super) fn changes_held(&self) -> usize {
        self.last_change.len()
    }

    /// Calls `f` with every coin, stored or created, minus those spent, in outpoint order.
    pub(super) fn merged(
        &self,
        created: &KeyedMap<OutPoint, UtxoEntry>,
        f: &mut dyn FnMut(OutPoint, UtxoEntry),
    ) {
        let mut memory = created.iter().peekable();
        self.source.for_each_coin(&mut |op, e| {
            while let Some((m, me)) = memory.next_if(|(m, _)| **m < op) {
                f(*m, *me);
            }
            if let Some((m, me)) = memory.next_if(|(m, _)| **m == op) {
                f(*m, *me);
            } else if !self.spent.contains(&op) {
                f(op, e);
            }
        });
        for (m, me) in memory {
            f(*m, *me);
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::cell::RefCell;
    use std::sync::Mutex;

    use super::*;
    use crate::primitives::hash::{Hash256, PubKeyHash, Txid};
    use crate::primitives::tx::TxOut;
    use crate::utxo::{UtxoChange, UtxoSet};

    /// A disk that holds what the test writes to it, nothing else.
    #[derive(Debug, Default)]
    struct Disk(Mutex<BTreeMap<OutPoint, UtxoEntry>>);

    impl Disk {
        fn write(&self, changes: &[UtxoChange]) {
            let mut rows = self.0.lock().unwrap_or_else(|p| p.into_inner());
            for (op, e) in changes {
                match e {
                    Some(e) => rows.insert(*op, *e),
                    None => rows.remove(op),
                };
            }
        }
    }

    impl CoinSource for Disk {
        fn coin(&self, outpoint: &OutPoint) -> Option<UtxoEntry> {
            self.0.lock().ok()?.get(outpoint).copied()
        }
        fn for_each_coin(&self, f: &mut dyn FnMut(OutPoint, UtxoEntry)) {
            let rows = self.0.lock().map(|r| r.clone()).unwrap_or_default();
            for (op, e) in rows {
                f(op, e);
            }
        }
    }

    fn op(n: u8) -> OutPoint {
        OutPoint {
            txid: Txid::from_hash(Hash256([n; 32])),
            vout: 0,
        }
    }

    fn coin(value: u64) -> UtxoEntry {
        UtxoEntry {
            output: TxOut {
                value,
                pubkey_hash: PubKeyHash([1; 20]),
            },
            height: 1,
            coinbase: false,
        }
    }

    /// The set over a fresh disk, and the changes of each batch as the shell would write
    /// them (what the set did, in order).
    struct Shell {
        disk: Arc<Disk>,
        set: UtxoSet,
        pending: RefCell<Vec<UtxoChange>>,
    }

    impl Shell {
        fn new() -> Self {
            let disk = Arc::new(Disk::default());
            Shell {
                set: UtxoSet::over(disk.clone()),
                disk,
                pending: RefCell::new(Vec::new()),
            }
        }
        fn create(&mut self, n: u8, value: u64) {
            self.set.insert(op(n), coin(value));
            self.pending.borrow_mut().push((op(n), Some(coin(value))));
        }
        fn spend(&mut self, n: u8) -> Option<UtxoEntry> {
            self.pending.borrow_mut().push((op(n), None));
            self.set.remove(&op(n))
        }
        /// Takes the batch's changes (the shell writes them later) and its number.
        fn take(&mut self) -> (u64, Vec<UtxoChange>) {
            (self.set.seal_batch(), self.pending.take())
        }
    }

    #[test]
    fn a_coin_created_then_spent_reads_spent_while_only_its_creation_is_written() {
        let mut s = Shell::new();
        s.create(1, 5);
        let (first, created) = s.take();
        assert_eq!(s.spend(1), Some(coin(5)));
        let (second, spent) = s.take();
        // The shell writes the first batch, and says so, before it writes the second.
        s.disk.write(&created);
        s.set.stored(first);
        assert_eq!(s.set.get(&op(1)), None, "the spend is not written yet");
        assert_eq!(s.set.len(), 0);
        s.disk.write(&spent);
        s.set.stored(second);
        assert_eq!(s.set.get(&op(1)), None);
        assert_eq!(s.set.held_in_memory(), 0, "everything is on disk now");
    }

    #[test]
    fn a_spend_read_before_the_creation_is_written_is_still_a_spend_after() {
        let mut s = Shell::new();
        s.create(2, 7);
        assert_eq!(s.spend(2), Some(coin(7)));
        let (batch, changes) = s.take();
        // Written without the set being told: the spent mark must hold.
        s.disk.write(&changes[..1]);
        assert_eq!(s.set.get(&op(2)), None);
        s.disk.write(&changes[1..]);
        s.set.stored(batch);
        assert_eq!(s.set.get(&op(2)), None);
        assert_eq!(s.set.held_in_memory(), 0);
    }

    #[test]
    fn stored_coins_are_read_from_disk_and_spent_ones_hidden_until_written() {
        let mut s = Shell::new();
        for n in 1..=4 {
            s.create(n, n as u64);
        }
        let (b, c) = s.take();
        s.disk.write(&c);
        s.set.stored(b);
        assert_eq!(s.set.held_in_memory(), 0);
        assert_eq!(s.set.get(&op(3)), Some(coin(3)), "read from disk");
        assert_eq!(s.spend(3), Some(coin(3)));
        assert_eq!(s.spend(3), None, "a coin is spent once");
        s.create(5, 50);
        let listed: Vec<u64> = s
            .set
            .entries()
            .iter()
            .map(|(_, e)| e.output.value)
            .collect();
        assert_eq!(listed, [1, 2, 4, 50], "disk and memory merged in order");
        assert_eq!(s.set.balance(&PubKeyHash([1; 20])), 57);
        let (b, c) = s.take();
        s.disk.write(&c);
        s.set.stored(b);
        assert_eq!(s.set.held_in_memory(), 0);
        assert_eq!(s.set.len(), 4);
    }

    #[test]
    fn a_batch_never_reported_stored_keeps_its_changes_in_memory() {
        let mut s = Shell::new();
        s.create(9, 9);
        let (_, c) = s.take();
        // Written, but the shell never says so: memory keeps the coin, which is never
        // wrong, only larger.
        s.disk.write(&c);
        assert_eq!(s.set.held_in_memory(), 1);
        assert_eq!(s.set.get(&op(9)), Some(coin(9)));
        assert_eq!(s.set.len(), 1, "a coin on disk and in memory counts once");
    }
}
