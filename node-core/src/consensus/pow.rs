//! Proof of work: a block's hash must be below 2^(256 − bits).
//!
//! The header has a fixed 88-byte layout, so its first 64 bytes (version, previous hash and
//! most of the Merkle root) are one SHA-256 block that does not change while the nonce does.
//! [`Midstate`] compresses it once; each nonce then costs a single compression of the tail.
//! [`search`] mines a bounded chunk of nonces and says how many it tried, so a browser worker
//! can mine in slices, report its hash rate and be cancelled between slices.

// sha2 0.10's block type; generic-array 0.14 marks itself deprecated in favour of 1.x,
// which only the next sha2 generation uses (and p256 0.13 needs this one).
#[allow(deprecated)]
use sha2::digest::generic_array::GenericArray;

#[allow(deprecated)]
fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, &[*GenericArray::from_slice(block)]);
}

use crate::primitives::block::{BlockHeader, HEADER_SIZE};
use crate::primitives::hash::{BlockHash, Hash256};

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Offset of the nonce inside the second SHA-256 block (the header tail).
const NONCE_OFFSET_IN_TAIL: usize = HEADER_SIZE - 8 - 64;

/// Whether `hash` < 2^(256 − bits), i.e. it starts with at least `bits` zero bits.
pub fn meets_target(hash: &BlockHash, bits: u32) -> bool {
    leading_zero_bits(hash.as_bytes()) >= bits
}

/// Number of leading zero bits of a big-endian 256-bit number.
pub fn leading_zero_bits(bytes: &[u8; 32]) -> u32 {
    let mut zeros = 0;
    for b in bytes {
        if *b == 0 {
            zeros += 8;
        } else {
            return zeros + b.leading_zeros();
        }
    }
    zeros
}

/// Expected number of hashes to find a block at `bits`: the work a block proves.
pub fn work(bits: u32) -> u128 {
    1u128 << bits.min(crate::consensus::params::MAX_BITS)
}

/// The SHA-256 state after the header's first 64 bytes, plus the padded tail block.
#[derive(Clone)]
pub struct Midstate {
    state: [u32; 8],
    tail: [u8; 64],
    bits: u32,
}

impl Midstate {
    /// Prepares the search for `header` (its nonce is ignored).
    pub fn new(header: &BlockHeader) -> Self {
        let bytes = header.to_bytes();
        let mut state = SHA256_IV;
        let mut first = [0u8; 64];
        first.copy_from_slice(&bytes[..64]);
        compress(&mut state, &first);
        let mut tail = [0u8; 64];
        tail[..HEADER_SIZE - 64].copy_from_slice(&bytes[64..]);
        tail[HEADER_SIZE - 64] = 0x80;
        tail[56..].copy_from_slice(&((HEADER_SIZE as u64) * 8).to_be_bytes());
        Midstate {
            state,
            tail,
            bits: header.bits,
        }
    }

    /// The state words of the header hash with `nonce`.
    #[inline]
    fn hash_words(&self, nonce: u64) -> [u32; 8] {
        let mut block = self.tail;
        block[NONCE_OFFSET_IN_TAIL..NONCE_OFFSET_IN_TAIL + 8].copy_from_slice(&nonce.to_le_bytes());
        let mut state = self.state;
        compress(&mut state, &block);
        state
    }

    /// The block hash the header would have with `nonce`.
    pub fn hash_with_nonce(&self, nonce: u64) -> BlockHash {
        let words = self.hash_words(nonce);
        let mut out = [0u8; 32];
        for (chunk, w) in out.chunks_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        BlockHash::from_hash(Hash256(out))
    }

    #[inline]
    fn words_meet_target(&self, words: &[u32; 8]) -> bool {
        let mut zeros = 0;
        for w in words {
            if *w == 0 {
                zeros += 32;
                if zeros >= self.bits {
                    return true;
                }
            } else {
                return zeros + w.leading_zeros() >= self.bits;
            }
        }
        true
    }
}

/// What a bounded nonce search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOutcome {
    /// The winning nonce and the block hash it gives, if one was found.
    pub found: Option<(u64, BlockHash)>,
    /// How many nonces were hashed (for hash-rate reporting).
    pub tried: u64,
}

/// Tries nonces `start, start+1, …` (at most `count`, wrapping) against the target.
///
/// In a browser build with wasm `simd128` four nonces are hashed at once
/// ([`crate::consensus::sha256x4`]); natively one at a time, where sha2 uses the CPU's SHA extensions.
pub fn search(midstate: &Midstate, start: u64, count: u64) -> SearchOutcome {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        search_lanes::<
            { crate::consensus::sha256x4::NATIVE_LANES },
            crate::consensus::sha256x4::Native,
        >(midstate, start, count)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        search_scalar(midstate, start, count)
    }
}

