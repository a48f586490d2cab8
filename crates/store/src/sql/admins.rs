//! Chapter admins: grants of an account for a state association, each change audited in its
//! own transaction.

use piratenldap_core::ids::{StateCode, Uid};
use sqlx::AnyPool;
use time::OffsetDateTime;

use super::columns::Columns;
use super::query::insert_unique;
use super::values::{corrupt, ts};
use super::write::Write;
use crate::{ChangeKey, ChapterAdmin, Result, StoreError};

pub(super) async fn grant(
    pool: &AnyPool,
    uid: &Uid,
    chapter: &StateCode,
    real_names: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let exists: Option<String> = sqlx::query_scalar("SELECT uid FROM accounts WHERE uid = $1")
        .bind(uid.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("no account {uid}")));
    }
    let insert = sqlx::query(
        "INSERT INTO chapter_admins (uid, chapter, real_names, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(uid.as_str())
    .bind(chapter.as_str())
    .bind(i64::from(real_names))
    .bind(actor)
    .bind(ts(now)?);
    insert_unique(&mut tx, insert, || {
        StoreError::Refused(format!("{uid} is chapter admin of {chapter} already"))
    })
    .await?;
    let detail = format!("chapter {chapter}{}", if real_names { " with real names" } else { "" });
    tx.audit(actor, "admin.grant", uid.as_str(), &detail, now).await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
    Ok(())
}

pub(super) async fn revoke(
    pool: &AnyPool,
    uid: &Uid,
    chapter: &StateCode,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let done = sqlx::query("DELETE FROM chapter_admins WHERE uid = $1 AND chapter = $2")
        .bind(uid.as_str())
        .bind(chapter.as_str())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("{uid} is no chapter admin of {chapter}")));
    }
    tx.audit(actor, "admin.revoke", uid.as_str(), &format!("chapter {chapter}"), now)
        .await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
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
