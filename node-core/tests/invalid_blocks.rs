//! Every consensus rule, broken one at a time.
//!
//! Each case starts from the same small chain, builds one invalid block (re-mined after the
//! tampering, so it fails for the rule under test and not for its proof of work) and, when the
//! rule is about a transaction alone, the offending transaction too. The block must be refused
//! by `Chain::accept_block` and the transaction by `Mempool::accept`, each with exactly the
//! expected `ValidationError`, and the refusal must leave the tip, the UTXO set and the
//! changes to persist untouched.

mod support;

use std::collections::HashSet;
use std::mem::{discriminant, Discriminant};

use node_core::consensus::params::MAX_BLOCK_SIZE;
use node_core::primitives::block::BLOCK_VERSION;
use node_core::primitives::hash::sha256;
use node_core::primitives::keys::{self, SignatureError};
use node_core::primitives::tx::{Coinbase, TxIn, MAX_COINBASE_DATA, MAX_TX_SIZE};
use node_core::{
    Block, Hash256, KeyPair, Mempool, MempoolError, OutPoint, PubKeyHash, Transaction, TxOut, Txid,
    ValidationError,
};
use p256::ecdsa::Signature;
use support::chain::*;
use support::*;

/// The chain every case starts from: genesis and 12 blocks, every coinbase paying Alice 10.
#[derive(Clone)]
struct Fixture {
    chain: node_core::Chain,
    alice: KeyPair,
    bob: KeyPair,
    carol: PubKeyHash,
    miner: PubKeyHash,
    /// Alice's coins, 10 each: the coinbases of genesis and blocks 1..=12.
    coins: Vec<OutPoint>,
}

impl Fixture {
    fn new() -> Self {
        let alice = key(1);
        let mut chain = new_chain(alice.pubkey_hash());
        let mut coins = vec![coinbase_of(chain.block_at(0).expect("genesis"))];
        for block in mine_empty(&mut chain, alice.pubkey_hash(), 12) {
            coins.push(coinbase_of(&block));
        }
        chain.take_changes();
        Fixture {
            chain,
            alice,
            bob: key(2),
            carol: key(3).pubkey_hash(),
            miner: key(4).pubkey_hash(),
            coins,
        }
    }

    /// Height of the next block.
    fn next_height(&self) -> u64 {
        self.chain.height() + 1
    }

    /// An unmined template on the tip holding `txs`, coinbase paying the right fees.
    fn template(&self, txs: Vec<Transaction>) -> Block {
        template(&self.chain, self.miner, txs, b"")
    }

    /// A mined block on the tip holding `txs`.
    fn block(&self, txs: Vec<Transaction>) -> Block {
        block_on(&self.chain, self.miner, txs, b"")
    }

    /// Alice spends her coin `i` (worth 10) paying `outputs`.
    fn spend(&self, i: usize, outputs: &[(PubKeyHash, u64)]) -> Transaction {
        pay(&self.alice, &[self.coins[i]], outputs)
    }

    /// Alice pays Bob all of coin `i`.
    fn to_bob(&self, i: usize) -> Transaction {
        self.spend(i, &[(self.bob.pubkey_hash(), 10)])
    }
}

/// What a case submits and the one error it must get.
struct Invalid {
    /// Submitted to `Chain::accept_block`.
    block: Option<Block>,
    /// Submitted to `Mempool::accept` (rules about a transaction alone).
    tx: Option<Transaction>,
    expected: ValidationError,
}

impl Invalid {
    fn block(block: Block, expected: ValidationError) -> Self {
        Invalid {
            block: Some(block),
            tx: None,
            expected,
        }
    }

    /// A block holding `tx`, which the mempool must refuse for the same reason.
    fn tx(fx: &Fixture, tx: Transaction, expected: ValidationError) -> Self {
        Invalid {
            block: Some(fx.block(vec![tx.clone()])),
            tx: Some(tx),
            expected,
        }
    }
}

