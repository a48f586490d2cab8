//! The SQL implementation of [`Store`], one code path for both backends through sqlx's `Any`
//! driver: an SQLite file in WAL mode (one machine; server and CLI processes share it) or a
//! PostgreSQL database (several nodes). The SQL is the common subset of both dialects with
//! `$N` placeholders; the few differences (migrations, connection setup, snapshot isolation)
//! are in this file, keyed by [`Backend`].

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;

use async_trait::async_trait;
use changes::bump_revision;
use columns::Columns;
use groups::{ensure_state_group, group_from_row};
use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use services::{insert_service, service_from_row};
use sqlx::any::{AnyPoolOptions, AnyQueryResult, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::{
    Account, AppPassword, AuditEvent, BucketPolicy, CertRequest, Certificate, ChangeKey, ChapterAdmin, Conflict, Crl,
    Delta, DirectoryImportReport, Erased, Erasure, Group, ImportReport, ImportedGroup, ImportedPerson, LiveToken,
    Member, NewAccount, NewCertificate, Reinstated, Result, SecondFactorReset, Service, ServiceProfile, Snapshot,
    Store, StoreError, Suspended, TableDump, TokenKind, TokenRecord,
};

mod admins;
mod audit;
mod auth;
mod backup;
mod buckets;
mod certs;
mod changes;
mod columns;
mod erasure;
mod export;
mod file;
mod groups;
mod interchange;
mod oidc;
mod services;
mod snapshot;
mod switch;
mod tokens;
mod used_once;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The database engine behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if any.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// The member database in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// On SQLite, the database file, which snapshots are read from with rusqlite
    /// (`snapshot.rs` says why).
    sqlite_file: Option<PathBuf>,
}

/// SQLite settings for every connection: a generous busy timeout because CLI and server
/// processes write to one file (first, so that switching to WAL waits too), WAL so readers
/// never block the writer, foreign keys on, deleted content overwritten (`secure_delete`: an
/// erased member must not linger in free pages of the file).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;";

impl SqlStore {
    /// Opens and migrates the database a `sqlite://PATH` or `postgres://…` URL names; an SQLite
    /// file is created when missing, and it and its WAL and SHM files are kept private (mode
    /// 0600, `file.rs`).
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)
            .ok_or_else(|| StoreError::Unsupported(format!("unknown database URL scheme in {url:?}")))?;
        let (url, max) = match backend {
            Backend::Sqlite if url.contains("mode=") => (url.to_string(), 4),
            Backend::Sqlite if url.contains('?') => (format!("{url}&mode=rwc"), 4),
            Backend::Sqlite => (format!("{url}?mode=rwc"), 4),
            Backend::Postgres => (url.to_string(), 10),
        };
        // The database file, made private before SQLite opens it. An in-memory database has
        // none and is private to its connection: snapshots read it through the pool.
        let sqlite_file = match backend {
            Backend::Sqlite if !(url.contains(":memory:") || url.contains("mode=memory")) => {
                let path = SqliteConnectOptions::from_str(&url)?.get_filename().to_path_buf();
                (!path.as_os_str().is_empty()).then_some(path)
            }
            _ => None,
        };
        if let Some(path) = &sqlite_file {
            file::make_private(path, url.contains("mode=rwc"))?;
        }
        let mut options = AnyPoolOptions::new().max_connections(max);
        if backend == Backend::Postgres {
            // A server that is down must fail a query soon, not after sqlx's 30 s: the nodes
            // keep serving from memory meanwhile (the SQLite file is local and only waits for
            // its own writers).
            options = options.acquire_timeout(std::time::Duration::from_secs(3));
        }
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&pool).await?,
        }
        Ok(SqlStore {
            pool,
            backend,
            sqlite_file,
        })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that sees one consistent state of every table (SQLite's read
    /// transactions always do; PostgreSQL needs REPEATABLE READ for it).
    async fn begin_consistent(&self) -> Result<Transaction<'static, Any>> {
        let mut tx = self.pool.begin().await?; // a reader: deferred is right
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}

