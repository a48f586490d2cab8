//! The SQL implementation of [`Store`], one code path for both backends through sqlx's `Any`
//! driver: an SQLite file in WAL mode (one machine; server and CLI processes share it) or a
//! PostgreSQL database (several nodes). The SQL is the common subset of both dialects with
//! `$N` placeholders; the few differences (connection setup, snapshot isolation, sequences)
//! are keyed by [`Backend`] in `connection.rs`, `snapshot.rs` and `backup.rs`.
//!
//! One file per domain (members, accounts, groups, services, certificates, tokens, …), as
//! `ops/` has one per LDAP operation; this file only hands each `Store` method to its domain.
//! Shared pieces: `connection.rs` (open, begin), `write.rs` (the write transaction that ends
//! with the revision and the change log), `changes.rs` (the change log), `audit.rs` (the audit
//! trail, written and read), `query.rs` and `values.rs` (small helpers), `columns.rs` (row
//! mappers for both row types).

use async_trait::async_trait;
use piratenldap_core::ids::{MemberNumber, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use time::OffsetDateTime;

use crate::oidc::OidcStore;
use crate::{
    Account, AppPassword, AuditEvent, BucketPolicy, CertRequest, Certificate, ChapterAdmin, Crl, Delta,
    DirectoryImportReport, Erased, Erasure, Group, ImportReport, ImportedGroup, ImportedPerson, LiveToken, Member,
    NewAccount, NewCertificate, Reinstated, Result, SecondFactorReset, Service, ServiceProfile, Snapshot, Store,
    Suspended, TableDump, TokenKind, TokenRecord,
};

mod accounts;
mod admins;
mod audit;
mod auth;
mod backup;
mod buckets;
mod certs;
mod changes;
mod columns;
mod connection;
mod erasure;
mod export;
mod file;
mod groups;
mod interchange;
mod leases;
mod members;
mod oidc;
mod query;
mod services;
mod snapshot;
mod switch;
mod tokens;
mod used_once;
mod values;
mod write;

pub use connection::{Backend, SqlStore};

#[async_trait]
impl Store for SqlStore {
    async fn revision(&self) -> Result<i64> {
        changes::revision(&self.pool).await
    }

    async fn changes_since(&self, revision: i64, max_keys: usize) -> Result<Delta> {
        let mut tx = self.begin_consistent().await?;
        let delta = changes::since(&mut tx, revision, max_keys).await?;
        tx.commit().await?;
        Ok(delta)
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        self.read_snapshot().await
    }

    async fn import_members(
        &self,
        records: &[MemberRecord],
        full: bool,
        dry_run: bool,
        now: OffsetDateTime,
    ) -> Result<ImportReport> {
        self.import_members_sparing(records, &[], full, dry_run, now).await
    }

    async fn import_members_sparing(
        &self,
        records: &[MemberRecord],
        tombstones: &[String],
        full: bool,
        dry_run: bool,
        now: OffsetDateTime,
    ) -> Result<ImportReport> {
        members::import(&self.pool, records, tombstones, full, dry_run, now).await
    }

    async fn members(&self) -> Result<Vec<Member>> {
        members::all(&self.pool).await
    }

    async fn member(&self, number: &MemberNumber) -> Result<Option<Member>> {
        members::get(&self.pool, number).await
    }

    async fn suspend_member(
        &self,
        number: &MemberNumber,
        reason: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Suspended> {
        switch::suspend(&self.pool, number, reason, actor, now).await
    }

    async fn reinstate_member(&self, number: &MemberNumber, actor: &str, now: OffsetDateTime) -> Result<Reinstated> {
        switch::reinstate(&self.pool, number, actor, now).await
    }

    async fn erase_member(
        &self,
        number: &MemberNumber,
        erasure: &Erasure,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Erased> {
        erasure::erase(&self.pool, number, erasure, actor, now).await
    }

    async fn erase_due(&self, before: OffsetDateTime) -> Result<Vec<MemberNumber>> {
        erasure::due(&self.pool, before).await
    }

    async fn create_account(&self, new: NewAccount, now: OffsetDateTime) -> Result<Account> {
        accounts::create(&self.pool, new, now).await
    }

    async fn account_of_member(&self, number: &MemberNumber) -> Result<Option<Account>> {
        export::account_of(&self.pool, number).await
    }

    async fn tokens_of_member(&self, number: &MemberNumber) -> Result<Vec<TokenRecord>> {
        export::tokens_of(&self.pool, number).await
    }

    async fn account(&self, uid: &Uid) -> Result<Option<Account>> {
        accounts::get(&self.pool, uid).await
    }

    async fn set_account_locked(&self, uid: &Uid, locked: bool, actor: &str, now: OffsetDateTime) -> Result<usize> {
        accounts::set_locked(&self.pool, uid, locked, actor, now).await
    }

    async fn set_account_password(&self, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()> {
        accounts::set_password(&self.pool, uid, hash, now).await
    }

    async fn rehash_account_password(&self, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()> {
        accounts::rehash(&self.pool, uid, hash, now).await
    }

    async fn groups(&self) -> Result<Vec<Group>> {
        snapshot::groups(&mut *self.pool.acquire().await?).await
    }

    async fn create_group(
        &self,
        name: &Name,
        description: Option<&str>,
        chapter: Option<&StateCode>,
        now: OffsetDateTime,
    ) -> Result<Group> {
        groups::create(&self.pool, name, description, chapter, now).await
    }

    async fn delete_group(&self, name: &Name) -> Result<()> {
        groups::delete(&self.pool, name).await
    }

    async fn add_group_member(&self, name: &Name, uid: &Uid, now: OffsetDateTime) -> Result<()> {
        groups::add_member(&self.pool, name, uid, now).await
    }

    async fn remove_group_member(
        &self,
        name: &Name,
        uid: &Uid,
        roles_requiring: &[String],
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<usize> {
        groups::remove_member(&self.pool, name, uid, roles_requiring, actor, now).await
    }

    async fn add_service(&self, profile: &ServiceProfile, hash: &str, now: OffsetDateTime) -> Result<Service> {
        services::add(&self.pool, profile, hash, now).await
    }

    async fn services(&self) -> Result<Vec<Service>> {
        services::all(&self.pool).await
    }

    async fn remove_service(&self, name: &Name) -> Result<()> {
        services::remove(&self.pool, name).await
    }

    async fn set_service_password(&self, name: &Name, hash: &str, now: OffsetDateTime) -> Result<()> {
        services::set_password(&self.pool, name, hash, now).await
    }

    async fn create_cert_request(
        &self,
        uid: &Uid,
        role: &str,
        group: &Name,
        csr_pem: Option<&str>,
        by: &Uid,
        now: OffsetDateTime,
    ) -> Result<CertRequest> {
        certs::create_request(&self.pool, uid, role, group, csr_pem, by, now).await
    }

    async fn cert_request(&self, id: i64) -> Result<Option<CertRequest>> {
        certs::get_request(&self.pool, id).await
    }

    async fn member_token(
        &self,
        number: &MemberNumber,
        now: OffsetDateTime,
    ) -> Result<Option<(TokenKind, OffsetDateTime)>> {
        tokens::member_token(&self.pool, number, now).await
    }

    async fn cert_requests(&self, limit: u32) -> Result<Vec<CertRequest>> {
        certs::requests(&self.pool, limit).await
    }

    async fn renew_cert_request(
        &self,
        original: i64,
        group: &Name,
        by: &Uid,
        approved_since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<CertRequest> {
        certs::renew_approved(&self.pool, original, group, by, approved_since, now).await
    }

    async fn approve_cert_request(&self, id: i64, group: &Name, by: &Uid, now: OffsetDateTime) -> Result<CertRequest> {
        certs::approve(&self.pool, id, group, by, now).await
    }

    async fn record_certificate(
        &self,
        id: i64,
        group: &Name,
        cert: &NewCertificate,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Certificate> {
        certs::record(&self.pool, id, group, cert, actor, now).await
    }

    async fn revoke_certificate(
        &self,
        serial: &str,
        reason: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Certificate> {
        certs::revoke(&self.pool, serial, reason, actor, now).await
    }

    async fn certificates(&self) -> Result<Vec<Certificate>> {
        certs::all(&self.pool).await
    }

    async fn save_crl(&self, crl: &Crl) -> Result<()> {
        certs::save_crl(&self.pool, crl).await
    }

    async fn latest_crl(&self) -> Result<Option<Crl>> {
        certs::latest_crl(&self.pool).await
    }

    async fn try_lease(&self, name: &str, holder: &str, now: OffsetDateTime, until: OffsetDateTime) -> Result<bool> {
        leases::try_lease(&self.pool, name, holder, now, until).await
    }

    async fn audit_events(&self, uid: Option<&str>, since: Option<OffsetDateTime>) -> Result<Vec<AuditEvent>> {
        audit::events(&self.pool, uid, since).await
    }

    async fn audit_page(
        &self,
        chapters: Option<&[StateCode]>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, AuditEvent)>> {
        audit::page(&self.pool, chapters, before, limit).await
    }

    async fn audit_by_action(&self, action: &str, since: OffsetDateTime) -> Result<Vec<AuditEvent>> {
        audit::by_action(&self.pool, action, since).await
    }

    async fn last_login(&self, uid: &Uid) -> Result<Option<OffsetDateTime>> {
        audit::last_login(&self.pool, uid.as_str()).await
    }

    async fn set_totp_secret(&self, uid: &Uid, sealed: &str, actor: &str, now: OffsetDateTime) -> Result<()> {
        auth::set_totp_secret(&self.pool, uid, sealed, actor, now).await
    }

    async fn set_totp_enabled(&self, uid: &Uid, enabled: bool, actor: &str, now: OffsetDateTime) -> Result<()> {
        auth::set_totp_enabled(&self.pool, uid, enabled, actor, now).await
    }

    async fn use_totp_step(&self, uid: &Uid, step: i64) -> Result<bool> {
        auth::use_totp_step(&self.pool, uid, step).await
    }

    async fn add_app_password(
        &self,
        uid: &Uid,
        label: &str,
        hash: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        auth::add_app_password(&self.pool, uid, label, hash, actor, now).await
    }

    async fn app_passwords(&self, uid: &Uid) -> Result<Vec<AppPassword>> {
        auth::app_passwords(&self.pool, uid).await
    }

    async fn revoke_app_password(&self, uid: &Uid, label: &str, actor: &str, now: OffsetDateTime) -> Result<()> {
        auth::revoke_app_password(&self.pool, uid, label, actor, now).await
    }

    async fn touch_app_password(&self, uid: &Uid, label: &str, now: OffsetDateTime) -> Result<()> {
        auth::touch_app_password(&self.pool, uid, label, now).await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()> {
        audit::append(&self.pool, events).await
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64> {
        audit::prune(&self.pool, before).await
    }

    async fn pending_members(&self) -> Result<Vec<MemberNumber>> {
        tokens::pending_members(&self.pool).await
    }

    async fn issue_tokens(
        &self,
        t: &[(MemberNumber, String)],
        kind: TokenKind,
        expires_at: OffsetDateTime,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<usize> {
        tokens::issue(&self.pool, t, kind, expires_at, actor, now).await
    }

    async fn revoke_token(&self, member: &MemberNumber, actor: &str, now: OffsetDateTime) -> Result<usize> {
        tokens::revoke(&self.pool, member, actor, now).await
    }

    async fn token_member(&self, hmac: &str, now: OffsetDateTime) -> Result<Option<MemberNumber>> {
        tokens::live_member(&self.pool, hmac, now).await
    }

    async fn live_token(&self, hmac: &str, now: OffsetDateTime) -> Result<Option<LiveToken>> {
        tokens::live_token(&self.pool, hmac, now).await
    }

    async fn reset_with_token(
        &self,
        hmac: &str,
        password_hash: &str,
        second_factor: SecondFactorReset,
        now: OffsetDateTime,
    ) -> Result<Uid> {
        tokens::reset(&self.pool, hmac, password_hash, second_factor, now).await
    }

    async fn activate_token(
        &self,
        hmac: &str,
        uid: &Uid,
        display_name: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Account> {
        tokens::activate(&self.pool, hmac, uid, display_name, password_hash, now).await
    }

    async fn bucket_levels(&self, keys: &[(&str, BucketPolicy)], now_ms: i64) -> Result<Vec<u32>> {
        buckets::levels(&self.pool, keys, now_ms).await
    }

    async fn bucket_take(&self, key: &str, policy: BucketPolicy, now_ms: i64) -> Result<bool> {
        buckets::take(&self.pool, key, policy, now_ms).await
    }

    async fn use_once(&self, nonce: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool> {
        used_once::take(&self.pool, nonce, expires_at, now).await
    }

    async fn bucket_clear(&self, key: &str) -> Result<()> {
        buckets::clear(&self.pool, key).await
    }

    async fn bucket_prune(&self, before_ms: i64) -> Result<u64> {
        buckets::prune(&self.pool, before_ms).await
    }

    async fn import_directory(
        &self,
        people: &[ImportedPerson],
        groups: &[ImportedGroup],
        dry_run: bool,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<DirectoryImportReport> {
        interchange::import(&self.pool, people, groups, dry_run, actor, now).await
    }

    async fn dump(&self) -> Result<Vec<TableDump>> {
        let mut tx = self.begin_consistent().await?;
        let tables = backup::dump(&mut tx).await?;
        tx.commit().await?;
        Ok(tables)
    }

    async fn holds_data(&self) -> Result<bool> {
        backup::holds_data(&self.pool).await
    }

    async fn grant_chapter_admin(
        &self,
        uid: &Uid,
        chapter: &StateCode,
        real_names: bool,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        admins::grant(&self.pool, uid, chapter, real_names, actor, now).await
    }

    async fn revoke_chapter_admin(
        &self,
        uid: &Uid,
        chapter: &StateCode,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        admins::revoke(&self.pool, uid, chapter, actor, now).await
    }

    async fn chapter_admins(&self) -> Result<Vec<ChapterAdmin>> {
        admins::list(&self.pool).await
    }

    fn oidc(&self) -> &dyn OidcStore {
        self
    }

    async fn load(&self, tables: &[TableDump]) -> Result<()> {
        backup::load(&self.pool, self.backend(), tables).await
    }
}
