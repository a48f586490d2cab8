//! The member database: the one source of truth of piratenldap. Everything that changes the
//! directory goes through the [`Store`] trait; the LDAP server reads a [`Snapshot`] of it into
//! memory and polls [`Store::revision`] to notice changes made by any process.
//!
//! **Invariant: only this crate holds SQL.** One implementation, [`SqlStore`], serves SQLite and
//! PostgreSQL; dialect differences stay inside `sql/connection.rs`, `sql/snapshot.rs` and
//! `sql/backup.rs`.

mod erasure;
mod error;
mod model;
pub mod oidc;
mod sql;
mod switch;

use std::sync::Arc;

use async_trait::async_trait;
use piratenldap_core::ids::{MemberNumber, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use time::OffsetDateTime;

pub use erasure::{Erased, Erasure};
pub use error::{Conflict, StoreError};
pub use model::*;
pub use sql::{Backend, SqlStore};
pub use switch::{Disabled, MAX_SUSPENSION_REASON, Reinstated, Suspended};

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The operations of the member database. Every write runs in one transaction and bumps the
/// revision in that same transaction, logging what it changed at the new revision
/// ([`Store::changes_since`] reads it).
#[async_trait]
pub trait Store: Send + Sync {
    /// The current revision: it changes whenever anything in the store changes.
    async fn revision(&self) -> Result<i64>;
    /// Everything the directory view needs, read in one transaction.
    async fn snapshot(&self) -> Result<Snapshot>;
    /// What changed after `revision` (issue 17): the current rows of every member, account,
    /// group, service and certificate a write logged since, read in one read transaction
    /// together with the revision, so a reader never sees half a change; keys deduplicated.
    /// `Unchanged` at the current revision; `Rebuild` when the log does not reach back to
    /// `revision`, holds `Everything`, or lists more than `max_keys` keys.
    async fn changes_since(&self, revision: i64, max_keys: usize) -> Result<Delta>;

    /// Upserts members; with `full`, marks members missing from `records` as left. A member
    /// who moved to another state association leaves the groups their old chapter owns (in the
    /// same transaction, audited). A member with an account whose status changes from active
    /// to suspended or left is disabled in the same transaction as by
    /// [`Store::suspend_member`] (sessions, letter token, certificates; listed in the report).
    /// A suspension by `member suspend` holds whatever the file says: the file's status is
    /// kept as the one to restore. With `dry_run`, reports what would change and changes nothing.
    async fn import_members(
        &self,
        records: &[MemberRecord],
        full: bool,
        dry_run: bool,
        now: OffsetDateTime,
    ) -> Result<ImportReport>;
    /// [`Store::import_members`] that leaves out erased members: `tombstones[i]` is the keyed
    /// hash of `records[i]`'s number (`piratenldap_core::erasure::tombstone`); a record whose
    /// hash is in the `erased` table is skipped (counted in `erased_skipped`), checked inside
    /// the import's transaction. `member import` uses this; empty `tombstones` checks nothing.
    async fn import_members_sparing(
        &self,
        records: &[MemberRecord],
        tombstones: &[String],
        full: bool,
        dry_run: bool,
        now: OffsetDateTime,
    ) -> Result<ImportReport>;
    /// Erases a member who has left (GDPR art. 17), in one transaction: the record, account,
    /// group memberships, app passwords, second factor, single sign-on sessions, codes, tokens
    /// and consents, chapter admin grants, letter tokens, suspension, unissued certificate
    /// requests and throttle buckets are deleted; certificates are revoked and kept for the CRL
    /// with `erasure.pseudonym` as holder; every audit row naming the member is rewritten with
    /// the pseudonym; the tombstone is kept; audited `member.erase` with the pseudonym only.
    /// Refused (`Refused`) unless the status is `left`; `NotFound` when there is no such member
    /// (erased already, maybe by another node at the same moment). The caller signs a new CRL
    /// when certificates were revoked.
    async fn erase_member(
        &self,
        number: &MemberNumber,
        erasure: &Erasure,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Erased>;
    /// Members whose status has been `left` since before `before` (due for erasure).
    async fn erase_due(&self, before: OffsetDateTime) -> Result<Vec<MemberNumber>>;
    /// All members, ordered by number.
    async fn members(&self) -> Result<Vec<Member>>;
    /// One member.
    async fn member(&self, number: &MemberNumber) -> Result<Option<Member>>;
    /// The one switch, in one transaction: status `suspended` (the status before, the reason,
    /// who and when kept in `suspensions`), single sign-on sessions and their tokens ended, the
    /// live letter token revoked, the account's client certificates revoked (with `reason`),
    /// audited `member.suspend`. Refused for a member who has left or is suspended already, and
    /// for an empty reason or one over [`MAX_SUSPENSION_REASON`] characters. The caller signs
    /// a new CRL when certificates were revoked.
    async fn suspend_member(
        &self,
        number: &MemberNumber,
        reason: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Suspended>;
    /// Lifts a suspension made by [`Store::suspend_member`]: the status before it back,
    /// audited `member.reinstate`. Revoked certificates, the revoked letter token and ended
    /// sessions stay gone (the answer lists them). Refused when the member is not suspended
    /// that way.
    async fn reinstate_member(&self, number: &MemberNumber, actor: &str, now: OffsetDateTime) -> Result<Reinstated>;

    /// Creates an account for a member who has none.
    async fn create_account(&self, new: NewAccount, now: OffsetDateTime) -> Result<Account>;
    /// The account of a member, by member number.
    async fn account_of_member(&self, number: &MemberNumber) -> Result<Option<Account>>;
    /// Every token issued to a member (state and dates, never the token), oldest first.
    async fn tokens_of_member(&self, number: &MemberNumber) -> Result<Vec<TokenRecord>>;
    /// One account.
    async fn account(&self, uid: &Uid) -> Result<Option<Account>>;
    /// Locks or unlocks an account. Locking revokes its client certificates in the same
    /// transaction; returns how many were revoked (the caller then publishes a new CRL).
    async fn set_account_locked(&self, uid: &Uid, locked: bool, actor: &str, now: OffsetDateTime) -> Result<usize>;
    /// Sets a new password: replaces the hash and ends the account's single sign-on sessions.
    async fn set_account_password(&self, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()>;
    /// Replaces the hash of the same password (a legacy hash upgraded after a bind); sessions stay.
    async fn rehash_account_password(&self, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()>;

    /// All groups with their manual members.
    async fn groups(&self) -> Result<Vec<Group>>;
    /// Creates a manual group, federal or (with `chapter`) owned by a chapter.
    async fn create_group(
        &self,
        name: &Name,
        description: Option<&str>,
        chapter: Option<&StateCode>,
        now: OffsetDateTime,
    ) -> Result<Group>;
    /// Deletes a manual group.
    async fn delete_group(&self, name: &Name) -> Result<()>;
    /// Adds an account to a manual group; a chapter's group refuses an account whose member
    /// is of another state association (`Conflict::OutsideChapter`).
    async fn add_group_member(&self, name: &Name, uid: &Uid, now: OffsetDateTime) -> Result<()>;
    /// Removes an account from a manual group and revokes its certificates of the roles in
    /// `roles_requiring` (the roles that require this group); returns how many were revoked.
    async fn remove_group_member(
        &self,
        name: &Name,
        uid: &Uid,
        roles_requiring: &[String],
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<usize>;

    /// Adds a service bind account (a chapter's, when the profile names one: it sees only
    /// that chapter's members, and `members_of` may not name another chapter's group).
    async fn add_service(&self, profile: &ServiceProfile, hash: &str, now: OffsetDateTime) -> Result<Service>;
    /// All services.
    async fn services(&self) -> Result<Vec<Service>>;
    /// Removes a service.
    async fn remove_service(&self, name: &Name) -> Result<()>;
    /// Replaces a service's password hash.
    async fn set_service_password(&self, name: &Name, hash: &str, now: OffsetDateTime) -> Result<()>;

    /// Records a certificate request by admin `by` (federal, or chapter admin of the chapter
    /// owning `group`) for `uid`, who must be in `group`.
    async fn create_cert_request(
        &self,
        uid: &Uid,
        role: &str,
        group: &Name,
        csr_pem: Option<&str>,
        by: &Uid,
        now: OffsetDateTime,
    ) -> Result<CertRequest>;
    /// `cert renew` shortened: a new request for the holder and role of request `original`,
    /// approved at once by its approver (as of that approval's time, so renewing the renewal
    /// counts from it) when that approval is at or after `approved_since` (the rules of an
    /// approval re-checked; `by` is not the holder). Audited `cert.renew`.
    async fn renew_cert_request(
        &self,
        original: i64,
        group: &Name,
        by: &Uid,
        approved_since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<CertRequest>;
    /// One request.
    async fn cert_request(&self, id: i64) -> Result<Option<CertRequest>>;
    /// The kind and expiry of a member's live token, if any (never the token itself).
    async fn member_token(
        &self,
        number: &MemberNumber,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenKind, OffsetDateTime)>>;
    /// The newest `limit` requests, newest first.
    async fn cert_requests(&self, limit: u32) -> Result<Vec<CertRequest>>;
    /// Approves a pending request for a role requiring `group`; `by` must be an admin of that
    /// group's certificates (federal, or chapter admin of its chapter) other than the requester
    /// and the holder.
    async fn approve_cert_request(&self, id: i64, group: &Name, by: &Uid, now: OffsetDateTime) -> Result<CertRequest>;
    /// Records the certificate issued for an approved request (holder still in `group`).
    async fn record_certificate(
        &self,
        id: i64,
        group: &Name,
        cert: &NewCertificate,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Certificate>;
    /// Revokes a certificate by serial.
    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Certificate>;
    /// All certificates, newest first.
    async fn certificates(&self) -> Result<Vec<Certificate>>;
    /// Stores a newly signed CRL (its number must exceed the last one's).
    async fn save_crl(&self, crl: &Crl) -> Result<()>;
    /// The latest CRL.
    async fn latest_crl(&self) -> Result<Option<Crl>>;
    /// Takes or renews the lease `name` for `holder` until `until`: true when it is now
    /// `holder`'s (no lease yet, `holder`'s own, or another's that expired by `now`), false
    /// while another holder's runs. Atomic: of nodes asking at once, one gets it.
    async fn try_lease(&self, name: &str, holder: &str, now: OffsetDateTime, until: OffsetDateTime) -> Result<bool>;
    /// Audit events, oldest first, optionally about/by one uid and since a time.
    async fn audit_events(&self, uid: Option<&str>, since: Option<OffsetDateTime>) -> Result<Vec<AuditEvent>>;
    /// At most `limit` audit events with their ids, newest first, older than event `before`;
    /// with `chapters`, only those about members of these chapters.
    async fn audit_page(
        &self,
        chapters: Option<&[StateCode]>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>>;
    /// The audit events of one action since a time, oldest first.
    async fn audit_by_action(&self, action: &str, since: OffsetDateTime) -> Result<Vec<AuditEvent>>;
    /// When `uid` last logged in successfully (LDAP bind or web login), from the audit trail.
    async fn last_login(&self, uid: &Uid) -> Result<Option<OffsetDateTime>>;

    /// Stores a new TOTP secret (sealed) for enrolment; TOTP stays off until enabled.
    async fn set_totp_secret(&self, uid: &Uid, sealed: &str, actor: &str, now: OffsetDateTime) -> Result<()>;
    /// Switches TOTP on (after a valid code was shown) or off. Off is refused for admins.
    async fn set_totp_enabled(&self, uid: &Uid, enabled: bool, actor: &str, now: OffsetDateTime) -> Result<()>;
    /// Accepts TOTP time step `step` for `uid` once: true if it is later than any accepted
    /// before (atomic, so a code is accepted once across connections and nodes).
    async fn use_totp_step(&self, uid: &Uid, step: i64) -> Result<bool>;
    /// Adds an app password (at most 20 per account).
    async fn add_app_password(
        &self,
        uid: &Uid,
        label: &str,
        hash: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// The app passwords of an account.
    async fn app_passwords(&self, uid: &Uid) -> Result<Vec<AppPassword>>;
    /// Revokes an app password.
    async fn revoke_app_password(&self, uid: &Uid, label: &str, actor: &str, now: OffsetDateTime) -> Result<()>;
    /// Records the use of an app password (does not change the directory).
    async fn touch_app_password(&self, uid: &Uid, label: &str, now: OffsetDateTime) -> Result<()>;
    /// Appends audit events (in one transaction).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()>;
    /// Deletes audit events older than `before`; returns how many. The daily pruning: it also
    /// trims the change log to the last 100 000 revisions (older readers rebuild).
    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64>;

    /// Members who may get a token: active (not suspended, not left), no account yet.
    async fn pending_members(&self) -> Result<Vec<MemberNumber>>;
    /// Stores token HMACs of one kind (one per member; a member's older live token of either
    /// kind is revoked). Refuses the whole batch, listing why, if any member is unknown or has
    /// left, or, for activation tokens, has an account, or, for reset tokens, has none or a
    /// locked one.
    async fn issue_tokens(
        &self,
        tokens: &[(MemberNumber, String)],
        kind: TokenKind,
        expires_at: OffsetDateTime,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<usize>;
    /// Revokes a member's live token.
    async fn revoke_token(&self, member: &MemberNumber, actor: &str, now: OffsetDateTime) -> Result<usize>;
    /// The member of a live, unexpired token.
    async fn token_member(&self, hmac: &str, now: OffsetDateTime) -> Result<Option<MemberNumber>>;
    /// A live, unexpired, usable token: its member, kind and (for a reset token) account.
    async fn live_token(&self, hmac: &str, now: OffsetDateTime) -> Result<Option<LiveToken>>;
    /// Consumes a reset token and sets its account's new password in one transaction, removing
    /// the second factor if asked and ending the account's single sign-on sessions and refresh
    /// tokens; returns the account's uid. An unusable token (of the other kind too) gives
    /// `NotFound` with one message; removing an admin's second factor gives `Refused`.
    async fn reset_with_token(
        &self,
        hmac: &str,
        password_hash: &str,
        second_factor: SecondFactorReset,
        now: OffsetDateTime,
    ) -> Result<Uid>;
    /// Consumes a token and creates the member's account, in one transaction. An unusable token
    /// gives `NotFound` with one message whatever the reason.
    async fn activate_token(
        &self,
        hmac: &str,
        uid: &Uid,
        display_name: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Account>;

    /// Whole tokens left in each bucket at `now_ms` (Unix ms); a bucket never taken from is full.
    async fn bucket_levels(&self, keys: &[(&str, BucketPolicy)], now_ms: i64) -> Result<Vec<u32>>;
    /// Takes one token from a bucket if it has one (atomic across nodes); false when empty.
    async fn bucket_take(&self, key: &str, policy: BucketPolicy, now_ms: i64) -> Result<bool>;
    /// Accepts `nonce` once: true the first time, false for any later use before
    /// `expires_at` (atomic across nodes).
    async fn use_once(&self, nonce: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool>;
    /// Forgets a bucket: it is full again.
    async fn bucket_clear(&self, key: &str) -> Result<()>;
    /// Deletes buckets unchanged since `before_ms` (full again by then); returns how many.
    async fn bucket_prune(&self, before_ms: i64) -> Result<u64>;

    /// Imports people and groups from another LDAP server in one transaction (`import
    /// --ldif`); refuses the whole batch on any uid or account conflict.
    async fn import_directory(
        &self,
        people: &[ImportedPerson],
        groups: &[ImportedGroup],
        dry_run: bool,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<DirectoryImportReport>;

    /// Every table, read in one consistent transaction (for `backup`, while serving).
    async fn dump(&self) -> Result<Vec<TableDump>>;
    /// Whether the store holds members, accounts, services or certificates.
    async fn holds_data(&self) -> Result<bool>;
    /// Replaces the whole content with `tables`, in one transaction (for `restore`).
    async fn load(&self, tables: &[TableDump]) -> Result<()>;

    /// Makes `uid` chapter admin of `chapter` (audited as `admin.grant` by `actor`).
    async fn grant_chapter_admin(
        &self,
        uid: &Uid,
        chapter: &StateCode,
        real_names: bool,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Ends a chapter admin grant (audited as `admin.revoke`).
    async fn revoke_chapter_admin(
        &self,
        uid: &Uid,
        chapter: &StateCode,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Every chapter admin grant, by chapter.
    async fn chapter_admins(&self) -> Result<Vec<ChapterAdmin>>;

    /// Single sign-on's part of the store.
    fn oidc(&self) -> &dyn oidc::OidcStore;
}

/// Opens the store a database URL names (`sqlite://…` or `postgres://…`), creating and
/// migrating it as needed.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::open(url).await?))
}

/// Helpers for tests of this and other crates that need a real database.
pub mod testing {
    use sqlx::Executor;

    use crate::Result;

    /// The environment variable naming a PostgreSQL server the tests may create databases on
    /// (`postgres://user@host:port/db`); `scripts/test` starts a throwaway cluster and sets it.
    pub const POSTGRES_ENV: &str = "PIRATENLDAP_TEST_POSTGRES";

    /// Creates a new, empty database on the test PostgreSQL server and returns its URL.
    /// Fails with a clear message when [`POSTGRES_ENV`] is not set.
    pub async fn fresh_postgres_database() -> Result<String> {
        let admin = std::env::var(POSTGRES_ENV).map_err(|_| {
            crate::StoreError::Unsupported(format!(
                "{POSTGRES_ENV} is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL"
            ))
        })?;
        fresh_database_on(&admin).await
    }

    /// Creates a new, empty database on the PostgreSQL server `admin` names; returns its URL.
    pub async fn fresh_database_on(admin: &str) -> Result<String> {
        sqlx::any::install_default_drivers();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await?;
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
        Ok(format!("{base}/{name}"))
    }
}
