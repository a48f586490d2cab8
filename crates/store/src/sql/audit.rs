//! The audit trail, written and read. Written: one event inside the transaction of the change
//! it records ([`record`], `Write::audit`), or a batch from the authentication core's sink
//! ([`append`]); pruned daily ([`prune`], with the change log). Read: by uid and time for
//! `piratenldap audit`, newest-first pages within chapters for the console, a member's last
//! login.

use sqlx::{Any, AnyPool, Row, Transaction};
use time::OffsetDateTime;

use piratenldap_core::ids::StateCode;

use super::changes;
use super::columns::Columns;
use super::connection::begin_write;
use super::values::{parse_ts, ts};
use crate::{AuditEvent, Result};

/// Most events one console page reads.
pub const MAX_PAGE: u32 = 500;

/// Appends one audit event inside a transaction.
pub(super) async fn record(
    tx: &mut Transaction<'_, Any>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query("INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(ts(now)?)
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends events in one transaction. They change nothing the directory shows: the revision
/// stays.
pub(super) async fn append(pool: &AnyPool, events: &[AuditEvent]) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    for e in events {
        record(&mut tx, &e.actor, &e.action, &e.subject, &e.detail, e.at).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The daily pruning, in one transaction: audit events older than `before` (returns how many)
/// and the change log beyond its last revisions (`changes::prune`).
pub(super) async fn prune(pool: &AnyPool, before: OffsetDateTime) -> Result<u64> {
    let mut tx = begin_write(pool).await?;
    let gone = sqlx::query("DELETE FROM audit WHERE at < $1")
        .bind(ts(before)?)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    changes::prune(&mut tx).await?;
    tx.commit().await?;
    Ok(gone)
}

fn event_from_row(r: &impl Columns) -> Result<AuditEvent> {
    Ok(AuditEvent {
        at: parse_ts(&r.text("at")?)?,
        actor: r.text("actor")?,
        action: r.text("action")?,
        subject: r.text("subject")?,
        detail: r.text("detail")?,
    })
}

pub(super) async fn events(
    pool: &AnyPool,
    uid: Option<&str>,
    since: Option<OffsetDateTime>,
) -> Result<Vec<AuditEvent>> {
    let since = since.map(ts).transpose()?.unwrap_or_default();
    let rows = match uid {
        Some(u) => {
            sqlx::query("SELECT * FROM audit WHERE at >= $1 AND (actor = $2 OR subject = $3) ORDER BY id")
                .bind(&since)
                .bind(u)
                .bind(u)
                .fetch_all(pool)
                .await?
        }
        None => {
            sqlx::query("SELECT * FROM audit WHERE at >= $1 ORDER BY id")
                .bind(&since)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(event_from_row).collect()
}

/// At most `limit` (≤ [`MAX_PAGE`]) events with their ids, newest first, older than the event
/// `before`; with `chapters`, only events about a member of those chapters (by uid or member
/// number) who is no admin.
pub(super) async fn page(
    pool: &AnyPool,
    chapters: Option<&[StateCode]>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<(i64, AuditEvent)>> {
    let before = before.unwrap_or(i64::MAX);
    let limit = i64::from(limit.min(MAX_PAGE));
    let rows = match chapters {
        None => {
            sqlx::query("SELECT * FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2")
                .bind(before)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }
        Some(chapters) => {
            // $3… are the chapters; their count is bounded by the state codes that exist.
            let list: Vec<String> = (0..chapters.len()).map(|i| format!("${}", i + 3)).collect();
            let list = list.join(", ");
            // Admins' accounts (federal or chapter) belong to the federal level, whatever
            // their state: a chapter admin does not read another admin's trail.
            let sql = format!(
                "SELECT * FROM audit WHERE id < $1 AND (\
                 subject IN (SELECT a.uid FROM accounts a JOIN members m ON m.number = a.member_number WHERE m.state IN ({list}) \
                   AND a.uid NOT IN (SELECT uid FROM group_members WHERE group_name = 'admins') \
                   AND a.uid NOT IN (SELECT uid FROM chapter_admins)) \
                 OR subject IN (SELECT m.number FROM members m WHERE m.state IN ({list}) \
                   AND m.number NOT IN (SELECT a.member_number FROM accounts a WHERE a.uid IN (SELECT uid FROM group_members WHERE group_name = 'admins') OR a.uid IN (SELECT uid FROM chapter_admins)))) \
                 ORDER BY id DESC LIMIT $2"
            );
            let mut q = sqlx::query(&sql).bind(before).bind(limit);
            for c in chapters {
                q = q.bind(c.as_str());
            }
            q.fetch_all(pool).await?
        }
    };
    rows.iter()
        .map(|r| Ok((r.try_get::<i64, _>("id")?, event_from_row(r)?)))
        .collect()
}

/// When `uid` last logged in successfully (an LDAP bind or a web login).
pub(super) async fn last_login(pool: &AnyPool, uid: &str) -> Result<Option<OffsetDateTime>> {
    let at: Option<String> = sqlx::query_scalar(
        "SELECT at FROM audit WHERE subject = $1 AND action IN ('bind.ok', 'login.ok') ORDER BY id DESC LIMIT 1",
    )
    .bind(uid)
    .fetch_optional(pool)
    .await?;
    at.as_deref().map(parse_ts).transpose()
}

/// The events of one `action` since `since`, oldest first (uses the index on `at`).
pub(super) async fn by_action(pool: &AnyPool, action: &str, since: OffsetDateTime) -> Result<Vec<AuditEvent>> {
    sqlx::query("SELECT * FROM audit WHERE at >= $1 AND action = $2 ORDER BY id")
        .bind(ts(since)?)
        .bind(action)
        .fetch_all(pool)
        .await?
        .iter()
        .map(event_from_row)
        .collect()
}
