//! Blocks: a fixed-layout header and the transactions it commits to.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::primitives::codec::{self, DecodeError};
use crate::primitives::hash::{sha256, BlockHash, Hash256, Txid};
use crate::primitives::merkle::merkle_root;
use crate::primitives::tx::Transaction;

/// Bytes in an encoded header: version 4, previous hash 32, Merkle root 32, timestamp 8,
/// bits 4, nonce 8 — all integers little-endian.
pub const HEADER_SIZE: usize = 88;

/// Hard ceiling on a block's encoded size: decoding refuses more before it allocates, and
/// consensus ([`crate::consensus::params`]) never accepts a larger block whatever a
/// network's parameters say.
pub const MAX_BLOCK_SIZE: usize = 1 << 20;

/// The current block version.
pub const BLOCK_VERSION: u32 = 1;

/// A block header. Its hash is SHA-256 of [`BlockHeader::to_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Format version.
    pub version: u32,
    /// Hash of the parent block (zero for genesis).
    pub prev: BlockHash,
    /// Merkle root of the transactions' txids.
    pub merkle_root: Hash256,
    /// Milliseconds since the Unix epoch, as the miner saw it.
    pub timestamp: u64,
    /// Proof-of-work difficulty: the hash must start with this many zero bits.
    pub bits: u32,
    /// What the miner varies.
    pub nonce: u64,
}

impl BlockHeader {
    /// The fixed byte layout that is hashed.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..36].copy_from_slice(self.prev.as_bytes());
        b[36..68].copy_from_slice(&self.merkle_root.0);
        b[68..76].copy_from_slice(&self.timestamp.to_le_bytes());
        b[76..80].copy_from_slice(&self.bits.to_le_bytes());
        b[80..88].copy_from_slice(&self.nonce.to_le_bytes());
        b
    }

    /// The block hash.
    pub fn hash(&self) -> BlockHash {
        BlockHash::from_hash(sha256(&self.to_bytes()))
    }
}

/// A header and its transactions, the coinbase first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header committing to `transactions`.
    pub header: BlockHeader,
    /// The transactions, coinbase first.
    pub transactions: Vec<Transaction>,
}

impl Block {
    /// Assembles an unmined block on `prev` (nonce 0); the caller mines it.
    pub fn new_template(
        prev: BlockHash,
        timestamp: u64,
        bits: u32,
        transactions: Vec<Transaction>,
    ) -> Self {
        let mut block = Block {
            header: BlockHeader {
                version: BLOCK_VERSION,
                prev,
                merkle_root: Hash256::ZERO,
                timestamp,
                bits,
                nonce: 0,
            },
            transactions,
        };
        block.header.merkle_root = block.compute_merkle_root();
        block
    }

    /// The block hash (of the header).
    pub fn hash(&self) -> BlockHash {
        self.header.hash()
    }

    /// The Merkle root of this block's txids, to compare with the header's.
    pub fn compute_merkle_root(&self) -> Hash256 {
        Self::merkle_root_of(&self.txids())
    }

    /// The txids of the block's transactions, in order. Hashing them is most of what checking
    /// a block costs besides signatures, so validation computes them once and passes them on.
    pub fn txids(&self) -> Vec<Txid> {
        self.transactions.iter().map(Transaction::txid).collect()
    }

    /// The Merkle root of `txids` (a block's, in order).
    pub fn merkle_root_of(txids: &[Txid]) -> Hash256 {
        let ids: Vec<Hash256> = txids.iter().map(|t| t.to_hash()).collect();
        merkle_root(&ids)
    }

    /// The encoding sent on the wire and stored.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a block, refusing trailing bytes and anything over the hard size limit.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode(bytes, MAX_BLOCK_SIZE)
    }

    /// Size of the encoding in bytes.
    pub fn encoded_size(&self) -> usize {
        postcard::experimental::serialized_size(self).unwrap_or(usize::MAX)
    }

    /// The height the coinbase claims, if the first transaction is a coinbase.
    pub fn coinbase_height(&self) -> Option<u64> {
        self.transactions
            .first()
            .and_then(|t| t.coinbase.as_ref())
            .map(|c| c.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::PubKeyHash;

    #[test]
    fn header_layout_is_fixed_and_hash_follows_it() {
        let h = BlockHeader {
            version: 1,
            prev: BlockHash::from_hash(Hash256([1; 32])),
            merkle_root: Hash256([2; 32]),
            timestamp: 3,
            bits: 4,
            nonce: 5,
        };
        let b = h.to_bytes();
        assert_eq!(&b[0..4], &[1, 0, 0, 0]);
        assert_eq!(&b[4..36], &[1; 32]);
        assert_eq!(&b[36..68], &[2; 32]);
        assert_eq!(b[68], 3);
        assert_eq!(b[76], 4);
        assert_eq!(b[80], 5);
        assert_eq!(h.hash(), BlockHash::from_hash(sha256(&b)));
    }

    #[test]
    fn block_round_trips_and_size_is_exact() {
        let cb = Transaction::new_coinbase(0, PubKeyHash([3; 20]), 10, b"genesis");
        let block = Block::new_template(BlockHash::ZERO, 1, 8, alloc::vec![cb]);
        let bytes = block.encode();
        assert_eq!(block.encoded_size(), bytes.len());
        assert_eq!(Block::decode(&bytes), Ok(block.clone()));
        assert_eq!(
            block.header.merkle_root,
            crate::primitives::merkle::merkle_root(&[block.transactions[0].txid().to_hash()])
        );
    }
}
