//! A chain whose UTXO set lives on a disk (`UtxoSet::over`, as the relay's) decides exactly
//! what a chain holding every coin in memory decides, whenever its shell gets round to
//! writing the batches it was handed — late, several at once, or written but not yet
//! reported — through random payments, coins created and spent in one block, and
//! reorganisations delivered in any order.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use node_core::chain::{BlockEntry, BlockIndex, BodySource, ChainChanges};
use node_core::consensus::pow;
use node_core::utxo::{BlockUndo, CoinSource, UtxoEntry};
use node_core::{Block, BlockHash, Chain, ChainParams, OutPoint, UtxoSet};
use proptest::prelude::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use support::chain::*;
use support::spends::*;

/// What a shell has written: coins, bodies and undo records, as the relay's file holds them.
#[derive(Debug, Default)]
struct Disk(Mutex<Written>);

#[derive(Debug, Default)]
struct Written {
    coins: BTreeMap<OutPoint, UtxoEntry>,
    blocks: BTreeMap<BlockHash, Block>,
    undo: BTreeMap<BlockHash, BlockUndo>,
}

impl Disk {
    fn rows(&self) -> std::sync::MutexGuard<'_, Written> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one batch as one transaction.
    fn write(&self, c: &ChainChanges) {
        let mut w = self.rows();
        for b in &c.blocks {
            w.blocks.insert(b.hash(), b.clone());
        }
        for h in &c.removed {
            w.blocks.remove(h);
            w.undo.remove(h);
        }
        for (h, u) in &c.undo {
            w.undo.insert(*h, u.clone());
        }
        if c.utxo_reset {
            w.coins.clear();
        }
        for (op, e) in &c.utxo {
            match e {
                Some(e) => w.coins.insert(*op, *e),
                None => w.coins.remove(op),
            };
        }
    }
}

impl CoinSource for Disk {
    fn coin(&self, outpoint: &OutPoint) -> Option<UtxoEntry> {
        self.rows().coins.get(outpoint).copied()
    }
    fn for_each_coin(&self, f: &mut dyn FnMut(OutPoint, UtxoEntry)) {
        let coins = self.rows().coins.clone();
        for (op, e) in coins {
            f(op, e);
        }
    }
}

impl BodySource for Disk {
    fn block(&self, hash: &BlockHash) -> Option<Block> {
        self.rows().blocks.get(hash).cloned()
    }
    fn undo(&self, hash: &BlockHash) -> Option<BlockUndo> {
        self.rows().undo.get(hash).cloned()
    }
    fn has_block(&self, hash: &BlockHash) -> bool {
        self.rows().blocks.contains_key(hash)
    }
    fn has_undo(&self, hash: &BlockHash) -> bool {
        self.rows().undo.contains_key(hash)
    }
}

/// A chain on `genesis` whose coins and bodies are read from `disk` (genesis written).
fn chain_on_disk(genesis: Block, disk: &Arc<Disk>) -> Chain {
    let mut first = chain_with(ChainParams::default(), genesis.clone());
    disk.write(&first.take_changes());
    let hash = genesis.hash();
    let mut index = BlockIndex::new();
    index
        .insert(
            hash,
            BlockEntry {
                height: 0,
                chain_work: pow::work(genesis.header.bits),
                prev: BlockHash::ZERO,
                timestamp: genesis.header.timestamp,
            },
        )
        .expect("a genesis entry links");
    Chain::from_stored_index(
        ChainParams::default(),
        genesis.header.bits,
        index,
        hash,
        UtxoSet::over(disk.clone()),
        disk.clone(),
    )
    .expect("a chain of its genesis loads")
}

/// The shell of the disk-backed chain: batches handed over and not written yet, written
/// and not reported yet, and the randomness deciding when each happens.
struct LazyShell {
    disk: Arc<Disk>,
    handed: Vec<ChainChanges>,
    unreported: Option<u64>,
    rng: ChaCha20Rng,
}

