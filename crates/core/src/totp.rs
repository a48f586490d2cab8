//! TOTP as authenticator apps do it (RFC 6238: SHA-1, 6 digits, 30 s steps), with one step of
//! drift either way. Returns the matching time step so the store can refuse a replay.

use rand::RngCore;
use rand::rngs::OsRng;
use totp_rs::{Algorithm, TOTP};

/// Length of a code.
pub const DIGITS: usize = 6;
/// Step length in seconds.
pub const STEP: u64 = 30;

/// A fresh 160-bit secret.
pub fn generate_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    OsRng.fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8], issuer: Option<&str>, account: &str) -> Option<TOTP> {
    // totp-rs refuses ':' in issuer and account (they separate the two in the label).
    let clean = |s: &str| s.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        secret.to_vec(),
        issuer.map(clean),
        clean(account),
    )
    .ok()
}

/// The time step of `code` within one step of `unix_time`, if it is valid.
pub fn matching_step(secret: &[u8], code: &str, unix_time: u64) -> Option<u64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, None, "x")?;
    let now = unix_time / STEP;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|step| constant_time_eq(t.generate(step * STEP).as_bytes(), code.as_bytes()))
}

/// The code for a time (what an authenticator app shows then).
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    totp(secret, None, "x")
        .map(|t| t.generate(unix_time))
        .unwrap_or_default()
}

/// The secret in base32 (what people type into an app).
pub fn secret_base32(secret: &[u8]) -> String {
    totp(secret, None, "x")
        .map(|t| t.get_secret_base32())
        .unwrap_or_default()
}

/// The `otpauth://` URI for QR codes.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(secret, Some(issuer), account)
        .map(|t| t.get_url())
        .unwrap_or_default()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector_and_drift() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s → 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let secret = b"12345678901234567890";
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        assert_eq!(
            matching_step(secret, "287082", 59 + 30),
            Some(1),
            "one step late is accepted"
        );
        assert_eq!(
            matching_step(secret, "287082", 59 + 90),
            None,
            "three steps late is not"
        );
        assert_eq!(matching_step(secret, "28708", 59), None);
        assert_eq!(matching_step(secret, "abcdef", 59), None);
    }

    #[test]
    fn uri_and_base32() {
        let s = generate_secret();
        let uri = otpauth_uri(&s, "Example Party", "alice");
        assert!(
            uri.starts_with("otpauth://totp/") && uri.contains(&secret_base32(&s)),
            "{uri}"
        );
    }
}
