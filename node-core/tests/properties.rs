//! Properties over random inputs: encodings round-trip, decoders never panic on any bytes,
//! disconnecting a block is the exact inverse of connecting it, and a reorganisation ends
//! where a replay of the winning branch from genesis ends.

mod support;

use std::collections::BTreeMap;

use node_core::consensus::params::MAX_BLOCK_SIZE;
use node_core::consensus::validation;
use node_core::primitives::address::Address;
use node_core::primitives::block::BlockHeader;
use node_core::primitives::codec::{self, DecodeError};
use node_core::primitives::merkle::MerkleProof;
use node_core::primitives::tx::{Coinbase, MAX_TX_SIZE};
use node_core::util::keyed_map::{KeyedMap, MapKey};
use node_core::utxo::{BlockUndo, UtxoEntry};
use node_core::{
    Block, BlockHash, ChainParams, Hash256, OutPoint, PubKeyHash, Transaction, TxIn, TxOut, Txid,
    UtxoSet,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use support::chain::*;
use support::spends::*;
use support::*;

// ----- strategies -------------------------------------------------------------------------

fn arb_hash() -> impl Strategy<Value = Hash256> {
    any::<[u8; 32]>().prop_map(Hash256)
}

fn arb_outpoint() -> impl Strategy<Value = OutPoint> {
    (arb_hash(), any::<u32>()).prop_map(|(h, vout)| OutPoint {
        txid: Txid::from_hash(h),
        vout,
    })
}

fn arb_txin() -> impl Strategy<Value = TxIn> {
    (
        arb_outpoint(),
        vec(any::<u8>(), 0..72),
        vec(any::<u8>(), 0..70),
    )
        .prop_map(|(prev, signature, public_key)| TxIn {
            prev,
            signature,
            public_key,
        })
}

fn arb_txout() -> impl Strategy<Value = TxOut> {
    (any::<u64>(), any::<[u8; 20]>()).prop_map(|(value, h)| TxOut {
        value,
        pubkey_hash: PubKeyHash(h),
    })
}

fn arb_coinbase() -> impl Strategy<Value = Coinbase> {
    (any::<u64>(), vec(any::<u8>(), 0..120)).prop_map(|(height, data)| Coinbase { height, data })
}

fn arb_tx() -> impl Strategy<Value = Transaction> {
    (
        option::of(arb_coinbase()),
        vec(arb_txin(), 0..4),
        vec(arb_txout(), 0..4),
    )
        .prop_map(|(coinbase, inputs, outputs)| Transaction {
            coinbase,
            inputs,
            outputs,
        })
}

fn arb_header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        arb_hash(),
        arb_hash(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(
            |(version, prev, merkle_root, timestamp, bits, nonce)| BlockHeader {
                version,
                prev: BlockHash::from_hash(prev),
                merkle_root,
                timestamp,
                bits,
                nonce,
            },
        )
}

fn arb_block() -> impl Strategy<Value = Block> {
    (arb_header(), vec(arb_tx(), 0..5)).prop_map(|(header, transactions)| Block {
        header,
        transactions,
    })
}

/// Decodes `bytes` as every wire and storage type; only checks that nothing panics and
/// that whatever decodes re-encodes to something that decodes to the same value.
fn decode_everything(bytes: &[u8]) {
    fn again<T>(value: T, limit: usize)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let re = codec::encode(&value);
        assert_eq!(codec::decode::<T>(&re, limit.max(re.len())), Ok(value));
    }
    if let Ok(b) = Block::decode(bytes) {
        assert_eq!(b.encoded_size(), b.encode().len());
        let _ = b.hash();
        let _ = b.compute_merkle_root();
        again(b, MAX_BLOCK_SIZE);
    }
    if let Ok(t) = Transaction::decode(bytes) {
        let _ = t.txid();
        let _ = t.signature_message();
        let _ = validation::check_transaction(&t);
        again(t, MAX_TX_SIZE);
    }
    let limit = bytes.len();
    if let Ok(v) = codec::decode::<BlockHeader>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<OutPoint>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<TxIn>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<TxOut>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<Coinbase>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<Vec<Transaction>>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<BlockUndo>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<UtxoEntry>(bytes, limit) {
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<MerkleProof>(bytes, limit) {
        let _ = v.verify(&Hash256::ZERO, &Hash256::ZERO);
        again(v, limit);
    }
    if let Ok(v) = codec::decode::<Address>(bytes, limit) {
        let _ = v.to_string();
        again(v, limit);
    }
}

// ----- encodings --------------------------------------------------------------------------

proptest! {
    /// Hashes order as their bytes do (the chain's tie-break and every map rely on it).
    #[test]
    fn hashes_order_as_their_bytes(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), i in 0usize..32) {
        let (x, y) = (node_core::Hash256(a), node_core::Hash256(b));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        // Differing only at byte i, the shared prefix must not hide it.
        let mut c = a;
        c[i] = c[i].wrapping_add(1);
        prop_assert_eq!(x.cmp(&node_core::Hash256(c)), a.cmp(&c));
        prop_assert_eq!(x.partial_cmp(&y), a.partial_cmp(&b));
        // Key hashes (20 bytes: two words and a half) too.
        let (mut p, mut q) = ([0u8; 20], [0u8; 20]);
        p.copy_from_slice(&a[..20]);
        q.copy_from_slice(&b[..20]);
        prop_assert_eq!(PubKeyHash(p).cmp(&PubKeyHash(q)), p.cmp(&q));
        let mut r = p;
        r[i % 20] = r[i % 20].wrapping_add(1);
        prop_assert_eq!(PubKeyHash(p).cmp(&PubKeyHash(r)), p.cmp(&r));
    }

    /// Hashes show as 64 lowercase hex digits, byte by byte, and parse back.
    #[test]
    fn hashes_show_as_hex_and_parse_back(a in any::<[u8; 32]>(), k in any::<[u8; 20]>()) {
        let h = node_core::Hash256(a);
        let shown = h.to_string();
        let expected: String = a.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(&shown, &expected);
        prop_assert_eq!(node_core::Hash256::from_hex(&shown), Some(h));
        let key_hash: String = k.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(format!("{:?}", PubKeyHash(k)), key_hash);
    }
}

