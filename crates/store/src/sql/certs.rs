//! Certificate requests, certificates and CRLs (issue 4).

use sqlx::{Any, AnyPool, Row, Transaction};
use time::OffsetDateTime;

use piratenldap_core::ids::{Name, Uid};

use super::audit;
use super::columns::Columns;
use super::connection::begin_write;
use super::query::{fetch_mapped, fetch_optional_mapped};
use super::values::{corrupt, parse_ts, ts};
use super::write::Write;
use crate::{CertRequest, Certificate, ChangeKey, Conflict, Crl, NewCertificate, Result, StoreError};

const REQUEST_BY_ID: &str = "SELECT * FROM cert_requests WHERE id = $1";
const CERTIFICATE_BY_SERIAL: &str = "SELECT * FROM certificates WHERE serial = $1";

fn request_from_row(row: &impl Columns) -> Result<CertRequest> {
    Ok(CertRequest {
        id: row.int("id")?,
        uid: row.uid("uid")?,
        role: row.text("role")?,
        csr_pem: row.opt_text("csr_pem")?,
        requested_by: row.uid("requested_by")?,
        requested_at: row.time("requested_at")?,
        approved_by: row
            .opt_text("approved_by")?
            .map(|u| Uid::parse(&u))
            .transpose()
            .map_err(corrupt)?,
        approved_at: row.opt_time("approved_at")?,
        issued_serial: row.opt_text("issued_serial")?,
    })
}

