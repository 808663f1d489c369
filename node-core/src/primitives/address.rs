//! Base58Check addresses exactly as the seed's series makes them:
//! `base58(0x00 ‖ RIPEMD-160(SHA-256(pubkey)) ‖ first 4 bytes of SHA-256(SHA-256(0x00 ‖ hash)))`.

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::primitives::hash::{sha256d, PubKeyHash};

/// The address version byte of the seed's series.
pub const ADDRESS_VERSION: u8 = 0x00;

/// An address: the public-key hash an output is locked to, shown as Base58Check.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address(pub PubKeyHash);

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// A character outside the Base58 alphabet.
    NotBase58,
    /// The decoded length is not 25 bytes.
    WrongLength(usize),
    /// The version byte is not 0x00.
    WrongVersion(u8),
    /// The checksum does not match (a typo, most likely).
    BadChecksum,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::NotBase58 => write!(f, "address is not valid base58"),
            AddressError::WrongLength(n) => {
                write!(f, "address decodes to {n} bytes, expected 25")
            }
            AddressError::WrongVersion(v) => write!(f, "address version {v} is not 0"),
            AddressError::BadChecksum => write!(f, "address checksum does not match"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AddressError {}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let h = sha256d(payload);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = [0u8; 25];
        bytes[0] = ADDRESS_VERSION;
        bytes[1..21].copy_from_slice(&self.0 .0);
        let sum = checksum(&bytes[..21]);
        bytes[21..].copy_from_slice(&sum);
        let s: String = bs58::encode(bytes).into_string();
        f.write_str(&s)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s.trim())
            .into_vec()
            .map_err(|_| AddressError::NotBase58)?;
        if bytes.len() != 25 {
            return Err(AddressError::WrongLength(bytes.len()));
        }
        if bytes[0] != ADDRESS_VERSION {
            return Err(AddressError::WrongVersion(bytes[0]));
        }
        if checksum(&bytes[..21]) != bytes[21..] {
            return Err(AddressError::BadChecksum);
        }
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&bytes[1..21]);
        Ok(Address(PubKeyHash(hash)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn address_round_trips() {
        let a = Address(PubKeyHash([7; 20]));
        let s = a.to_string();
        assert!(s.starts_with('1'), "version 0 addresses start with 1: {s}");
        assert_eq!(s.parse::<Address>(), Ok(a));
    }

    #[test]
    fn known_vector_from_bitcoin_matches() -> Result<(), core::num::ParseIntError> {
        // hash160 of the well-known uncompressed key of Bitcoin's wiki example.
        let mut h = [0u8; 20];
        let hex = "010966776006953d5567439e5e39f86a0d273bee";
        for i in 0..20 {
            h[i] = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
        }
        assert_eq!(
            Address(PubKeyHash(h)).to_string(),
            "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM"
        );
        Ok(())
    }

    #[test]
    fn typos_and_junk_are_refused_with_a_reason() {
        let s = Address(PubKeyHash([9; 20])).to_string();
        let mut typo: alloc::vec::Vec<char> = s.chars().collect();
        typo[5] = if typo[5] == 'a' { 'b' } else { 'a' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(typo.parse::<Address>(), Err(AddressError::BadChecksum));
        assert_eq!("0OIl".parse::<Address>(), Err(AddressError::NotBase58));
        assert!(matches!(
            "abc".parse::<Address>(),
            Err(AddressError::WrongLength(_))
        ));
        let v1 = bs58::encode([1u8; 25]).into_string();
        assert_eq!(v1.parse::<Address>(), Err(AddressError::WrongVersion(1)));
    }
}
