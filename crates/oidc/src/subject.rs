//! The `sub` claim: the account's entryUUID (stable, never reused), or for a `--pairwise`
//! client an HMAC of it under the provider's pairwise key and the client's name (OpenID
//! Connect Core 8.1): stable for the member and the client, unlinkable across clients and not
//! reversible without the key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The subject of the account with `entry_uuid` for `client`.
pub fn subject(entry_uuid: &str, client: &str, pairwise_key: Option<&[u8]>) -> String {
    let Some(key) = pairwise_key else {
        return entry_uuid.to_string();
    };
    // HMAC accepts keys of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return entry_uuid.to_string();
    };
    mac.update(b"pairwise\0");
    mac.update(client.as_bytes());
    mac.update(b"\0");
    mac.update(entry_uuid.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_subjects_differ_per_client_and_are_stable() {
        let key = [7u8; 32];
        let a = subject("uuid-1", "wiki", Some(&key));
        assert_eq!(a, subject("uuid-1", "wiki", Some(&key)));
        assert_ne!(a, subject("uuid-1", "vote", Some(&key)));
        assert_ne!(a, subject("uuid-2", "wiki", Some(&key)));
        assert_ne!(a, subject("uuid-1", "wiki", Some(&[8u8; 32])));
        assert!(!a.contains("uuid"));
        assert_eq!(subject("uuid-1", "wiki", None), "uuid-1");
    }
}
