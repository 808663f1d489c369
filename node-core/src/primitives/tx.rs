//! Transactions in the seed's UTXO model.
//!
//! An input names an earlier output (txid, index) and carries the spender's public key and a
//! signature; an output carries a value and the public-key hash it pays. The signature commits
//! to the whole transaction with every input's signature left out (the seed's "trimmed copy"),
//! and the txid is SHA-256 of the whole encoding, signatures included.
//! A coinbase has no inputs; it carries the block height instead (as Bitcoin's BIP34 does), so
//! two coinbases paying the same address in different blocks never share a txid.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::primitives::codec::{self, DecodeError};
use crate::primitives::hash::{sha256, PubKeyHash, Txid};
use crate::primitives::keys::KeyPair;

/// Largest encoded transaction accepted, in bytes.
pub const MAX_TX_SIZE: usize = 100_000;
/// Most bytes of free data a coinbase may carry.
pub const MAX_COINBASE_DATA: usize = 100;

/// A reference to an output of an earlier transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutPoint {
    /// The transaction holding the output.
    pub txid: Txid,
    /// The output's position in it.
    pub vout: u32,
}

/// A spend of an earlier output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxIn {
    /// The output spent.
    pub prev: OutPoint,
    /// Low-S ECDSA `r ‖ s` over [`Transaction::signature_message`].
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "codec::bytes"))]
    pub signature: Vec<u8>,
    /// Uncompressed SEC1 public key whose hash the spent output is locked to.
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "codec::bytes"))]
    pub public_key: Vec<u8>,
}

/// Coins paid to a public-key hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOut {
    /// Whole coins.
    pub value: u64,
    /// Who may spend it.
    pub pubkey_hash: PubKeyHash,
}

/// What a coinbase carries in place of inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coinbase {
    /// Height of the block the coinbase is in.
    pub height: u64,
    /// Free data, like the seed's coinbase text (at most [`MAX_COINBASE_DATA`] bytes).
    pub data: Vec<u8>,
}

/// A transaction: a coinbase (no inputs) or a spend of earlier outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Present only in a block's first transaction.
    pub coinbase: Option<Coinbase>,
    /// Outputs spent (empty in a coinbase).
    pub inputs: Vec<TxIn>,
    /// Outputs created.
    pub outputs: Vec<TxOut>,
}

impl Transaction {
    /// A coinbase for the block at `height` paying `value` to `to`.
    pub fn new_coinbase(height: u64, to: PubKeyHash, value: u64, data: &[u8]) -> Self {
        let data = data[..data.len().min(MAX_COINBASE_DATA)].to_vec();
        Transaction {
            coinbase: Some(Coinbase { height, data }),
            inputs: Vec::new(),
            outputs: alloc::vec![TxOut {
                value,
                pubkey_hash: to
            }],
        }
    }

    /// Whether this is a coinbase.
    pub fn is_coinbase(&self) -> bool {
        self.coinbase.is_some()
    }

    /// SHA-256 of the whole encoding.
    pub fn txid(&self) -> Txid {
        Txid::from_hash(sha256(&self.encode()))
    }

    /// The encoding, as sent on the wire and hashed for the txid.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a transaction, refusing trailing bytes and anything over [`MAX_TX_SIZE`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode(bytes, MAX_TX_SIZE)
    }

    /// What every input signs: the transaction with all signatures emptied, hashed.
    pub fn signature_message(&self) -> [u8; 32] {
        let mut trimmed = self.clone();
        for input in &mut trimmed.inputs {
            input.signature.clear();
        }
        sha256(&codec::encode(&trimmed)).0
    }

    /// Sum of output values, or `None` on overflow.
    pub fn output_total(&self) -> Option<u64> {
        self.outputs
            .iter()
            .try_fold(0u64, |acc, o| acc.checked_add(o.value))
    }

    /// Builds and signs a spend of `inputs` (all owned by `key`) paying `outputs`.
    pub fn new_signed(key: &KeyPair, inputs: &[OutPoint], outputs: Vec<TxOut>) -> Self {
        let mut tx = Transaction {
            coinbase: None,
            inputs: inputs
                .iter()
                .map(|prev| TxIn {
                    prev: *prev,
                    signature: Vec::new(),
                    public_key: key.public_key().to_vec(),
                })
                .collect(),
            outputs,
        };
        let message = tx.signature_message();
        let signature = key.sign(&message).to_vec();
        for input in &mut tx.inputs {
            input.signature = signature.clone();
        }
        tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::sha256;
    use rand_chacha::rand_core::SeedableRng;

    fn key() -> KeyPair {
        KeyPair::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(9))
    }

    #[test]
    fn coinbases_at_different_heights_have_different_txids() {
        let to = PubKeyHash([1; 20]);
        let a = Transaction::new_coinbase(1, to, 10, b"");
        let b = Transaction::new_coinbase(2, to, 10, b"");
        assert_ne!(a.txid(), b.txid());
    }

    #[test]
    fn signature_message_ignores_signatures_but_covers_everything_else() {
        let k = key();
        let prev = OutPoint {
            txid: Txid::from_hash(sha256(b"p")),
            vout: 0,
        };
        let tx = Transaction::new_signed(
            &k,
            &[prev],
            alloc::vec![TxOut {
                value: 5,
                pubkey_hash: PubKeyHash([2; 20])
            }],
        );
        let mut other_sig = tx.clone();
        other_sig.inputs[0].signature = alloc::vec![1; 64];
        assert_eq!(tx.signature_message(), other_sig.signature_message());
        assert_ne!(tx.txid(), other_sig.txid());
        let mut other_out = tx.clone();
        other_out.outputs[0].value = 6;
        assert_ne!(tx.signature_message(), other_out.signature_message());
    }

    #[test]
    fn encoding_round_trips_and_refuses_trailing_bytes() {
        let tx = Transaction::new_coinbase(3, PubKeyHash([4; 20]), 10, b"hello");
        let bytes = tx.encode();
        assert_eq!(Transaction::decode(&bytes), Ok(tx));
        let mut longer = bytes.clone();
        longer.push(1);
        assert!(Transaction::decode(&longer).is_err());
    }
}
