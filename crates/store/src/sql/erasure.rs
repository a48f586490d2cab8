//! Erasure (GDPR art. 17) in one transaction: a member who has left loses their record,
//! account and everything hanging off it; their certificates are revoked and kept for the CRL
//! under a pseudonym; the audit trail keeps its events with the pseudonym in place of every
//! identifier of the member; a tombstone (a keyed hash of the number) keeps `member import`
//! from re-creating them. Also the members due for erasure, and the tombstone check.

use std::collections::HashSet;

use piratenldap_core::erasure::{names, scrub};
use piratenldap_core::ids::{MemberNumber, MembershipStatus, Uid};
use sqlx::{Any, AnyPool, Row, Transaction};
use time::OffsetDateTime;

use super::values::{corrupt, ts};
use super::write::Write;
use super::{Backend, certs};
use crate::{ChangeKey, Erased, Erasure, Result, StoreError};

/// Runs a statement binding one text value and returns the rows it changed.
async fn run(tx: &mut Transaction<'_, Any>, sql: &str, value: &str) -> Result<u64> {
    Ok(sqlx::query(sql).bind(value).execute(&mut **tx).await?.rows_affected())
}

/// Replaces `old` by `new` in a column that names an actor (an admin's uid) on others' rows.
async fn rename(tx: &mut Transaction<'_, Any>, table: &str, column: &str, old: &str, new: &str) -> Result<()> {
    sqlx::query(&format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2"))
        .bind(new)
        .bind(old)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn erase(
    pool: &AnyPool,
    number: &MemberNumber,
    erasure: &Erasure,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Erased> {
    let pseudonym = erasure.pseudonym.as_str();
    let postgres = Backend::of_url(pool.connect_options().database_url.as_str()) == Some(Backend::Postgres);
    let mut tx = Write::begin(pool).await?;
    // Two nodes may erase the same member at once: on PostgreSQL the second waits here for
    // the first and then finds no row (SQLite's write lock is taken at BEGIN already).
    let lock = if postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT status, given_name, surname, email FROM members WHERE number = $1{lock}"
    ))
    .bind(number.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!(
            "no member with number {number} (never imported, or erased already)"
        )));
    };
    let status: String = row.try_get(0)?;
    let status = MembershipStatus::parse(&status).map_err(corrupt)?;
    if status != MembershipStatus::Left {
        return Err(StoreError::Refused(format!(
            "member {number} has status {status}: only a member who has left is erased \
             (the membership administration's file marks them left; `member import` records it)"
        )));
    }
    let mut identifiers: Vec<String> = vec![number.to_string()];
    let mut weak: Vec<String> = Vec::new();
    for i in 1..=2 {
        weak.extend(row.try_get::<Option<String>, _>(i)?);
    }
    identifiers.extend(row.try_get::<Option<String>, _>(3)?);
    let mut done = Erased {
        pseudonym: pseudonym.to_string(),
        ..Erased::default()
    };
    let account = sqlx::query(
        "SELECT uid, display_name, entry_uuid, totp_secret, totp_enabled FROM accounts WHERE member_number = $1",
    )
    .bind(number.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(account) = account {
        let uid: String = account.try_get(0)?;
        let uid = Uid::parse(&uid).map_err(corrupt)?;
        weak.push(account.try_get(1)?);
        identifiers.push(account.try_get(2)?);
        identifiers.push(uid.to_string());
        let secret: Option<String> = account.try_get(3)?;
        let enabled: i64 = account.try_get(4)?;
        done.totp = secret.is_some() || enabled != 0;
        erase_account(&mut tx, &uid, pseudonym, actor, now, &mut done).await?;
        done.uid = Some(uid);
    }
    done.tokens = run(&mut tx, "DELETE FROM tokens WHERE member_number = $1", number.as_str()).await?;
    done.suspension = run(
        &mut tx,
        "DELETE FROM suspensions WHERE member_number = $1",
        number.as_str(),
    )
    .await?
        > 0;
    run(&mut tx, "DELETE FROM members WHERE number = $1", number.as_str()).await?;
    // The change log names the member and the account as keys: those rows go too. Readers
    // behind them rebuild anyway (this erasure logs `Everything`).
    run(
        &mut tx,
        "DELETE FROM changes WHERE kind = 'member' AND key = $1",
        number.as_str(),
    )
    .await?;
    if let Some(uid) = &done.uid {
        run(
            &mut tx,
            "DELETE FROM changes WHERE kind = 'account' AND key = $1",
            uid.as_str(),
        )
        .await?;
    }
    sqlx::query("INSERT INTO erased (number_hmac, erased_at) VALUES ($1, $2) ON CONFLICT (number_hmac) DO NOTHING")
        .bind(&erasure.tombstone)
        .bind(ts(now)?)
        .execute(&mut **tx)
        .await?;
    done.audit_rows = scrub_audit(&mut tx, &identifiers, &weak, pseudonym).await?;
    let detail = format!(
        "account {}, {} group membership(s), {} app password(s), second factor {}, {} session(s), \
         {} letter token(s), {} certificate(s) revoked now, {} kept for the CRL, {} audit row(s) pseudonymised",
        if done.uid.is_some() { "deleted" } else { "none" },
        done.group_memberships,
        done.app_passwords,
        if done.totp { "deleted" } else { "none" },
        done.sessions,
        done.tokens,
        done.revoked_serials.len(),
        done.certificates_kept,
        done.audit_rows
    );
    tx.audit(actor, "member.erase", pseudonym, &detail, now).await?;
    // Rows of many kinds go or change (certificates move to `erased_certificates`): readers rebuild.
    tx.commit(&[ChangeKey::Everything]).await?;
    Ok(done)
}

