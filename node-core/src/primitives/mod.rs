//! Types and their bytes: hashes, blocks, transactions, Merkle roots, keys and addresses, and
//! the canonical encoding. No rules live here — whether a block or a spend is *valid* is
//! [`crate::consensus`]'s question.
//!
//! May depend on: `util` only.

pub mod address;
pub mod block;
pub mod byte_array;
pub mod codec;
pub mod hash;
pub mod keys;
pub mod merkle;
#[cfg(all(feature = "sim", feature = "std"))]
pub mod signature_memo;
pub mod tx;
