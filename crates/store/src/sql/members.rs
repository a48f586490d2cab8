//! Members, as the membership administration's file gives them: the import (upsert, `--full`
//! marking the missing as left, the switch for those no longer active, chapter groups left
//! after a move, erased members spared) and reading them.

use std::collections::{HashMap, HashSet};

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode};
use piratenldap_core::import::MemberRecord;
use sqlx::AnyPool;
use time::{Date, OffsetDateTime};

use super::columns::Columns;
use super::query::{fetch_mapped, fetch_optional_mapped};
use super::values::{corrupt, ts};
use super::write::Write;
use super::{changes, erasure, groups, snapshot, switch};
use crate::{ChangeKey, ImportReport, Member, Result, StoreError};

pub(super) fn member_from_row(row: &impl Columns) -> Result<Member> {
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

/// All members, ordered by number.
pub(super) async fn all(pool: &AnyPool) -> Result<Vec<Member>> {
    fetch_mapped(&mut *pool.acquire().await?, snapshot::MEMBERS, member_from_row).await
}

/// One member.
pub(super) async fn get(pool: &AnyPool, number: &MemberNumber) -> Result<Option<Member>> {
    let sql = "SELECT * FROM members WHERE number = $1";
    fetch_optional_mapped(pool, sql, number.as_str(), member_from_row).await
}

/// New members per INSERT statement: 11 values each, well below SQLite's 32 766 and
/// PostgreSQL's 65 535 bind parameters. One statement per member cost a round trip to the
/// database's worker each; sqlx binds `$N` parameters in time quadratic in their number per
/// statement, so batches stay small (100 000 members: 8.1 s one by one, 8.0 s by 500, 1.8 s by
/// 50; `ops/bench/growth.sh`).
const INSERT_BATCH: usize = 50;

/// Inserts new members `INSERT_BATCH` at a time, in the import's transaction.
async fn insert_new(tx: &mut Write, added: &[&MemberRecord], now: &str) -> Result<()> {
    for batch in added.chunks(INSERT_BATCH) {
        let mut sql = String::from(
            "INSERT INTO members (number, state, status, voting_right, given_name, surname, email, joined, created_at, updated_at, status_since) VALUES ",
        );
        for i in 0..batch.len() {
            let b = i * 11;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11
            ));
        }
        let mut query = sqlx::query(&sql);
        for rec in batch {
            query = query
                .bind(rec.number.as_str())
                .bind(rec.state.as_str())
                .bind(rec.status.as_str())
                .bind(i64::from(rec.voting_right))
                .bind(rec.given_name.clone())
                .bind(rec.surname.clone())
                .bind(rec.email.clone())
                .bind(rec.joined.map(|d| d.to_string()))
                .bind(now.to_string())
                .bind(now.to_string())
                .bind(now.to_string());
        }
        query.execute(&mut ***tx).await?;
    }
    Ok(())
}

/// Upserts members in one transaction (`Store::import_members_sparing` says what it does).
pub(super) async fn import(
    pool: &AnyPool,
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
    let mut tx = Write::begin(pool).await?;
    let existing: HashMap<MemberNumber, Member> = sqlx::query("SELECT * FROM members")
        .fetch_all(&mut **tx)
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
    // New members, inserted in batches after the loop (nothing in it reads them).
    let mut added: Vec<&MemberRecord> = Vec::new();
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
                    .execute(&mut **tx).await?;
            }
            None => {
                report.added += 1;
                changed.push(ChangeKey::Member(rec.number.clone()));
                added.push(rec);
            }
        }
    }
    insert_new(&mut tx, &added, &now).await?;
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
                sqlx::query("UPDATE members SET status = 'left', updated_at = $1, status_since = $1 WHERE number = $2")
                    .bind(&now)
                    .bind(number.as_str())
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    for state in states {
        if groups::ensure_state_group(&mut tx, &state, &now).await? {
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
    tx.finish(&changed, dry_run).await?;
    Ok(report)
}
