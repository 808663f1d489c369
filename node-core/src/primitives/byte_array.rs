//! Serde for fixed-size byte arrays (`#[serde(with = "byte_array")]`), as bytes in the same
//! form serde's own array impls give them (a tuple of N `u8`s: on the wire, N raw bytes).
//!
//! Why not serde's own: it deserializes an array with one unrolled step per element, once
//! for every length used, about 4 KB of the page module for the 32- and 20-byte hashes.
//! This is one loop for every length.

use core::fmt;
use core::marker::PhantomData;

use serde::de::{Error, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserializer, Serializer};

/// Writes `bytes` as a tuple of N `u8`s.
pub fn serialize<S: Serializer, const N: usize>(bytes: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
    let mut tuple = s.serialize_tuple(N)?;
    for b in bytes {
        tuple.serialize_element(b)?;
    }
    tuple.end()
}

/// Reads a tuple of N `u8`s.
pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    d.deserialize_tuple(N, BytesVisitor::<N>(PhantomData))
}

struct BytesVisitor<const N: usize>(PhantomData<[u8; N]>);

impl<'de, const N: usize> Visitor<'de> for BytesVisitor<N> {
    type Value = [u8; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{N} bytes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            *b = seq
                .next_element()?
                .ok_or_else(|| A::Error::invalid_length(i, &self))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::primitives::hash::{Hash256, PubKeyHash};

    #[test]
    fn hashes_keep_the_encoding_of_plain_arrays() {
        let h = Hash256([7; 32]);
        let ours = postcard::to_allocvec(&h).unwrap_or_default();
        let plain = postcard::to_allocvec(&[7u8; 32]).unwrap_or_default();
        assert_eq!(ours, plain);
        assert_eq!(ours.len(), 32);
        assert_eq!(postcard::from_bytes::<Hash256>(&ours).ok(), Some(h));
        let k = PubKeyHash([9; 20]);
        let ours = postcard::to_allocvec(&k).unwrap_or_default();
        assert_eq!(ours, postcard::to_allocvec(&[9u8; 20]).unwrap_or_default());
        assert_eq!(postcard::from_bytes::<PubKeyHash>(&ours).ok(), Some(k));
    }

    #[test]
    fn a_short_array_is_refused() {
        assert!(postcard::from_bytes::<Hash256>(&[1u8; 31]).is_err());
    }
}
