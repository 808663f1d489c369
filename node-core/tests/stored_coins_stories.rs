//! Attacks on a UTXO set over stored coins (`UtxoSet::over`): memory holds only the coins
//! changed since the shell last reported a batch stored, the rest is read from a
//! [`CoinSource`]. Whatever the order in which batches are taken, written and reported
//! stored — several taken before any is written, written late, reported late or for an
//! older batch — a chain over such a set must read every coin exactly as a chain holding
//! every coin in memory, through reorganisations and blocks that fail mid-connect.
//!
//! The source here is a "disk": a map that changes only when the test writes a batch.

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use node_core::chain::ChainChanges;
use node_core::store::StoredChain;
use node_core::utxo::CoinSource;
use node_core::{
    Block, Chain, ChainParams, KeyPair, OutPoint, PubKeyHash, Transaction, TxOut, UtxoEntry,
    UtxoSet,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use support::chain::*;
use support::*;

// ----- the disk ---------------------------------------------------------------------------

/// Stored coins: changed only by [`Disk::write`], as a database commit would.
#[derive(Debug, Default)]
struct Disk(Mutex<BTreeMap<OutPoint, UtxoEntry>>);

impl Disk {
    fn coins(&self) -> std::sync::MutexGuard<'_, BTreeMap<OutPoint, UtxoEntry>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one batch's UTXO changes, in order, as the relay's store does.
    fn write(&self, c: &ChainChanges) {
        let mut coins = self.coins();
        if c.utxo_reset {
            coins.clear();
        }
        for (op, e) in &c.utxo {
            match e {
                Some(e) => coins.insert(*op, *e),
                None => coins.remove(op),
            };
        }
    }

    fn snapshot(&self) -> Vec<(OutPoint, UtxoEntry)> {
        self.coins().iter().map(|(o, e)| (*o, *e)).collect()
    }
}

impl CoinSource for Disk {
    fn coin(&self, outpoint: &OutPoint) -> Option<UtxoEntry> {
        self.coins().get(outpoint).copied()
    }

    fn for_each_coin(&self, f: &mut dyn FnMut(OutPoint, UtxoEntry)) {
        // Copied first: `f` may read the disk again.
        for (op, e) in self.snapshot() {
            f(op, e);
        }
    }
}

// ----- two chains fed the same blocks -----------------------------------------------------

/// A chain holding every coin (`mem`) and one over the disk (`backed`), fed the same blocks;
/// the backed chain's batches go through `pending` (taken, not written yet) to the disk.
struct Pair {
    mem: Chain,
    backed: Chain,
    disk: Arc<Disk>,
    pending: VecDeque<ChainChanges>,
    /// The last batch written to the disk, if any since the start.
    written: Option<u64>,
    /// Every output any block created, and who can spend it.
    outputs: BTreeMap<OutPoint, TxOut>,
    keys: Vec<KeyPair>,
    /// Makes every mined block unique (branches start from the same parents).
    blocks_mined: u64,
}

impl Pair {
    fn new() -> Pair {
        let keys: Vec<KeyPair> = (80..84).map(key).collect();
        let genesis = genesis_paying(keys[0].pubkey_hash());
        let mut mem = chain_with(ChainParams::default(), genesis.clone());
        let first = mem.take_changes();
        let disk = Arc::new(Disk::default());
        disk.write(&first);
        let source: Arc<dyn CoinSource> = disk.clone();
        let backed = Chain::from_stored(
            ChainParams::default(),
            vec![genesis.clone()],
            genesis.hash(),
            UtxoSet::over(source),
            first.undo.clone(),
        )
        .expect("a genesis alone loads");
        let mut pair = Pair {
            mem,
            backed,
            disk,
            pending: VecDeque::new(),
            written: None,
            outputs: BTreeMap::new(),
            keys,
            blocks_mined: 0,
        };
        pair.note(&genesis);
        pair
    }

    fn note(&mut self, block: &Block) {
        for tx in &block.transactions {
            for (v, o) in tx.outputs.iter().enumerate() {
                self.outputs.insert(outpoint(tx, v as u32), *o);
            }
        }
    }

    /// Both chains accept `block`; they must say the same.
    fn accept(&mut self, block: Block) {
        self.note(&block);
        let a = accept(&mut self.mem, block.clone());
        let b = accept(&mut self.backed, block);
        assert_eq!(a, b, "the two chains judged a block differently");
        self.check();
    }

    /// The backed chain hands over a batch (not written yet).
    fn take(&mut self) {
        drop(self.mem.take_changes());
        let c = self.backed.take_changes();
        self.pending.push_back(c);
    }

    /// The oldest `n` taken batches reach the disk, in order.
    fn write(&mut self, n: usize) {
        for _ in 0..n {
            let Some(c) = self.pending.pop_front() else {
                break;
            };
            self.disk.write(&c);
            self.written = Some(c.batch);
        }
        self.check();
    }

    /// The shell reports stored a batch `lag` batches older than the last one written.
    fn report(&mut self, lag: u64) {
        if let Some(w) = self.written {
            if let Some(b) = w.checked_sub(lag) {
                self.backed.stored(b);
            }
        }
        self.check();
    }

    /// Everything taken is written and reported: memory holds nothing.
    fn settle_all(&mut self) {
        self.write_all();
        assert_eq!(self.backed.utxo().held_in_memory(), 0);
    }

    /// Everything taken is written and reported; the disk holds the set.
    fn write_all(&mut self) {
        self.take();
        self.write(usize::MAX);
        self.report(0);
        let all: Vec<(OutPoint, UtxoEntry)> = self.mem.utxo().entries();
        assert_eq!(
            self.disk.snapshot(),
            all,
            "the disk is the set once all is written"
        );
    }

    /// The backed chain reads every coin as the in-memory one.
    fn check(&self) {
        let (m, b) = (self.mem.utxo(), self.backed.utxo());
        assert_eq!(self.mem.tip(), self.backed.tip());
        assert_eq!(self.mem.height(), self.backed.height());
        for op in self.outputs.keys() {
            assert_eq!(m.get(op), b.get(op), "coin {op:?} reads differently");
        }
        assert_eq!(m.entries(), b.entries());
        assert_eq!(m.digest(), b.digest());
        assert_eq!(m.len(), b.len());
        for k in &self.keys {
            let owner = k.pubkey_hash();
            assert_eq!(m.balance(&owner), b.balance(&owner));
            assert_eq!(m.outputs_of(&owner), b.outputs_of(&owner));
        }
    }

    /// A chain with `mem`'s active blocks up to `height`, to mine a branch on.
    fn builder_at(&self, height: u64) -> Chain {
        let genesis = self.mem.block_at(0).expect("genesis").clone();
        let mut b = chain_with(ChainParams::default(), genesis);
        for h in 1..=height {
            let block = self.mem.block_at(h).expect("active block").clone();
            assert!(matches!(
                accept(&mut b, block),
                Ok(node_core::AcceptOutcome::TipChanged(_))
            ));
        }
        b
    }

    fn tag(&mut self) -> Vec<u8> {
        self.blocks_mined += 1;
        self.blocks_mined.to_le_bytes().to_vec()
    }

    /// A valid block on `builder`'s tip spending coins `plan` picks; `builder` accepts it.
    fn mine_plan(&mut self, builder: &mut Chain, plan: &SpendPlan) -> Block {
        let keys = self.keys.clone();
        let owner = |h: &PubKeyHash| keys.iter().find(|k| k.pubkey_hash() == *h);
        let mut available: Vec<(OutPoint, TxOut)> = builder
            .utxo()
            .entries()
            .into_iter()
            .map(|(op, e)| (op, e.output))
            .collect();
        let mut txs = Vec::new();
        for (first, payee, fee) in plan {
            if available.is_empty() {
                break;
            }
            let (op, out) = available.swap_remove(first % available.len());
            let Some(k) = owner(&out.pubkey_hash) else {
                continue;
            };
            let fee = u64::from(*fee && out.value > 2);
            let to = keys[payee % keys.len()].pubkey_hash();
            let paid = out.value - fee;
            let outputs: Vec<(PubKeyHash, u64)> = if paid >= 2 {
                vec![(to, paid / 2), (k.pubkey_hash(), paid - paid / 2)]
            } else {
                vec![(to, paid)]
            };
            let tx = pay(k, &[op], &outputs);
            // Outputs of this payment may be spent later in the same block.
            for (v, o) in tx.outputs.iter().enumerate() {
                available.push((outpoint(&tx, v as u32), *o));
            }
            txs.push(tx);
        }
        let miner = keys[(self.blocks_mined % keys.len() as u64) as usize].pubkey_hash();
        let tag = self.tag();
        let block = block_on(builder, miner, txs, &tag);
        assert!(matches!(
            accept(builder, block.clone()),
            Ok(node_core::AcceptOutcome::TipChanged(_))
        ));
        block
    }

    /// A block on `builder`'s tip that breaks no rule checked before connecting, but spends
    /// a coin `builder`'s branch does not have: spent there (a double spend) or never made.
    fn bad_block(&mut self, builder: &Chain, pick: Option<Index>) -> Block {
        let gone: Vec<(OutPoint, TxOut, KeyPair)> = self
            .outputs
            .iter()
            .filter(|(op, _)| builder.utxo().get(op).is_none())
            .filter_map(|(op, o)| {
                let k = self
                    .keys
                    .iter()
                    .find(|k| k.pubkey_hash() == o.pubkey_hash)?;
                Some((*op, *o, k.clone()))
            })
            .collect();
        let tx = match pick {
            Some(i) if !gone.is_empty() => {
                let (op, out, k) = &gone[i.index(gone.len())];
                pay(k, &[*op], &[(k.pubkey_hash(), out.value)])
            }
            _ => {
                let never = OutPoint {
                    txid: Transaction::new_coinbase(u64::MAX, PubKeyHash([9; 20]), 1, b"never")
                        .txid(),
                    vout: 0,
                };
                pay(&self.keys[0], &[never], &[(self.keys[0].pubkey_hash(), 1)])
            }
        };
        let parent = builder.block_at(builder.height()).expect("tip").clone();
        let tag = self.tag();
        child_of(
            &parent,
            builder.height() + 1,
            self.keys[1].pubkey_hash(),
            vec![tx],
            &tag,
        )
    }
}

/// One block's random spends: (coin, payee, fee) choices.
type SpendPlan = Vec<(usize, usize, bool)>;

fn arb_plan() -> impl Strategy<Value = SpendPlan> {
    vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..4)
}

