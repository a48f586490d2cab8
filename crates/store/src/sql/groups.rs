//! Groups: automatic ones (`members`, `voting`, `lv-<code>`, kept from member data) and manual
//! ones, federal or owned by a chapter. The chapter rule lives here, inside each write's
//! transaction, so no caller (CLI, console) can get round it: a chapter group admits only
//! members of its state association, and a member who moves to another state association
//! leaves the chapter's groups in the import that moves them ([`drop_foreign_members`]).

use piratenldap_core::ids::{Name, StateCode, Uid};
use sqlx::{Any, AnyPool, Transaction};
use time::OffsetDateTime;

use super::columns::Columns;
use super::query::{changed, insert_unique, next_number};
use super::values::{corrupt, ts};
use super::write::Write;
use super::{audit, certs};
use crate::{ChangeKey, Conflict, Group, GroupKind, Result, StoreError};

/// The names automatic groups use; no manual group may take one.
fn reserved(name: &Name) -> bool {
    name.as_str() == "members" || name.as_str() == "voting" || name.as_str().starts_with("lv-")
}

pub(super) fn group_from_row(row: &impl Columns) -> Result<Group> {
    Ok(Group {
        name: Name::parse(row.str("name")?).map_err(corrupt)?,
        kind: if row.str("kind")? == "auto" {
            GroupKind::Automatic
        } else {
            GroupKind::Manual
        },
        gid_number: row.int("gid_number")?,
        description: row.opt_text("description")?,
        entry_uuid: row.text("entry_uuid")?,
        manual_members: Vec::new(),
        chapter: row
            .opt_text("chapter")?
            .map(|c| StateCode::parse(&c))
            .transpose()
            .map_err(corrupt)?,
        created_at: row.time("created_at")?,
        modified_at: row.time("modified_at")?,
    })
}

/// A manual group's owner chapter (`None`: federal); refuses automatic and unknown groups.
pub(super) async fn manual_group(tx: &mut Transaction<'_, Any>, name: &Name) -> Result<Option<StateCode>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as("SELECT kind, chapter FROM groups WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        None => Err(StoreError::NotFound(format!("no group named {name}"))),
        Some((kind, _)) if kind == "auto" => Err(StoreError::Refused(format!(
            "group {name} is automatic: its members follow member data (status, voting right, state) and cannot be changed by hand"
        ))),
        Some((_, chapter)) => chapter.map(|c| StateCode::parse(&c)).transpose().map_err(corrupt),
    }
}

/// Creates the automatic group `lv-<state>` unless it exists; true when it did.
pub(super) async fn ensure_state_group(tx: &mut Transaction<'_, Any>, state: &StateCode, stamp: &str) -> Result<bool> {
    let name = state.group_name();
    let exists: Option<String> = sqlx::query_scalar("SELECT name FROM groups WHERE name = $1")
        .bind(&name)
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_none() {
        let gid = next_number(tx, "next_gid_number").await?;
        sqlx::query("INSERT INTO groups (name, kind, gid_number, description, entry_uuid, created_at, modified_at) VALUES ($1, 'auto', $2, $3, $4, $5, $5)")
            .bind(&name).bind(gid).bind(format!("Members of the state association {state}"))
            .bind(uuid::Uuid::new_v4().to_string()).bind(stamp)
            .execute(&mut **tx).await?;
    }
    Ok(exists.is_none())
}

pub(super) async fn create(
    pool: &AnyPool,
    name: &Name,
    description: Option<&str>,
    chapter: Option<&StateCode>,
    now: OffsetDateTime,
) -> Result<Group> {
    if reserved(name) {
        return Err(StoreError::Refused(format!(
            "the name {name} is reserved for automatic groups"
        )));
    }
    let stamp = ts(now)?;
    let mut tx = Write::begin(pool).await?;
    let gid = next_number(&mut tx, "next_gid_number").await?;
    let entry_uuid = uuid::Uuid::new_v4().to_string();
    let insert = sqlx::query("INSERT INTO groups (name, kind, gid_number, description, entry_uuid, created_at, modified_at, chapter) VALUES ($1, 'manual', $2, $3, $4, $5, $6, $7)")
        .bind(name.as_str()).bind(gid).bind(description).bind(&entry_uuid).bind(&stamp).bind(&stamp)
        .bind(chapter.map(StateCode::as_str));
    insert_unique(&mut tx, insert, || {
        StoreError::Conflict(Conflict::GroupExists(name.clone()))
    })
    .await?;
    tx.commit(&[ChangeKey::Group(name.clone())]).await?;
    Ok(Group {
        name: name.clone(),
        kind: GroupKind::Manual,
        gid_number: gid,
        description: description.map(str::to_string),
        entry_uuid,
        manual_members: Vec::new(),
        chapter: chapter.cloned(),
        created_at: now,
        modified_at: now,
    })
}

pub(super) async fn delete(pool: &AnyPool, name: &Name) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    manual_group(&mut tx, name).await?;
    if matches!(name.as_str(), "admins" | "membership-admins") {
        return Err(StoreError::Refused(format!(
            "the group {name} is built in and cannot be deleted"
        )));
    }
    // Its members' memberOf changes with it.
    let former: Vec<String> = sqlx::query_scalar("SELECT uid FROM group_members WHERE group_name = $1")
        .bind(name.as_str())
        .fetch_all(&mut **tx)
        .await?;
    let mut changed = vec![ChangeKey::Group(name.clone())];
    for uid in former {
        changed.push(ChangeKey::Account(Uid::parse(&uid).map_err(corrupt)?));
    }
    sqlx::query("DELETE FROM groups WHERE name = $1")
        .bind(name.as_str())
        .execute(&mut **tx)
        .await?;
    tx.commit(&changed).await?;
    Ok(())
}

