//! Secrets stored in the database (TOTP secrets) are sealed with XChaCha20-Poly1305 under a key
//! kept in a file of mode 0600 (`secrets.key_file`), so a copy of the database alone does not
//! reveal them. The caller reads and writes the key file.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;

/// Why a sealed value cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file does not hold 32 bytes.
    #[error("the secret key must be 32 bytes (64 hex digits)")]
    BadKey,
    /// Corrupt, or sealed under another key.
    #[error("a sealed secret does not open with this key (wrong secrets.key_file?)")]
    Open,
}

/// The sealing key.
pub struct SealKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(…)")
    }
}

impl SealKey {
    /// A new random key, as the hex text `init` writes to the key file.
    pub fn generate_hex() -> String {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        k.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key from the key file's text (64 hex digits).
    pub fn from_hex(text: &str) -> Result<SealKey, SealError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(SealError::BadKey);
        }
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| SealError::BadKey)?;
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map(SealKey)
            .map_err(|_| SealError::BadKey)
    }

    /// Seals bytes: base64 of a random nonce and the ciphertext.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce size cannot fail for in-memory buffers.
        let sealed = self.0.encrypt(XNonce::from_slice(&nonce), plain).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    /// Opens what [`SealKey::seal`] made.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| SealError::Open)?;
        if raw.len() < 24 + 16 {
            return Err(SealError::Open);
        }
        let (nonce, ct) = raw.split_at(24);
        self.0
            .decrypt(XNonce::from_slice(nonce), ct)
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_wrong_key() {
        let k = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
        let s = k.seal(b"totp secret");
        assert!(!s.contains("totp"));
        assert_eq!(k.open(&s).unwrap(), b"totp secret");
        let other = SealKey::from_hex(&SealKey::generate_hex()).unwrap();
        assert!(other.open(&s).is_err());
        assert!(SealKey::from_hex("abc").is_err());
    }
}
