//! ES256 signing keys: one PKCS#8 PEM file per key in `oidc.keys_dir`, named by its key ID,
//! which starts with its creation time to the microsecond (`20261201T185000.123456Z-3f9a…`),
//! so the newest file is the key that signs. A replaced key's public part stays in the JWKS for the overlap period after
//! its successor was made, so ID tokens it signed still verify. The CLI writes the files
//! (`init`, `oidc rotate-key`); this module makes and reads them.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

/// The suffix of key files.
const EXTENSION: &str = "pem";
/// Key files are small; anything bigger is not ours.
const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// Why the keys could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading the directory or a file failed.
    #[error("reading signing keys in {dir}: {source}")]
    Io {
        /// The directory.
        dir: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A key file is not a P-256 PKCS#8 key.
    #[error("signing key {kid} is not an ECDSA P-256 PKCS#8 key: {why}")]
    Bad {
        /// Its key ID.
        kid: String,
        /// Why.
        why: String,
    },
    /// No key file: run `piratenldap init` or `oidc rotate-key`.
    #[error("no signing key in {0}: run `piratenldap oidc rotate-key`")]
    None(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A new key: its ID (also its file name without `.pem`) and PKCS#8 PEM.
pub struct NewKey {
    /// The key ID.
    pub kid: String,
    /// The private key, PEM; write it with mode 0600.
    pub pem: String,
}

/// Makes a key created at `now`.
pub fn new_key(now: OffsetDateTime) -> Result<NewKey, KeyError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| KeyError::Bad {
        kid: "new".into(),
        why: e.to_string(),
    })?;
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]T[hour][minute][second].[subsecond digits:6]Z"
        ))
        .map_err(|e| KeyError::Sign(e.to_string()))?;
    let mut tag = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut tag);
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    Ok(NewKey {
        kid: format!("{stamp}-{tag}"),
        pem: pair.serialize_pem(),
    })
}

/// The file name of a key.
pub fn file_name(kid: &str) -> String {
    format!("{kid}.{EXTENSION}")
}

/// One public key of the JWKS (RFC 7517, 7518 6.2).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    kty: &'static str,
    crv: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
    alg: &'static str,
    kid: String,
    x: String,
    y: String,
}

/// A key read from its file.
struct Key {
    kid: String,
    encoding: EncodingKey,
    public: Jwk,
}

/// The keys of a provider: the newest signs; older ones still inside the overlap are
/// published.
pub struct KeySet {
    signing: Key,
    published: Vec<Jwk>,
}

impl KeySet {
    /// Reads every key file of `dir`; keys replaced more than `overlap` before `now` are left
    /// out of the JWKS.
    pub fn load(dir: &Path, now: OffsetDateTime, overlap: time::Duration) -> Result<KeySet, KeyError> {
        let io = |source| KeyError::Io {
            dir: dir.display().to_string(),
            source,
        };
        let mut kids = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
                continue;
            }
            if let Some(kid) = path.file_stem().and_then(|s| s.to_str()) {
                kids.push(kid.to_string());
            }
        }
        // Key IDs start with their creation time: sorted, the last is the newest.
        kids.sort();
        let mut keys = Vec::with_capacity(kids.len());
        for kid in &kids {
            let path = dir.join(file_name(kid));
            let size = std::fs::metadata(&path).map_err(io)?.len();
            if size > MAX_KEY_FILE_BYTES {
                return Err(KeyError::Bad {
                    kid: kid.clone(),
                    why: format!("{size} bytes"),
                });
            }
            let pem = std::fs::read_to_string(&path).map_err(io)?;
            keys.push(parse(kid, &pem)?);
        }
        let Some(signing) = keys.pop() else {
            return Err(KeyError::None(dir.display().to_string()));
        };
        let mut published = vec![signing.public.clone()];
        // A key was replaced when its successor was made; keep it while that is recent.
        let mut successor = created(&signing.kid);
        for key in keys.iter().rev() {
            if successor.is_some_and(|t| now - t < overlap) {
                published.push(key.public.clone());
            }
            successor = created(&key.kid);
        }
        Ok(KeySet { signing, published })
    }

    /// The key ID that signs.
    pub fn signing_kid(&self) -> &str {
        &self.signing.kid
    }

    /// The key IDs in the JWKS.
    pub fn published_kids(&self) -> Vec<String> {
        self.published.iter().map(|j| j.kid.clone()).collect()
    }

    /// The JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.published })
    }

    /// The claims of an ID token this provider signed with a published key, for `issuer`;
    /// expiry is not checked (an `id_token_hint` is usually expired). `None` for anything else.
    pub fn verify_own(&self, token: &str, issuer: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let kid = header.kid?;
        let jwk = self.published.iter().find(|j| j.kid == kid)?;
        let key = jsonwebtoken::DecodingKey::from_ec_components(&jwk.x, &jwk.y).ok()?;
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["iss".to_string()].into();
        validation.set_issuer(&[issuer]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation).ok()?;
        Some(data.claims)
    }

    /// Signs `claims` as a compact JWS with ES256.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.signing.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing.encoding).map_err(|e| KeyError::Sign(e.to_string()))
    }
}