/// Deletes the account `uid` and what hangs off it, revokes its certificates and keeps them
/// (and any request they were issued from) under the pseudonym.
async fn erase_account(
    tx: &mut Transaction<'_, Any>,
    uid: &Uid,
    pseudonym: &str,
    actor: &str,
    now: OffsetDateTime,
    done: &mut Erased,
) -> Result<()> {
    let u = uid.as_str();
    let sessions = "(SELECT id_hash FROM oidc_sessions WHERE uid = $1)";
    run(
        tx,
        &format!("DELETE FROM oidc_tokens WHERE session_hash IN {sessions}"),
        u,
    )
    .await?;
    run(
        tx,
        &format!("DELETE FROM oidc_codes WHERE session_hash IN {sessions}"),
        u,
    )
    .await?;
    run(
        tx,
        &format!("DELETE FROM oidc_session_clients WHERE session_hash IN {sessions}"),
        u,
    )
    .await?;
    done.sessions = run(tx, "DELETE FROM oidc_sessions WHERE uid = $1", u).await?;
    done.consents = run(tx, "DELETE FROM oidc_consents WHERE uid = $1", u).await?;
    done.admin_grants = run(tx, "DELETE FROM chapter_admins WHERE uid = $1", u).await?;
    done.app_passwords = run(tx, "DELETE FROM app_passwords WHERE uid = $1", u).await?;
    done.group_memberships = run(tx, "DELETE FROM group_members WHERE uid = $1", u).await?;
    done.revoked_serials = certs::revoke_all_of(tx, uid, None, "member erased", actor, now).await?;
    // The member as the admin who acted on others' rows.
    for (table, column) in [
        ("cert_requests", "requested_by"),
        ("cert_requests", "approved_by"),
        ("certificates", "issued_by"),
        ("erased_certificates", "issued_by"),
        ("chapter_admins", "granted_by"),
        ("suspensions", "suspended_by"),
    ] {
        rename(tx, table, column, u, pseudonym).await?;
    }
    // The certificates move to `erased_certificates` (serial, dates, revocation: what the CRL
    // needs) under the pseudonym; their requests, with the CSR naming the holder, go.
    done.certificates_kept = sqlx::query(
        "INSERT INTO erased_certificates (serial, holder, role, not_before, not_after, issued_by, issued_at, \
         revoked_at, revoke_reason) SELECT serial, $1, role, not_before, not_after, issued_by, issued_at, \
         revoked_at, revoke_reason FROM certificates WHERE uid = $2",
    )
    .bind(pseudonym)
    .bind(u)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    run(tx, "DELETE FROM certificates WHERE uid = $1", u).await?;
    done.cert_requests = run(tx, "DELETE FROM cert_requests WHERE uid = $1", u).await?;
    done.buckets = erase_buckets(tx, uid).await?;
    run(tx, "DELETE FROM accounts WHERE uid = $1", u).await?;
    Ok(())
}