/// What happens next.
#[derive(Debug, Clone)]
enum Step {
    /// A block on the tip.
    Extend(SpendPlan),
    /// A heavier branch from `depth` blocks below the tip (`plans.len() > depth`).
    Reorg { depth: Index, plans: Vec<SpendPlan> },
    /// A branch from below the tip, heavier with its last block, which spends a coin the
    /// branch does not have: the chain connects the branch, fails, and restores its own.
    BadReorg {
        depth: Index,
        plans: Vec<SpendPlan>,
        pick: Option<Index>,
    },
    /// The shell takes a batch.
    Take,
    /// The shell writes its oldest taken batches.
    Write(usize),
    /// The shell reports stored the batch `lag` older than the last written.
    Report(u64),
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => arb_plan().prop_map(Step::Extend),
        1 => (any::<Index>(), vec(arb_plan(), 1..4))
            .prop_map(|(depth, plans)| Step::Reorg { depth, plans }),
        1 => (any::<Index>(), vec(arb_plan(), 0..3), option::of(any::<Index>()))
            .prop_map(|(depth, plans, pick)| Step::BadReorg { depth, plans, pick }),
        3 => Just(Step::Take),
        2 => (0usize..3).prop_map(Step::Write),
        2 => (0u64..3).prop_map(Step::Report),
    ]
}

