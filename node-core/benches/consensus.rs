//! Consensus-core benchmarks (criterion): proof-of-work hashing with and without the
//! midstate, signature verification, and connecting one block at height 100 versus 10,000.
//!
//! Run: `cargo bench -p node-core --bench consensus` (add `-- --quick` for a short run).
//! Setup builds a 10,000-block chain first (a few seconds).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use node_core::chain::{mine_genesis, AcceptOutcome};
use node_core::consensus::pow::{self, Midstate};
use node_core::primitives::block::BlockHeader;
use node_core::primitives::hash::sha256;
use node_core::primitives::keys;
use node_core::{Block, BlockHash, Chain, ChainParams, KeyPair, OutPoint, Transaction, TxOut};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Nonces hashed per iteration of the proof-of-work benchmarks.
const NONCES: u64 = 100_000;
/// Proof-of-work bits of the benchmark chains: cheap to mine 10,000 blocks.
const BITS: u32 = 8;
const T0: u64 = 1_700_000_000_000;
const SPACING: u64 = 60_000;
const NOW: u64 = T0 + 100_000_000_000;
/// Consecutive benchmark blocks prepared on each chain; the chain is re-cloned after them.
const RUN: usize = 16;

fn key(seed: u64) -> KeyPair {
    KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

fn proof_of_work(c: &mut Criterion) {
    // 64 bits: no nonce in the range meets the target, so every one is hashed.
    let header = BlockHeader {
        version: 1,
        prev: BlockHash::from_hash(sha256(b"parent")),
        merkle_root: sha256(b"merkle"),
        timestamp: T0,
        bits: 64,
        nonce: 0,
    };
    let mut g = c.benchmark_group("pow");
    g.throughput(Throughput::Elements(NONCES));
    g.bench_function("midstate", |b| {
        b.iter(|| {
            let midstate = Midstate::new(black_box(&header));
            pow::search(&midstate, 0, NONCES)
        })
    });
    g.bench_function("full_header", |b| {
        b.iter(|| pow::search_without_midstate(black_box(&header), 0, NONCES))
    });
    g.finish();
}

fn signatures(c: &mut Criterion) {
    let k = key(1);
    let message = sha256(b"a transaction's signature message").0;
    let signature = k.sign(&message);
    assert_eq!(keys::verify(k.public_key(), &message, &signature), Ok(()));
    let mut g = c.benchmark_group("ecdsa");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify", |b| {
        b.iter(|| {
            keys::verify(
                black_box(k.public_key()),
                black_box(&message),
                black_box(&signature),
            )
        })
    });
    g.finish();
}

/// Mines `block` and accepts it on `chain`, which must connect it.
fn mine_and_connect(chain: &mut Chain, mut block: Block) -> Block {
    pow::mine(&mut block.header).expect("low bits are met");
    match chain.accept_block(block.clone(), NOW) {
        Ok(AcceptOutcome::TipChanged(_)) => block,
        other => panic!("benchmark block not connected: {other:?}"),
    }
}

/// A chain of `height` coinbase-only blocks all paying `owner`, with its pending changes
/// taken (as a node's store would have).
fn filler_chain(owner: &KeyPair, height: u64) -> Chain {
    let to = owner.pubkey_hash();
    let genesis = mine_genesis(to, 10, T0, BITS, b"bench");
    let mut chain = Chain::new(ChainParams::default(), genesis, NOW).expect("valid genesis");
    for h in 1..=height {
        let block = chain.template(to, Vec::new(), 0, T0 + h * SPACING, b"");
        mine_and_connect(&mut chain, block);
        if h % 1_000 == 0 {
            chain.take_changes();
        }
    }
    chain.take_changes();
    chain
}

/// `RUN` consecutive blocks on `chain`, each holding 3 transactions that spend 2 of `owner`'s
/// early coinbases each (6 signature checks per block).
fn spending_blocks(chain: &Chain, owner: &KeyPair) -> Vec<Block> {
    let payee = key(2).pubkey_hash();
    let mut scratch = chain.clone();
    let mut coins = (1..=(RUN as u64 * 6)).map(|h| OutPoint {
        txid: chain.block_at(h).expect("filler block").transactions[0].txid(),
        vout: 0,
    });
    let mut out = Vec::with_capacity(RUN);
    for _ in 0..RUN {
        let txs: Vec<Transaction> = (0..3)
            .map(|_| {
                let inputs: Vec<OutPoint> = coins.by_ref().take(2).collect();
                let value = TxOut {
                    value: 20,
                    pubkey_hash: payee,
                };
                Transaction::new_signed(owner, &inputs, vec![value])
            })
            .collect();
        let ts = T0 + (scratch.height() + 1) * SPACING;
        let block = scratch.template(owner.pubkey_hash(), txs, 0, ts, b"");
        out.push(mine_and_connect(&mut scratch, block));
    }
    out
}

fn apply_block(c: &mut Criterion) {
    let owner = key(3);
    let setup = Instant::now();
    let short = filler_chain(&owner, 100);
    let long = filler_chain(&owner, 10_000);
    let cases = [
        (100u64, spending_blocks(&short, &owner), short),
        (10_000u64, spending_blocks(&long, &owner), long),
    ];
    eprintln!("apply_block setup: {:.1} s", setup.elapsed().as_secs_f64());

    let mut g = c.benchmark_group("apply_block");
    g.throughput(Throughput::Elements(1));
    for (height, blocks, base) in &cases {
        g.bench_with_input(BenchmarkId::new("height", height), height, |b, _| {
            // Each iteration validates and connects the next prepared block; after RUN of
            // them the chain is reset to a fresh clone (outside the timed part).
            let mut state = base.clone();
            let mut next = 0;
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    if next == blocks.len() {
                        state = base.clone();
                        next = 0;
                    }
                    let block = blocks[next].clone();
                    let start = Instant::now();
                    let outcome = state.accept_block(block, NOW);
                    timed += start.elapsed();
                    assert!(matches!(outcome, Ok(AcceptOutcome::TipChanged(_))));
                    drop(outcome);
                    state.take_changes();
                    next += 1;
                }
                timed
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = proof_of_work, signatures, apply_block
}
criterion_main!(benches);
