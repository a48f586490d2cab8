//! Accounts: created for a member (by an admin or by a letter's token, `tokens.rs`), locked,
//! their password set or rehashed. TOTP and app passwords are in `auth.rs`.

use piratenldap_core::ids::{MemberNumber, Uid};
use sqlx::{Any, AnyPool, Transaction};
use time::OffsetDateTime;

use super::columns::Columns;
use super::query::{changed, fetch_optional_mapped, insert_unique, next_number};
use super::values::{corrupt, ts};
use super::write::{Write, update_row};
use super::{certs, oidc};
use crate::{Account, ChangeKey, Conflict, NewAccount, Result, StoreError};

pub(super) fn account_from_row(row: &impl Columns) -> Result<Account> {
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

/// Creates an account inside a transaction: the member must exist, not have left, and have no
/// account yet; the uid must be free.
pub(super) async fn insert_account(
    tx: &mut Transaction<'_, Any>,
    new: NewAccount,
    now: OffsetDateTime,
) -> Result<Account> {
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
    let insert = sqlx::query("INSERT INTO accounts (uid, member_number, display_name, password_hash, locked, uid_number, entry_uuid, created_at, modified_at) VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8)")
        .bind(new.uid.as_str()).bind(new.member_number.as_str()).bind(&new.display_name).bind(&new.password_hash)
        .bind(uid_number).bind(&entry_uuid).bind(&stamp).bind(&stamp);
    insert_unique(tx, insert, || StoreError::Conflict(Conflict::UidTaken(new.uid.clone()))).await?;
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

/// One account by uid.
pub(super) async fn get(pool: &AnyPool, uid: &Uid) -> Result<Option<Account>> {
    let sql = "SELECT * FROM accounts WHERE uid = $1";
    fetch_optional_mapped(pool, sql, uid.as_str(), account_from_row).await
}

/// Creates an account for a member who has none ([`insert_account`]).
pub(super) async fn create(pool: &AnyPool, new: NewAccount, now: OffsetDateTime) -> Result<Account> {
    let mut tx = Write::begin(pool).await?;
    let account = insert_account(&mut tx, new, now).await?;
    tx.commit(&[ChangeKey::Account(account.uid.clone())]).await?;
    Ok(account)
}

/// Locks or unlocks an account; a lock ends its sessions and revokes its certificates. Returns
/// how many were revoked.
pub(super) async fn set_locked(
    pool: &AnyPool,
    uid: &Uid,
    locked: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<usize> {
    let mut tx = Write::begin(pool).await?;
    let done = sqlx::query("UPDATE accounts SET locked = $1, modified_at = $2 WHERE uid = $3")
        .bind(i64::from(locked))
        .bind(ts(now)?)
        .bind(uid.as_str())
        .execute(&mut **tx)
        .await?;
    changed(done, || format!("no account {uid}"))?;
    let action = if locked { "account.lock" } else { "account.unlock" };
    tx.audit(actor, action, uid.as_str(), "", now).await?;
    let revoked = if locked {
        // A lock ends the sessions for good: an unlock does not bring them back.
        oidc::end_sessions(&mut tx, Some(uid), now).await?;
        certs::revoke_all_of(&mut tx, uid, None, "account locked", actor, now).await?
    } else {
        Vec::new()
    };
    let mut changed = vec![ChangeKey::Account(uid.clone())];
    changed.extend(revoked.iter().cloned().map(ChangeKey::Certificate));
    tx.commit(&changed).await?;
    Ok(revoked.len())
}

const SET_PASSWORD: &str = "UPDATE accounts SET password_hash = $1, modified_at = $2 WHERE uid = $3";

/// Sets a new password and ends the account's single sign-on sessions.
pub(super) async fn set_password(pool: &AnyPool, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let done = sqlx::query(SET_PASSWORD)
        .bind(hash)
        .bind(ts(now)?)
        .bind(uid.as_str())
        .execute(&mut **tx)
        .await?;
    changed(done, || format!("no account {uid}"))?;
    oidc::end_sessions(&mut tx, Some(uid), now).await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await
}

/// Replaces the hash of the same password; sessions stay.
pub(super) async fn rehash(pool: &AnyPool, uid: &Uid, hash: &str, now: OffsetDateTime) -> Result<()> {
    let logged = ChangeKey::Account(uid.clone());
    update_row(pool, SET_PASSWORD, (hash, now), uid.as_str(), logged, || {
        format!("no account {uid}")
    })
    .await
}
