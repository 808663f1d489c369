//! SHA-256 of four header tails at once, for mining.
//!
//! A miner hashes the same header tail with different nonces, so four nonces can share one
//! pass of the compression function, one per 32-bit lane. The rounds are written once over
//! the [`Lanes`] trait: in a browser build with wasm `simd128` the lanes are two `v128`
//! registers (eight nonces); elsewhere they are a plain `[u32; N]`, which keeps the same code
//! tested natively against the scalar hash. Only the first two
//! words of each hash are computed here: they decide whether a nonce meets any target up to
//! 64 bits; a winner is hashed again in full by the caller.

/// SHA-256 round constants.
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// `N` 32-bit lanes and the operations SHA-256 needs on them.
pub trait Lanes<const N: usize>: Copy {
    /// All lanes equal to `x`.
    fn splat(x: u32) -> Self;
    /// One value per lane.
    fn from_array(x: [u32; N]) -> Self;
    /// The lanes as an array.
    fn to_array(self) -> [u32; N];
    /// Lane-wise wrapping addition.
    fn add(self, o: Self) -> Self;
    /// Lane-wise xor.
    fn xor(self, o: Self) -> Self;
    /// Lane-wise and.
    fn and(self, o: Self) -> Self;
    /// Lane-wise `self & !o`.
    fn and_not(self, o: Self) -> Self;
    /// Lane-wise rotate right.
    fn rotr(self, n: u32) -> Self;
    /// Lane-wise shift right.
    fn shr(self, n: u32) -> Self;
}

/// Portable lanes: a plain array.
impl<const N: usize> Lanes<N> for [u32; N] {
    #[inline(always)]
    fn splat(x: u32) -> Self {
        [x; N]
    }
    #[inline(always)]
    fn from_array(x: [u32; N]) -> Self {
        x
    }
    #[inline(always)]
    fn to_array(self) -> [u32; N] {
        self
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i].wrapping_add(o[i]))
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i] ^ o[i])
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i] & o[i])
    }
    #[inline(always)]
    fn and_not(self, o: Self) -> Self {
        core::array::from_fn(|i| self[i] & !o[i])
    }
    #[inline(always)]
    fn rotr(self, n: u32) -> Self {
        core::array::from_fn(|i| self[i].rotate_right(n))
    }
    #[inline(always)]
    fn shr(self, n: u32) -> Self {
        core::array::from_fn(|i| self[i] >> n)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use core::arch::wasm32::*;

    /// wasm `simd128` lanes: two `v128` registers, eight nonces. Two independent streams
    /// keep the CPU's vector units busy while one waits on the other's long round chain.
    #[derive(Clone, Copy)]
    pub struct V(pub v128, pub v128);

    #[inline(always)]
    fn rotr1(x: v128, n: u32) -> v128 {
        v128_or(u32x4_shr(x, n), u32x4_shl(x, 32 - n))
    }

    impl super::Lanes<8> for V {
        #[inline(always)]
        fn splat(x: u32) -> Self {
            V(u32x4_splat(x), u32x4_splat(x))
        }
        #[inline(always)]
        fn from_array(x: [u32; 8]) -> Self {
            V(u32x4(x[0], x[1], x[2], x[3]), u32x4(x[4], x[5], x[6], x[7]))
        }
        #[inline(always)]
        fn to_array(self) -> [u32; 8] {
            [
                u32x4_extract_lane::<0>(self.0),
                u32x4_extract_lane::<1>(self.0),
                u32x4_extract_lane::<2>(self.0),
                u32x4_extract_lane::<3>(self.0),
                u32x4_extract_lane::<0>(self.1),
                u32x4_extract_lane::<1>(self.1),
                u32x4_extract_lane::<2>(self.1),
                u32x4_extract_lane::<3>(self.1),
            ]
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            V(u32x4_add(self.0, o.0), u32x4_add(self.1, o.1))
        }
        #[inline(always)]
        fn xor(self, o: Self) -> Self {
            V(v128_xor(self.0, o.0), v128_xor(self.1, o.1))
        }
        #[inline(always)]
        fn and(self, o: Self) -> Self {
            V(v128_and(self.0, o.0), v128_and(self.1, o.1))
        }
        #[inline(always)]
        fn and_not(self, o: Self) -> Self {
            V(v128_andnot(self.0, o.0), v128_andnot(self.1, o.1))
        }
        #[inline(always)]
        fn rotr(self, n: u32) -> Self {
            V(rotr1(self.0, n), rotr1(self.1, n))
        }
        #[inline(always)]
        fn shr(self, n: u32) -> Self {
            V(u32x4_shr(self.0, n), u32x4_shr(self.1, n))
        }
    }
}

