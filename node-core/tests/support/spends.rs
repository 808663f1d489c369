//! Blocks that spend random outputs of their own history, for properties over
//! reorganisations: which outputs a block spends and to whom is a [`SpendPlan`] proptest
//! draws.

use node_core::{Block, Chain, ChainParams, KeyPair, OutPoint, PubKeyHash, TxOut};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::chain::{chain_with, mine_on, outpoint, pay};
use super::key;

/// Keys that own every output in the reorganisation property.
pub fn wallet_keys() -> Vec<KeyPair> {
    (70..74).map(key).collect()
}

/// One block's random spends: (first input, optional second input, payee, fee) choices.
pub type SpendPlan = Vec<(Index, Option<Index>, Index, bool)>;

/// Mines a block on `chain`'s tip paying `miner`, holding signed spends chosen by `plan`
/// among the outputs unspent at that point (this block's earlier outputs included).
pub fn mine_plan(
    chain: &mut Chain,
    keys: &[KeyPair],
    miner: PubKeyHash,
    plan: &SpendPlan,
) -> Block {
    let owner = |h: &PubKeyHash| keys.iter().find(|k| k.pubkey_hash() == *h);
    let mut available: Vec<(OutPoint, TxOut)> = chain
        .utxo()
        .entries()
        .into_iter()
        .map(|(op, e)| (op, e.output))
        .collect();
    let mut txs = Vec::new();
    for (first, second, payee, fee) in plan {
        if available.is_empty() {
            break;
        }
        let (op, out) = available.swap_remove(first.index(available.len()));
        let Some(key) = owner(&out.pubkey_hash) else {
            continue;
        };
        let mut inputs = vec![op];
        let mut total = out.value;
        // A second input of the same owner, if the plan asks for one and there is one.
        if let Some(second) = second {
            let same: Vec<usize> = (0..available.len())
                .filter(|i| available[*i].1.pubkey_hash == out.pubkey_hash)
                .collect();
            if !same.is_empty() {
                let (op2, out2) = available.swap_remove(same[second.index(same.len())]);
                inputs.push(op2);
                total += out2.value;
            }
        }
        let fee = u64::from(*fee && total > 2);
        let to = keys[payee.index(keys.len())].pubkey_hash();
        let paid = total - fee;
        let outputs: Vec<(PubKeyHash, u64)> = if paid >= 2 {
            vec![(to, paid / 2), (key.pubkey_hash(), paid - paid / 2)]
        } else {
            vec![(to, paid)]
        };
        let tx = pay(key, &inputs, &outputs);
        for (v, o) in tx.outputs.iter().enumerate() {
            available.push((outpoint(&tx, v as u32), *o));
        }
        txs.push(tx);
    }
    mine_on(chain, miner, txs)
}

/// Shuffles `items` with a seeded ChaCha20 (Fisher–Yates).
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

pub fn arb_spends(blocks: std::ops::Range<usize>) -> impl Strategy<Value = Vec<SpendPlan>> {
    vec(
        vec(
            (
                any::<Index>(),
                option::of(any::<Index>()),
                any::<Index>(),
                any::<bool>(),
            ),
            0..3,
        ),
        blocks,
    )
}

/// Blocks of a shared prefix, then a branch A and a branch B (give B more plans than A to
/// make it win), each spending random outputs of its own history: the prefix pays
/// `keys[1]`'s miner, A `keys[2]`'s, B `keys[3]`'s. Returns every block (in mining order, or
/// shuffled with `shuffle_seed`) and the chain of branch B.
pub fn two_branches(
    keys: &[KeyPair],
    genesis: &Block,
    prefix: &[SpendPlan],
    a: &[SpendPlan],
    b: &[SpendPlan],
    shuffle_seed: Option<u64>,
) -> (Vec<Block>, Chain) {
    let mut chain = chain_with(ChainParams::default(), genesis.clone());
    let mut blocks = Vec::new();
    for plan in prefix {
        blocks.push(mine_plan(&mut chain, keys, keys[1].pubkey_hash(), plan));
    }
    let mut branch_a = chain.clone();
    let mut branch_b = chain;
    for plan in a {
        blocks.push(mine_plan(&mut branch_a, keys, keys[2].pubkey_hash(), plan));
    }
    for plan in b {
        blocks.push(mine_plan(&mut branch_b, keys, keys[3].pubkey_hash(), plan));
    }
    if let Some(seed) = shuffle_seed {
        shuffle(&mut blocks, seed);
    }
    (blocks, branch_b)
}