pub(super) fn certificate_from_row(row: &impl Columns) -> Result<Certificate> {
    Ok(Certificate {
        serial: row.text("serial")?,
        request_id: row.int("request_id")?,
        uid: row.uid("uid")?,
        role: row.text("role")?,
        fingerprint: row.text("fingerprint")?,
        not_before: row.time("not_before")?,
        not_after: row.time("not_after")?,
        issued_by: row.text("issued_by")?,
        issued_at: row.time("issued_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        revoke_reason: row.opt_text("revoke_reason")?,
    })
}

/// A request inside a transaction, or NotFound.
async fn load_request(tx: &mut Transaction<'_, Any>, id: i64) -> Result<CertRequest> {
    fetch_optional_mapped(&mut **tx, REQUEST_BY_ID, id, request_from_row)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no certificate request {id}")))
}

/// Refuses unless `uid` is an unlocked member of `admins`.
/// Refuses unless `uid` is an unlocked account that administers certificates of roles
/// requiring `group`: a federal admin (group `admins`), or a chapter admin of the chapter that
/// owns `group` (a chapter's role; roles of federal groups are federal-only).
async fn require_admin(tx: &mut Transaction<'_, Any>, uid: &Uid, group: &Name, what: &str) -> Result<()> {
    let ok: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM accounts a WHERE a.uid = $1 AND a.locked = 0 AND (\
         EXISTS (SELECT 1 FROM group_members g WHERE g.group_name = 'admins' AND g.uid = a.uid) \
         OR EXISTS (SELECT 1 FROM chapter_admins c JOIN groups r ON r.chapter = c.chapter \
                    WHERE c.uid = a.uid AND r.name = $2))",
    )
    .bind(uid.as_str())
    .bind(group.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    match ok {
        Some(_) => Ok(()),
        None => Err(StoreError::Refused(format!(
            "{uid} is not an admin (an unlocked member of the group admins, or chapter admin of the chapter that owns {group}) and cannot {what}"
        ))),
    }
}

/// Refuses unless `uid` is an unlocked account in the manual group `group`.
async fn require_in_group(tx: &mut Transaction<'_, Any>, uid: &Uid, group: &Name) -> Result<()> {
    let locked: Option<i64> = sqlx::query_scalar("SELECT locked FROM accounts WHERE uid = $1")
        .bind(uid.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    match locked {
        None => return Err(StoreError::NotFound(format!("no account {uid}"))),
        Some(1) => return Err(StoreError::Refused(format!("the account {uid} is locked"))),
        Some(_) => {}
    }
    let member: Option<i64> = sqlx::query_scalar("SELECT 1 FROM group_members WHERE group_name = $1 AND uid = $2")
        .bind(group.as_str())
        .bind(uid.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    match member {
        Some(_) => Ok(()),
        None => Err(StoreError::Refused(format!(
            "{uid} is not a member of the group {group}, which this role requires"
        ))),
    }
}

pub(super) async fn create_request(
    pool: &AnyPool,
    uid: &Uid,
    role: &str,
    group: &Name,
    csr_pem: Option<&str>,
    by: &Uid,
    now: OffsetDateTime,
) -> Result<CertRequest> {
    let mut tx = begin_write(pool).await?;
    require_admin(&mut tx, by, group, "request certificates").await?;
    require_in_group(&mut tx, uid, group).await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO cert_requests (uid, role, csr_pem, requested_by, requested_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(uid.as_str())
        .bind(role)
        .bind(csr_pem)
        .bind(by.as_str())
        .bind(ts(now)?)
        .fetch_one(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        by.as_str(),
        "cert.request",
        uid.as_str(),
        &format!("request {id}, role {role}"),
        now,
    )
    .await?;
    tx.commit().await?;
    get_request(pool, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("request vanished".into()))
}

/// `cert renew` shortened: a new request for the holder and role of request `original`,
/// recorded approved by `original`'s approver, at the time of that approval, when that
/// approval is at or after `approved_since`. In one transaction the rules of a fresh approval are checked again: `by`
/// administers `group`'s certificates and is not the holder, the approver still does, and the
/// holder is still an unlocked member of `group`. Audited as `cert.renew`.
pub(super) async fn renew_approved(
    pool: &AnyPool,
    original: i64,
    group: &Name,
    by: &Uid,
    approved_since: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<CertRequest> {
    let mut tx = begin_write(pool).await?;
    let old = load_request(&mut tx, original).await?;
    let (Some(approver), Some(approved_at)) = (&old.approved_by, old.approved_at) else {
        return Err(StoreError::Refused(format!("request {original} was never approved")));
    };
    if approved_at < approved_since {
        return Err(StoreError::Refused(format!(
            "request {original} was approved on {approved_at}, too long ago to renew without a new approval"
        )));
    }
    if &old.uid == by {
        return Err(StoreError::Refused(format!(
            "{by} cannot renew their own certificate without a second admin"
        )));
    }
    // One shortened renewal per approval: a request resting on the same approval (same holder,
    // role, approver and approval time) means this approval already carried one; the next
    // renewal is approved anew (else one approval would yield any number of certificates).
    let carried: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM cert_requests WHERE uid = $1 AND role = $2 AND approved_by = $3 AND approved_at = $4 AND id <> $5 LIMIT 1",
    )
    .bind(old.uid.as_str())
    .bind(&old.role)
    .bind(approver.as_str())
    .bind(ts(approved_at)?)
    .bind(original)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(carried) = carried {
        return Err(StoreError::Conflict(Conflict::ApprovalCarried { original, carried }));
    }
    require_admin(&mut tx, by, group, "renew certificates").await?;
    require_admin(&mut tx, approver, group, "approve certificate requests").await?;
    require_in_group(&mut tx, &old.uid, group).await?;
    // Approved when the approval it rests on was given: renewing this renewal is measured
    // from that approval, not from now (else a chain of renewals would carry it for ever).
    let id: i64 = sqlx::query_scalar("INSERT INTO cert_requests (uid, role, csr_pem, requested_by, requested_at, approved_by, approved_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(old.uid.as_str())
        .bind(&old.role)
        .bind(old.csr_pem.as_deref())
        .bind(by.as_str())
        .bind(ts(now)?)
        .bind(approver.as_str())
        .bind(ts(approved_at)?)
        .fetch_one(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        by.as_str(),
        "cert.renew",
        old.uid.as_str(),
        &format!(
            "request {id}, role {}, renewing request {original} approved by {approver} on {approved_at}",
            old.role
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    get_request(pool, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("request vanished".into()))
}

/// The newest `limit` requests, newest first.
pub(super) async fn requests(pool: &AnyPool, limit: u32) -> Result<Vec<CertRequest>> {
    sqlx::query("SELECT * FROM cert_requests ORDER BY id DESC LIMIT $1")
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .iter()
        .map(request_from_row)
        .collect()
}

pub(super) async fn get_request(pool: &AnyPool, id: i64) -> Result<Option<CertRequest>> {
    fetch_optional_mapped(pool, REQUEST_BY_ID, id, request_from_row).await
}

pub(super) async fn approve(
    pool: &AnyPool,
    id: i64,
    group: &Name,
    by: &Uid,
    now: OffsetDateTime,
) -> Result<CertRequest> {
    let mut tx = begin_write(pool).await?;
    let req = load_request(&mut tx, id).await?;
    if req.approved_by.is_some() {
        return Err(StoreError::Conflict(Conflict::RequestApproved(id)));
    }
    if &req.requested_by == by {
        return Err(StoreError::Refused(format!(
            "{by} made request {id} and cannot approve it too: a different admin must approve (four eyes)"
        )));
    }
    if &req.uid == by {
        return Err(StoreError::Refused(format!(
            "{by} cannot approve a certificate for themselves"
        )));
    }
    require_admin(&mut tx, by, group, "approve certificate requests").await?;
    sqlx::query("UPDATE cert_requests SET approved_by = $1, approved_at = $2 WHERE id = $3")
        .bind(by.as_str())
        .bind(ts(now)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        by.as_str(),
        "cert.approve",
        req.uid.as_str(),
        &format!("request {id}, role {}", req.role),
        now,
    )
    .await?;
    tx.commit().await?;
    get_request(pool, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("request vanished".into()))
}

pub(super) async fn record(
    pool: &AnyPool,
    id: i64,
    group: &Name,
    cert: &NewCertificate,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Certificate> {
    let mut tx = Write::begin(pool).await?;
    let req = load_request(&mut tx, id).await?;
    if req.approved_by.is_none() {
        return Err(StoreError::Refused(format!(
            "request {id} is not approved yet: another admin must run `piratenldap cert approve {id} --by UID`"
        )));
    }
    if let Some(serial) = &req.issued_serial {
        return Err(StoreError::Conflict(Conflict::RequestIssued {
            id,
            serial: serial.clone(),
        }));
    }
    require_in_group(&mut tx, &req.uid, group).await?;
    sqlx::query("INSERT INTO certificates (serial, request_id, uid, role, fingerprint, not_before, not_after, issued_by, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&cert.serial)
        .bind(id)
        .bind(req.uid.as_str())
        .bind(&req.role)
        .bind(&cert.fingerprint)
        .bind(ts(cert.not_before)?)
        .bind(ts(cert.not_after)?)
        .bind(actor)
        .bind(ts(now)?)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE cert_requests SET issued_serial = $1, issued_at = $2 WHERE id = $3")
        .bind(&cert.serial)
        .bind(ts(now)?)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    tx.audit(
        actor,
        "cert.issue",
        req.uid.as_str(),
        &format!("request {id}, serial {}", cert.serial),
        now,
    )
    .await?;
    tx.commit(&[ChangeKey::Certificate(cert.serial.clone())]).await?;
    let row = sqlx::query(CERTIFICATE_BY_SERIAL)
        .bind(&cert.serial)
        .fetch_one(pool)
        .await?;
    certificate_from_row(&row)
}

pub(super) async fn revoke(
    pool: &AnyPool,
    serial: &str,
    reason: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Certificate> {
    let serial = serial
        .trim()
        .trim_start_matches("0x")
        .replace(':', "")
        .to_ascii_lowercase();
    let mut tx = Write::begin(pool).await?;
    let cert = fetch_optional_mapped(&mut **tx, CERTIFICATE_BY_SERIAL, serial.as_str(), certificate_from_row)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no certificate with serial {serial}")))?;
    if cert.revoked_at.is_some() {
        return Err(StoreError::Conflict(Conflict::CertificateRevoked(serial.to_string())));
    }
    sqlx::query("UPDATE certificates SET revoked_at = $1, revoke_reason = $2 WHERE serial = $3")
        .bind(ts(now)?)
        .bind(reason)
        .bind(&serial)
        .execute(&mut **tx)
        .await?;
    tx.audit(
        actor,
        "cert.revoke",
        cert.uid.as_str(),
        &format!("serial {serial}: {reason}"),
        now,
    )
    .await?;
    tx.commit(&[ChangeKey::Certificate(serial.clone())]).await?;
    let row = sqlx::query(CERTIFICATE_BY_SERIAL).bind(&serial).fetch_one(pool).await?;
    certificate_from_row(&row)
}

/// Revokes every live certificate of `uid` (of the given roles, or all) inside a transaction;
/// returns their serials.
pub(super) async fn revoke_all_of(
    tx: &mut Transaction<'_, Any>,
    uid: &Uid,
    roles: Option<&[String]>,
    reason: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT serial, role FROM certificates WHERE uid = $1 AND revoked_at IS NULL ORDER BY serial")
            .bind(uid.as_str())
            .fetch_all(&mut **tx)
            .await?;
    let mut revoked = Vec::new();
    for row in rows {
        let (serial, role): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if roles.is_some_and(|r| !r.contains(&role)) {
            continue;
        }
        sqlx::query("UPDATE certificates SET revoked_at = $1, revoke_reason = $2 WHERE serial = $3")
            .bind(ts(now)?)
            .bind(reason)
            .bind(&serial)
            .execute(&mut **tx)
            .await?;
        audit::record(
            tx,
            actor,
            "cert.revoke",
            uid.as_str(),
            &format!("serial {serial}: {reason}"),
            now,
        )
        .await?;
        revoked.push(serial);
    }
    Ok(revoked)
}

/// Every certificate, newest first; those of erased members (kept for the CRL) with request 0,
/// no fingerprint and the pseudonym as holder.
pub(super) async fn all(pool: &AnyPool) -> Result<Vec<Certificate>> {
    fetch_mapped(
        &mut *pool.acquire().await?,
        "SELECT serial, request_id, uid, role, fingerprint, not_before, not_after, issued_by, issued_at, \
         revoked_at, revoke_reason FROM certificates \
         UNION ALL SELECT serial, 0, holder, role, '', not_before, not_after, issued_by, issued_at, \
         revoked_at, revoke_reason FROM erased_certificates ORDER BY 9 DESC, 1",
        certificate_from_row,
    )
    .await
}

pub(super) async fn save_crl(pool: &AnyPool, crl: &Crl) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(number) FROM crls")
        .fetch_one(&mut **tx)
        .await?;
    if last.is_some_and(|l| l >= crl.number) {
        return Err(StoreError::Conflict(Conflict::CrlNumber {
            number: crl.number,
            last: last.unwrap_or(0),
        }));
    }
    sqlx::query("INSERT INTO crls (number, pem, this_update, next_update) VALUES ($1, $2, $3, $4)")
        .bind(crl.number)
        .bind(&crl.pem)
        .bind(ts(crl.this_update)?)
        .bind(ts(crl.next_update)?)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM crls WHERE number < $1")
        .bind(crl.number)
        .execute(&mut **tx)
        .await?;
    // The directory does not show CRLs: nothing to log.
    tx.commit(&[]).await?;
    Ok(())
}

pub(super) async fn latest_crl(pool: &AnyPool) -> Result<Option<Crl>> {
    let row = sqlx::query("SELECT * FROM crls ORDER BY number DESC LIMIT 1")
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(Crl {
            number: r.try_get("number")?,
            pem: r.try_get("pem")?,
            this_update: parse_ts(r.try_get("this_update")?)?,
            next_update: parse_ts(r.try_get("next_update")?)?,
        })
    })
    .transpose()
}