fn run(pair: &mut Pair, step: &Step) {
    match step {
        Step::Extend(plan) => {
            let mut b = pair.builder_at(pair.mem.height());
            let block = pair.mine_plan(&mut b, plan);
            pair.accept(block);
        }
        Step::Reorg { depth, plans } => {
            // Longer than what it replaces: `depth` < `plans.len()`.
            let depth = (depth.index(plans.len()) as u64).min(pair.mem.height());
            let mut b = pair.builder_at(pair.mem.height() - depth);
            let blocks: Vec<Block> = plans.iter().map(|p| pair.mine_plan(&mut b, p)).collect();
            for block in blocks {
                pair.accept(block);
            }
        }
        Step::BadReorg { depth, plans, pick } => {
            let depth = (depth.index(plans.len() + 1) as u64).min(pair.mem.height());
            let mut b = pair.builder_at(pair.mem.height() - depth);
            let mut blocks: Vec<Block> = plans[..depth as usize]
                .iter()
                .map(|p| pair.mine_plan(&mut b, p))
                .collect();
            blocks.push(pair.bad_block(&b, *pick));
            let bad = blocks.last().map(Block::hash);
            for block in blocks {
                pair.accept(block);
            }
            // Its valid prefix may win on work (work counts each hash); the bad block never.
            let bad = bad.expect("a bad block was mined");
            assert!(pair.mem.is_invalid(&bad) && pair.backed.is_invalid(&bad));
        }
        Step::Take => pair.take(),
        Step::Write(n) => pair.write(*n),
        Step::Report(lag) => pair.report(*lag),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random blocks, reorganisations and failed reorganisations, with batches taken,
    /// written and reported at random times: the backed chain reads every coin, the digest,
    /// the count and every balance as the chain holding all coins in memory, after every
    /// step; once everything is written and reported, memory holds no coin and the disk
    /// holds the set.
    #[test]
    fn a_set_over_stored_coins_reads_as_the_set_in_memory(
        steps in vec(arb_step(), 1..30),
    ) {
        let mut pair = Pair::new();
        for step in &steps {
            run(&mut pair, step);
        }
        pair.settle_all();
        // More blocks after a full settle still read right.
        run(&mut pair, &Step::Extend(vec![(0, 1, true)]));
        pair.settle_all();
    }

    /// A backed chain's snapshot (what compacts a journal) rebuilds the same coins, while
    /// batches are still unwritten.
    #[test]
    fn a_snapshot_of_a_backed_chain_holds_the_coins_of_memory_and_disk(
        steps in vec(arb_step(), 1..15),
    ) {
        let mut pair = Pair::new();
        for step in &steps {
            run(&mut pair, step);
        }
        let mut store = StoredChain::default();
        for batch in pair.backed.snapshot(4) {
            store.apply(&batch);
        }
        let restored = store
            .into_chain(ChainParams::default())
            .expect("the snapshot is consistent")
            .expect("a tip was stored");
        prop_assert_eq!(restored.tip(), pair.mem.tip());
        prop_assert_eq!(restored.utxo().entries(), pair.mem.utxo().entries());
    }
}

// ----- stories ----------------------------------------------------------------------------

/// A block spending `coin` (owned by `owner`) to `to`, mined on the pair's tip.
fn spend_block(pair: &mut Pair, coin: OutPoint, owner: usize, to: usize) -> Block {
    let value = pair.outputs[&coin].value;
    let tx = pay(
        &pair.keys[owner],
        &[coin],
        &[(pair.keys[to].pubkey_hash(), value)],
    );
    let b = pair.builder_at(pair.mem.height());
    let tag = pair.tag();
    block_on(&b, pair.keys[3].pubkey_hash(), vec![tx], &tag)
}

/// A coin created in batch n and spent in batch n+1; batch n is written and reported, n+1
/// is not: the disk holds the coin, memory must still read it as spent — and a block that
/// spends it again is refused.
#[test]
fn a_coin_spent_in_an_unwritten_batch_reads_spent_though_the_disk_holds_it() {
    let mut pair = Pair::new();
    let mut b = pair.builder_at(0);
    let created = pair.mine_plan(&mut b, &Vec::new());
    let coin = coinbase_of(&created);
    pair.accept(created);
    pair.take(); // batch n: creates the coin
    let owner = pair
        .keys
        .iter()
        .position(|k| k.pubkey_hash() == pair.outputs[&coin].pubkey_hash)
        .expect("a wallet key mined it");
    let spend = spend_block(&mut pair, coin, owner, (owner + 1) % 4);
    pair.accept(spend);
    pair.take(); // batch n+1: spends it
    pair.write(1);
    pair.report(0);
    assert!(pair.disk.coin(&coin).is_some(), "batch n+1 is not written");
    assert_eq!(pair.backed.utxo().get(&coin), None);
    assert!(pair.backed.utxo().held_in_memory() > 0);

    // The same coin spent again, by its owner, correctly signed.
    let value = pair.outputs[&coin].value;
    let twice = pay(
        &pair.keys[owner],
        &[coin],
        &[(pair.keys[owner].pubkey_hash(), value)],
    );
    let tip = pair.mem.block_at(pair.mem.height()).expect("tip").clone();
    let again = child_of(
        &tip,
        pair.mem.height() + 1,
        pair.keys[0].pubkey_hash(),
        vec![twice],
        b"twice",
    );
    pair.accept(again.clone());
    assert!(
        pair.backed.is_invalid(&again.hash()),
        "a double spend was connected"
    );
    pair.settle_all();
}

/// A shell that takes and writes every batch but never reports one stored: memory keeps
/// every change (it grows), and every read stays right.
#[test]
fn batches_never_reported_stored_keep_memory_growing_and_right() {
    let mut pair = Pair::new();
    let mut held = Vec::new();
    for i in 0..6 {
        let mut b = pair.builder_at(pair.mem.height());
        let plan = vec![(i, i + 1, true)];
        let block = pair.mine_plan(&mut b, &plan);
        pair.accept(block);
        pair.take();
        pair.write(1);
        held.push(pair.backed.utxo().held_in_memory());
    }
    assert!(held.windows(2).all(|w| w[0] <= w[1]), "{held:?}");
    assert!(held[5] > held[0], "{held:?}");
    pair.report(0);
    assert_eq!(pair.backed.utxo().held_in_memory(), 0);
    pair.check();
}

/// `reindex_utxo` on a backed chain (replays the active chain into a new set): the coins
/// are those of the in-memory chain, and the reset batch, once written, leaves the disk
/// holding exactly them.
#[test]
fn reindex_on_a_backed_chain_keeps_the_same_coins() {
    let mut pair = Pair::new();
    for i in 0..4 {
        let mut b = pair.builder_at(pair.mem.height());
        let block = pair.mine_plan(&mut b, &vec![(i, i, false)]);
        pair.accept(block);
        if i % 2 == 0 {
            pair.take();
        }
    }
    pair.write(1);
    pair.mem.reindex_utxo();
    pair.backed.reindex_utxo();
    pair.check();
    pair.write_all();
    pair.check();
}

// ----- a relay that downloads its chain ---------------------------------------------------

/// A body store that holds nothing: bodies stay in memory (enough for this story).
#[derive(Debug)]
struct NoBodies;

impl node_core::chain::BodySource for NoBodies {
    fn block(&self, _: &node_core::BlockHash) -> Option<Block> {
        None
    }
    fn undo(&self, _: &node_core::BlockHash) -> Option<node_core::utxo::BlockUndo> {
        None
    }
    fn has_block(&self, _: &node_core::BlockHash) -> bool {
        false
    }
    fn has_undo(&self, _: &node_core::BlockHash) -> bool {
        false
    }
}

/// A relay started on an empty file with a peer to download from (`startnode --peers`):
/// it is set up as `relay-server/src/node/startnode.rs` does (`keep_bodies_in`,
/// `keep_coins_in`), adopts the named relay's genesis, downloads 40 blocks and the shell
/// writes and reports every batch. Its UTXO set then holds no coin in memory, as a relay
/// that loaded the same chain from its file does (it held every coin until restart before
/// the node could be handed a coin source).
#[test]
fn a_relay_that_downloads_its_chain_keeps_only_unstored_coins_in_memory() {
    use node_core::node::{Action, Event, Node};
    use node_core::protocol::{Message, Role, Version, PROTOCOL_VERSION};
    use support::net::{config, frame, mine_on_at, sim_chain};

    let hub_key = key(90);
    let mut hub = sim_chain(hub_key.pubkey_hash());
    let mut blocks = Vec::new();
    for i in 0..40u64 {
        blocks.push(mine_on_at(
            &mut hub,
            hub_key.pubkey_hash(),
            Vec::new(),
            T0 + (i + 1) * 60_000,
        ));
    }
    let genesis = hub.genesis_hash();
    let mut relay = Node::new(config("3001", Role::Relay, 2), None);
    relay.keep_bodies_in(Arc::new(NoBodies));
    let disk = Arc::new(Disk::default());
    relay.keep_coins_in(disk.clone());
    let url = "ws://hub.test/ws";
    relay.handle(
        T0,
        Event::Dialled {
            peer: 1,
            url: url.into(),
            named: true,
        },
    );
    let v = Version {
        protocol: PROTOCOL_VERSION,
        genesis,
        best_height: hub.height(),
        tip: hub.tip(),
        chain_work: hub.tip_work(),
        node_id: "3000".into(),
        role: Role::Relay,
        listen_url: Some(url.into()),
        nonce: 50_000,
        user_agent: "test".into(),
    };
    relay.handle(T0, frame(1, &Message::Version(v)));
    relay.handle(T0, frame(1, &Message::Verack));
    let now = T0 + 100 * 60_000;
    let genesis_block = hub.block_at(0).expect("genesis").clone();
    for b in std::iter::once(genesis_block).chain(blocks) {
        relay.handle(now, frame(1, &Message::Block(b)));
        for action in relay.drain_actions() {
            if let Action::Persist(changes) = action {
                disk.write(&changes);
                relay.changes_stored(changes.batch);
            }
        }
    }
    let chain = relay.chain().expect("the genesis was adopted");
    assert_eq!(chain.tip(), hub.tip(), "the relay downloaded the chain");
    assert_eq!(chain.utxo().len(), 41);
    assert_eq!(
        chain.utxo().held_in_memory(),
        0,
        "every batch is stored, so no coin is held in memory"
    );
}