proptest! {

    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn transactions_round_trip(tx in arb_tx()) {
        let bytes = tx.encode();
        prop_assert_eq!(Transaction::decode(&bytes), Ok(tx.clone()));
        prop_assert_eq!(Transaction::decode(&bytes).map(|t| t.txid()), Ok(tx.txid()));
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert_eq!(Transaction::decode(&longer), Err(DecodeError::TrailingBytes(1)));
        // The signed message ignores signatures and nothing else.
        let mut resigned = tx.clone();
        for input in &mut resigned.inputs {
            input.signature = vec![7; 64];
        }
        prop_assert_eq!(resigned.signature_message(), tx.signature_message());
    }

    #[test]
    fn blocks_round_trip(block in arb_block()) {
        let bytes = block.encode();
        prop_assert_eq!(block.encoded_size(), bytes.len());
        let back = Block::decode(&bytes);
        prop_assert_eq!(back.as_ref().map(Block::hash), Ok(block.hash()));
        prop_assert_eq!(back, Ok(block.clone()));
        prop_assert_eq!(
            codec::decode::<BlockHeader>(&codec::encode(&block.header), 200),
            Ok(block.header)
        );
        if !bytes.is_empty() {
            prop_assert!(Block::decode(&bytes[..bytes.len() - 1]).is_err());
        }
    }

    #[test]
    fn random_bytes_never_panic_a_decoder(bytes in vec(any::<u8>(), 0..600)) {
        decode_everything(&bytes);
    }

    #[test]
    fn damaged_encodings_never_panic_a_decoder(
        block in arb_block(),
        flips in vec((any::<Index>(), any::<u8>()), 1..6),
        cut in any::<Index>(),
    ) {
        let mut bytes = block.encode();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= byte | 1;
        }
        decode_everything(&bytes);
        decode_everything(&bytes[..cut.index(bytes.len() + 1)]);
        let tx_bytes = block.transactions.first().map(Transaction::encode).unwrap_or_default();
        decode_everything(&tx_bytes);
    }

    #[test]
    fn validation_never_panics_on_arbitrary_blocks(block in arb_block(), now in any::<u64>()) {
        // Bits 0: every hash meets the target, so the checks behind proof of work run too.
        let params = ChainParams::default();
        let _ = validation::check_block_txids(&block, 0, &params, now);
        let _ = validation::check_block_txids(&block, block.header.bits, &params, now);
        for tx in &block.transactions {
            let _ = validation::check_transaction(tx);
            let _ = validation::check_inputs(tx, |op| {
                Some(TxOut { value: u64::from(op.vout), pubkey_hash: PubKeyHash([0; 20]) })
            }, true);
        }
    }
}

