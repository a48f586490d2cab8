//! Letter tokens: activation tokens (issue 3) and reset tokens (issue 15). Only HMACs are
//! stored, one live token per member whatever its kind. Activation consumes an activation token
//! and creates the account, a reset consumes a reset token and sets the account's new password
//! (and removes its second factor if asked), each in one transaction whose first statement is
//! the write that claims the token of that kind, so two concurrent uses of one token serialise
//! and exactly one wins, and a token of the other kind is never claimed.

use piratenldap_core::ids::{MemberNumber, Uid};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

use super::accounts::insert_account;
use super::audit;
use super::connection::begin_write;
use super::oidc;
use super::query::changed;
use super::values::{corrupt, parse_ts, placeholders, ts};
use super::write::Write;
use crate::{Account, ChangeKey, LiveToken, NewAccount, Result, SecondFactorReset, StoreError, TokenKind};

pub(super) async fn pending_members(pool: &AnyPool) -> Result<Vec<MemberNumber>> {
    let rows = sqlx::query(
        "SELECT m.number FROM members m LEFT JOIN accounts a ON a.member_number = m.number \
         WHERE m.status = 'active' AND a.uid IS NULL ORDER BY m.number",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| MemberNumber::parse(r.try_get(0)?).map_err(corrupt))
        .collect()
}

pub(super) async fn issue(
    pool: &AnyPool,
    tokens: &[(MemberNumber, String)],
    kind: TokenKind,
    expires_at: OffsetDateTime,
    actor: &str,
    now: OffsetDateTime,
) -> Result<usize> {
    let (stamp, expires) = (ts(now)?, ts(expires_at)?);
    let mut tx = begin_write(pool).await?;
    // One read of every member's status and account, instead of a query per token.
    let rows = sqlx::query(
        "SELECT m.number, m.status, a.uid, a.locked FROM members m LEFT JOIN accounts a ON a.member_number = m.number",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut known = std::collections::HashMap::with_capacity(rows.len());
    for r in &rows {
        let (number, status, uid, locked): (String, String, Option<String>, Option<i64>) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        known.insert(number, (status, uid, locked.unwrap_or(0) != 0));
    }
    let mut refused = Vec::new();
    for (number, _) in tokens {
        match (kind, known.get(number.as_str())) {
            (_, None) => refused.push(format!("{number}: no such member")),
            (_, Some((status, _, _))) if status == "left" => refused.push(format!("{number}: has left")),
            (_, Some((status, _, _))) if status == "suspended" => refused.push(format!(
                "{number}: is suspended (a letter would open nothing; `member reinstate` first)"
            )),
            (TokenKind::Activation, Some((_, Some(uid), _))) => refused.push(format!(
                "{number}: has the account {uid} already (a lost password or second factor needs a reset letter: --reset)"
            )),
            (TokenKind::Reset, Some((_, None, _))) => refused.push(format!(
                "{number}: has no account to reset (an activation letter creates one: leave out --reset)"
            )),
            (TokenKind::Reset, Some((_, Some(uid), true))) => {
                refused.push(format!("{number}: the account {uid} is locked; unlock it first"))
            }
            _ => {}
        }
    }
    if !refused.is_empty() {
        return Err(StoreError::Refused(format!(
            "no tokens were issued; these members get none:\n  {}",
            refused.join("\n  ")
        )));
    }
    // Revoke older live tokens only where there are any, then insert in multi-row batches:
    // 100 000 single statements took 15 s; batches take a fraction of that.
    let live: std::collections::HashSet<String> =
        sqlx::query_scalar("SELECT member_number FROM tokens WHERE state = 'live'")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let to_revoke: Vec<&str> = tokens
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| live.contains(*n))
        .collect();
    for chunk in to_revoke.chunks(10_000) {
        let sql = format!(
            "UPDATE tokens SET state = 'revoked' WHERE state = 'live' AND member_number IN ({})",
            placeholders(chunk.len(), 1)
        );
        let mut update = sqlx::query(&sql);
        for number in chunk {
            update = update.bind(*number);
        }
        update.execute(&mut *tx).await?;
    }
    // SQLite allows 32 766 bound values per statement; six per row.
    for chunk in tokens.chunks(4_000) {
        let sql = format!(
            "INSERT INTO tokens (hmac, member_number, state, issued_at, expires_at, kind) VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut insert = sqlx::query(&sql);
        for (number, hmac) in chunk {
            insert = insert
                .bind(hmac.as_str())
                .bind(number.as_str())
                .bind("live")
                .bind(stamp.as_str())
                .bind(expires.as_str())
                .bind(kind.as_str());
        }
        insert.execute(&mut *tx).await?;
    }
    audit::record(
        &mut tx,
        actor,
        "token.issue",
        &format!("{} members", tokens.len()),
        &format!("{} letters, expires {expires}", kind.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(tokens.len())
}

pub(super) async fn revoke(pool: &AnyPool, number: &MemberNumber, actor: &str, now: OffsetDateTime) -> Result<usize> {
    let mut tx = begin_write(pool).await?;
    let done = sqlx::query("UPDATE tokens SET state = 'revoked' WHERE member_number = $1 AND state = 'live'")
        .bind(number.as_str())
        .execute(&mut *tx)
        .await?;
    let revoked = changed(done, || format!("member {number} has no live token"))?;
    audit::record(&mut tx, actor, "token.revoke", number.as_str(), "", now).await?;
    tx.commit().await?;
    Ok(revoked as usize)
}

pub(super) async fn live_member(pool: &AnyPool, hmac: &str, now: OffsetDateTime) -> Result<Option<MemberNumber>> {
    let row = sqlx::query(
        "SELECT t.member_number FROM tokens t JOIN members m ON m.number = t.member_number \
         WHERE t.hmac = $1 AND t.state = 'live' AND t.expires_at > $2 AND m.status <> 'left'",
    )
    .bind(hmac)
    .bind(ts(now)?)
    .fetch_optional(pool)
    .await?;
    row.map(|r| MemberNumber::parse(r.try_get(0)?).map_err(corrupt))
        .transpose()
}

/// The kind and expiry of `number`'s live, unexpired token, if any (never the token).
pub(super) async fn member_token(
    pool: &AnyPool,
    number: &MemberNumber,
    now: OffsetDateTime,
) -> Result<Option<(TokenKind, OffsetDateTime)>> {
    let row = sqlx::query(
        "SELECT kind, expires_at FROM tokens WHERE member_number = $1 AND state = 'live' AND expires_at > $2",
    )
    .bind(number.as_str())
    .bind(ts(now)?)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let kind: String = r.try_get(0)?;
        let kind = TokenKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("token kind {kind}")))?;
        Ok((kind, parse_ts(r.try_get(1)?)?))
    })
    .transpose()
}

