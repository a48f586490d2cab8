//! Erasure (GDPR art. 17): what the caller gives for erasing one member, and what it removed.
//! The SQL is in `sql/erasure.rs`; the pseudonym and tombstone are made in
//! `piratenldap_core::erasure` under the server's key.

use piratenldap_core::ids::Uid;

/// The keyed values an erasure writes in place of the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// Replaces the member in the audit trail and on revoked certificates (`erased-…`).
    pub pseudonym: String,
    /// The keyed hash of the member number kept in `erased`, so `member import` does not
    /// re-create the member.
    pub tombstone: String,
}

/// What erasing one member removed or rewrote (counts, and the account for the operator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// The pseudonym now standing for the member.
    pub pseudonym: String,
    /// The account deleted, if there was one.
    pub uid: Option<Uid>,
    /// Group memberships deleted.
    pub group_memberships: u64,
    /// App passwords deleted.
    pub app_passwords: u64,
    /// Whether a TOTP second factor (secret or switched on) went with the account.
    pub totp: bool,
    /// Single sign-on sessions deleted (with their codes and tokens).
    pub sessions: u64,
    /// Single sign-on consents deleted.
    pub consents: u64,
    /// Chapter admin grants deleted.
    pub admin_grants: u64,
    /// Letter tokens (activation, reset) deleted.
    pub tokens: u64,
    /// Certificate requests deleted (issued or not).
    pub cert_requests: u64,
    /// Serials of certificates revoked now (the others were revoked already).
    pub revoked_serials: Vec<String>,
    /// Certificates kept for the CRL (in `erased_certificates`, the pseudonym as holder).
    pub certificates_kept: u64,
    /// Throttle buckets deleted.
    pub buckets: u64,
    /// Audit rows rewritten with the pseudonym.
    pub audit_rows: u64,
    /// Whether a suspension record was deleted.
    pub suspension: bool,
}