// ----- keyed maps ------------------------------------------------------------------------

/// One operation on a map, on a key drawn from a small pool so keys repeat.
#[derive(Debug, Clone)]
enum MapOp {
    Insert(usize, u32),
    Remove(usize),
    /// Inserts every key of the pool.
    Fill(u32),
    /// Removes the next 240 keys of the pool from here: after a fill, enough to rebuild the
    /// slab with entries left in it.
    RemoveRun(usize),
    Retain(u32),
}

fn arb_map_ops() -> impl Strategy<Value = Vec<MapOp>> {
    vec(
        prop_oneof![
            4 => (0..300usize, any::<u32>()).prop_map(|(k, v)| MapOp::Insert(k, v)),
            3 => (0..300usize).prop_map(MapOp::Remove),
            1 => any::<u32>().prop_map(MapOp::Fill),
            1 => (0..300usize).prop_map(MapOp::RemoveRun),
            1 => (2..5u32).prop_map(MapOp::Retain),
        ],
        0..300,
    )
}

/// Runs `ops` on a `KeyedMap` and a `BTreeMap` with the same keys and checks that every
/// result, the length and the iteration order agree after each step.
fn same_as_btree_map<K: MapKey + std::fmt::Debug>(
    keys: &[K],
    ops: &[MapOp],
) -> Result<(), TestCaseError> {
    let mut ours: KeyedMap<K, u32> = KeyedMap::new();
    let mut model: BTreeMap<K, u32> = BTreeMap::new();
    for op in ops {
        match *op {
            MapOp::Insert(k, v) => {
                let k = keys[k % keys.len()];
                prop_assert_eq!(ours.insert(k, v), model.insert(k, v));
            }
            MapOp::Remove(k) => {
                let k = keys[k % keys.len()];
                prop_assert_eq!(ours.remove(&k), model.remove(&k));
            }
            MapOp::Fill(v) => {
                for &k in keys {
                    prop_assert_eq!(ours.insert(k, v), model.insert(k, v));
                }
            }
            MapOp::RemoveRun(from) => {
                for i in from..from + 240 {
                    let k = keys[i % keys.len()];
                    prop_assert_eq!(ours.remove(&k), model.remove(&k));
                }
            }
            MapOp::Retain(m) => {
                ours.retain(|_, v| *v % m != 0);
                model.retain(|_, v| *v % m != 0);
            }
        }
        prop_assert_eq!(ours.len(), model.len());
    }
    prop_assert!(ours.iter().eq(model.iter()));
    prop_assert!(ours.iter().rev().eq(model.iter().rev()));
    for k in keys {
        prop_assert_eq!(ours.get(k), model.get(k));
    }
    prop_assert!(ours.into_iter().eq(model));
    Ok(())
}

proptest! {
    /// The slab-backed maps behave exactly like `BTreeMap`, order included, under any mix
    /// of inserts, replacements, removals (which rebuild the slab) and retains.
    #[test]
    fn keyed_maps_behave_like_btree_maps(
        hashes in vec(arb_hash(), 300),
        outpoints in vec(arb_outpoint(), 300),
        ops in arb_map_ops(),
    ) {
        let block_hashes: Vec<BlockHash> = hashes.iter().map(|h| BlockHash::from_hash(*h)).collect();
        same_as_btree_map(&block_hashes, &ops)?;
        same_as_btree_map(&outpoints, &ops)?;
    }
}

// ----- the UTXO set -----------------------------------------------------------------------

/// One block of random spends: for each transaction, indexes of the outputs it spends
/// (among those unspent at that point, including this block's) and its output values.
type BlockPlan = Vec<(Vec<Index>, Vec<(u64, u8)>)>;

fn arb_plans() -> impl Strategy<Value = Vec<BlockPlan>> {
    vec(
        vec(
            (
                vec(any::<Index>(), 1..4),
                vec((1u64..50, any::<u8>()), 1..4),
            ),
            0..5,
        ),
        1..10,
    )
}

