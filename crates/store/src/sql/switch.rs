//! The one switch (issue 16): disabling a member everywhere in one transaction (`member
//! suspend`, and a status change to suspended or left at `member import`), and lifting a
//! suspension (`member reinstate`). LDAP binds, app passwords and the console stop because the
//! member is no longer active (the view's credential is locked); what lives in the store is
//! ended here: single sign-on sessions with their tokens, the live letter token, client
//! certificates.

use std::collections::HashMap;

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Uid};
use sqlx::{Any, AnyPool, Row, Transaction};
use time::OffsetDateTime;

use super::values::{corrupt, parse_ts, ts};
use super::write::Write;
use super::{audit, certs, oidc};
use crate::{ChangeKey, Disabled, MAX_SUSPENSION_REASON, Reinstated, Result, StoreError, Suspended};

/// Ends, inside the caller's transaction, everything of member `number` that the store holds
/// live: their account's single sign-on sessions (with refresh and access tokens), the live
/// letter token and the account's client certificates (revoked with `reason`). Does not
/// change the status or bump the revision: the caller does both.
pub(super) async fn disable(
    tx: &mut Transaction<'_, Any>,
    number: &MemberNumber,
    reason: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Disabled> {
    let uid: Option<String> = sqlx::query_scalar("SELECT uid FROM accounts WHERE member_number = $1")
        .bind(number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let uid = uid.map(|u| Uid::parse(&u).map_err(corrupt)).transpose()?;
    let mut done = Disabled {
        member: Some(number.clone()),
        uid: uid.clone(),
        ..Disabled::default()
    };
    if let Some(uid) = &uid {
        done.sessions_ended = oidc::end_sessions(tx, Some(uid), now).await?;
        done.revoked_serials = certs::revoke_all_of(tx, uid, None, reason, actor, now).await?;
    }
    let revoked = sqlx::query("UPDATE tokens SET state = 'revoked' WHERE member_number = $1 AND state = 'live'")
        .bind(number.as_str())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if revoked > 0 {
        done.token_revoked = true;
        audit::record(tx, actor, "token.revoke", number.as_str(), reason, now).await?;
    }
    Ok(done)
}

/// The members suspended by `member suspend` (rows of `suspensions`), with the status to
/// restore, inside the caller's transaction.
pub(super) async fn held(tx: &mut Transaction<'_, Any>) -> Result<HashMap<MemberNumber, MembershipStatus>> {
    sqlx::query("SELECT member_number, status_before FROM suspensions")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|row| {
            let number: String = row.try_get(0)?;
            let before: String = row.try_get(1)?;
            Ok((
                MemberNumber::parse(&number).map_err(corrupt)?,
                MembershipStatus::parse(&before).map_err(corrupt)?,
            ))
        })
        .collect()
}

/// Records, inside an import's transaction, the status the membership administration now
/// gives a suspended member: the one `member reinstate` restores.
pub(super) async fn set_status_before(
    tx: &mut Transaction<'_, Any>,
    number: &MemberNumber,
    status: MembershipStatus,
) -> Result<()> {
    sqlx::query("UPDATE suspensions SET status_before = $1 WHERE member_number = $2")
        .bind(status.as_str())
        .bind(number.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A reason as it may be stored: trimmed, not empty, at most [`MAX_SUSPENSION_REASON`]
/// characters, no control characters.
fn checked_reason(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(StoreError::Refused("a suspension needs a reason (--reason)".into()));
    }
    if reason.chars().count() > MAX_SUSPENSION_REASON {
        return Err(StoreError::Refused(format!(
            "the reason is longer than {MAX_SUSPENSION_REASON} characters"
        )));
    }
    if reason.chars().any(char::is_control) {
        return Err(StoreError::Refused(
            "the reason must be one line without control characters".into(),
        ));
    }
    Ok(reason)
}

/// The member's status inside a transaction, or NotFound.
async fn status_of(tx: &mut Transaction<'_, Any>, number: &MemberNumber) -> Result<MembershipStatus> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM members WHERE number = $1")
        .bind(number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let status = status.ok_or_else(|| StoreError::NotFound(format!("no member with number {number}")))?;
    MembershipStatus::parse(&status).map_err(corrupt)
}

pub(super) async fn suspend(
    pool: &AnyPool,
    number: &MemberNumber,
    reason: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Suspended> {
    let reason = checked_reason(reason)?;
    let mut tx = Write::begin(pool).await?;
    let status_before = status_of(&mut tx, number).await?;
    if status_before == MembershipStatus::Left {
        return Err(StoreError::Refused(format!(
            "member {number} has left; there is nothing to suspend"
        )));
    }
    let since: Option<String> = sqlx::query_scalar("SELECT suspended_at FROM suspensions WHERE member_number = $1")
        .bind(number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(since) = since {
        return Err(StoreError::Refused(format!(
            "member {number} is suspended already (since {since}); `piratenldap member reinstate {number}` lifts it"
        )));
    }
    sqlx::query("UPDATE members SET status = 'suspended', updated_at = $1, status_since = $1 WHERE number = $2")
        .bind(ts(now)?)
        .bind(number.as_str())
        .execute(&mut **tx)
        .await?;
    let disabled = disable(&mut tx, number, reason, actor, now).await?;
    sqlx::query("INSERT INTO suspensions (member_number, reason, suspended_by, suspended_at, status_before, revoked_serials, token_revoked, sessions_ended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(number.as_str())
        .bind(reason)
        .bind(actor)
        .bind(ts(now)?)
        .bind(status_before.as_str())
        .bind(disabled.revoked_serials.join("\n"))
        .bind(i64::from(disabled.token_revoked))
        .bind(i64::try_from(disabled.sessions_ended).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?;
    let detail = format!(
        "{reason} (account {}, {} session(s) ended, {} certificate(s) revoked, letter token {})",
        disabled.uid.as_ref().map_or("-", Uid::as_str),
        disabled.sessions_ended,
        disabled.revoked_serials.len(),
        if disabled.token_revoked { "revoked" } else { "none" }
    );
    tx.audit(actor, "member.suspend", number.as_str(), &detail, now).await?;
    let mut changed = vec![ChangeKey::Member(number.clone())];
    changed.extend(disabled.uid.clone().map(ChangeKey::Account));
    changed.extend(disabled.revoked_serials.iter().cloned().map(ChangeKey::Certificate));
    tx.commit(&changed).await?;
    Ok(Suspended {
        status_before,
        disabled,
    })
}

pub(super) async fn reinstate(
    pool: &AnyPool,
    number: &MemberNumber,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Reinstated> {
    let mut tx = Write::begin(pool).await?;
    let status = status_of(&mut tx, number).await?;
    let row = sqlx::query("SELECT * FROM suspensions WHERE member_number = $1")
        .bind(number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else {
        let why = match status {
            MembershipStatus::Suspended => {
                "the membership administration's CSV says so; its next import with status active lifts that"
            }
            _ => "there is nothing to reinstate",
        };
        return Err(StoreError::Refused(format!(
            "member {number} is not suspended by `member suspend` (status {status}): {why}"
        )));
    };
    let before: String = row.try_get("status_before")?;
    let restored = MembershipStatus::parse(&before).map_err(corrupt)?;
    let serials: String = row.try_get("revoked_serials")?;
    let token_revoked: i64 = row.try_get("token_revoked")?;
    let sessions_ended: i64 = row.try_get("sessions_ended")?;
    let suspended_at: String = row.try_get("suspended_at")?;
    let reinstated = Reinstated {
        status: restored,
        uid: None,
        reason: row.try_get("reason")?,
        suspended_by: row.try_get("suspended_by")?,
        suspended_at: parse_ts(&suspended_at)?,
        revoked_serials: serials.lines().map(str::to_string).collect(),
        token_revoked: token_revoked != 0,
        sessions_ended: u64::try_from(sessions_ended).unwrap_or(0),
    };
    sqlx::query("UPDATE members SET status = $1, updated_at = $2, status_since = $2 WHERE number = $3")
        .bind(restored.as_str())
        .bind(ts(now)?)
        .bind(number.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM suspensions WHERE member_number = $1")
        .bind(number.as_str())
        .execute(&mut **tx)
        .await?;
    let uid: Option<String> = sqlx::query_scalar("SELECT uid FROM accounts WHERE member_number = $1")
        .bind(number.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let uid = uid.map(|u| Uid::parse(&u).map_err(corrupt)).transpose()?;
    let detail = format!(
        "status {restored} again; suspended {suspended_at} by {}: {}",
        reinstated.suspended_by, reinstated.reason
    );
    tx.audit(actor, "member.reinstate", number.as_str(), &detail, now)
        .await?;
    tx.commit(&[ChangeKey::Member(number.clone())]).await?;
    Ok(Reinstated { uid, ..reinstated })
}