/// Timestamps are stored as RFC 3339 UTC text with a fixed six-digit fraction, so that text
/// order is time order (range queries on `audit.at` rely on it).
fn ts(t: OffsetDateTime) -> Result<String> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_ts(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

/// `$N` placeholders for `rows` rows of `per_row` values, e.g. `($1, $2), ($3, $4)`; with
/// `per_row == 1` a bare list `$1, $2, $3` (for `IN (…)`). sqlx's `QueryBuilder` for `Any`
/// writes `?`, which PostgreSQL does not understand, hence this.
fn placeholders(rows: usize, per_row: usize) -> String {
    let mut out = String::with_capacity(rows * per_row * 6);
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        if per_row > 1 {
            out.push('(');
        }
        for c in 0..per_row {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&n.to_string());
            n += 1;
        }
        if per_row > 1 {
            out.push(')');
        }
    }
    out
}

fn corrupt<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Runs a query without parameters and converts every row with `convert`.
async fn fetch_mapped<T>(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    convert: fn(&AnyRow) -> Result<T>,
) -> Result<Vec<T>> {
    sqlx::query(sql).fetch_all(conn).await?.iter().map(convert).collect()
}

/// Runs a query with one parameter, `key`, and converts the row it finds with `convert`.
async fn fetch_optional_mapped<'q, E, K, T>(
    executor: E,
    sql: &'q str,
    key: K,
    convert: fn(&AnyRow) -> Result<T>,
) -> Result<Option<T>>
where
    E: Executor<'q, Database = Any>,
    K: 'q + Send + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
{
    sqlx::query(sql)
        .bind(key)
        .fetch_optional(executor)
        .await?
        .as_ref()
        .map(convert)
        .transpose()
}

/// The number of rows a statement changed; NotFound with `missing`'s message when none.
fn changed(done: AnyQueryResult, missing: impl FnOnce() -> String) -> Result<u64> {
    match done.rows_affected() {
        0 => Err(StoreError::NotFound(missing())),
        n => Ok(n),
    }
}

/// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), so that it waits out another process's writer under the busy timeout: a
/// deferred transaction that has read first fails at once with "database is locked" when it
/// comes to write, because SQLite never lets a reader wait for the write lock.
async fn begin_write(pool: &AnyPool) -> Result<Transaction<'static, Any>> {
    let backend = Backend::of_url(pool.connect_options().database_url.as_str());
    Ok(if backend == Some(Backend::Sqlite) {
        pool.begin_with("BEGIN IMMEDIATE").await?
    } else {
        pool.begin().await?
    })
}

/// Ends a transaction that may be a dry run: rolled back then, committed otherwise.
async fn finish(tx: Transaction<'_, Any>, dry_run: bool) -> Result<()> {
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(())
}

async fn next_number(tx: &mut Transaction<'_, Any>, key: &str) -> Result<i64> {
    let row = sqlx::query("UPDATE meta SET value = value + 1 WHERE key = $1 RETURNING value - 1")
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get(0)?)
}

fn member_from_row(row: &impl Columns) -> Result<Member> {
    Ok(Member {
        number: MemberNumber::parse(row.str("number")?).map_err(corrupt)?,
        state: StateCode::parse(row.str("state")?).map_err(corrupt)?,
        status: MembershipStatus::parse(row.str("status")?).map_err(corrupt)?,
        voting_right: row.flag("voting_right")?,
        given_name: row.opt_text("given_name")?,
        surname: row.opt_text("surname")?,
        email: row.opt_text("email")?,
        joined: row
            .opt_text("joined")?
            .map(|d| Date::parse(&d, time::macros::format_description!("[year]-[month]-[day]")).map_err(corrupt))
            .transpose()?,
    })
}

