//! Activation tokens (issue 3). Only HMACs are stored; activation consumes the token and
//! creates the account in one transaction whose first statement is the write that claims the
//! token, so two concurrent activations with one token serialise and exactly one wins.

use piratenldap_core::ids::{MemberNumber, Uid};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

use super::{bump_revision, certs::audit, changed, insert_account, placeholders, ts};
use crate::{Account, NewAccount, Result, StoreError};

pub(super) async fn pending_members(pool: &AnyPool) -> Result<Vec<MemberNumber>> {
    let rows = sqlx::query(
        "SELECT m.number FROM members m LEFT JOIN accounts a ON a.member_number = m.number \
         WHERE m.status <> 'left' AND a.uid IS NULL ORDER BY m.number",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| MemberNumber::parse(r.try_get(0)?).map_err(super::corrupt))
        .collect()
}

pub(super) async fn issue(
    pool: &AnyPool,
    tokens: &[(MemberNumber, String)],
    expires_at: OffsetDateTime,
    actor: &str,
    now: OffsetDateTime,
) -> Result<usize> {
    let (stamp, expires) = (ts(now)?, ts(expires_at)?);
    let mut tx = super::begin_write(pool).await?;
    // One read of every member's status and account, instead of a query per token.
    let rows = sqlx::query(
        "SELECT m.number, m.status, a.uid FROM members m LEFT JOIN accounts a ON a.member_number = m.number",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut known = std::collections::HashMap::with_capacity(rows.len());
    for r in &rows {
        let (number, status, uid): (String, String, Option<String>) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        known.insert(number, (status, uid));
    }
    let mut refused = Vec::new();
    for (number, _) in tokens {
        match known.get(number.as_str()) {
            None => refused.push(format!("{number}: no such member")),
            Some((status, _)) if status == "left" => refused.push(format!("{number}: has left")),
            Some((_, Some(uid))) => refused.push(format!("{number}: has the account {uid} already")),
            Some(_) => {}
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
    // SQLite allows 32 766 bound values per statement; five per row.
    for chunk in tokens.chunks(4_000) {
        let sql = format!(
            "INSERT INTO tokens (hmac, member_number, state, issued_at, expires_at) VALUES {}",
            placeholders(chunk.len(), 5)
        );
        let mut insert = sqlx::query(&sql);
        for (number, hmac) in chunk {
            insert = insert
                .bind(hmac.as_str())
                .bind(number.as_str())
                .bind("live")
                .bind(stamp.as_str())
                .bind(expires.as_str());
        }
        insert.execute(&mut *tx).await?;
    }
    audit(
        &mut tx,
        actor,
        "token.issue",
        &format!("{} members", tokens.len()),
        &format!("expires {expires}"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(tokens.len())
}

pub(super) async fn revoke(pool: &AnyPool, number: &MemberNumber, actor: &str, now: OffsetDateTime) -> Result<usize> {
    let mut tx = super::begin_write(pool).await?;
    let done = sqlx::query("UPDATE tokens SET state = 'revoked' WHERE member_number = $1 AND state = 'live'")
        .bind(number.as_str())
        .execute(&mut *tx)
        .await?;
    let revoked = changed(done, || format!("member {number} has no live token"))?;
    audit(&mut tx, actor, "token.revoke", number.as_str(), "", now).await?;
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
    row.map(|r| MemberNumber::parse(r.try_get(0)?).map_err(super::corrupt))
        .transpose()
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
    let mut tx = super::begin_write(pool).await?;
    // The claim comes first: on PostgreSQL it locks the token's row, so a second activation
    // waits here and then finds the token used (on SQLite the transaction holds the write lock
    // from its start).
    let claimed = sqlx::query(
        "UPDATE tokens SET state = 'used', used_at = $1 WHERE hmac = $2 AND state = 'live' AND expires_at > $3",
    )
    .bind(&stamp)
    .bind(hmac)
    .bind(&stamp)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(unusable());
    }
    let number: String = sqlx::query_scalar("SELECT member_number FROM tokens WHERE hmac = $1")
        .bind(hmac)
        .fetch_one(&mut *tx)
        .await?;
    let member_number = MemberNumber::parse(&number).map_err(super::corrupt)?;
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
    audit(
        &mut tx,
        uid.as_str(),
        "account.activate",
        uid.as_str(),
        &format!("member {number}"),
        now,
    )
    .await?;
    bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(account)
}