fn parse(kid: &str, pem: &str) -> Result<Key, KeyError> {
    let bad = |why: String| KeyError::Bad {
        kid: kid.to_string(),
        why,
    };
    let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| bad(e.to_string()))?;
    if !pair.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
        return Err(bad("not a P-256 key".into()));
    }
    let raw = pair.public_key_raw();
    let (Some(x), Some(y)) = (raw.get(1..33), raw.get(33..65)) else {
        return Err(bad("public key is not an uncompressed point".into()));
    };
    let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    Ok(Key {
        kid: kid.to_string(),
        encoding,
        public: Jwk {
            kty: "EC",
            crv: "P-256",
            usage: "sig",
            alg: "ES256",
            kid: kid.to_string(),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        },
    })
}

/// When the key `kid` was made (from its ID).
fn created(kid: &str) -> Option<OffsetDateTime> {
    let stamp = kid.split('-').next()?;
    let precise = format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:6]Z");
    let seconds = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(stamp, precise)
        .or_else(|_| time::PrimitiveDateTime::parse(stamp, seconds))
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, key: &NewKey) {
        std::fs::write(dir.join(file_name(&key.kid)), &key.pem).unwrap_or_default();
    }

    #[test]
    fn the_newest_key_signs_and_replaced_keys_stay_for_the_overlap() -> Result<(), KeyError> {
        let dir = tempfile::tempdir().map_err(|source| KeyError::Io {
            dir: "tmp".into(),
            source,
        })?;
        let t0 = time::macros::datetime!(2026-12-01 12:00 UTC);
        // Two keys in one second still sort by age.
        let first = new_key(t0)?;
        let second = new_key(t0 + time::Duration::milliseconds(1))?;
        assert!(first.kid < second.kid, "{} {}", first.kid, second.kid);
        let old = new_key(t0)?;
        let new = new_key(t0 + time::Duration::days(30))?;
        write(dir.path(), &old);
        write(dir.path(), &new);
        let overlap = time::Duration::days(7);
        let set = KeySet::load(dir.path(), t0 + time::Duration::days(31), overlap)?;
        assert_eq!(set.signing_kid(), new.kid);
        let kids: Vec<String> = set.published.iter().map(|j| j.kid.clone()).collect();
        assert_eq!(kids, vec![new.kid.clone(), old.kid.clone()]);
        let later = KeySet::load(dir.path(), t0 + time::Duration::days(38), overlap)?;
        assert_eq!(later.published.len(), 1, "the old key left the JWKS after the overlap");
        let token = set.sign(&serde_json::json!({"sub": "x"}))?;
        let header = jsonwebtoken::decode_header(&token).map_err(|e| KeyError::Sign(e.to_string()))?;
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(new.kid.as_str()));
        let claims = set.verify_own(&token, "https://id.example.org");
        assert!(claims.is_none(), "no iss: not ours");
        let token = set.sign(&serde_json::json!({"sub": "x", "iss": "https://id.example.org", "exp": 1}))?;
        let claims = set.verify_own(&token, "https://id.example.org");
        assert_eq!(claims.and_then(|c| c.get("sub").cloned()), Some(serde_json::json!("x")));
        assert!(set.verify_own(&token, "https://other.example.org").is_none());
        let mut forged = token.clone();
        forged.push('A');
        assert!(set.verify_own(&forged, "https://id.example.org").is_none());
        Ok(())
    }

    #[test]
    fn a_foreign_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| std::process::abort());
        std::fs::write(dir.path().join("20260101T000000Z-aaaa.pem"), "not a key").unwrap_or_default();
        let err = KeySet::load(dir.path(), OffsetDateTime::UNIX_EPOCH, time::Duration::days(1));
        assert!(matches!(err, Err(KeyError::Bad { kid, .. }) if kid == "20260101T000000Z-aaaa"));
        let empty = tempfile::tempdir().unwrap_or_else(|_| std::process::abort());
        assert!(matches!(
            KeySet::load(empty.path(), OffsetDateTime::UNIX_EPOCH, time::Duration::days(1)),
            Err(KeyError::None(_))
        ));
    }
}
