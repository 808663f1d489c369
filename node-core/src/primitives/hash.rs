//! Hash functions and the hash newtypes that keep block hashes, txids and key hashes apart.

use core::fmt;

use ripemd::Ripemd160;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 digest, shown in hex in the order it was computed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Hash256(#[serde(with = "super::byte_array")] pub [u8; 32]);

/// Byte order (as the derived order would be), compared eight bytes at a time: every
/// ordered map of the chain, UTXO set and mempool is keyed by hashes, and the derived order
/// calls `memcmp`, a byte loop in wasm. Words are compared as loaded (one wasm load each)
/// and only the first unequal pair is byte-swapped to order it.
impl Ord for Hash256 {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        compare_words(&self.0, &other.0)
    }
}

/// Byte-order comparison of two equally long byte strings, eight bytes at a time, then four,
/// then byte by byte.
#[inline(always)]
fn compare_words(mut a: &[u8], mut b: &[u8]) -> core::cmp::Ordering {
    while let (Some((x, rest_a)), Some((y, rest_b))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        if u64::from_ne_bytes(*x) != u64::from_ne_bytes(*y) {
            return u64::from_be_bytes(*x).cmp(&u64::from_be_bytes(*y));
        }
        (a, b) = (rest_a, rest_b);
    }
    if let (Some((x, rest_a)), Some((y, rest_b))) =
        (a.split_first_chunk::<4>(), b.split_first_chunk::<4>())
    {
        if x != y {
            return u32::from_be_bytes(*x).cmp(&u32::from_be_bytes(*y));
        }
        (a, b) = (rest_a, rest_b);
    }
    a.cmp(b)
}

impl PartialOrd for Hash256 {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash256 {
    /// The all-zero hash: the previous hash of the genesis block.
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Some(Hash256(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Writes `bytes` as lowercase hex in one `write_str`: hashes are shown everywhere (events,
/// the inspector, logs), and a `{:02x}` per byte went through the formatter 32 times.
pub(crate) fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    for (pair, b) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    let used = &buf[..2 * bytes.len().min(32)];
    // Only ASCII hex digits were written.
    f.write_str(core::str::from_utf8(used).map_err(|_| fmt::Error)?)
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(Hash256);

        impl $name {
            /// All zeros: no block or transaction hashes to it, so it names "none" on the
            /// wire (a genesis header's parent, a node without a chain in `version`).
            pub const ZERO: $name = $name(Hash256([0; 32]));
            /// Wraps a digest computed for this kind of object.
            pub const fn from_hash(hash: Hash256) -> Self {
                $name(hash)
            }
            /// The digest as a plain hash (for keys shared between kinds, Merkle leaves).
            pub const fn to_hash(self) -> Hash256 {
                self.0
            }
            /// Whether this is [`Self::ZERO`], the wire's "none".
            pub fn is_zero(&self) -> bool {
                *self == Self::ZERO
            }
            /// Parses 64 hex digits.
            pub fn from_hex(s: &str) -> Option<Self> {
                Hash256::from_hex(s).map($name::from_hash)
            }
            /// The raw digest bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0 .0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

hash_newtype!(
    /// The hash of a block: always computed from its header, never carried as a trusted field.
    BlockHash
);
hash_newtype!(
    /// The id of a transaction: SHA-256 of its whole encoding, signatures included.
    Txid
);

/// RIPEMD-160(SHA-256(public key)): what an output pays to and what an address encodes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct PubKeyHash(#[serde(with = "super::byte_array")] pub [u8; 20]);

/// Byte order, compared a word at a time as [`Hash256`] is: the UTXO set's index by owner
/// compares key hashes on every update.
impl Ord for PubKeyHash {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        compare_words(&self.0, &other.0)
    }
}

impl PartialOrd for PubKeyHash {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PubKeyHash {
    /// Hashes a SEC1-encoded public key into the form outputs are locked to.
    pub fn of_public_key(public_key: &[u8]) -> Self {
        PubKeyHash(hash160(public_key))
    }
}

impl fmt::Debug for PubKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

/// One SHA-256.
pub fn sha256(data: &[u8]) -> Hash256 {
    Hash256(Sha256::digest(data).into())
}

/// SHA-256 of SHA-256, used for address checksums as in the seed's series.
pub fn sha256d(data: &[u8]) -> Hash256 {
    sha256(&sha256(data).0)
}

/// RIPEMD-160 of SHA-256.
pub fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(data)).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn sha256_of_abc_matches_the_standard_vector() {
        assert_eq!(
            sha256(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let h = sha256(b"x");
        assert_eq!(Hash256::from_hex(&h.to_string()), Some(h));
        assert_eq!(Hash256::from_hex("zz"), None);
        assert_eq!(Hash256::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn hash160_of_empty_matches_the_known_value() {
        let h = hash160(b"");
        let hex: alloc::string::String = h.iter().map(|b| alloc::format!("{b:02x}")).collect();
        assert_eq!(hex, "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb");
    }
}
