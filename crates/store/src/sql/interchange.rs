//! `import --ldif`: people and groups from another LDAP server, in one transaction. Existing
//! members keep their data (the membership administration is authoritative); accounts keep
//! their old password hashes (rehashed at the next bind) and, where free, their uidNumber and
//! gidNumber, so POSIX file ownership survives the move. Any conflict refuses the whole file.

use std::collections::HashSet;

use piratenldap_core::ids::{Name, Uid};

use sqlx::{Any, AnyPool, Row, Transaction};
use time::OffsetDateTime;

use super::groups;
use super::query::next_number;
use super::values::ts;
use super::write::Write;
use crate::{ChangeKey, Conflict, DirectoryImportReport, ImportedGroup, ImportedPerson, Result, StoreError};

/// Where a kind of POSIX number lives: the query finding a holder, the counter handing out new ones.
struct PosixNumber {
    holder: &'static str,
    counter: &'static str,
}

const POSIX_UID: PosixNumber = PosixNumber {
    holder: "SELECT uid_number FROM accounts WHERE uid_number = $1",
    counter: "next_uid_number",
};

const POSIX_GID: PosixNumber = PosixNumber {
    holder: "SELECT gid_number FROM groups WHERE gid_number = $1",
    counter: "next_gid_number",
};

/// The wanted number when nobody here holds it yet, else the next free one.
async fn kept_or_next(tx: &mut Transaction<'_, Any>, kind: PosixNumber, wanted: Option<i64>) -> Result<i64> {
    if let Some(n) = wanted {
        let held = sqlx::query_scalar::<_, i64>(kind.holder)
            .bind(n)
            .fetch_optional(&mut **tx)
            .await?;
        if held.is_none() {
            return Ok(n);
        }
    }
    next_number(tx, kind.counter).await
}

