//! The random values of single sign-on (session cookies, codes, tokens, client secrets) and
//! their stored form: 32 random bytes in base64url, kept in the store as a SHA-256 in hex. A
//! fast hash suffices because the values are random, not chosen by people (argon2 is for
//! passwords).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The longest value we hash: anything longer is not one of ours.
pub const MAX_SECRET_CHARS: usize = 128;

/// A new random value (43 characters).
pub fn random() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The stored form of `value`: SHA-256 in hex, tagged with what it is for (`purpose`), so a
/// code can never be presented as a token of the same value.
pub fn hash(purpose: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `value` could be one of ours (length and alphabet), before it is hashed.
pub fn plausible(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_SECRET_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Compares in time independent of where the inputs differ.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_random_and_hashed_per_purpose() {
        let a = random();
        assert_eq!(a.len(), 43);
        assert!(plausible(&a));
        assert_ne!(a, random());
        assert_ne!(hash("code", &a), hash("token", &a));
        assert_eq!(hash("code", &a).len(), 64);
        assert!(!plausible(""));
        assert!(!plausible(&"a".repeat(129)));
        assert!(!plausible("a b"));
        assert!(equal(b"abc", b"abc"));
        assert!(!equal(b"abc", b"abd"));
        assert!(!equal(b"abc", b"ab"));
    }
}
