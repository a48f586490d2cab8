//! Erasure (GDPR art. 17): `member erase NUMBER` at once, and the server's daily erasure of
//! members who have been `left` for longer than `[privacy] erase_after_days`. The store erases
//! in one transaction; here the pseudonym and tombstone are made under the token key
//! (`tokens.key_file`), the CRL is signed afterwards (the CA key is a file) and the outcome is
//! printed (CLI) or logged as counts without identities (server).

use std::path::Path;

use anyhow::{Context, Result, bail};
use piratenldap_core::erasure::{pseudonym, tombstone};
use piratenldap_core::ids::MemberNumber;
use piratenldap_store::{Erased, Erasure, StoreError};
use time::OffsetDateTime;

use super::{actor, now};
use crate::context::{Ctx, open, read_hex_key};

/// The pseudonym and tombstone of `number` under the token key.
pub fn erasure_of(key: &[u8], number: &MemberNumber) -> Erasure {
    Erasure {
        pseudonym: pseudonym(key, number),
        tombstone: tombstone(key, number),
    }
}

/// The key pseudonyms and tombstones are made under: the token key (an HMAC key already,
/// made by `init`, mode 0600, in every backup), so every node and every run agree.
pub fn erasure_key(ctx: &Ctx) -> Result<Vec<u8>> {
    read_hex_key(&ctx.config.token_key_file).context("the erasure pseudonyms are keyed with tokens.key_file")
}

/// `member erase NUMBER`.
pub async fn erase(config: &Path, number: &str) -> Result<()> {
    let number = MemberNumber::parse(number)?;
    let ctx = open(config).await?;
    let key = erasure_key(&ctx)?;
    let done = match ctx
        .store
        .erase_member(&number, &erasure_of(&key, &number), &actor(), now())
        .await
    {
        Ok(done) => done,
        Err(StoreError::Refused(why)) => bail!("{why}. Nothing was erased."),
        Err(e) => return Err(e.into()),
    };
    println!(
        "Member {number} is erased; the audit trail names them {}.",
        done.pseudonym
    );
    print_erased(&done);
    publish_crl(&ctx, &done).await
}

/// What an erasure removed, one line each.
fn print_erased(done: &Erased) {
    match &done.uid {
        Some(uid) => println!("  account {uid}: deleted"),
        None => println!("  account: none"),
    }
    println!("  group memberships deleted: {}", done.group_memberships);
    println!("  app passwords deleted: {}", done.app_passwords);
    println!("  second factor (TOTP): {}", if done.totp { "deleted" } else { "none" });
    println!(
        "  single sign-on sessions deleted (with codes and tokens): {}",
        done.sessions
    );
    println!("  single sign-on consents deleted: {}", done.consents);
    println!("  chapter admin grants deleted: {}", done.admin_grants);
    println!("  letter tokens deleted: {}", done.tokens);
    println!("  certificate requests deleted: {}", done.cert_requests);
    println!(
        "  certificates revoked now: {}; kept for the CRL under the pseudonym: {}",
        done.revoked_serials.len(),
        done.certificates_kept
    );
    println!("  throttle entries deleted: {}", done.buckets);
    println!("  audit rows pseudonymised: {}", done.audit_rows);
    println!(
        "  suspension record: {}",
        if done.suspension { "deleted" } else { "none" }
    );
    for serial in &done.revoked_serials {
        println!("serial: {serial}");
    }
    println!("pseudonym: {}", done.pseudonym);
}

/// Signs a new CRL when the erasure revoked certificates (they are revoked in the directory
/// already; a failure here only delays the published CRL, and says so).
async fn publish_crl(ctx: &Ctx, done: &Erased) -> Result<()> {
    if done.revoked_serials.is_empty() {
        return Ok(());
    }
    match super::cert::publish_crl(ctx).await {
        Ok(crl) => {
            println!("CRL {} published.", crl.number);
            Ok(())
        }
        Err(e) => bail!(
            "the member is erased and {} certificate(s) are revoked in the directory, but signing \
             the new CRL FAILED: {e:#}. Fix the CA files and run `piratenldap cert crl --out FILE`.",
            done.revoked_serials.len()
        ),
    }
}

/// What one daily run did, in counts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DailyErasure {
    /// Members erased by this node.
    pub erased: usize,
    /// Members another node erased first.
    pub already: usize,
    /// Certificates revoked.
    pub revoked: usize,
    /// Why the new CRL could not be signed (the certificates are revoked in the directory).
    pub crl_failed: Option<String>,
}

/// Erases every member `left` for longer than `days` (none when `days` is 0) and signs a new
/// CRL if certificates were revoked. Safe on several nodes at once: a member erased by another
/// node in the meantime counts as `already`.
pub async fn erase_due(ctx: &Ctx, days: u32, now: OffsetDateTime) -> Result<DailyErasure> {
    let mut run = DailyErasure::default();
    if days == 0 {
        return Ok(run);
    }
    let due = ctx.store.erase_due(now - time::Duration::days(i64::from(days))).await?;
    if due.is_empty() {
        return Ok(run);
    }
    let key = erasure_key(ctx)?;
    for number in &due {
        match ctx
            .store
            .erase_member(number, &erasure_of(&key, number), "erasure-daily", now)
            .await
        {
            Ok(done) => {
                run.erased += 1;
                run.revoked += done.revoked_serials.len();
            }
            // Erased by another node, or back in the meantime (an import made them active).
            Err(StoreError::NotFound(_) | StoreError::Refused(_)) => run.already += 1,
            Err(e) => return Err(e.into()),
        }
    }
    if run.revoked > 0
        && let Err(e) = super::cert::publish_crl(ctx).await
    {
        run.crl_failed = Some(format!("{e:#}"));
    }
    Ok(run)
}