/// The live token with this HMAC. A reset token whose account is gone or locked is not
/// usable, so it is not found either.
pub(super) async fn live_token(pool: &AnyPool, hmac: &str, now: OffsetDateTime) -> Result<Option<LiveToken>> {
    let row = sqlx::query(
        "SELECT t.member_number, t.kind, a.uid, a.locked FROM tokens t \
         JOIN members m ON m.number = t.member_number \
         LEFT JOIN accounts a ON a.member_number = t.member_number \
         WHERE t.hmac = $1 AND t.state = 'live' AND t.expires_at > $2 AND m.status <> 'left'",
    )
    .bind(hmac)
    .bind(ts(now)?)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (number, kind, uid, locked): (String, String, Option<String>, Option<i64>) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
    let kind = TokenKind::parse(&kind).ok_or_else(|| corrupt(format!("token kind {kind:?}")))?;
    let uid = uid.map(|u| Uid::parse(&u).map_err(corrupt)).transpose()?;
    if kind == TokenKind::Reset && (uid.is_none() || locked.unwrap_or(0) != 0) {
        return Ok(None);
    }
    Ok(Some(LiveToken {
        member: MemberNumber::parse(&number).map_err(corrupt)?,
        kind,
        uid,
    }))
}

/// The error for any token that cannot be used: one message, whatever the reason.
pub fn unusable() -> StoreError {
    StoreError::NotFound("this token is unknown, used, revoked or expired".into())
}