impl LazyShell {
    /// Takes `chain`'s batch, then writes some of the waiting batches (oldest first) and
    /// maybe reports the newest written.
    fn step(&mut self, chain: &mut Chain) {
        self.handed.push(chain.take_changes());
        let write = (self.rng.next_u32() as usize) % (self.handed.len() + 1);
        for c in self.handed.drain(..write) {
            self.disk.write(&c);
            self.unreported = Some(c.batch);
        }
        if self.rng.next_u32() % 3 != 0 {
            self.report(chain);
        }
    }

    fn report(&mut self, chain: &mut Chain) {
        if let Some(batch) = self.unreported.take() {
            chain.stored(batch);
        }
    }

    /// Writes and reports everything.
    fn finish(&mut self, chain: &mut Chain) {
        self.handed.push(chain.take_changes());
        for c in self.handed.drain(..) {
            self.disk.write(&c);
            self.unreported = Some(c.batch);
        }
        self.report(chain);
    }
}

/// Every coin either chain ever knew, looked up in both.
fn same_coins(memory: &Chain, disk: &Chain, seen: &mut Vec<OutPoint>) -> Result<(), String> {
    memory.utxo().for_each(|op, _| seen.push(op));
    seen.sort();
    seen.dedup();
    for op in seen.iter() {
        let (m, d) = (memory.utxo().get(op), disk.utxo().get(op));
        if m != d {
            return Err(format!(
                "coin {}:{}: memory {m:?}, disk {d:?}",
                op.txid, op.vout
            ));
        }
    }
    if memory.utxo().digest() != disk.utxo().digest() {
        return Err("the sets differ".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// A shared prefix, a branch A, a longer branch B, delivered in order or shuffled to a
    /// chain in memory and to a chain over a disk written lazily: after every block both
    /// hold the same coins; at the end the disk chain holds none in memory.
    #[test]
    fn a_chain_over_a_lazily_written_disk_decides_as_one_in_memory(
        prefix in arb_spends(1..4),
        a in arb_spends(1..4),
        b in arb_spends(6..7),
        b_extra in 1usize..3,
        shuffled in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let keys = wallet_keys();
        let genesis = genesis_paying(keys[0].pubkey_hash());
        let order = shuffled.then_some(seed);
        // B is longer than A by 1 or 2 blocks.
        let (blocks, branch_b) = two_branches(&keys, &genesis, &prefix, &a, &b[..a.len() + b_extra], order);

        let disk = Arc::new(Disk::default());
        let mut on_disk = chain_on_disk(genesis.clone(), &disk);
        let mut in_memory = chain_with(ChainParams::default(), genesis);
        let mut shell = LazyShell {
            disk: disk.clone(),
            handed: Vec::new(),
            unreported: None,
            rng: ChaCha20Rng::seed_from_u64(seed ^ 0x5eed),
        };
        let mut seen = Vec::new();
        for block in blocks {
            let m = accept(&mut in_memory, block.clone()).map_err(|e| e.to_string());
            let d = accept(&mut on_disk, block).map_err(|e| e.to_string());
            prop_assert_eq!(format!("{m:?}"), format!("{d:?}"));
            drop(in_memory.take_changes());
            shell.step(&mut on_disk);
            prop_assert_eq!(on_disk.tip(), in_memory.tip());
            if let Err(e) = same_coins(&in_memory, &on_disk, &mut seen) {
                prop_assert!(false, "{}", e);
            }
        }
        shell.finish(&mut on_disk);
        prop_assert_eq!(on_disk.tip(), branch_b.tip());
        prop_assert_eq!(on_disk.utxo().held_in_memory(), 0);
        prop_assert_eq!(on_disk.utxo().len(), in_memory.utxo().len());
        for k in &keys {
            let owner = k.pubkey_hash();
            prop_assert_eq!(on_disk.utxo().balance(&owner), in_memory.utxo().balance(&owner));
            prop_assert_eq!(on_disk.utxo().outputs_of(&owner), in_memory.utxo().outputs_of(&owner));
        }
        if let Err(e) = same_coins(&in_memory, &on_disk, &mut seen) {
            prop_assert!(false, "{}", e);
        }
    }
}