type Case = (&'static str, fn(&mut Fixture) -> Invalid);

const CASES: &[Case] = &[
    ("bad proof of work", bad_proof_of_work),
    ("wrong bits", wrong_bits),
    ("unknown version", unknown_version),
    ("bad merkle root", bad_merkle_root),
    ("no transactions", no_transactions),
    ("missing coinbase", missing_coinbase),
    ("two coinbases", two_coinbases),
    ("same transaction twice", duplicate_transaction),
    ("coinbase overpays", coinbase_overpays),
    ("coinbase wrong height", coinbase_wrong_height),
    ("coinbase data too long", coinbase_data_too_long),
    ("coinbase with inputs", coinbase_with_inputs),
    ("coinbase in the mempool", coinbase_in_mempool),
    ("timestamp at the median of the last 11", timestamp_too_old),
    ("timestamp in the future", timestamp_in_future),
    ("unknown input", unknown_input),
    ("child before parent in one block", child_before_parent),
    ("double spend in one block", double_spend_in_block),
    ("double spend across blocks", double_spend_across_blocks),
    ("duplicate input in one transaction", duplicate_input),
    ("no inputs", no_inputs),
    ("no outputs", no_outputs),
    ("zero-value output", zero_value_output),
    ("output values overflow", value_overflow),
    ("transaction too large", tx_too_large),
    ("block too large", oversized_block),
    ("public key not on the curve", bad_public_key),
    ("key does not own the output", key_mismatch),
    ("signature of another message", bad_signature),
    ("malformed signature", malformed_signature),
    ("high-S signature", high_s_signature),
    ("outputs exceed inputs", outputs_exceed_inputs),
    ("output tampered after signing", tampered_output),
    ("child of a block refused at connect time", invalid_ancestor),
    ("a refused block sent again", refused_block_resent),
];

fn bad_proof_of_work(fx: &mut Fixture) -> Invalid {
    let mut b = fx.block(vec![]);
    while node_core::consensus::pow::meets_target(&b.hash(), FAST_BITS) {
        b.header.nonce += 1;
    }
    Invalid::block(b, ValidationError::BadProofOfWork)
}

fn wrong_bits(fx: &mut Fixture) -> Invalid {
    let mut b = fx.template(vec![]);
    b.header.bits = FAST_BITS - 2;
    mine(&mut b);
    Invalid::block(
        b,
        ValidationError::WrongBits {
            expected: FAST_BITS,
            got: FAST_BITS - 2,
        },
    )
}

fn unknown_version(fx: &mut Fixture) -> Invalid {
    let mut b = fx.template(vec![]);
    b.header.version = BLOCK_VERSION + 1;
    mine(&mut b);
    Invalid::block(b, ValidationError::UnknownVersion(BLOCK_VERSION + 1))
}

fn bad_merkle_root(fx: &mut Fixture) -> Invalid {
    let mut b = fx.template(vec![fx.to_bob(0)]);
    b.header.merkle_root = Hash256([0xab; 32]);
    mine(&mut b);
    Invalid::block(b, ValidationError::BadMerkleRoot)
}

fn no_transactions(fx: &mut Fixture) -> Invalid {
    let mut b = fx.template(vec![]);
    b.transactions.clear();
    remine(&mut b);
    Invalid::block(b, ValidationError::NoTransactions)
}

fn missing_coinbase(fx: &mut Fixture) -> Invalid {
    let mut b = fx.template(vec![]);
    b.transactions = vec![fx.to_bob(0)];
    remine(&mut b);
    Invalid::block(b, ValidationError::MissingCoinbase)
}

fn two_coinbases(fx: &mut Fixture) -> Invalid {
    let mut b = fx.template(vec![]);
    let second = Transaction::new_coinbase(fx.next_height(), fx.miner, 1, b"second");
    b.transactions.push(second);
    remine(&mut b);
    Invalid::block(b, ValidationError::ExtraCoinbase { index: 1 })
}

fn duplicate_transaction(fx: &mut Fixture) -> Invalid {
    let tx = fx.to_bob(0);
    let mut b = fx.template(vec![tx.clone()]);
    b.transactions.push(tx.clone());
    remine(&mut b);
    Invalid::block(b, ValidationError::DuplicateTransaction(tx.txid()))
}

fn coinbase_overpays(fx: &mut Fixture) -> Invalid {
    // A fee of 2 allows a coinbase of 12; it takes 13.
    let tx = fx.spend(0, &[(fx.bob.pubkey_hash(), 8)]);
    let mut b = fx.template(vec![tx]);
    assert_eq!(b.transactions[0].outputs[0].value, SUBSIDY + 2);
    b.transactions[0].outputs[0].value = SUBSIDY + 3;
    remine(&mut b);
    Invalid::block(
        b,
        ValidationError::CoinbaseOverpays {
            value: SUBSIDY + 3,
            allowed: SUBSIDY + 2,
        },
    )
}

fn coinbase_wrong_height(fx: &mut Fixture) -> Invalid {
    let h = fx.next_height();
    let mut b = fx.template(vec![]);
    b.transactions[0] = Transaction::new_coinbase(h + 1, fx.miner, SUBSIDY, b"");
    remine(&mut b);
    Invalid::block(
        b,
        ValidationError::CoinbaseWrongHeight {
            expected: h,
            got: h + 1,
        },
    )
}

fn coinbase_data_too_long(fx: &mut Fixture) -> Invalid {
    let mut b = fx.template(vec![]);
    b.transactions[0].coinbase = Some(Coinbase {
        height: fx.next_height(),
        data: vec![b'x'; MAX_COINBASE_DATA + 1],
    });
    remine(&mut b);
    Invalid::block(
        b,
        ValidationError::CoinbaseDataTooLong(MAX_COINBASE_DATA + 1),
    )
}

fn coinbase_with_inputs(fx: &mut Fixture) -> Invalid {
    // A coinbase that also spends would create and move coins at once.
    let mut b = fx.template(vec![]);
    let signed = fx.to_bob(0);
    b.transactions[0].inputs = signed.inputs;
    remine(&mut b);
    Invalid::block(b, ValidationError::CoinbaseOutsideBlock)
}

fn coinbase_in_mempool(fx: &mut Fixture) -> Invalid {
    Invalid {
        block: None,
        tx: Some(Transaction::new_coinbase(
            fx.next_height(),
            fx.alice.pubkey_hash(),
            SUBSIDY,
            b"",
        )),
        expected: ValidationError::CoinbaseOutsideBlock,
    }
}

fn timestamp_too_old(fx: &mut Fixture) -> Invalid {
    let median = fx.chain.median_time_past(&fx.chain.tip());
    let mut b = fx.template(vec![]);
    b.header.timestamp = median;
    mine(&mut b);
    Invalid::block(
        b,
        ValidationError::TimestampTooOld {
            timestamp: median,
            median,
        },
    )
}

fn timestamp_in_future(fx: &mut Fixture) -> Invalid {
    let limit = NOW + fx.chain.params().max_future_ms;
    let mut b = fx.template(vec![]);
    b.header.timestamp = limit + 1;
    mine(&mut b);
    Invalid::block(
        b,
        ValidationError::TimestampInFuture {
            timestamp: limit + 1,
            limit,
        },
    )
}

fn unknown_input(fx: &mut Fixture) -> Invalid {
    let nowhere = OutPoint {
        txid: Txid::from_hash(sha256(b"no such transaction")),
        vout: 0,
    };
    let tx = pay(&fx.alice, &[nowhere], &[(fx.bob.pubkey_hash(), 1)]);
    Invalid::tx(fx, tx, ValidationError::MissingInput(nowhere))
}

fn child_before_parent(fx: &mut Fixture) -> Invalid {
    // Spending an output of the same block is fine, but only after it was created.
    let parent = fx.to_bob(0);
    let child = pay(&fx.bob, &[outpoint(&parent, 0)], &[(fx.carol, 10)]);
    let mut b = fx.template(vec![parent.clone(), child.clone()]);
    b.transactions.swap(1, 2);
    remine(&mut b);
    Invalid::block(b, ValidationError::MissingInput(outpoint(&parent, 0)))
}

fn double_spend_in_block(fx: &mut Fixture) -> Invalid {
    let first = fx.to_bob(0);
    let second = fx.spend(0, &[(fx.carol, 10)]);
    let b = fx.block(vec![first, second]);
    Invalid::block(b, ValidationError::DoubleSpendInBlock(fx.coins[0]))
}

fn double_spend_across_blocks(fx: &mut Fixture) -> Invalid {
    let first = fx.to_bob(0);
    mine_on(&mut fx.chain, fx.miner, vec![first]);
    let second = fx.spend(0, &[(fx.carol, 10)]);
    Invalid::tx(fx, second, ValidationError::MissingInput(fx.coins[0]))
}

fn duplicate_input(fx: &mut Fixture) -> Invalid {
    let c = fx.coins[0];
    let tx = pay(&fx.alice, &[c, c], &[(fx.bob.pubkey_hash(), 20)]);
    Invalid::tx(fx, tx, ValidationError::DuplicateInput(c))
}

fn no_inputs(fx: &mut Fixture) -> Invalid {
    let tx = Transaction {
        coinbase: None,
        inputs: vec![],
        outputs: vec![TxOut {
            value: 1,
            pubkey_hash: fx.bob.pubkey_hash(),
        }],
    };
    Invalid::tx(fx, tx, ValidationError::NoInputs)
}

fn no_outputs(fx: &mut Fixture) -> Invalid {
    let tx = fx.spend(0, &[]);
    Invalid::tx(fx, tx, ValidationError::NoOutputs)
}

fn zero_value_output(fx: &mut Fixture) -> Invalid {
    let tx = fx.spend(0, &[(fx.bob.pubkey_hash(), 10), (fx.carol, 0)]);
    Invalid::tx(fx, tx, ValidationError::ZeroValueOutput { vout: 1 })
}

fn value_overflow(fx: &mut Fixture) -> Invalid {
    let tx = fx.spend(0, &[(fx.bob.pubkey_hash(), u64::MAX), (fx.carol, 1)]);
    Invalid::tx(fx, tx, ValidationError::ValueOverflow)
}

fn tx_too_large(fx: &mut Fixture) -> Invalid {
    let outputs = vec![(fx.bob.pubkey_hash(), 1); MAX_TX_SIZE / 20];
    let tx = fx.spend(0, &outputs);
    let size = tx.encode().len();
    assert!(size > MAX_TX_SIZE);
    Invalid::tx(fx, tx, ValidationError::TxTooLarge(size))
}

fn oversized_block(fx: &mut Fixture) -> Invalid {
    // Twelve transactions just under the transaction limit: over a mebibyte together.
    let txs: Vec<Transaction> = (0..12)
        .map(|i| {
            let to = key(100 + i as u64).pubkey_hash();
            fx.spend(i, &vec![(to, 1); MAX_TX_SIZE / 22])
        })
        .collect();
    assert!(txs.iter().all(|t| t.encode().len() <= MAX_TX_SIZE));
    let b = fx.block(txs);
    let size = b.encoded_size();
    assert!(size > MAX_BLOCK_SIZE);
    Invalid::block(
        b,
        ValidationError::BlockTooLarge {
            size,
            limit: MAX_BLOCK_SIZE,
        },
    )
}

fn bad_public_key(fx: &mut Fixture) -> Invalid {
    // 65 bytes of the right form that are not a point on P-256, owning a real output.
    let mut not_a_point = [1u8; 65];
    not_a_point[0] = 0x04;
    assert_eq!(
        keys::verify(&not_a_point, b"m", &[1; 64]),
        Err(SignatureError::BadPublicKey)
    );
    let owner = PubKeyHash::of_public_key(&not_a_point);
    let funding = fx.spend(0, &[(owner, 5), (fx.alice.pubkey_hash(), 5)]);
    mine_on(&mut fx.chain, fx.miner, vec![funding.clone()]);
    let mut tx = fx.bob_spends(outpoint(&funding, 0), 5);
    tx.inputs[0].public_key = not_a_point.to_vec();
    Invalid::tx(fx, tx, ValidationError::BadPublicKey { input: 0 })
}

fn key_mismatch(fx: &mut Fixture) -> Invalid {
    // Bob signs correctly, but the coin is Alice's.
    let tx = pay(&fx.bob, &[fx.coins[0]], &[(fx.carol, 10)]);
    Invalid::tx(fx, tx, ValidationError::KeyMismatch { input: 0 })
}

fn bad_signature(fx: &mut Fixture) -> Invalid {
    let mut tx = fx.to_bob(0);
    tx.inputs[0].signature = fx.alice.sign(b"some other message").to_vec();
    Invalid::tx(
        fx,
        tx,
        ValidationError::BadSignature {
            input: 0,
            reason: SignatureError::Invalid,
        },
    )
}

fn malformed_signature(fx: &mut Fixture) -> Invalid {
    let mut tx = fx.to_bob(0);
    tx.inputs[0].signature = vec![0; 64];
    Invalid::tx(
        fx,
        tx,
        ValidationError::BadSignature {
            input: 0,
            reason: SignatureError::Malformed,
        },
    )
}

fn high_s_signature(fx: &mut Fixture) -> Invalid {
    // The second input carries the high-S twin of its (valid) signature.
    let mut tx = pay(
        &fx.alice,
        &[fx.coins[0], fx.coins[1]],
        &[(fx.bob.pubkey_hash(), 20)],
    );
    let sig = Signature::from_slice(&tx.inputs[1].signature).expect("our signature parses");
    let (r, s) = sig.split_scalars();
    let twin = Signature::from_scalars(r, -*s).expect("negated s is a valid scalar");
    tx.inputs[1].signature = twin.to_bytes().to_vec();
    Invalid::tx(
        fx,
        tx,
        ValidationError::BadSignature {
            input: 1,
            reason: SignatureError::HighS,
        },
    )
}

fn outputs_exceed_inputs(fx: &mut Fixture) -> Invalid {
    let tx = fx.spend(0, &[(fx.bob.pubkey_hash(), 11)]);
    Invalid::tx(
        fx,
        tx,
        ValidationError::OutputsExceedInputs {
            inputs: 10,
            outputs: 11,
        },
    )
}

fn tampered_output(fx: &mut Fixture) -> Invalid {
    // A relay redirects Bob's output to Carol; the signature no longer covers the bytes.
    let mut tx = fx.spend(0, &[(fx.bob.pubkey_hash(), 4), (fx.alice.pubkey_hash(), 6)]);
    tx.outputs[0].pubkey_hash = fx.carol;
    Invalid::tx(
        fx,
        tx,
        ValidationError::BadSignature {
            input: 0,
            reason: SignatureError::Invalid,
        },
    )
}

/// Mines a block with a badly signed transaction and checks the chain refuses it when it
/// tries to connect it (its header and body are fine).
fn refuse_at_connect(fx: &mut Fixture) -> Block {
    let mut tx = fx.to_bob(0);
    tx.inputs[0].signature = fx.alice.sign(b"not this transaction").to_vec();
    let bad = fx.block(vec![tx]);
    assert!(matches!(
        accept(&mut fx.chain, bad.clone()),
        Err(ValidationError::BadSignature { input: 0, .. })
    ));
    assert!(fx.chain.is_invalid(&bad.hash()));
    bad
}

fn invalid_ancestor(fx: &mut Fixture) -> Invalid {
    let bad = refuse_at_connect(fx);
    let height = bad.coinbase_height().expect("has a coinbase") + 1;
    let child = child_of(&bad, height, fx.miner, Vec::new(), b"");
    Invalid::block(child, ValidationError::InvalidAncestor(bad.hash()))
}

fn refused_block_resent(fx: &mut Fixture) -> Invalid {
    let bad = refuse_at_connect(fx);
    let hash = bad.hash();
    Invalid::block(bad, ValidationError::InvalidAncestor(hash))
}

impl Fixture {
    /// Bob signs a spend of `prev` paying Carol `value` (the key may be swapped afterwards).
    fn bob_spends(&self, prev: OutPoint, value: u64) -> Transaction {
        let mut tx = Transaction {
            coinbase: None,
            inputs: vec![TxIn {
                prev,
                signature: Vec::new(),
                public_key: self.bob.public_key().to_vec(),
            }],
            outputs: vec![TxOut {
                value,
                pubkey_hash: self.carol,
            }],
        };
        tx.inputs[0].signature = self.bob.sign(&tx.signature_message()).to_vec();
        tx
    }
}

/// Runs one case; returns the error's variant.
fn run(
    name: &str,
    build: fn(&mut Fixture) -> Invalid,
    base: &Fixture,
) -> Discriminant<ValidationError> {
    let mut fx = base.clone();
    let Invalid {
        block,
        tx,
        expected,
    } = build(&mut fx);
    fx.chain.take_changes();
    let tip = fx.chain.tip();
    let height = fx.chain.height();
    let digest = fx.chain.utxo().digest();

    if let Some(block) = block {
        let hash = block.hash();
        let got = accept(&mut fx.chain, block);
        assert_eq!(got, Err(expected.clone()), "case {name:?}: block");
        assert_eq!(fx.chain.tip(), tip, "case {name:?}: tip moved");
        assert_eq!(fx.chain.height(), height, "case {name:?}: height moved");
        assert_eq!(
            fx.chain.utxo().digest(),
            digest,
            "case {name:?}: UTXO set changed"
        );
        assert!(!fx.chain.is_active(&hash), "case {name:?}: block is active");
        let changes = fx.chain.take_changes();
        assert!(
            changes.blocks.is_empty()
                && changes.undo.is_empty()
                && changes.utxo.is_empty()
                && changes.tip.is_none()
                && !changes.utxo_reset,
            "case {name:?}: a refused block left changes to persist: {changes:?}"
        );
    }
    if let Some(tx) = tx {
        let mut pool = Mempool::new(100);
        assert_eq!(
            pool.accept(tx, fx.chain.utxo()),
            Err(MempoolError::Invalid(expected.clone())),
            "case {name:?}: mempool"
        );
        assert!(pool.is_empty(), "case {name:?}: mempool kept it");
    }
    discriminant(&expected)
}

#[test]
fn every_invalid_block_is_refused_for_its_own_reason_and_changes_nothing() {
    let base = Fixture::new();
    let mut variants: HashSet<Discriminant<ValidationError>> = HashSet::new();
    for (name, build) in CASES {
        variants.insert(run(name, *build, &base));
    }
    assert_eq!(CASES.len(), 35);
    // Every variant `accept_block` can return; `UnknownParent` is an orphan, not a refusal.
    assert!(
        variants.len() >= 28,
        "only {} distinct ValidationError variants covered",
        variants.len()
    );
}

#[test]
fn the_untampered_blocks_of_the_fixture_are_valid() {
    // The baseline each case tampers with is itself accepted, so every refusal above is
    // caused by the tampering.
    let mut fx = Fixture::new();
    let txs = vec![
        fx.spend(0, &[(fx.bob.pubkey_hash(), 8)]),
        pay(
            &fx.alice,
            &[fx.coins[1], fx.coins[2]],
            &[(fx.bob.pubkey_hash(), 20)],
        ),
    ];
    let parent = txs[0].clone();
    let child = pay(&fx.bob, &[outpoint(&parent, 0)], &[(fx.carol, 8)]);
    let mut all = txs;
    all.push(child);
    let b = fx.block(all);
    assert_eq!(b.transactions[0].outputs[0].value, SUBSIDY + 2);
    mine_on(&mut fx.chain, fx.miner, b.transactions[1..].to_vec());
    assert_eq!(fx.chain.utxo().balance(&fx.carol), 8);
    assert_eq!(fx.chain.utxo().balance(&fx.bob.pubkey_hash()), 20);
}