/// Deletes the throttle buckets of the account (keys `a:DN` and `w:DN` name its DN as the
/// client wrote it; hashed keys are kept only for DNs longer than any account's).
async fn erase_buckets(tx: &mut Transaction<'_, Any>, uid: &Uid) -> Result<u64> {
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM buckets WHERE lower(key) LIKE $1")
        .bind(format!("%{}%", uid.as_str()))
        .fetch_all(&mut **tx)
        .await?;
    let mut deleted = 0;
    for key in keys {
        if (key.starts_with("a:") || key.starts_with("w:")) && names(&key[2..], uid.as_str()) {
            deleted += run(tx, "DELETE FROM buckets WHERE key = $1", &key).await?;
        }
    }
    Ok(deleted)
}

/// Rewrites the audit rows that name the member by an identifier (number, uid, e-mail,
/// entryUUID; the DN contains the uid): every identifier and name in actor, subject and detail
/// becomes the pseudonym. Names alone (display name, real names) are not identifiers: another
/// member may share them, so rows that name nobody else are left as they are.
async fn scrub_audit(
    tx: &mut Transaction<'_, Any>,
    identifiers: &[String],
    names_too: &[String],
    pseudonym: &str,
) -> Result<u64> {
    let needles: Vec<&str> = identifiers.iter().chain(names_too).map(String::as_str).collect();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut rewritten = 0;
    for identifier in identifiers.iter().filter(|i| !i.trim().is_empty()) {
        // A wide net in SQL (LIKE treats `_` as any character), the exact rule in Rust.
        let pattern = format!("%{}%", identifier.to_ascii_lowercase());
        let rows = sqlx::query(
            "SELECT id, actor, subject, detail FROM audit \
             WHERE lower(actor) LIKE $1 OR lower(subject) LIKE $1 OR lower(detail) LIKE $1",
        )
        .bind(&pattern)
        .fetch_all(&mut **tx)
        .await?;
        for row in rows {
            let id: i64 = row.try_get(0)?;
            let fields: [String; 3] = [row.try_get(1)?, row.try_get(2)?, row.try_get(3)?];
            if seen.contains(&id) || !fields.iter().any(|f| names(f, identifier)) {
                continue;
            }
            seen.insert(id);
            let [actor, subject, detail] = fields.map(|f| scrub(&f, &needles, pseudonym));
            sqlx::query("UPDATE audit SET actor = $1, subject = $2, detail = $3 WHERE id = $4")
                .bind(actor)
                .bind(subject)
                .bind(detail)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            rewritten += 1;
        }
    }
    Ok(rewritten)
}

/// Members whose status has been `left` since before `before`, by number.
pub(super) async fn due(pool: &AnyPool, before: OffsetDateTime) -> Result<Vec<MemberNumber>> {
    let numbers: Vec<String> = sqlx::query_scalar(
        "SELECT number FROM members WHERE status = 'left' AND COALESCE(status_since, updated_at) < $1 ORDER BY number",
    )
    .bind(ts(before)?)
    .fetch_all(pool)
    .await?;
    numbers
        .iter()
        .map(|n| MemberNumber::parse(n).map_err(corrupt))
        .collect()
}

/// The tombstones of erased members, inside an import's transaction.
pub(super) async fn tombstones(tx: &mut Transaction<'_, Any>) -> Result<HashSet<String>> {
    Ok(sqlx::query_scalar("SELECT number_hmac FROM erased")
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect())
}