/// The state association of the member behind an account; NotFound for an unknown account.
async fn account_state(tx: &mut Transaction<'_, Any>, uid: &Uid) -> Result<StateCode> {
    let state: Option<String> = sqlx::query_scalar(
        "SELECT m.state FROM accounts a JOIN members m ON m.number = a.member_number WHERE a.uid = $1",
    )
    .bind(uid.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let state = state.ok_or_else(|| StoreError::NotFound(format!("no account {uid}")))?;
    StateCode::parse(&state).map_err(corrupt)
}

pub(super) async fn add_member(pool: &AnyPool, name: &Name, uid: &Uid, now: OffsetDateTime) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let chapter = manual_group(&mut tx, name).await?;
    let state = account_state(&mut tx, uid).await?;
    if let Some(chapter) = chapter
        && chapter != state
    {
        return Err(StoreError::Conflict(Conflict::OutsideChapter {
            uid: uid.clone(),
            state,
            group: name.clone(),
            chapter,
        }));
    }
    if name.as_str() == "admins" {
        let totp: i64 = sqlx::query_scalar("SELECT totp_enabled FROM accounts WHERE uid = $1")
            .bind(uid.as_str())
            .fetch_one(&mut **tx)
            .await?;
        if totp == 0 {
            return Err(StoreError::Refused(format!(
                "admins must have TOTP: {uid} has none (`piratenldap account totp-enroll {uid}`, then --confirm CODE)"
            )));
        }
    }
    let insert = sqlx::query("INSERT INTO group_members (group_name, uid) VALUES ($1, $2)")
        .bind(name.as_str())
        .bind(uid.as_str());
    insert_unique(&mut tx, insert, || {
        StoreError::Conflict(Conflict::AlreadyInGroup {
            uid: uid.clone(),
            group: name.clone(),
        })
    })
    .await?;
    touch(&mut tx, name, now).await?;
    tx.commit(&membership(name, uid, &[])).await?;
    Ok(())
}

pub(super) async fn remove_member(
    pool: &AnyPool,
    name: &Name,
    uid: &Uid,
    roles_requiring: &[String],
    actor: &str,
    now: OffsetDateTime,
) -> Result<usize> {
    let mut tx = Write::begin(pool).await?;
    manual_group(&mut tx, name).await?;
    let done = sqlx::query("DELETE FROM group_members WHERE group_name = $1 AND uid = $2")
        .bind(name.as_str())
        .bind(uid.as_str())
        .execute(&mut **tx)
        .await?;
    changed(done, || format!("{uid} is not a member of {name}"))?;
    touch(&mut tx, name, now).await?;
    tx.audit(actor, "group.remove", uid.as_str(), name.as_str(), now)
        .await?;
    let revoked = certs::revoke_all_of(
        &mut tx,
        uid,
        Some(roles_requiring),
        &format!("removed from group {name}"),
        actor,
        now,
    )
    .await?;
    tx.commit(&membership(name, uid, &revoked)).await?;
    Ok(revoked.len())
}

/// The change keys of a manual membership added or removed: the group, the account (its
/// memberOf) and the certificates revoked with it.
pub(super) fn membership(name: &Name, uid: &Uid, revoked: &[String]) -> Vec<ChangeKey> {
    let mut changed = vec![ChangeKey::Group(name.clone()), ChangeKey::Account(uid.clone())];
    changed.extend(revoked.iter().cloned().map(ChangeKey::Certificate));
    changed
}

/// Ends every membership of a chapter group whose member is no longer of that chapter (moved
/// by a member import), each audited as `group.remove` by `actor`; returns them. Runs in the
/// import's transaction, so the directory never shows a foreign member in a chapter group.
pub(super) async fn drop_foreign_members(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Vec<(Name, Uid)>> {
    let foreign: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT gm.group_name, gm.uid, g.chapter, m.state FROM group_members gm \
         JOIN groups g ON g.name = gm.group_name \
         JOIN accounts a ON a.uid = gm.uid \
         JOIN members m ON m.number = a.member_number \
         WHERE g.chapter IS NOT NULL AND g.chapter <> m.state \
         ORDER BY gm.group_name, gm.uid",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut dropped = Vec::with_capacity(foreign.len());
    for (group, uid, chapter, state) in &foreign {
        sqlx::query("DELETE FROM group_members WHERE group_name = $1 AND uid = $2")
            .bind(group)
            .bind(uid)
            .execute(&mut **tx)
            .await?;
        let detail = format!("{group}: moved from chapter {chapter} to {state}");
        audit::record(tx, actor, "group.remove", uid, &detail, now).await?;
        dropped.push((Name::parse(group).map_err(corrupt)?, Uid::parse(uid).map_err(corrupt)?));
    }
    Ok(dropped)
}

async fn touch(tx: &mut Transaction<'_, Any>, name: &Name, now: OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE groups SET modified_at = $1 WHERE name = $2")
        .bind(ts(now)?)
        .bind(name.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