/// Applies `changes` to a stored map, as a database would.
fn write(store: &mut BTreeMap<OutPoint, UtxoEntry>, changes: Vec<(OutPoint, Option<UtxoEntry>)>) {
    for (op, entry) in changes {
        match entry {
            Some(e) => store.insert(op, e),
            None => store.remove(&op),
        };
    }
}

fn entries(set: &UtxoSet) -> BTreeMap<OutPoint, UtxoEntry> {
    set.entries().into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Blocks spending random earlier outputs, some created earlier in the same block; undoing
    /// them in reverse restores every earlier set, in memory and in a store fed the changes.
    #[test]
    fn undo_is_the_exact_inverse_of_apply(plans in arb_plans()) {
        let owners: Vec<PubKeyHash> = (0..3u8).map(|i| PubKeyHash([i; 20])).collect();
        let mut set = UtxoSet::new();
        let mut store = BTreeMap::new();
        let mut history = Vec::new();
        let mut prev = BlockHash::ZERO;
        for (height, plan) in plans.iter().enumerate() {
            let height = height as u64;
            let mut available: Vec<OutPoint> = set.entries().into_iter().map(|(op, _)| op).collect();
            let mut txs = vec![Transaction::new_coinbase(height, owners[0], 10, b"")];
            for (picks, outs) in plan {
                let mut inputs = Vec::new();
                for pick in picks {
                    if available.is_empty() {
                        break;
                    }
                    let prev = available.swap_remove(pick.index(available.len()));
                    inputs.push(TxIn { prev, signature: vec![], public_key: vec![] });
                }
                if inputs.is_empty() {
                    continue;
                }
                let tx = Transaction {
                    coinbase: None,
                    inputs,
                    outputs: outs
                        .iter()
                        .map(|(value, o)| TxOut {
                            value: *value,
                            pubkey_hash: owners[*o as usize % owners.len()],
                        })
                        .collect(),
                };
                available.extend((0..tx.outputs.len() as u32).map(|v| outpoint(&tx, v)));
                txs.push(tx);
            }
            let block = Block::new_template(prev, T0 + height, 1, txs);
            prev = block.hash();
            let before = set.clone();
            let undo = set.apply(&block, height);
            write(&mut store, set.changes_for_apply(&undo));
            prop_assert_eq!(&store, &entries(&set));
            // Every spent output was in the set before; every created one that survives is new.
            for (op, e) in &undo.spent {
                // Spent from the set as it was, or created and spent inside this block.
                prop_assert!(before.get(op) == Some(*e) || undo.created.contains(op));
            }
            history.push((before, undo));
        }
        while let Some((before, undo)) = history.pop() {
            set.undo(&undo);
            write(&mut store, UtxoSet::changes_for_undo(&undo));
            prop_assert_eq!(&set, &before);
            prop_assert_eq!(set.digest(), before.digest());
            prop_assert_eq!(&store, &entries(&before));
            for owner in &owners {
                prop_assert_eq!(set.balance(owner), before.balance(owner));
            }
        }
        prop_assert!(set.is_empty());
    }
}

// ----- reorganisations --------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A shared prefix, then branch A and a longer branch B, each spending random outputs of
    /// its own history. Delivered to a fresh node (A first then B, or in any order at all),
    /// the node ends on B with B's UTXO set — the set a replay of B from genesis gives — and
    /// a store fed its changes restores to the same state.
    #[test]
    fn a_random_reorg_ends_where_a_replay_of_the_winner_ends(
        prefix in arb_spends(0..3),
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

        let mut node = chain_with(ChainParams::default(), genesis);
        let mut store = Store::default();
        for block in blocks {
            let outcome = accept(&mut node, block);
            prop_assert!(outcome.is_ok(), "{:?}", outcome);
            store.sync(&mut node);
        }
        prop_assert_eq!(node.orphan_count(), 0);
        prop_assert_eq!(node.tip(), branch_b.tip());
        prop_assert_eq!(node.utxo(), branch_b.utxo());
        let replayed = replay_active(&node);
        prop_assert_eq!(replayed.utxo().digest(), node.utxo().digest());
        let restored = store.restore(ChainParams::default()).expect("store is consistent");
        prop_assert_eq!(restored.tip(), node.tip());
        prop_assert_eq!(restored.utxo(), node.utxo());
    }
}
