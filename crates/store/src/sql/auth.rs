//! TOTP state and app passwords (issue 5). Writes that do not change what the directory shows
//! (a used TOTP step, an app password's last use) do not bump the revision, so they never
//! cause a view rebuild.

use piratenldap_core::ids::Uid;
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

use super::columns::Columns;
use super::query::{changed, insert_unique};
use super::values::ts;
use super::write::Write;
use crate::{AppPassword, ChangeKey, Conflict, Result, StoreError};

/// Most app passwords one account may have (each costs an argon2 check on a failed bind).
pub const MAX_APP_PASSWORDS: i64 = 20;

pub(super) async fn set_totp_secret(
    pool: &AnyPool,
    uid: &Uid,
    sealed: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let enabled: Option<i64> = sqlx::query_scalar("SELECT totp_enabled FROM accounts WHERE uid = $1")
        .bind(uid.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    match enabled {
        None => return Err(StoreError::NotFound(format!("no account {uid}"))),
        Some(0) => {}
        Some(_) => return Err(StoreError::Conflict(Conflict::TotpActive(uid.clone()))),
    }
    sqlx::query("UPDATE accounts SET totp_secret = $1, totp_last_step = NULL, modified_at = $2 WHERE uid = $3")
        .bind(sealed)
        .bind(ts(now)?)
        .bind(uid.as_str())
        .execute(&mut **tx)
        .await?;
    tx.audit(actor, "totp.enrol", uid.as_str(), "new secret, not yet confirmed", now)
        .await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
    Ok(())
}

pub(super) async fn set_totp_enabled(
    pool: &AnyPool,
    uid: &Uid,
    enabled: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let row = sqlx::query("SELECT totp_secret FROM accounts WHERE uid = $1")
        .bind(uid.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!("no account {uid}")));
    };
    let secret: Option<String> = row.try_get(0)?;
    if enabled && secret.is_none() {
        return Err(StoreError::Refused(format!(
            "{uid} has no TOTP secret: run `piratenldap account totp-enroll {uid}` first"
        )));
    }
    if !enabled {
        let admin: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM group_members WHERE group_name = 'admins' AND uid = $1")
                .bind(uid.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        if admin.is_some() {
            return Err(StoreError::Refused(format!(
                "{uid} is an admin, and admins must have TOTP: remove {uid} from admins first"
            )));
        }
    }
    let sql = if enabled {
        "UPDATE accounts SET totp_enabled = 1, modified_at = $1 WHERE uid = $2"
    } else {
        "UPDATE accounts SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL, modified_at = $1 WHERE uid = $2"
    };
    sqlx::query(sql)
        .bind(ts(now)?)
        .bind(uid.as_str())
        .execute(&mut **tx)
        .await?;
    if !enabled {
        // A second factor taken away (lost, reset) ends what it protected.
        super::oidc::end_sessions(&mut tx, Some(uid), now).await?;
    }
    tx.audit(
        actor,
        if enabled { "totp.enable" } else { "totp.disable" },
        uid.as_str(),
        "",
        now,
    )
    .await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
    Ok(())
}

pub(super) async fn use_totp_step(pool: &AnyPool, uid: &Uid, step: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET totp_last_step = $1 WHERE uid = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
    )
    .bind(step)
    .bind(uid.as_str())
    .bind(step)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn add_app_password(
    pool: &AnyPool,
    uid: &Uid,
    label: &str,
    hash: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE uid = $1")
        .bind(uid.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if known.is_none() {
        return Err(StoreError::NotFound(format!("no account {uid}")));
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords WHERE uid = $1")
        .bind(uid.as_str())
        .fetch_one(&mut **tx)
        .await?;
    if count >= MAX_APP_PASSWORDS {
        return Err(StoreError::Refused(format!(
            "{uid} has {count} app passwords already; revoke one first"
        )));
    }
    let insert = sqlx::query("INSERT INTO app_passwords (uid, label, hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(uid.as_str())
        .bind(label)
        .bind(hash)
        .bind(ts(now)?);
    insert_unique(&mut tx, insert, || {
        StoreError::Conflict(Conflict::AppPasswordLabel {
            uid: uid.clone(),
            label: label.to_string(),
        })
    })
    .await?;
    tx.audit(actor, "app-password.add", uid.as_str(), label, now).await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
    Ok(())
}

pub(super) fn app_password_from_row(row: &impl Columns) -> Result<AppPassword> {
    Ok(AppPassword {
        uid: row.uid("uid")?,
        label: row.text("label")?,
        hash: row.text("hash")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

pub(super) async fn app_passwords(pool: &AnyPool, uid: &Uid) -> Result<Vec<AppPassword>> {
    sqlx::query("SELECT * FROM app_passwords WHERE uid = $1 ORDER BY label")
        .bind(uid.as_str())
        .fetch_all(pool)
        .await?
        .iter()
        .map(app_password_from_row)
        .collect()
}

pub(super) async fn revoke_app_password(
    pool: &AnyPool,
    uid: &Uid,
    label: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let done = sqlx::query("DELETE FROM app_passwords WHERE uid = $1 AND label = $2")
        .bind(uid.as_str())
        .bind(label)
        .execute(&mut **tx)
        .await?;
    changed(done, || format!("{uid} has no app password labelled {label:?}"))?;
    tx.audit(actor, "app-password.revoke", uid.as_str(), label, now).await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
    Ok(())
}

pub(super) async fn touch_app_password(pool: &AnyPool, uid: &Uid, label: &str, now: OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE app_passwords SET last_used_at = $1 WHERE uid = $2 AND label = $3")
        .bind(ts(now)?)
        .bind(uid.as_str())
        .bind(label)
        .execute(pool)
        .await?;
    Ok(())
}
