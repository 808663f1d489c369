//! P-256 ECDSA keys, signing and verification.
//!
//! Public keys travel as uncompressed SEC1 (`0x04 ‖ X ‖ Y`, 65 bytes), the form WebCrypto
//! imports, so a browser can verify with native code. Signatures are raw `r ‖ s` (64 bytes)
//! over SHA-256 of the message, WebCrypto's convention too, and must have a low S: a high-S
//! twin of a valid signature is refused, so nobody but the key holder can change a
//! transaction's bytes and thus its txid.

use core::fmt;

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};

use crate::primitives::address::Address;
use crate::primitives::hash::PubKeyHash;

/// Length of an uncompressed SEC1 public key.
pub const PUBLIC_KEY_SIZE: usize = 65;
/// Length of a raw `r ‖ s` signature.
pub const SIGNATURE_SIZE: usize = 64;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The public key is not an uncompressed point on P-256.
    BadPublicKey,
    /// The signature bytes are not a valid `r ‖ s` pair.
    Malformed,
    /// S is in the upper half of the group order.
    HighS,
    /// The signature does not verify against the key and message.
    Invalid,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::BadPublicKey => "public key is not an uncompressed P-256 point",
            SignatureError::Malformed => "signature is not 64 bytes of r and s",
            SignatureError::HighS => "signature has a high S value",
            SignatureError::Invalid => "signature does not verify",
        })
    }
}

/// A private key with its public key, as a wallet holds it.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
    public: [u8; PUBLIC_KEY_SIZE],
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private key.
        write!(f, "KeyPair({})", self.address())
    }
}

impl KeyPair {
    /// Makes a new key from the caller's random source.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        Self::from_signing_key(SigningKey::random(rng))
    }

    /// Restores a key from its 32 secret bytes; `None` if they are not a valid scalar.
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Option<Self> {
        SigningKey::from_bytes(secret.into())
            .ok()
            .map(Self::from_signing_key)
    }

    fn from_signing_key(signing: SigningKey) -> Self {
        let point = signing.verifying_key().to_encoded_point(false);
        let mut public = [0u8; PUBLIC_KEY_SIZE];
        public.copy_from_slice(point.as_bytes());
        KeyPair { signing, public }
    }

    /// The 32 secret bytes, for the wallet file only.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.signing.to_bytes().into()
    }

    /// The uncompressed SEC1 public key.
    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.public
    }

    /// The hash outputs paying this key are locked to.
    pub fn pubkey_hash(&self) -> PubKeyHash {
        PubKeyHash::of_public_key(&self.public)
    }

    /// This key's Base58Check address.
    pub fn address(&self) -> Address {
        Address(self.pubkey_hash())
    }

    /// Signs `message` (SHA-256 is applied inside), returning a low-S `r ‖ s`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_SIZE] {
        let sig: Signature = self.signing.sign(message);
        let sig = sig.normalize_s().unwrap_or(sig);
        sig.to_bytes().into()
    }
}

/// Checks a low-S `r ‖ s` signature of `message` by an uncompressed SEC1 `public_key`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    let check = || {
        let (key, sig) = parse(public_key, signature)?;
        key.verify(message, &sig)
            .map_err(|_| SignatureError::Invalid)
    };
    #[cfg(all(feature = "sim", feature = "std"))]
    {
        // The simulator's memory keeps a verdict as a byte: 0 valid, else the error.
        const ERRORS: [SignatureError; 4] = [
            SignatureError::BadPublicKey,
            SignatureError::Malformed,
            SignatureError::HighS,
            SignatureError::Invalid,
        ];
        let code =
            super::signature_memo::checked(public_key, message, signature, || match check() {
                Ok(()) => 0,
                Err(e) => ERRORS
                    .iter()
                    .position(|x| *x == e)
                    .map_or(4, |i| i as u8 + 1),
            });
        match code {
            0 => Ok(()),
            c => Err(ERRORS
                .get(usize::from(c) - 1)
                .copied()
                .unwrap_or(SignatureError::Invalid)),
        }
    }
    #[cfg(not(all(feature = "sim", feature = "std")))]
    check()
}

/// Every rule of [`verify`] but the ECDSA equation: the key is an uncompressed SEC1 point on
/// the curve, `r` and `s` are in range and `s` is low. A shell that has the equation checked
/// by native code (the browser's WebCrypto, which accepts high-S and other encodings) checks
/// this first, so both paths accept exactly the same signatures.
pub fn check_encoding(public_key: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    parse(public_key, signature).map(|_| ())
}

fn parse(public_key: &[u8], signature: &[u8]) -> Result<(VerifyingKey, Signature), SignatureError> {
    if public_key.len() != PUBLIC_KEY_SIZE || public_key[0] != 0x04 {
        return Err(SignatureError::BadPublicKey);
    }
    let key =
        VerifyingKey::from_sec1_bytes(public_key).map_err(|_| SignatureError::BadPublicKey)?;
    let sig = Signature::from_slice(signature).map_err(|_| SignatureError::Malformed)?;
    if sig.normalize_s().is_some() {
        return Err(SignatureError::HighS);
    }
    Ok((key, sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::scalar::IsHigh;
    use rand_chacha::rand_core::SeedableRng;

    fn key(seed: u64) -> KeyPair {
        KeyPair::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
    }

    #[test]
    fn signatures_verify_and_are_low_s() -> Result<(), p256::ecdsa::Error> {
        let k = key(1);
        for i in 0..20u8 {
            let msg = [i; 32];
            let sig = k.sign(&msg);
            assert_eq!(verify(k.public_key(), &msg, &sig), Ok(()));
            let parsed = Signature::from_slice(&sig)?;
            assert!(!bool::from(parsed.s().is_high()));
        }
        Ok(())
    }

    #[test]
    fn a_high_s_twin_is_refused() -> Result<(), p256::ecdsa::Error> {
        let k = key(2);
        let msg = b"pay me";
        let sig = Signature::from_slice(&k.sign(msg))?;
        let (r, s) = sig.split_scalars();
        let twin = Signature::from_scalars(r, -*s)?;
        assert_eq!(
            verify(k.public_key(), msg, &twin.to_bytes()),
            Err(SignatureError::HighS)
        );
        Ok(())
    }

    #[test]
    fn wrong_key_message_or_bytes_are_refused() {
        let (a, b) = (key(3), key(4));
        let sig = a.sign(b"m");
        assert_eq!(
            verify(b.public_key(), b"m", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(a.public_key(), b"n", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&[4u8; 65], b"m", &sig),
            Err(SignatureError::BadPublicKey)
        );
        assert_eq!(
            verify(&a.public_key()[..33], b"m", &sig),
            Err(SignatureError::BadPublicKey)
        );
        assert_eq!(
            verify(a.public_key(), b"m", &sig[..63]),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn secret_bytes_restore_the_same_key() -> Result<(), &'static str> {
        let k = key(5);
        let back = KeyPair::from_secret_bytes(&k.secret_bytes()).ok_or("not restored")?;
        assert_eq!(back.public_key(), k.public_key());
        assert!(KeyPair::from_secret_bytes(&[0u8; 32]).is_none());
        Ok(())
    }
}