/// [`search`] `N` nonces at a time over lanes `L`.
pub fn search_lanes<const N: usize, L: crate::consensus::sha256x4::Lanes<N>>(
    midstate: &Midstate,
    start: u64,
    count: u64,
) -> SearchOutcome {
    let mut words = [0u32; 16];
    for (i, w) in words.iter_mut().enumerate() {
        let b = &midstate.tail[4 * i..4 * i + 4];
        *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    let mut lanes = [L::splat(0); 16];
    for (l, w) in lanes.iter_mut().zip(words) {
        *l = L::splat(w);
    }
    let word = NONCE_OFFSET_IN_TAIL / 4;
    let full = count - count % N as u64;
    let mut i = 0u64;
    while i < full {
        let nonces: [u64; N] = core::array::from_fn(|k| start.wrapping_add(i + k as u64));
        lanes[word] = L::from_array(nonces.map(|n| (n as u32).swap_bytes()));
        lanes[word + 1] = L::from_array(nonces.map(|n| ((n >> 32) as u32).swap_bytes()));
        let (h0, h1) = crate::consensus::sha256x4::first_two_words(&midstate.state, &lanes);
        for k in 0..N {
            let top = ((h0[k] as u64) << 32) | h1[k] as u64;
            if top.leading_zeros() >= midstate.bits.min(64) {
                let nonce = nonces[k];
                let hash = midstate.hash_with_nonce(nonce);
                if meets_target(&hash, midstate.bits) {
                    return SearchOutcome {
                        found: Some((nonce, hash)),
                        tried: i + k as u64 + 1,
                    };
                }
            }
        }
        i += N as u64;
    }
    let rest = search_scalar(midstate, start.wrapping_add(full), count - full);
    SearchOutcome {
        found: rest.found,
        tried: full + rest.tried,
    }
}

/// [`search`] one nonce at a time.
pub fn search_scalar(midstate: &Midstate, start: u64, count: u64) -> SearchOutcome {
    let mut nonce = start;
    for i in 0..count {
        let words = midstate.hash_words(nonce);
        if midstate.words_meet_target(&words) {
            return SearchOutcome {
                found: Some((nonce, midstate.hash_with_nonce(nonce))),
                tried: i + 1,
            };
        }
        nonce = nonce.wrapping_add(1);
    }
    SearchOutcome {
        found: None,
        tried: count,
    }
}

/// The same search hashing the whole header for each nonce: the reference the midstate is
/// measured against in benchmarks.
pub fn search_without_midstate(header: &BlockHeader, start: u64, count: u64) -> SearchOutcome {
    let mut h = *header;
    for i in 0..count {
        h.nonce = start.wrapping_add(i);
        let hash = h.hash();
        if meets_target(&hash, h.bits) {
            return SearchOutcome {
                found: Some((h.nonce, hash)),
                tried: i + 1,
            };
        }
    }
    SearchOutcome {
        found: None,
        tried: count,
    }
}

/// Mines `header` to completion from nonce 0 (for tests, the CLI and genesis creation).
/// Returns `None` only if all 2^64 nonces fail, which no real difficulty reaches.
pub fn mine(header: &mut BlockHeader) -> Option<BlockHash> {
    let midstate = Midstate::new(header);
    let mut start = 0u64;
    loop {
        let outcome = search(&midstate, start, 1 << 20);
        if let Some((nonce, hash)) = outcome.found {
            header.nonce = nonce;
            return Some(hash);
        }
        start = start.checked_add(1 << 20)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::sha256;

    fn header(bits: u32) -> BlockHeader {
        BlockHeader {
            version: 1,
            prev: BlockHash::from_hash(sha256(b"parent")),
            merkle_root: sha256(b"merkle"),
            timestamp: 1_700_000_000_000,
            bits,
            nonce: 0,
        }
    }

    #[test]
    fn midstate_hash_equals_the_full_header_hash() {
        let mut h = header(8);
        let m = Midstate::new(&h);
        for nonce in [0u64, 1, 255, 1 << 40, u64::MAX] {
            h.nonce = nonce;
            assert_eq!(m.hash_with_nonce(nonce), h.hash());
        }
    }

    #[test]
    fn search_finds_a_nonce_that_meets_the_target_and_counts_tries() -> Result<(), &'static str> {
        let h = header(10);
        let m = Midstate::new(&h);
        let outcome = search(&m, 0, 1 << 20);
        let (nonce, hash) = outcome.found.ok_or("10 bits are found within 2^20 tries")?;
        assert!(meets_target(&hash, 10));
        assert_eq!(outcome.tried, nonce + 1);
        assert_eq!(search_without_midstate(&h, 0, 1 << 20), outcome);
        Ok(())
    }

    #[test]
    fn four_lane_search_finds_what_the_scalar_search_finds() {
        for bits in [1u32, 4, 9, 12] {
            for start in [0u64, 3, u32::MAX as u64 - 5, u64::MAX - 2] {
                let m = Midstate::new(&header(bits));
                for count in [0u64, 1, 5, 4096] {
                    assert_eq!(
                        search_lanes::<4, [u32; 4]>(&m, start, count),
                        search_scalar(&m, start, count),
                        "bits {bits} start {start} count {count}"
                    );
                    assert_eq!(
                        search_lanes::<8, [u32; 8]>(&m, start, count),
                        search_scalar(&m, start, count),
                        "8 lanes: bits {bits} start {start} count {count}"
                    );
                }
            }
        }
    }

    #[test]
    fn chunked_search_reports_every_nonce_tried() {
        let m = Midstate::new(&header(60));
        let outcome = search(&m, 5, 1000);
        assert_eq!(outcome.found, None);
        assert_eq!(outcome.tried, 1000);
    }

    #[test]
    fn leading_zero_bits_counts_across_bytes() {
        let mut b = [0u8; 32];
        b[2] = 0b0001_0000;
        assert_eq!(leading_zero_bits(&b), 19);
        assert_eq!(leading_zero_bits(&[0; 32]), 256);
    }
}
