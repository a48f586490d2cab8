//! `cert ca [rollover|retire]`: the CA's state, and its rollover (issue 19). A rollover makes a
//! successor CA current for everything signed from then on, while the old CA stays trusted
//! beside it (in `trusted.pem` and `/ca/cert.pem`, signing its own CRL) until no valid client
//! certificate needs it; `retire` then removes it. The files are handled in `ca_files.rs`.

use anyhow::{Result, bail};
use piratenldap_store::{AuditEvent, Certificate};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ca_files::{self, RetiredCa};
use super::cert::{ca_warning, publish_crl};
use super::{actor, now};
use crate::context::Ctx;

/// The valid (unrevoked, unexpired) certificates that `retired[i]` issued: those issued before
/// its retirement and after the retirement of the one before it (the store records when a
/// certificate was issued, not by which CA).
fn needing(certs: &[Certificate], retired: &[RetiredCa], i: usize, now: OffsetDateTime) -> Vec<String> {
    let after = i.checked_sub(1).map(|p| retired[p].retired_at);
    certs
        .iter()
        .filter(|c| c.revoked_at.is_none() && c.not_after > now)
        .filter(|c| c.issued_at < retired[i].retired_at && after.is_none_or(|a| c.issued_at >= a))
        .map(|c| format!("{} ({}, {})", c.serial, c.uid, c.role))
        .collect()
}

/// `cert ca`: the current CA, and each retired one with the certificates that still need it.
pub async fn show(ctx: &Ctx) -> Result<()> {
    let dir = &ctx.config.ca_dir;
    let ca = piratenldap_ca::describe(&ca_files::current(dir)?.cert_pem)?;
    println!("subject: {}", ca.subject);
    println!("not before: {}", ca.not_before.format(&Rfc3339)?);
    println!("not after: {}", ca.not_after.format(&Rfc3339)?);
    println!("sha256: {}", ca.fingerprint);
    if let Some(warning) = ca_warning(&ca, now()) {
        eprintln!("warning: {warning}");
    }
    let retired = ca_files::retired(dir)?;
    let certs = ctx.store.certificates().await?;
    for (i, r) in retired.iter().enumerate() {
        let needed = needing(&certs, &retired, i, now());
        println!(
            "retired: {} (sha256 {}), since {}, ends {}; needed by {} valid certificates{}",
            r.described.subject,
            r.described.fingerprint,
            r.retired_at.format(&Rfc3339)?,
            r.described.not_after.format(&Rfc3339)?,
            needed.len(),
            if needed.is_empty() {
                ": `piratenldap cert ca retire` removes it".to_string()
            } else {
                format!(": {}", needed.join(", "))
            }
        );
    }
    Ok(())
}

/// `cert ca rollover`.
pub async fn rollover(ctx: &Ctx) -> Result<()> {
    let (old, new, at) = ca_files::rollover(&ctx.config.ca_dir, &ctx.config.organisation)?;
    ctx.store
        .append_audit(&[AuditEvent {
            at,
            actor: actor(),
            action: "ca.rollover".into(),
            subject: new.subject.clone(),
            detail: format!(
                "new CA sha256 {}, until {}; retired {} sha256 {}",
                new.fingerprint, new.not_after, old.subject, old.fingerprint
            ),
        }])
        .await?;
    let crl = publish_crl(ctx).await?;
    println!("new CA: {} (sha256 {})", new.subject, new.fingerprint);
    println!("not after: {}", new.not_after.format(&Rfc3339)?);
    println!(
        "retired: {} (sha256 {}): trusted beside the new one, its certificates keep working",
        old.subject, old.fingerprint
    );
    println!("CRL {} published, signed by both.", crl.number);
    println!(
        "Next: copy {} to every other node and restart `piratenldap serve` there and here; nginx fetches /ca/cert.pem again (both CAs). When `piratenldap cert ca` shows that no valid certificate needs the old CA, `piratenldap cert ca retire`.",
        ctx.config.ca_dir.display()
    );
    Ok(())
}

/// Before the retired CAs go: a server certificate (`[tls] cert`) one of them issued would no
/// longer verify with the trust bundle, so the current CA issues a new one for the same names
/// (a running server takes it within seconds). Clients have had the bundle since the rollover.
fn renew_server_cert_of_retired(ctx: &Ctx, retired: &[RetiredCa], at: OffsetDateTime) -> Result<()> {
    let config = &ctx.config;
    let Ok(pem) = std::fs::read_to_string(&config.tls_cert) else {
        return Ok(());
    };
    let issuers: Vec<String> = retired.iter().map(|r| r.described.subject.clone()).collect();
    let current = ca_files::current(&config.ca_dir)?;
    let der = piratenldap_ca::first_cert_der(&pem)?;
    if let Some(new) = piratenldap_ca::renew_server_cert(&current, &issuers, &der, &config.organisation, at)? {
        let renewal = super::tls_reload::Renewal {
            ca_dir: config.ca_dir.clone(),
            organisation: config.organisation.clone(),
            cert: config.tls_cert.clone(),
            key: config.tls_key.clone(),
        };
        super::tls_reload::write_pair(&renewal, &new, &current)?;
        println!(
            "The server certificate {} was the retired CA's: renewed by the current CA for the same names.",
            config.tls_cert.display()
        );
    }
    Ok(())
}

/// `cert ca retire [--force]`: removes every retired CA, or refuses and changes nothing while
/// a valid certificate still needs one (unless `force`).
pub async fn retire(ctx: &Ctx, force: bool) -> Result<()> {
    let dir = &ctx.config.ca_dir;
    let at = now();
    let retired = ca_files::retired(dir)?;
    if retired.is_empty() {
        println!("No retired CA.");
        return Ok(());
    }
    let certs = ctx.store.certificates().await?;
    let needed: Vec<(usize, Vec<String>)> = (0..retired.len())
        .map(|i| (i, needing(&certs, &retired, i, at)))
        .filter(|(i, n)| !n.is_empty() && retired[*i].described.not_after > at)
        .collect();
    if !needed.is_empty() && !force {
        let why: Vec<String> = needed
            .iter()
            .map(|(i, n)| format!("{} is still needed by {}", retired[*i].described.subject, n.join(", ")))
            .collect();
        bail!(
            "{}; renew (`piratenldap cert renew SERIAL --by UID`) or revoke them first, or --force (they stop working); nothing was removed",
            why.join("; ")
        );
    }
    renew_server_cert_of_retired(ctx, &retired, at)?;
    for r in &retired {
        ca_files::remove_retired(dir, r, at)?;
        ctx.store
            .append_audit(&[AuditEvent {
                at,
                actor: actor(),
                action: "ca.retire".into(),
                subject: r.described.subject.clone(),
                detail: format!(
                    "sha256 {}{}",
                    r.described.fingerprint,
                    if force { ", forced" } else { "" }
                ),
            }])
            .await?;
        println!(
            "removed the retired CA {} (sha256 {})",
            r.described.subject, r.described.fingerprint
        );
    }
    let crl = publish_crl(ctx).await?;
    println!(
        "CRL {} published. Restart `piratenldap serve` on every node (after removing the same files from its {}); nginx fetches /ca/cert.pem again.",
        crl.number,
        dir.display()
    );
    Ok(())
}