pub(super) async fn import(
    pool: &AnyPool,
    people: &[ImportedPerson],
    groups: &[ImportedGroup],
    dry_run: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<DirectoryImportReport> {
    let stamp = ts(now)?;
    let mut report = DirectoryImportReport::default();
    let mut problems = Vec::new();
    let mut tx = Write::begin(pool).await?;
    let mut known_uids: HashSet<String> = sqlx::query_scalar("SELECT uid FROM accounts")
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    for p in people {
        let number = p.member.number.as_str();
        let member: Option<String> = sqlx::query_scalar("SELECT status FROM members WHERE number = $1")
            .bind(number)
            .fetch_optional(&mut **tx)
            .await?;
        if member.is_none() {
            let r = &p.member;
            sqlx::query("INSERT INTO members (number, state, status, voting_right, given_name, surname, email, joined, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $8)")
                .bind(number).bind(r.state.as_str()).bind(r.status.as_str()).bind(i64::from(r.voting_right))
                .bind(&r.given_name).bind(&r.surname).bind(&r.email).bind(&stamp)
                .execute(&mut **tx).await?;
            groups::ensure_state_group(&mut tx, &r.state, &stamp).await?;
            report.members_added += 1;
        }
        let existing = sqlx::query("SELECT uid, member_number FROM accounts WHERE uid = $1 OR member_number = $2")
            .bind(p.uid.as_str())
            .bind(number)
            .fetch_all(&mut **tx)
            .await?;
        let mut same = false;
        for row in &existing {
            let (uid, owner): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            if uid == p.uid.as_str() && owner == number {
                same = true;
            } else if uid == p.uid.as_str() {
                problems.push(format!("{}: the uid {uid} belongs to member {owner}", p.origin));
            } else {
                problems.push(format!("{}: member {number} already has the account {uid}", p.origin));
            }
        }
        if same {
            report.accounts_unchanged += 1;
            continue;
        }
        if !existing.is_empty() {
            continue;
        }
        let uid_number = kept_or_next(&mut tx, POSIX_UID, p.uid_number).await?;
        sqlx::query("INSERT INTO accounts (uid, member_number, display_name, password_hash, locked, uid_number, entry_uuid, created_at, modified_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $7)")
            .bind(p.uid.as_str()).bind(number).bind(&p.display_name).bind(&p.password_hash)
            .bind(uid_number).bind(uuid::Uuid::new_v4().to_string()).bind(&stamp)
            .execute(&mut **tx).await?;
        known_uids.insert(p.uid.to_string());
        report.accounts_added += 1;
    }
    // Numbers handed out later must not collide with the ones kept.
    sqlx::query("UPDATE meta SET value = (SELECT MAX(uid_number) + 1 FROM accounts) WHERE key = 'next_uid_number' AND value <= (SELECT MAX(uid_number) FROM accounts)")
        .execute(&mut **tx).await?;
    for g in groups {
        let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM groups WHERE name = $1")
            .bind(g.name.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        match kind.as_deref() {
            Some("auto") => {
                report.notes.push(format!(
                    "{}: {} is an automatic group here (its members follow member data); not imported",
                    g.origin, g.name
                ));
                continue;
            }
            Some(_) => {}
            None => {
                let gid = kept_or_next(&mut tx, POSIX_GID, g.gid_number).await?;
                sqlx::query("INSERT INTO groups (name, kind, gid_number, description, entry_uuid, created_at, modified_at) VALUES ($1, 'manual', $2, $3, $4, $5, $5)")
                    .bind(g.name.as_str()).bind(gid).bind(&g.description)
                    .bind(uuid::Uuid::new_v4().to_string()).bind(&stamp)
                    .execute(&mut **tx).await?;
                report.groups_added += 1;
            }
        }
        for uid in &g.members {
            if !known_uids.contains(uid.as_str()) {
                report.notes.push(format!(
                    "{}: member {uid} of {} is not an account here; left out",
                    g.origin, g.name
                ));
                continue;
            }
            if let Some((chapter, state)) = foreign_to_chapter(&mut tx, &g.name, uid).await? {
                report.notes.push(format!(
                    "{}: {uid} is a member of {state}; group {} belongs to chapter {chapter}; left out",
                    g.origin, g.name
                ));
                continue;
            }
            if g.name.as_str() == "admins" {
                report.notes.push(format!(
                    "{}: {uid} not added to admins: admins need TOTP; enrol it, then `group add admins {uid}`",
                    g.origin
                ));
                continue;
            }
            let added =
                sqlx::query("INSERT INTO group_members (group_name, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(g.name.as_str())
                    .bind(uid.as_str())
                    .execute(&mut **tx)
                    .await?;
            report.memberships_added += added.rows_affected() as usize;
        }
    }
    sqlx::query("UPDATE meta SET value = (SELECT MAX(gid_number) + 1 FROM groups) WHERE key = 'next_gid_number' AND value <= (SELECT MAX(gid_number) FROM groups)")
        .execute(&mut **tx).await?;
    if !problems.is_empty() {
        return Err(StoreError::Conflict(Conflict::Import(problems)));
    }
    let detail = format!(
        "{} members, {} accounts, {} groups, {} memberships added",
        report.members_added, report.accounts_added, report.groups_added, report.memberships_added
    );
    tx.audit(actor, "import.ldif", "directory", &detail, now).await?;
    tx.finish(&[ChangeKey::Everything], dry_run).await?;
    Ok(report)
}

/// For a chapter's group and an account of another state association: the chapter and the
/// member's state (the rule `group add` keeps, `groups.rs`).
async fn foreign_to_chapter(
    tx: &mut Transaction<'_, Any>,
    group: &Name,
    uid: &Uid,
) -> Result<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT g.chapter, m.state FROM groups g CROSS JOIN accounts a JOIN members m ON m.number = a.member_number \
         WHERE g.name = $1 AND a.uid = $2 AND g.chapter IS NOT NULL AND g.chapter <> m.state",
    )
    .bind(group.as_str())
    .bind(uid.as_str())
    .fetch_optional(&mut **tx)
    .await?)
}
