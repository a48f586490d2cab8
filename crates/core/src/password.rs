//! Password hashing: argon2id PHC strings for everything we write, and verification of the
//! legacy forms an OpenLDAP import brings (`{SSHA}`, `{ARGON2}`). CPU-heavy: callers run these
//! on a blocking pool, never on the async reactor.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use rand::Rng;
use rand::rngs::OsRng;
use sha1::{Digest, Sha1};

/// argon2id cost parameters (config `[passwords]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// Checks the parameters argon2 accepts, with a message that says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        self.argon2().map(|_| ()).map_err(|e| {
            format!(
                "argon2 refuses memory_kib={} iterations={} parallelism={}: {e} (memory_kib must be at least 8 × parallelism)",
                self.memory_kib, self.iterations, self.parallelism
            )
        })
    }

    fn argon2(&self) -> Result<Argon2<'static>, argon2::Error> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// A hashing or verification failure that is not simply "wrong password".
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The parameters or the stored hash are unusable.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Hashes a password as an argon2id PHC string with a random salt.
pub fn hash_password(password: &str, params: &HashParams) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    let argon = params.argon2().map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password (or an unknown hash scheme).
    Mismatch,
    /// Right password, hash current.
    Match,
    /// Right password, but the hash is legacy or has other parameters: store a new one.
    MatchNeedsRehash,
}

impl Verification {
    /// Whether the password was right.
    pub fn is_match(self) -> bool {
        self != Verification::Mismatch
    }
}

/// Checks a password against a stored hash: argon2 PHC, or one imported from OpenLDAP:
/// `{ARGON2}`PHC, `{SSHA}`base64, `{CRYPT}` with a crypt(3) string (`$6$`, `$5$`, `$1$`,
/// `$2b$` or DES, verified by the pwhash crate). Every imported scheme asks for a rehash.
pub fn verify_password(password: &str, stored: &str, params: &HashParams) -> Verification {
    if let Some(crypted) = strip_scheme(stored, "{CRYPT}") {
        return if pwhash::unix::verify(password, crypted) {
            Verification::MatchNeedsRehash
        } else {
            Verification::Mismatch
        };
    }
    if let Some(b64) = strip_scheme(stored, "{SSHA}") {
        return if verify_ssha(password, b64) {
            Verification::MatchNeedsRehash
        } else {
            Verification::Mismatch
        };
    }
    let (phc, legacy) = match strip_scheme(stored, "{ARGON2}") {
        Some(rest) => (rest, true),
        None => (stored, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return Verification::Mismatch;
    };
    if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verification::Mismatch;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == params.memory_kib && p.t_cost() == params.iterations && p.p_cost() == params.parallelism
        });
    if legacy || !current {
        Verification::MatchNeedsRehash
    } else {
        Verification::Match
    }
}

fn strip_scheme<'a>(stored: &'a str, scheme: &str) -> Option<&'a str> {
    let head = stored.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme).then(|| &stored[scheme.len()..])
}

fn verify_ssha(password: &str, b64: &str) -> bool {
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    if raw.len() <= 20 {
        return false;
    }
    let (digest, salt) = raw.split_at(20);
    let mut h = Sha1::new();
    h.update(password.as_bytes());
    h.update(salt);
    let computed = h.finalize();
    constant_time_eq(&computed, digest)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A generated password: 20 characters from an alphabet without look-alikes (about 115 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn argon2id_round_trip() {
        let h = hash_password("correct horse", &SMALL).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify_password("correct horse", &h, &SMALL), Verification::Match);
        assert_eq!(verify_password("wrong", &h, &SMALL), Verification::Mismatch);
        let other = HashParams {
            memory_kib: 128,
            ..SMALL
        };
        assert_eq!(
            verify_password("correct horse", &h, &other),
            Verification::MatchNeedsRehash
        );
    }

    /// The production parameters (OWASP minimum) hash and verify.
    #[test]
    fn production_parameters_work() {
        let prod = HashParams {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        };
        let h = hash_password("pw-for-prod-test", &prod).unwrap();
        assert!(h.contains("m=19456,t=2,p=1"));
        assert_eq!(verify_password("pw-for-prod-test", &h, &prod), Verification::Match);
    }

    #[test]
    fn ssha_from_openldap() {
        // slappasswd -h {SSHA} -s secret, salt "salt": sha1("secret" + "salt") + "salt".
        let mut h = Sha1::new();
        h.update(b"secret");
        h.update(b"salt");
        let mut raw = h.finalize().to_vec();
        raw.extend_from_slice(b"salt");
        let stored = format!("{{SSHA}}{}", base64::engine::general_purpose::STANDARD.encode(raw));
        assert_eq!(
            verify_password("secret", &stored, &SMALL),
            Verification::MatchNeedsRehash
        );
        assert_eq!(verify_password("Secret", &stored, &SMALL), Verification::Mismatch);
    }

    #[test]
    fn crypt_from_openldap() {
        // slappasswd -h '{CRYPT}' -c '$6$%.16s' -s secret (and '$5$%.16s').
        for stored in [
            "{CRYPT}$6$8bMyufNP/HYzvFla$JkYcpq6LIQ.vDxsuG8yEihM5leMvgSfyYQbXZyIzCq39VjVo89L6Zd4HGGm/GZ1iYbsfVV.lQeLKdJRFChUqY/",
            "{CRYPT}$5$efY160MKAYAZBJeB$Ux0/EGU8SL1XiYyOSzuFUxLvwT27xRvupQ7tSnzL/M8",
        ] {
            assert_eq!(
                verify_password("secret", stored, &SMALL),
                Verification::MatchNeedsRehash
            );
            assert_eq!(verify_password("Secret", stored, &SMALL), Verification::Mismatch);
        }
        assert_eq!(
            verify_password("secret", "{CRYPT}not-a-hash", &SMALL),
            Verification::Mismatch
        );
    }

    #[test]
    fn argon2_scheme_prefix_needs_rehash() {
        let h = hash_password("pw", &SMALL).unwrap();
        assert_eq!(
            verify_password("pw", &format!("{{ARGON2}}{h}"), &SMALL),
            Verification::MatchNeedsRehash
        );
        assert_eq!(verify_password("pw", "garbage", &SMALL), Verification::Mismatch);
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate_password());
    }
}
