//! The change log (issue 17). Every write that changes what the directory shows moves the
//! revision on and records, in the same transaction and at the new revision, the keys of what
//! it changed ([`bump_revision`]); [`since`] reads the current rows of everything changed after
//! a revision, in one read transaction with the revision, so a node applies only that to its
//! view. `meta.changes_from` is the revision after which the log is complete: the migration
//! starts it at the revision of that moment, [`prune`] and a restore move it on.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use piratenldap_core::ids::{MemberNumber, Name, Uid};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

use super::accounts::account_from_row;
use super::columns::Columns;
use super::groups::group_from_row;
use super::members::member_from_row;
use super::services::service_from_row;
use super::snapshot::{attach_manual_members, group_member_from_row};
use super::values::{corrupt, placeholders};
use super::{auth, certs};
use crate::{Account, ChangeKey, Delta, PartialSnapshot, Result};

/// How many revisions back the log reaches after [`prune`]: the rows of the last 100 000
/// revisions are kept (months of writes for this directory, while a row is some 30 bytes), so
/// a node that was away less than that catches up from the log.
pub(super) const KEPT_REVISIONS: i64 = 100_000;

/// Most members one import lists by key; an import that changes more logs `Everything`.
pub(super) const MAX_LISTED_MEMBERS: usize = 10_000;

/// Keys per statement (both engines take far more bound values; this keeps statements small).
const CHUNK: usize = 1000;

/// The `kind` and `key` columns of a change.
fn encode(key: &ChangeKey) -> (&'static str, &str) {
    match key {
        ChangeKey::Member(n) => ("member", n.as_str()),
        ChangeKey::Account(u) => ("account", u.as_str()),
        ChangeKey::Group(g) => ("group", g.as_str()),
        ChangeKey::Service(s) => ("service", s.as_str()),
        ChangeKey::Certificate(serial) => ("certificate", serial.as_str()),
        ChangeKey::Everything => ("everything", ""),
    }
}

/// The current revision.
pub(super) async fn revision(pool: &AnyPool) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = 'revision'")
        .fetch_one(pool)
        .await?)
}

/// Moves the revision on (every server notices a new one) and logs `changed` at the new
/// revision, in the caller's transaction; returns the new revision. A write that changes
/// nothing the directory shows passes no keys.
pub(super) async fn bump_revision(tx: &mut Transaction<'_, Any>, changed: &[ChangeKey]) -> Result<i64> {
    let revision: i64 = sqlx::query_scalar("UPDATE meta SET value = value + 1 WHERE key = 'revision' RETURNING value")
        .fetch_one(&mut **tx)
        .await?;
    let mut seen = HashSet::new();
    let rows: Vec<(&str, &str)> = changed.iter().filter(|k| seen.insert(*k)).map(encode).collect();
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO changes (revision, kind, key) VALUES {}",
            placeholders(chunk.len(), 3)
        );
        let mut insert = sqlx::query(&sql);
        for (kind, key) in chunk {
            insert = insert.bind(revision).bind(*kind).bind(*key);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(revision)
}

/// Sets `meta.changes_from`: the log holds every change after `revision` and no earlier one.
pub(super) async fn set_complete_from(tx: &mut Transaction<'_, Any>, revision: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('changes_from', $1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(revision)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn meta(conn: &mut AnyConnection, key: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?)
}

/// Deletes the rows of all but the last [`KEPT_REVISIONS`] revisions and moves
/// `changes_from` past them, in the caller's transaction; returns how many rows went.
pub(super) async fn prune(tx: &mut Transaction<'_, Any>) -> Result<u64> {
    let revision = meta(tx, "revision").await?.unwrap_or(0);
    let bound = revision - KEPT_REVISIONS;
    if bound <= 0 {
        return Ok(0);
    }
    let gone = sqlx::query("DELETE FROM changes WHERE revision <= $1")
        .bind(bound)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    sqlx::query("UPDATE meta SET value = $1 WHERE key = 'changes_from' AND value < $1")
        .bind(bound)
        .execute(&mut **tx)
        .await?;
    Ok(gone)
}

/// What changed after revision `from`, read on a connection inside one consistent read
/// transaction (`SqlStore::begin_consistent`).
pub(super) async fn since(conn: &mut AnyConnection, from: i64, max_keys: usize) -> Result<Delta> {
    let revision = meta(conn, "revision").await?.unwrap_or(0);
    let complete_from = meta(conn, "changes_from").await?.unwrap_or(revision);
    if from == revision {
        return Ok(Delta::Unchanged);
    }
    if from > revision {
        return Ok(Delta::Rebuild(format!(
            "revision {from} is ahead of the store's {revision} (a restore?)"
        )));
    }
    if from < complete_from {
        return Ok(Delta::Rebuild(format!(
            "the change log reaches back to revision {complete_from}, not to {from}"
        )));
    }
    let everything: Option<i64> =
        sqlx::query_scalar("SELECT revision FROM changes WHERE revision > $1 AND kind = 'everything' LIMIT 1")
            .bind(from)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(at) = everything {
        return Ok(Delta::Rebuild(format!("revision {at} changed too much to list")));
    }
    let limit = i64::try_from(max_keys).unwrap_or(i64::MAX).saturating_add(1);
    let keys: Vec<(String, String)> =
        sqlx::query_as("SELECT DISTINCT kind, key FROM changes WHERE revision > $1 LIMIT $2")
            .bind(from)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
    if keys.len() > max_keys {
        return Ok(Delta::Rebuild(format!(
            "more than {max_keys} keys changed since revision {from}"
        )));
    }
    let mut rows = read_rows(conn, &keys).await?;
    rows.from = from;
    rows.revision = revision;
    Ok(Delta::Rows(rows))
}