/// The lanes the browser's search uses: eight nonces in two `v128` registers.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub type Native = wasm::V;
/// Lanes per pass of the browser's search (`Native`, built only for wasm with SIMD).
pub const NATIVE_LANES: usize = 8;

/// Compresses one 64-byte block for four lanes from `state`, returning the first two words
/// of each resulting hash (state added in). `w` holds the block's 16 big-endian words.
#[inline(always)]
pub fn first_two_words<const N: usize, L: Lanes<N>>(
    state: &[u32; 8],
    w: &[L; 16],
) -> ([u32; N], [u32; N]) {
    let mut s = [L::splat(0); 64];
    s[..16].copy_from_slice(w);
    for i in 16..64 {
        let x = s[i - 15];
        let y = s[i - 2];
        let s0 = x.rotr(7).xor(x.rotr(18)).xor(x.shr(3));
        let s1 = y.rotr(17).xor(y.rotr(19)).xor(y.shr(10));
        s[i] = s[i - 16].add(s0).add(s[i - 7]).add(s1);
    }
    let mut a = L::splat(state[0]);
    let mut b = L::splat(state[1]);
    let mut c = L::splat(state[2]);
    let mut d = L::splat(state[3]);
    let mut e = L::splat(state[4]);
    let mut f = L::splat(state[5]);
    let mut g = L::splat(state[6]);
    let mut h = L::splat(state[7]);
    for i in 0..64 {
        let big_s1 = e.rotr(6).xor(e.rotr(11)).xor(e.rotr(25));
        let ch = e.and(f).xor(g.and_not(e));
        let t1 = h.add(big_s1).add(ch).add(L::splat(K[i])).add(s[i]);
        let big_s0 = a.rotr(2).xor(a.rotr(13)).xor(a.rotr(22));
        let maj = a.and(b).xor(a.and(c)).xor(b.and(c));
        let t2 = big_s0.add(maj);
        h = g;
        g = f;
        f = e;
        e = d.add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.add(t2);
    }
    (
        a.add(L::splat(state[0])).to_array(),
        b.add(L::splat(state[1])).to_array(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::hash::sha256;

    #[test]
    fn four_lanes_match_the_scalar_hash_of_each_block() {
        // Hash four different one-block messages (55 bytes each, so one padded block).
        let msgs: [[u8; 55]; 4] = core::array::from_fn(|i| [i as u8 * 37 + 1; 55]);
        let iv = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let blocks: [[u32; 16]; 4] = core::array::from_fn(|l| {
            let mut b = [0u8; 64];
            b[..55].copy_from_slice(&msgs[l]);
            b[55] = 0x80;
            b[56..].copy_from_slice(&(55u64 * 8).to_be_bytes());
            core::array::from_fn(|i| {
                u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
            })
        });
        let w: [[u32; 4]; 16] = core::array::from_fn(|i| core::array::from_fn(|l| blocks[l][i]));
        let (h0, h1) = first_two_words::<4, [u32; 4]>(&iv, &w);
        for l in 0..4 {
            let want = sha256(&msgs[l]).0;
            assert_eq!(h0[l].to_be_bytes(), want[0..4]);
            assert_eq!(h1[l].to_be_bytes(), want[4..8]);
        }
    }
}