fn account_from_row(row: &impl Columns) -> Result<Account> {
    Ok(Account {
        uid: row.uid("uid")?,
        member_number: MemberNumber::parse(row.str("member_number")?).map_err(corrupt)?,
        display_name: row.text("display_name")?,
        password_hash: row.text("password_hash")?,
        locked: row.flag("locked")?,
        uid_number: row.int("uid_number")?,
        entry_uuid: row.text("entry_uuid")?,
        created_at: row.time("created_at")?,
        modified_at: row.time("modified_at")?,
        totp_secret: row.opt_text("totp_secret")?,
        totp_enabled: row.flag("totp_enabled")?,
    })
}

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Creates an account inside a transaction: the member must exist, not have left, and have no
/// account yet; the uid must be free.
async fn insert_account(tx: &mut Transaction<'_, Any>, new: NewAccount, now: OffsetDateTime) -> Result<Account> {
    let stamp = ts(now)?;
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM members WHERE number = $1")
        .bind(new.member_number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    match status.as_deref() {
        None => {
            return Err(StoreError::NotFound(format!(
                "no member with number {}",
                new.member_number
            )));
        }
        Some("left") => {
            return Err(StoreError::Refused(format!(
                "member {} has left; no account can be created",
                new.member_number
            )));
        }
        Some(_) => {}
    }
    let has: Option<String> = sqlx::query_scalar("SELECT uid FROM accounts WHERE member_number = $1")
        .bind(new.member_number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(uid) = has {
        return Err(StoreError::Conflict(Conflict::MemberHasAccount {
            member: new.member_number.clone(),
            uid,
        }));
    }
    let uid_number = next_number(tx, "next_uid_number").await?;
    let entry_uuid = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query("INSERT INTO accounts (uid, member_number, display_name, password_hash, locked, uid_number, entry_uuid, created_at, modified_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8)")
        .bind(new.uid.as_str()).bind(new.member_number.as_str()).bind(&new.display_name).bind(&new.password_hash)
        .bind(uid_number).bind(&entry_uuid).bind(&stamp).bind(&stamp)
        .execute(&mut **tx).await;
    match inserted {
        Err(e) if unique_violation(&e) => {
            return Err(StoreError::Conflict(Conflict::UidTaken(new.uid.clone())));
        }
        other => {
            other?;
        }
    }
    Ok(Account {
        uid: new.uid,
        member_number: new.member_number,
        display_name: new.display_name,
        password_hash: new.password_hash,
        locked: false,
        uid_number,
        entry_uuid,
        created_at: now,
        modified_at: now,
        totp_secret: None,
        totp_enabled: false,
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn revision(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = 'revision'")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn changes_since(&self, revision: i64, max_keys: usize) -> Result<Delta> {
        let mut tx = self.begin_consistent().await?;
        let delta = changes::since(&mut tx, revision, max_keys).await?;
        tx.commit().await?;
        Ok(delta)
    }

    async fn snapshot(&self) -> Result<Snapshot> {
        match &self.sqlite_file {
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || snapshot::read_sqlite(&path))
                    .await
                    .map_err(|e| StoreError::Task(format!("reading a snapshot: {e}")))?
            }
            None => {
                let mut tx = self.begin_consistent().await?;
                let snapshot = snapshot::read(&mut tx).await?;
                tx.commit().await?;
                Ok(snapshot)
            }
        }
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
        if !tombstones.is_empty() && tombstones.len() != records.len() {
            return Err(StoreError::Refused(
                "one tombstone per imported record is needed".into(),
            ));
        }
        let now_time = now;
        let now = ts(now)?;
        let mut tx = begin_write(&self.pool).await?;
        let existing: HashMap<MemberNumber, Member> = sqlx::query("SELECT * FROM members")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| member_from_row(r).map(|m| (m.number.clone(), m)))
            .collect::<Result<_>>()?;
        let mut report = ImportReport::default();
        let mut states: HashSet<StateCode> = HashSet::new();
        // A suspension by `member suspend` holds whatever the file says; the file's status is
        // the one `member reinstate` restores.
        let held = switch::held(&mut tx).await?;
        // Members whose status changes to suspended or left: the one switch disables them.
        let mut to_disable: Vec<(MemberNumber, MembershipStatus)> = Vec::new();
        // Erased members stay erased, whatever the file still says about them.
        let erased = erasure::tombstones(&mut tx).await?;
        let mut in_file: HashSet<&MemberNumber> = HashSet::new();
        // The change log's keys: every member added, updated or marked left, and what follows.
        let mut changed: Vec<ChangeKey> = Vec::new();
        for (i, rec) in records.iter().enumerate() {
            in_file.insert(&rec.number);
            if tombstones.get(i).is_some_and(|t| erased.contains(t)) && !existing.contains_key(&rec.number) {
                report.erased_skipped += 1;
                continue;
            }
            states.insert(rec.state.clone());
            let joined = rec.joined.map(|d| d.to_string());
            let mut new = rec.clone();
            if let Some(before) = held.get(&rec.number) {
                if *before != rec.status {
                    switch::set_status_before(&mut tx, &rec.number, rec.status).await?;
                }
                new.status = MembershipStatus::Suspended;
            }
            match existing.get(&rec.number) {
                Some(old) if *old == new => report.unchanged += 1,
                Some(old) => {
                    report.updated += 1;
                    changed.push(ChangeKey::Member(rec.number.clone()));
                    if old.status != new.status && new.status != MembershipStatus::Active {
                        to_disable.push((rec.number.clone(), new.status));
                    }
                    sqlx::query("UPDATE members SET state = $1, status = $2, voting_right = $3, given_name = $4, surname = $5, email = $6, joined = $7, updated_at = $8, status_since = CASE WHEN status = $2 THEN status_since ELSE $8 END WHERE number = $9")
                        .bind(rec.state.as_str()).bind(new.status.as_str()).bind(i64::from(rec.voting_right))
                        .bind(&rec.given_name).bind(&rec.surname).bind(&rec.email).bind(&joined).bind(&now).bind(rec.number.as_str())
                        .execute(&mut *tx).await?;
                }
                None => {
                    report.added += 1;
                    changed.push(ChangeKey::Member(rec.number.clone()));
                    sqlx::query("INSERT INTO members (number, state, status, voting_right, given_name, surname, email, joined, created_at, updated_at, status_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                        .bind(rec.number.as_str()).bind(rec.state.as_str()).bind(rec.status.as_str()).bind(i64::from(rec.voting_right))
                        .bind(&rec.given_name).bind(&rec.surname).bind(&rec.email).bind(&joined).bind(&now).bind(&now).bind(&now)
                        .execute(&mut *tx).await?;
                }
            }
        }
        if full {
            for (number, old) in &existing {
                if !in_file.contains(number) && held.contains_key(number) {
                    // Suspended by the switch: stays so, and is restored as left.
                    if held.get(number) != Some(&MembershipStatus::Left) {
                        report.marked_left += 1;
                        switch::set_status_before(&mut tx, number, MembershipStatus::Left).await?;
                    }
                } else if !in_file.contains(number) && old.status != MembershipStatus::Left {
                    report.marked_left += 1;
                    changed.push(ChangeKey::Member(number.clone()));
                    to_disable.push((number.clone(), MembershipStatus::Left));
                    sqlx::query(
                        "UPDATE members SET status = 'left', updated_at = $1, status_since = $1 WHERE number = $2",
                    )
                    .bind(&now)
                    .bind(number.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        for state in states {
            if ensure_state_group(&mut tx, &state, &now).await? {
                changed.push(ChangeKey::Group(Name::parse(&state.group_name()).map_err(corrupt)?));
            }
        }
        // A member who moved to another state association leaves the groups their old chapter
        // owns, in this transaction: no chapter group ever lists a foreign member.
        let dropped = groups::drop_foreign_members(&mut tx, "member-import", now_time).await?;
        report.left_chapter_groups = dropped.len();
        for (group, uid) in &dropped {
            changed.extend(groups::membership(group, uid, &[]));
        }
        // Members no longer active lose their sessions, letter token and certificates for good
        // (a later return does not bring them back): the one switch, in this transaction.
        to_disable.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        for (number, status) in &to_disable {
            let reason = format!("membership administration: status {status}");
            let disabled = switch::disable(&mut tx, number, &reason, "member-import", now_time).await?;
            changed.extend(disabled.uid.clone().map(ChangeKey::Account));
            changed.extend(disabled.revoked_serials.iter().cloned().map(ChangeKey::Certificate));
            if disabled.uid.is_some() || disabled.token_revoked {
                report.disabled.push(disabled);
            }
        }
        let members_changed = report.added + report.updated + report.marked_left;
        if members_changed > changes::MAX_LISTED_MEMBERS {
            changed = vec![ChangeKey::Everything];
        }
        bump_revision(&mut tx, &changed).await?;
        finish(tx, dry_run).await?;
        Ok(report)
    }

    async fn members(&self) -> Result<Vec<Member>> {
        fetch_mapped(&mut *self.pool.acquire().await?, snapshot::MEMBERS, member_from_row).await
    }

    async fn member(&self, number: &MemberNumber) -> Result<Option<Member>> {
        let sql = "SELECT * FROM members WHERE number = $1";
        fetch_optional_mapped(&self.pool, sql, number.as_str(), member_from_row).await
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
        let mut tx = begin_write(&self.pool).await?;
        let account = insert_account(&mut tx, new, now).await?;
        bump_revision(&mut tx, &[ChangeKey::Account(account.uid.clone())]).await?;
        tx.commit().await?;
        Ok(account)
    }

    async fn account_of_member(&self, number: &MemberNumber) -> Result<Option<Account>> {
        export::account_of(&self.pool, number).await
    }

    async fn tokens_of_member(&self, number: &MemberNumber) -> Result<Vec<TokenRecord>> {
        export::tokens_of(&self.pool, number).await
    }

    async fn account(&self, uid: &Uid) -> Result<Option<Account>> {
        let sql = "SELECT * FROM accounts WHERE uid = $1";
        fetch_optional_mapped(&self.pool, sql, uid.as_str(), account_from_row).await
    }

    async fn set_account_locked(&self, uid: &Uid, locked: bool, actor: &str, now: OffsetDateTime) -> Result<usize> {
        let mut tx = begin_write(&self.pool).await?;
        let done = sqlx::query("UPDATE accounts SET locked = $1, modified_at = $2 WHERE uid = $3")
            .bind(i64::from(locked))
            .bind(ts(now)?)
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        changed(done, || format!("no account {uid}"))?;
        let action = if locked { "account.lock" } else { "account.unlock" };
        certs::audit(&mut tx, actor, action, uid.as_str(), "", now).await?;
        let revoked = if locked {
            // A lock ends the sessions for good: an unlock does not bring them back.
            oidc::end_sessions(&mut tx, Some(uid), now).await?;
            certs::revoke_all_of(&mut tx, uid, None, "account locked", actor, now).await?
        } else {
            Vec::new()
        };
        let mut changed = vec![ChangeKey::Account(uid.clone())];
        changed.extend(revoked.iter().cloned().map(ChangeKey::Certificate));
        bump_revision(&mut tx, &changed).await?;
        tx.commit().await?;
        Ok(revoked.len())
    }

    async fn set_account_password(&self, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let done = sqlx::query("UPDATE accounts SET password_hash = $1, modified_at = $2 WHERE uid = $3")
            .bind(hash)
            .bind(ts(now)?)
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        changed(done, || format!("no account {uid}"))?;
        oidc::end_sessions(&mut tx, Some(uid), now).await?;
        bump_revision(&mut tx, &[ChangeKey::Account(uid.clone())]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rehash_account_password(&self, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()> {
        let sql = "UPDATE accounts SET password_hash = $1, modified_at = $2 WHERE uid = $3";
        let logged = ChangeKey::Account(uid.clone());
        self.update_row(sql, hash, now, uid.as_str(), logged, || format!("no account {uid}"))
            .await
    }

    async fn groups(&self) -> Result<Vec<Group>> {
        let mut conn = self.pool.acquire().await?;
        snapshot::groups(&mut conn).await
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
        fetch_mapped(&mut *self.pool.acquire().await?, snapshot::SERVICES, service_from_row).await
    }

    async fn remove_service(&self, name: &Name) -> Result<()> {
        services::remove(&self.pool, name).await
    }

    async fn set_service_password(&self, name: &Name, hash: &str, now: OffsetDateTime) -> Result<()> {
        let sql = "UPDATE services SET password_hash = $1, modified_at = $2 WHERE name = $3";
        let logged = ChangeKey::Service(name.clone());
        self.update_row(sql, hash, now, name.as_str(), logged, || {
            format!("no service named {name}")
        })
        .await
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

    async fn audit_events(&self, uid: Option<&str>, since: Option<OffsetDateTime>) -> Result<Vec<AuditEvent>> {
        audit::audit_events(&self.pool, uid, since).await
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
        auth::append_audit(&self.pool, events).await
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64> {
        let mut tx = begin_write(&self.pool).await?;
        let gone = auth::prune_audit(&mut tx, before).await?;
        changes::prune(&mut tx).await?;
        tx.commit().await?;
        Ok(gone)
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

    fn oidc(&self) -> &dyn crate::oidc::OidcStore {
        self
    }

    async fn load(&self, tables: &[TableDump]) -> Result<()> {
        backup::load(&self.pool, self.backend, tables).await
    }
}

impl SqlStore {
    /// Runs one `UPDATE … SET <value>, modified_at WHERE <key>` that must hit a row, and bumps
    /// the revision logging `logged`.
    async fn update_row(
        &self,
        sql: &str,
        value: &str,
        now: OffsetDateTime,
        key: &str,
        logged: ChangeKey,
        missing: impl FnOnce() -> String,
    ) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        let done = sqlx::query(sql)
            .bind(value)
            .bind(ts(now)?)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        changed(done, missing)?;
        bump_revision(&mut tx, &[logged]).await?;
        tx.commit().await?;
        Ok(())
    }
}