/// The keys sorted by kind, as text.
#[derive(Default)]
struct Touched {
    members: BTreeSet<String>,
    accounts: BTreeSet<String>,
    groups: BTreeSet<String>,
    services: BTreeSet<String>,
    certificates: BTreeSet<String>,
}

// The rows of touched keys; `{}` is the `IN (…)` list ([`fetch_in`]).
const HOLDERS: &str = "SELECT uid FROM certificates WHERE serial IN ({})";
const ACCOUNTS: &str = "SELECT * FROM accounts WHERE uid IN ({})";
const ACCOUNTS_OF_MEMBERS: &str = "SELECT * FROM accounts WHERE member_number IN ({})";
const MEMBERS: &str = "SELECT * FROM members WHERE number IN ({}) ORDER BY number";
const APP_PASSWORDS: &str = "SELECT * FROM app_passwords WHERE uid IN ({}) ORDER BY uid, label";
const CERTIFICATES: &str = "SELECT * FROM certificates WHERE uid IN ({}) ORDER BY serial";
const GROUPS: &str = "SELECT * FROM groups WHERE name IN ({}) ORDER BY name";
const GROUP_MEMBERS: &str = "SELECT group_name, uid FROM group_members WHERE group_name IN ({}) ORDER BY uid";
const SERVICES: &str = "SELECT * FROM services WHERE name IN ({}) ORDER BY name";

/// The current rows of the logged `(kind, key)` pairs and of what they imply (a member's
/// account, an account's member, a certificate's holder).
async fn read_rows(conn: &mut AnyConnection, keys: &[(String, String)]) -> Result<PartialSnapshot> {
    let mut touched = Touched::default();
    for (kind, key) in keys {
        let set = match kind.as_str() {
            "member" => &mut touched.members,
            "account" => &mut touched.accounts,
            "group" => &mut touched.groups,
            "service" => &mut touched.services,
            "certificate" => &mut touched.certificates,
            other => return Err(corrupt(format!("change of unknown kind {other:?}"))),
        };
        set.insert(key.clone());
    }
    let holders = fetch_in(conn, HOLDERS, &touched.certificates, |r| r.text("uid")).await?;
    touched.accounts.extend(holders);
    let mut accounts = fetch_in(conn, ACCOUNTS, &touched.accounts, account_from_row).await?;
    accounts.extend(fetch_in(conn, ACCOUNTS_OF_MEMBERS, &touched.members, account_from_row).await?);
    // By uid, once each: an account may be touched itself and through its member.
    let accounts: BTreeMap<String, Account> = accounts.into_iter().map(|a| (a.uid.to_string(), a)).collect();
    for account in accounts.values() {
        touched.accounts.insert(account.uid.to_string());
        touched.members.insert(account.member_number.to_string());
    }
    let uids = &touched.accounts;
    let mut groups = fetch_in(conn, GROUPS, &touched.groups, group_from_row).await?;
    let links = fetch_in(conn, GROUP_MEMBERS, &touched.groups, group_member_from_row).await?;
    attach_manual_members(&mut groups, links);
    Ok(PartialSnapshot {
        from: 0,
        revision: 0,
        member_numbers: parsed(&touched.members, MemberNumber::parse)?,
        members: fetch_in(conn, MEMBERS, &touched.members, member_from_row).await?,
        uids: parsed(uids, Uid::parse)?,
        accounts: accounts.into_values().collect(),
        app_passwords: fetch_in(conn, APP_PASSWORDS, uids, auth::app_password_from_row).await?,
        certificates: fetch_in(conn, CERTIFICATES, uids, certs::certificate_from_row).await?,
        group_names: parsed(&touched.groups, Name::parse)?,
        groups,
        service_names: parsed(&touched.services, Name::parse)?,
        services: fetch_in(conn, SERVICES, &touched.services, service_from_row).await?,
    })
}

/// Every key of `keys` through its parser; a bad one is corruption.
fn parsed<T, E: std::fmt::Display>(
    keys: &BTreeSet<String>,
    parse: fn(&str) -> std::result::Result<T, E>,
) -> Result<Vec<T>> {
    keys.iter().map(|k| parse(k).map_err(corrupt)).collect()
}

/// Runs `sql`, whose `{}` is replaced by the placeholders of an `IN (…)` list, for `keys` in
/// chunks, and converts every row with `convert`.
async fn fetch_in<T>(
    conn: &mut AnyConnection,
    sql: &str,
    keys: &BTreeSet<String>,
    convert: fn(&AnyRow) -> Result<T>,
) -> Result<Vec<T>> {
    let keys: Vec<&String> = keys.iter().collect();
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let sql = sql.replace("{}", &placeholders(chunk.len(), 1));
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(key.as_str());
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.push(convert(&row)?);
        }
    }
    Ok(out)
}
