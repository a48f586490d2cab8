//! Chapter admins: grants of an account for a state association, each change audited in its
//! own transaction.

use piratenldap_core::ids::{StateCode, Uid};
use sqlx::AnyPool;
use time::OffsetDateTime;

use super::columns::Columns;
use super::{begin_write, bump_revision, certs, corrupt, ts, unique_violation};
use crate::{ChangeKey, ChapterAdmin, Result, StoreError};

pub(super) async fn grant(
    pool: &AnyPool,
    uid: &Uid,
    chapter: &StateCode,
    real_names: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    let exists: Option<String> = sqlx::query_scalar("SELECT uid FROM accounts WHERE uid = $1")
        .bind(uid.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("no account {uid}")));
    }
    let inserted = sqlx::query(
        "INSERT INTO chapter_admins (uid, chapter, real_names, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(uid.as_str())
    .bind(chapter.as_str())
    .bind(i64::from(real_names))
    .bind(actor)
    .bind(ts(now)?)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if unique_violation(&e) => {
            return Err(StoreError::Refused(format!(
                "{uid} is chapter admin of {chapter} already"
            )));
        }
        other => {
            other?;
        }
    }
    let detail = format!("chapter {chapter}{}", if real_names { " with real names" } else { "" });
    certs::audit(&mut tx, actor, "admin.grant", uid.as_str(), &detail, now).await?;
    bump_revision(&mut tx, &[ChangeKey::Account(uid.clone())]).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn revoke(
    pool: &AnyPool,
    uid: &Uid,
    chapter: &StateCode,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query("DELETE FROM chapter_admins WHERE uid = $1 AND chapter = $2")
        .bind(uid.as_str())
        .bind(chapter.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("{uid} is no chapter admin of {chapter}")));
    }
    certs::audit(
        &mut tx,
        actor,
        "admin.revoke",
        uid.as_str(),
        &format!("chapter {chapter}"),
        now,
    )
    .await?;
    bump_revision(&mut tx, &[ChangeKey::Account(uid.clone())]).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn list(pool: &AnyPool) -> Result<Vec<ChapterAdmin>> {
    sqlx::query("SELECT * FROM chapter_admins ORDER BY chapter, uid")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            Ok(ChapterAdmin {
                uid: row.uid("uid")?,
                chapter: StateCode::parse(row.str("chapter")?).map_err(corrupt)?,
                real_names: row.flag("real_names")?,
                granted_by: row.text("granted_by")?,
                granted_at: row.time("granted_at")?,
            })
        })
        .collect()
}
