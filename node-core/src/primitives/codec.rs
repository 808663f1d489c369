//! Binary encoding with `serde` + `postcard`.
//!
//! The user asked for bincode; its development has ceased and its last release is only a
//! notice, so we use postcard, the maintained no-std-first format it points to. Decoding here
//! refuses trailing bytes, so one value has one accepted encoding length, and every
//! attacker-sized list is bounded by the size of the input it came in (postcard cannot
//! allocate more elements than there are bytes left) and then by the caps each type checks.

use alloc::vec::Vec;
use core::fmt;

use serde::{de::DeserializeOwned, Serialize};

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are not a valid encoding of the expected type.
    Malformed,
    /// A value decoded but bytes were left over after it.
    TrailingBytes(usize),
    /// The input is larger than the type may ever be.
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit for this type.
        limit: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed => write!(f, "malformed encoding"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the value"),
            DecodeError::TooLarge { size, limit } => {
                write!(f, "{size} bytes exceed the limit of {limit}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

/// Room a native encoding starts with: a payment of one input and two outputs (about 210
/// bytes) fits, so hashing it for its txid allocates once instead of growing from 8 bytes
/// six times (the simulator spent an eighth of its time in those reallocations). Larger
/// values grow from here as before; the bytes are the same either way.
#[cfg(not(target_arch = "wasm32"))]
const ENCODE_START_CAPACITY: usize = 256;

/// Encodes a value. Encoding our own types into a `Vec` cannot fail.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // postcard fails only for types serde cannot express (maps with unknown length and the
    // like); none of ours are, so an error here is a programming mistake caught by tests.
    // The page module keeps postcard's own growing vector: it pays bytes for every line.
    #[cfg(target_arch = "wasm32")]
    return postcard::to_allocvec(value).unwrap_or_default();
    #[cfg(not(target_arch = "wasm32"))]
    return postcard::serialize_with_flavor(
        value,
        PresizedVec(Vec::with_capacity(ENCODE_START_CAPACITY)),
    )
    .unwrap_or_default();
}

/// postcard's `AllocVec`, starting with room for [`ENCODE_START_CAPACITY`] bytes.
#[cfg(not(target_arch = "wasm32"))]
struct PresizedVec(Vec<u8>);

#[cfg(not(target_arch = "wasm32"))]
impl postcard::ser_flavors::Flavor for PresizedVec {
    type Output = Vec<u8>;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// Writes a byte string as bytes (`#[serde(serialize_with = "codec::bytes")]`): the same
/// length prefix and bytes postcard writes for a sequence of `u8`, copied at once rather
/// than one element at a time (signatures and keys are most of a payment's bytes). Native
/// builds only: in the page module it cost more bytes of code than it saves time.
#[cfg(not(target_arch = "wasm32"))]
pub fn bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

/// Decodes a value, refusing inputs over `limit` bytes and trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|_| DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[cfg(not(target_arch = "wasm32"))]
    #[derive(serde::Serialize)]
    struct AsBytes(#[serde(serialize_with = "bytes")] Vec<u8>);

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn bytes_encode_exactly_as_a_sequence_of_u8() {
        for len in [0usize, 1, 64, 65, 127, 128, 300] {
            let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(encode(&AsBytes(v.clone())), encode(&v), "length {len}");
        }
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&(1u32, 2u64));
        bytes.push(0);
        assert_eq!(
            decode::<(u32, u64)>(&bytes, 100),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    #[test]
    fn oversized_inputs_are_refused_before_decoding() {
        let bytes = vec![0u8; 11];
        assert_eq!(
            decode::<Vec<u8>>(&bytes, 10),
            Err(DecodeError::TooLarge {
                size: 11,
                limit: 10
            })
        );
    }

    #[test]
    fn a_huge_length_prefix_fails_without_allocating_it() {
        // A varint announcing ~2^63 elements followed by nothing.
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(decode::<Vec<u64>>(&bytes, 100), Err(DecodeError::Malformed));
    }
}