pub(super) async fn activate(
    pool: &AnyPool,
    hmac: &str,
    uid: &Uid,
    display_name: &str,
    password_hash: &str,
    now: OffsetDateTime,
) -> Result<Account> {
    let stamp = ts(now)?;
    let mut tx = Write::begin(pool).await?;
    // The claim comes first: on PostgreSQL it locks the token's row, so a second activation
    // waits here and then finds the token used (on SQLite the transaction holds the write lock
    // from its start).
    let claimed = sqlx::query(
        "UPDATE tokens SET state = 'used', used_at = $1 \
         WHERE hmac = $2 AND state = 'live' AND expires_at > $3 AND kind = 'activation'",
    )
    .bind(&stamp)
    .bind(hmac)
    .bind(&stamp)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(unusable());
    }
    let number: String = sqlx::query_scalar("SELECT member_number FROM tokens WHERE hmac = $1")
        .bind(hmac)
        .fetch_one(&mut **tx)
        .await?;
    let member_number = MemberNumber::parse(&number).map_err(corrupt)?;
    let account = insert_account(
        &mut tx,
        NewAccount {
            uid: uid.clone(),
            member_number,
            display_name: display_name.to_string(),
            password_hash: password_hash.to_string(),
        },
        now,
    )
    .await
    .map_err(|e| match e {
        // A member who left meanwhile: the token is as good as revoked.
        StoreError::Refused(_) => unusable(),
        other => other,
    })?;
    tx.audit(
        uid.as_str(),
        "account.activate",
        uid.as_str(),
        &format!("member {number}"),
        now,
    )
    .await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
    Ok(account)
}

/// Consumes a reset token and, in the same transaction, sets the account's new password,
/// removes its second factor if asked, ends its single sign-on sessions and refresh tokens, and
/// records `account.reset`. A token that is not a live reset token, or whose account is gone or
/// locked, gives [`unusable`]; removing an admin's second factor is refused (admins must have
/// TOTP). Any error rolls everything back, the claim of the token included.
pub(super) async fn reset(
    pool: &AnyPool,
    hmac: &str,
    password_hash: &str,
    second_factor: SecondFactorReset,
    now: OffsetDateTime,
) -> Result<Uid> {
    let stamp = ts(now)?;
    let mut tx = Write::begin(pool).await?;
    // The claim comes first, as in `activate`: a second use waits here and finds it used.
    let claimed = sqlx::query(
        "UPDATE tokens SET state = 'used', used_at = $1 \
         WHERE hmac = $2 AND state = 'live' AND expires_at > $3 AND kind = 'reset'",
    )
    .bind(&stamp)
    .bind(hmac)
    .bind(&stamp)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(unusable());
    }
    let row = sqlx::query(
        "SELECT a.uid, a.locked, t.member_number FROM tokens t \
         JOIN members m ON m.number = t.member_number \
         JOIN accounts a ON a.member_number = t.member_number \
         WHERE t.hmac = $1 AND m.status <> 'left'",
    )
    .bind(hmac)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Err(unusable()) };
    let (uid, locked, number): (String, i64, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if locked != 0 {
        return Err(unusable());
    }
    let uid = Uid::parse(&uid).map_err(corrupt)?;
    let sql = match second_factor {
        SecondFactorReset::Keep => "UPDATE accounts SET password_hash = $1, modified_at = $2 WHERE uid = $3",
        SecondFactorReset::Remove => {
            let admin: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM group_members WHERE group_name = 'admins' AND uid = $1 \
                     UNION SELECT 1 FROM chapter_admins WHERE uid = $1",
            )
            .bind(uid.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            if admin.is_some() {
                return Err(StoreError::Refused(format!(
                    "{uid} is an admin, and admins must have TOTP: a federal admin first removes {uid} from admins or revokes the chapter grant"
                )));
            }
            "UPDATE accounts SET password_hash = $1, modified_at = $2, totp_enabled = 0, totp_secret = NULL, \
             totp_last_step = NULL WHERE uid = $3"
        }
    };
    sqlx::query(sql)
        .bind(password_hash)
        .bind(&stamp)
        .bind(uid.as_str())
        .execute(&mut **tx)
        .await?;
    // As a password change and a removed second factor do: every session ends for good.
    oidc::end_sessions(&mut tx, Some(&uid), now).await?;
    let detail = match second_factor {
        SecondFactorReset::Keep => format!("member {number}: new password"),
        SecondFactorReset::Remove => format!("member {number}: new password, TOTP removed"),
    };
    tx.audit(uid.as_str(), "account.reset", uid.as_str(), &detail, now)
        .await?;
    tx.commit(&[ChangeKey::Account(uid.clone())]).await?;
    Ok(uid)
}
