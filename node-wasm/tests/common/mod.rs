//! What the wasm tests share: keys, a mined test chain, unique database names, a driver
//! configuration that never connects.
#![allow(dead_code)]

use node_core::chain::{self, AcceptOutcome, ChainChanges};
use node_core::{
    consensus::pow, Block, Chain, ChainParams, KeyPair, PubKeyHash, Transaction, TxOut,
};
use node_wasm::body_file::BodyFile;
use node_wasm::driver::DriverConfig;
use node_wasm::storage::{ChainStore, JournalBatch};
use node_wasm::stored_bodies::StoredBodies;
use std::sync::Arc;

pub const BITS: u32 = 8;

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e9) as u64
    )
}

pub fn key(seed: u8) -> KeyPair {
    KeyPair::from_secret_bytes(&[seed; 32]).expect("a small constant is a valid scalar")
}

/// A test network: its start time and the clock handed to `accept_block`.
pub struct Net {
    pub t0: u64,
    pub now: u64,
}

impl Net {
    pub fn new() -> Self {
        let now = js_sys::Date::now() as u64;
        Net {
            t0: now - 3_600_000,
            now,
        }
    }

    /// A mined block on `chain`'s tip paying `miner`, holding `txs`, `n` minutes after t0.
    pub fn block(
        &self,
        chain: &Chain,
        miner: PubKeyHash,
        txs: Vec<Transaction>,
        n: u64,
        tag: &[u8],
    ) -> Block {
        let mut b = chain.template(miner, txs, 0, self.t0 + n * 60_000, tag);
        pow::mine(&mut b.header).expect("8 bits are always met");
        b
    }
}

/// Builds a small chain with a payment and a reorganisation, returning it and every batch of
/// changes it produced (in order).
pub fn small_chain_with_reorg() -> (Chain, Vec<ChainChanges>) {
    let net = Net::new();
    let (a, b, m) = (key(1), key(2), key(3));
    let genesis = chain::mine_genesis(a.pubkey_hash(), 10, net.t0, BITS, b"genesis");
    let mut chain = Chain::new(ChainParams::default(), genesis, net.now).expect("genesis is valid");
    let mut batches = vec![chain.take_changes()];

    // Height 1: a coinbase to the miner.
    let b1 = net.block(&chain, m.pubkey_hash(), vec![], 1, b"one");
    assert!(matches!(
        chain.accept_block(b1, net.now),
        Ok(AcceptOutcome::TipChanged(_))
    ));
    batches.push(chain.take_changes());
    let fork_base = chain.clone();

    // Height 2: A pays B 4 from the genesis coinbase.
    let genesis_cb = chain.block_at(0).expect("genesis").transactions[0].txid();
    let pay = Transaction::new_signed(
        &a,
        &[node_core::OutPoint {
            txid: genesis_cb,
            vout: 0,
        }],
        vec![
            TxOut {
                value: 4,
                pubkey_hash: b.pubkey_hash(),
            },
            TxOut {
                value: 6,
                pubkey_hash: a.pubkey_hash(),
            },
        ],
    );
    let b2 = net.block(&chain, m.pubkey_hash(), vec![pay], 2, b"two");
    assert!(matches!(
        chain.accept_block(b2, net.now),
        Ok(AcceptOutcome::TipChanged(_))
    ));
    batches.push(chain.take_changes());

    // A competing branch from height 1, two blocks long: it wins and undoes the payment.
    let mut branch = fork_base;
    let x2 = net.block(&branch, b.pubkey_hash(), vec![], 3, b"x2");
    branch
        .accept_block(x2.clone(), net.now)
        .expect("valid on the branch");
    let x3 = net.block(&branch, b.pubkey_hash(), vec![], 4, b"x3");
    assert!(chain.accept_block(x2, net.now).is_ok());
    batches.push(chain.take_changes());
    let outcome = chain.accept_block(x3.clone(), net.now);
    assert!(
        matches!(outcome, Ok(AcceptOutcome::TipChanged(_))),
        "{outcome:?}"
    );
    assert_eq!(chain.tip(), x3.hash());
    batches.push(chain.take_changes());
    (chain, batches)
}

/// A driver configuration for node `node_id` that never connects to a relay.
pub fn offline_config(node_id: &str) -> DriverConfig {
    DriverConfig {
        node_id: node_id.to_string(),
        relay_url: "ws://127.0.0.1:9/ws".into(),
        connect: false,
        worker_url: "./worker.js".into(),
        workers: 1,
        mining_threshold: 2,
        assume_valid: None,
        verify_workers: 1,
        verify_worker_url: "./no-such-verify-worker.js".into(),
        replay_storage: false,
    }
}

/// Bodies kept in this session's memory, as on a page's thread.
pub fn memory_bodies() -> Arc<StoredBodies> {
    Arc::new(StoredBodies::new(BodyFile::in_memory(), Default::default()))
}

/// `changes` as the driver journals them: its bodies written to `bodies`, named by place.
pub fn journaled(bodies: &StoredBodies, mut changes: ChainChanges) -> JournalBatch {
    bodies.write(&mut changes).expect("bodies written");
    JournalBatch::of(changes, bodies)
}

/// Stores `batches` as node `id`'s chain, as an earlier session of its driver did: bodies
/// in its body file (in the origin private file system, where this runs in a worker),
/// one journal record each.
pub async fn store_chain(id: &str, batches: &[ChainChanges]) {
    let (file, in_memory) = BodyFile::open(&format!("bodies-{id}"))
        .await
        .expect("body file");
    assert!(
        in_memory.is_none(),
        "a worker has sync file access: {in_memory:?}"
    );
    let bodies = StoredBodies::new(file, Default::default());
    let store = ChainStore::open(&format!("chain-{id}"))
        .await
        .expect("open");
    for b in batches {
        let batch = journaled(&bodies, b.clone());
        bodies.file().write_out().expect("written");
        store
            .persist(std::slice::from_ref(&batch))
            .await
            .expect("persist");
    }
    store.close();
    bodies.file().close();
}
