//! Pseudonyms for `--pseudonymous` services (issue 16): what such a service sees instead of a
//! member's uid, names and mail. HMAC-SHA256 under the pseudonym key (`[privacy]
//! pseudonym_key_file`) of the service's name and the account's entryUUID, so a pseudonym is
//! stable for one member and one service, differs between services, and cannot be reversed or
//! linked without the key. The same value is the LDAP entry's RDN (`uid=ps-…`) and the OpenID
//! Connect `sub`. No I/O: the caller reads the key file.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of every service pseudonym. With 32 hex digits a pseudonym is 35 characters
/// long, longer than any uid may be (3–32), so it can never name or shadow a real account.
pub const PREFIX: &str = "ps-";

/// The key of service pseudonyms (32 bytes from the key file's 64 hex digits).
#[derive(Clone)]
pub struct PseudonymKey([u8; 32]);

/// Never prints the key.
impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(…)")
    }
}

impl PseudonymKey {
    /// The key from its 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        PseudonymKey(bytes)
    }

    fn mac(&self, label: &str, service: &str, account: &str) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
        for part in [label, service, account] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        mac.finalize().into_bytes().into()
    }

    /// The pseudonym of the account with entryUUID `account` for `service`: `ps-` and 32 hex
    /// digits (128 bits).
    pub fn pseudonym(&self, service: &str, account: &str) -> String {
        let mac = self.mac("piratenldap service pseudonym", service, account);
        let hex: String = mac[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{PREFIX}{hex}")
    }

    /// The entryUUID the service sees for that account: an RFC 9562 version-8 UUID from a
    /// second keyed hash, so it says nothing the pseudonym does not.
    pub fn entry_uuid(&self, service: &str, account: &str) -> String {
        let mut b = self.mac("piratenldap service entryUUID", service, account);
        b[6] = (b[6] & 0x0f) | 0x80;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b[..16].iter().map(|x| format!("{x:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
    }
}

/// Whether `uid` has the form of a service pseudonym.
pub fn is_pseudonym(uid: &str) -> bool {
    uid.len() == PREFIX.len() + 32
        && uid.starts_with(PREFIX)
        && uid[PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Uid;

    #[test]
    fn pseudonyms_are_stable_per_service_and_account_and_depend_on_the_key() {
        let key = PseudonymKey::new([7; 32]);
        let a = key.pseudonym("vote", "uuid-1");
        assert_eq!(a, key.pseudonym("vote", "uuid-1"));
        assert_ne!(a, key.pseudonym("forum", "uuid-1"));
        assert_ne!(a, key.pseudonym("vote", "uuid-2"));
        assert_ne!(a, PseudonymKey::new([8; 32]).pseudonym("vote", "uuid-1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(key.pseudonym("ab", "c"), key.pseudonym("a", "bc"));
        assert!(is_pseudonym(&a), "{a}");
        assert!(!a.contains("uuid"));
    }

    #[test]
    fn a_pseudonym_can_never_be_a_uid() {
        let p = PseudonymKey::new([1; 32]).pseudonym("vote", "uuid-1");
        assert!(Uid::parse(&p).is_err(), "{p} must be too long for a uid");
        assert!(!is_pseudonym("alice"));
        assert!(!is_pseudonym("ps-0123"));
    }

    #[test]
    fn entry_uuids_are_version_8_and_differ_from_the_pseudonym() {
        let key = PseudonymKey::new([7; 32]);
        let u = key.entry_uuid("vote", "uuid-1");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8", "{u}");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, key.entry_uuid("forum", "uuid-1"));
        let p = key.pseudonym("vote", "uuid-1");
        assert!(!u.replace('-', "").contains(&p[PREFIX.len()..PREFIX.len() + 8]));
    }
}
