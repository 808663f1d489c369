//! Merkle trees over transaction ids, and inclusion proofs for light clients.
//!
//! Each level pairs neighbours and hashes `left ‖ right`; a level with an odd count doubles its
//! last hash. Unlike the seed's tree this works for any number of leaves. Doubling lets
//! `[a, b, c]` and `[a, b, c, c]` share a root (CVE-2012-2459), so blocks with a repeated
//! transaction are refused separately by validation.
//!
//! # Domain separation
//! Leaves and inner nodes are hashed with different one-byte tags, as RFC 6962 does:
//! a leaf node is `SHA-256(0x00 ‖ txid)`, an inner node `SHA-256(0x01 ‖ left ‖ right)`.
//! Without the tags an inner node's preimage (64 bytes) could also be a transaction's
//! encoding: a body `[X]` whose one transaction's bytes are `txid(a) ‖ txid(b)` has the same
//! root as the body `[a, b]` (Bitcoin's CVE-2017-12842). A node handed that mutated body
//! would find it invalid and condemn the honest header, splitting the network. With the tags
//! a leaf preimage is 33 bytes and an inner one 65, each starting with its own tag, so no
//! tree can be read as another of different shape; together with the duplicate check, one
//! root commits to one list of transactions. (Refusing 64-byte transactions, Bitcoin Core's
//! way, would also do, but Bitcoin cannot change its tree and we can; the tags also keep
//! inclusion proofs for light clients sound.)

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::primitives::hash::Hash256;

/// Tag of a leaf node's preimage.
const LEAF_TAG: u8 = 0x00;
/// Tag of an inner node's preimage.
const INNER_TAG: u8 = 0x01;

/// The tree's node for one leaf (a txid): `SHA-256(0x00 ‖ leaf)`.
fn leaf_node(leaf: &Hash256) -> Hash256 {
    let mut h = Sha256::new();
    h.update([LEAF_TAG]);
    h.update(leaf.0);
    Hash256(h.finalize().into())
}

fn parent(left: &Hash256, right: &Hash256) -> Hash256 {
    let mut h = Sha256::new();
    h.update([INNER_TAG]);
    h.update(left.0);
    h.update(right.0);
    Hash256(h.finalize().into())
}

fn next_level(level: &[Hash256]) -> Vec<Hash256> {
    level
        .chunks(2)
        .map(|pair| parent(&pair[0], pair.get(1).unwrap_or(&pair[0])))
        .collect()
}

/// The Merkle root of `leaves`; the zero hash for none, the leaf's node for one.
pub fn merkle_root(leaves: &[Hash256]) -> Hash256 {
    let mut level: Vec<Hash256> = leaves.iter().map(leaf_node).collect();
    if level.is_empty() {
        return Hash256::ZERO;
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// Proof that one leaf is in a tree: its index and the sibling hashes from leaf to root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Position of the leaf among the leaves.
    pub index: u32,
    /// Sibling at each level, bottom first.
    pub siblings: Vec<Hash256>,
}

impl MerkleProof {
    /// Builds the proof for `leaves[index]`, or `None` if the index is out of range.
    pub fn new(leaves: &[Hash256], index: usize) -> Option<Self> {
        if index >= leaves.len() {
            return None;
        }
        let mut siblings = Vec::new();
        let mut level: Vec<Hash256> = leaves.iter().map(leaf_node).collect();
        let mut i = index;
        while level.len() > 1 {
            let sibling = if i % 2 == 0 {
                *level.get(i + 1).unwrap_or(&level[i])
            } else {
                level[i - 1]
            };
            siblings.push(sibling);
            level = next_level(&level);
            i /= 2;
        }
        Some(MerkleProof {
            index: u32::try_from(index).ok()?,
            siblings,
        })
    }

    /// The root this proof gives for `leaf`.
    pub fn root_for(&self, leaf: &Hash256) -> Hash256 {
        let mut acc = leaf_node(leaf);
        let mut i = self.index;
        for s in &self.siblings {
            acc = if i % 2 == 0 {
                parent(&acc, s)
            } else {
                parent(s, &acc)
            };
            i /= 2;
        }
        acc
    }

    /// Whether `leaf` is in the tree with `root` at this proof's index.
    pub fn verify(&self, leaf: &Hash256, root: &Hash256) -> bool {
        self.index >> self.siblings.len().min(31) == 0 && self.root_for(leaf) == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::sha256;

    fn leaves(n: usize) -> Vec<Hash256> {
        (0..n).map(|i| sha256(&(i as u64).to_le_bytes())).collect()
    }

    /// The textbook definition, written independently, to check the iterative version.
    fn reference_root(leaves: &[Hash256]) -> Hash256 {
        let nodes: Vec<Hash256> = leaves
            .iter()
            .map(|l| {
                let mut b = [0u8; 33];
                b[1..].copy_from_slice(&l.0);
                sha256(&b)
            })
            .collect();
        reference_inner(&nodes)
    }

    fn reference_inner(level: &[Hash256]) -> Hash256 {
        if level.len() == 1 {
            return level[0];
        }
        let mut padded = level.to_vec();
        if let (1, Some(last)) = (padded.len() % 2, level.last()) {
            padded.push(*last);
        }
        let up: Vec<Hash256> = padded
            .chunks(2)
            .map(|p| {
                let mut b = [1u8; 65];
                b[1..33].copy_from_slice(&p[0].0);
                b[33..].copy_from_slice(&p[1].0);
                sha256(&b)
            })
            .collect();
        reference_inner(&up)
    }

    #[test]
    fn roots_and_proofs_work_for_0_to_17_leaves() -> Result<(), &'static str> {
        assert_eq!(merkle_root(&[]), Hash256::ZERO);
        for n in 1..=17 {
            let l = leaves(n);
            let root = merkle_root(&l);
            assert_eq!(root, reference_root(&l), "{n} leaves");
            for i in 0..n {
                let proof = MerkleProof::new(&l, i).ok_or("no proof for a leaf")?;
                assert!(proof.verify(&l[i], &root), "leaf {i} of {n}");
                let other = sha256(b"not a leaf");
                assert!(!proof.verify(&other, &root));
            }
            assert!(MerkleProof::new(&l, n).is_none());
        }
        Ok(())
    }

    /// CVE-2017-12842: the 64 bytes `a ‖ b` of an inner node, read as one leaf's preimage,
    /// must not give the same root as the two leaves `[a, b]`.
    #[test]
    fn an_inner_node_cannot_pass_for_a_leaf() {
        let l = leaves(2);
        let mut concatenated = [0u8; 64];
        concatenated[..32].copy_from_slice(&l[0].0);
        concatenated[32..].copy_from_slice(&l[1].0);
        let one_leaf = sha256(&concatenated);
        assert_ne!(merkle_root(&[one_leaf]), merkle_root(&l));
        // Nor can a leaf whose preimage is the inner node's, tag and all.
        let mut tagged = [1u8; 65];
        tagged[1..].copy_from_slice(&concatenated);
        assert_ne!(merkle_root(&[sha256(&tagged)]), merkle_root(&l));
    }

    #[test]
    fn a_proof_at_the_wrong_index_fails() -> Result<(), &'static str> {
        let l = leaves(6);
        let root = merkle_root(&l);
        let mut proof = MerkleProof::new(&l, 2).ok_or("no proof for a leaf")?;
        proof.index = 3;
        assert!(!proof.verify(&l[2], &root));
        Ok(())
    }
}
