//! `cert request|approve|issue|renew|revoke|list|ca|crl`: the four-eyes procedure for client
//! certificates, and publication of the CRL (signed here, stored in the database so every node
//! serves the same one). `cert ca rollover|retire` are in `ca_rollover.rs`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use piratenldap_ca::{ClientSpec, Issued, KeySource, Revoked};
use piratenldap_core::ids::{Name, Uid};
use piratenldap_core::password::generate_password;
use piratenldap_store::{Conflict, Crl, NewCertificate, StoreError};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{actor, now};
use crate::args::{CaAction, CertCommand};
use crate::context::{Ctx, open};
use crate::files::StagedDir;

/// Runs a `cert` command.
pub async fn run(config: &Path, cmd: CertCommand) -> Result<()> {
    let ctx = open(config).await?;
    match cmd {
        CertCommand::Request { uid, role, by, csr } => {
            let group = role_group(&ctx, &role)?;
            let csr_pem = match csr {
                Some(path) => {
                    let pem = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                    // Refuse a CSR we cannot use now, not at issue time.
                    piratenldap_ca::check_csr(&pem).with_context(|| {
                        format!("{} is not a usable PEM certificate signing request", path.display())
                    })?;
                    Some(pem)
                }
                None => None,
            };
            let req = ctx
                .store
                .create_cert_request(
                    &Uid::parse(&uid)?,
                    &role,
                    &group,
                    csr_pem.as_deref(),
                    &Uid::parse(&by)?,
                    now(),
                )
                .await?;
            println!(
                "Certificate request {} for {} as {role}; another admin approves it with `piratenldap cert approve {} --by UID`.",
                req.id, req.uid, req.id
            );
            println!("request: {}", req.id);
        }
        CertCommand::Approve { id, by } => {
            let Some(pending) = ctx.store.cert_request(id).await? else {
                bail!("no certificate request {id}")
            };
            let group = role_group(&ctx, &pending.role)?;
            let req = ctx
                .store
                .approve_cert_request(id, &group, &Uid::parse(&by)?, now())
                .await?;
            println!(
                "Request {id} for {} approved by {by}; issue it with `piratenldap cert issue {id} --out DIR`.",
                req.uid
            );
        }
        CertCommand::Issue { id, out } => issue(&ctx, id, &out).await?,
        CertCommand::Renew { serial, by } => renew(&ctx, &serial, &by).await?,
        CertCommand::Revoke { serial, reason } => {
            let cert = ctx.store.revoke_certificate(&serial, &reason, &actor(), now()).await?;
            let crl = publish_crl(&ctx).await?;
            println!(
                "Certificate {} of {} revoked; CRL {} published.",
                cert.serial, cert.uid, crl.number
            );
        }
        CertCommand::List { expiring } => {
            let horizon = expiring.map(|d| now() + Duration::days(d));
            println!(
                "{:<32} {:<14} {:<18} {:<20} status",
                "serial", "uid", "role", "not after"
            );
            for c in ctx.store.certificates().await? {
                let status = match (&c.revoked_at, c.not_after < now()) {
                    (Some(_), _) => "revoked",
                    (None, true) => "expired",
                    (None, false) => "valid",
                };
                if horizon.is_some_and(|h| status != "valid" || c.not_after > h) {
                    continue;
                }
                println!(
                    "{:<32} {:<14} {:<18} {:<20} {status}",
                    c.serial,
                    c.uid,
                    c.role,
                    c.not_after.format(&Rfc3339)?
                );
            }
        }
        CertCommand::Ca { action: None } => super::ca_rollover::show(&ctx).await?,
        CertCommand::Ca {
            action: Some(CaAction::Rollover),
        } => super::ca_rollover::rollover(&ctx).await?,
        CertCommand::Ca {
            action: Some(CaAction::Retire { force }),
        } => super::ca_rollover::retire(&ctx, force).await?,
        CertCommand::Crl { out } => {
            let crl = publish_crl(&ctx).await?;
            std::fs::write(&out, &crl.pem).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "CRL {} written to {} (next update {}).",
                crl.number,
                out.display(),
                crl.next_update.format(&Rfc3339)?
            );
        }
    }
    Ok(())
}

/// The group a role requires.
fn role_group(ctx: &Ctx, role: &str) -> Result<Name> {
    match ctx.config.roles.get(role) {
        Some(g) => Ok(g.clone()),
        None => bail!(
            "unknown role {role:?}; roles in [ca.roles]: {}",
            ctx.config.roles.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The current CA's certificate and key from `ca.dir`.
pub fn load_ca(ctx: &Ctx) -> Result<Issued> {
    super::ca_files::current(&ctx.config.ca_dir)
}

/// `cert renew`: a new request for the certificate's holder and role (with the old request's
/// CSR when the holder made the key); the old certificate stays valid until it ends or is
/// revoked. Shortened when the old request was approved within `[ca] renew_approval_days`
/// and `by` is not the holder: the new request is approved at once on the strength of that
/// approval (the store re-checks both admins, the holder's account and group), ready for `cert
/// issue`. Otherwise four eyes again: another admin approves it.
async fn renew(ctx: &Ctx, serial: &str, by: &str) -> Result<()> {
    let serial = serial
        .trim()
        .trim_start_matches("0x")
        .replace(':', "")
        .to_ascii_lowercase();
    let Some(old) = ctx.store.certificates().await?.into_iter().find(|c| c.serial == serial) else {
        bail!("no certificate with serial {serial}")
    };
    if old.revoked_at.is_some() {
        bail!("certificate {serial} is revoked and is not renewed; request a new one with `piratenldap cert request`");
    }
    let Some(original) = ctx.store.cert_request(old.request_id).await? else {
        bail!("certificate {serial} has no request (its holder was erased)")
    };
    let group = role_group(ctx, &old.role)?;
    let by = Uid::parse(by)?;
    let since = now() - Duration::days(i64::from(ctx.config.renew_approval_days));
    let recent =
        ctx.config.renew_approval_days > 0 && original.approved_at.is_some_and(|at| at >= since) && old.uid != by;
    if recent {
        // One shortened renewal per approval: the store says when this one already carried
        // one, and the renewal is then asked anew below.
        match ctx
            .store
            .renew_cert_request(original.id, &group, &by, since, now())
            .await
        {
            Ok(req) => {
                println!(
                    "Renewal of {serial} for {} as {}: request {}, approved at once on the strength of request {} (approved by {} within {} days); issue it with `piratenldap cert issue {} --out DIR`.",
                    old.uid,
                    old.role,
                    req.id,
                    original.id,
                    req.approved_by.as_ref().map_or("?", |u| u.as_str()),
                    ctx.config.renew_approval_days,
                    req.id
                );
                println!("request: {}", req.id);
                return Ok(());
            }
            Err(StoreError::Conflict(Conflict::ApprovalCarried { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let req = ctx
        .store
        .create_cert_request(&old.uid, &old.role, &group, original.csr_pem.as_deref(), &by, now())
        .await?;
    println!(
        "Renewal of {serial} requested for {} as {}: request {}; another admin approves it with `piratenldap cert approve {} --by UID`.",
        old.uid, old.role, req.id, req.id
    );
    println!("request: {}", req.id);
    Ok(())
}

/// The current CA certificate of `ca.dir`, described.
pub fn describe_ca(config: &piratenldap_core::config::Config) -> Result<piratenldap_ca::Described> {
    let ca = super::ca_files::current(&config.ca_dir)?;
    piratenldap_ca::describe(&ca.cert_pem).with_context(|| config.ca_dir.join("ca.pem").display().to_string())
}

/// A warning when the CA ends within [`piratenldap_ca::CA_WARN_DAYS`] (or has ended).
pub fn ca_warning(ca: &piratenldap_ca::Described, now: OffsetDateTime) -> Option<String> {
    let left = ca.not_after - now;
    if left <= Duration::ZERO {
        Some(format!(
            "the CA expired on {}: no client certificate of it verifies",
            ca.not_after
        ))
    } else if left < Duration::days(piratenldap_ca::CA_WARN_DAYS) {
        Some(format!(
            "the CA expires in {} days ({}): plan its rollover now, a new CA beside the old until the old one's client certificates are gone",
            left.whole_days(),
            ca.not_after
        ))
    } else {
        None
    }
}

/// `cert issue`: all or nothing. Either `out` holds every file (cert.pem, ca.pem, chain.pem and,
/// for a generated key, key.pem and bundle.p12) and the certificate is recorded, or nothing
/// changed: the files are written and flushed in `.NAME.partial-PID` beside `out` (refused
/// before anything if `out` is a non-empty directory), the certificate is recorded in one
/// transaction, and the directory is renamed to `out`. A failure before the commit removes the
/// temporary directory; a kill between the commit and the rename leaves the certificate recorded
/// and its complete files under the temporary name.
async fn issue(ctx: &Ctx, id: i64, out: &Path) -> Result<()> {
    let Some(req) = ctx.store.cert_request(id).await? else {
        bail!("no certificate request {id}")
    };
    if req.approved_by.is_none() {
        bail!("request {id} is not approved yet: another admin must run `piratenldap cert approve {id} --by UID`");
    }
    let group = role_group(ctx, &req.role)?;
    // Held until the certificate is recorded (see `ca_files::current_held`).
    let (ca, _held) = super::ca_files::current_held(&ctx.config.ca_dir)?;
    let account = ctx
        .store
        .account(&req.uid)
        .await?
        .with_context(|| format!("the account {} no longer exists", req.uid))?;
    let email = ctx.store.member(&account.member_number).await?.and_then(|m| m.email);
    let spec = ClientSpec {
        uid: req.uid.as_str(),
        role: &req.role,
        organisation: &ctx.config.organisation,
        email: email.as_deref(),
        days: ctx.config.client_cert_days,
    };
    let key = match &req.csr_pem {
        Some(pem) => KeySource::Csr(pem),
        None => KeySource::Generate,
    };
    let cert = piratenldap_ca::issue_client_cert(&ca, &spec, key, now())?;
    let new = NewCertificate {
        serial: cert.serial.clone(),
        fingerprint: cert.fingerprint.clone(),
        not_before: cert.not_before,
        not_after: cert.not_after,
    };
    // All or nothing (ARCHITECTURE.md Decisions): every file complete in a temporary directory
    // beside `out`, then the certificate recorded (re-checking approval and group membership in
    // one transaction), then the directory renamed to `out`.
    let staged = StagedDir::create(out)?;
    staged.write("cert.pem", cert.cert_pem.as_bytes(), 0o644)?;
    staged.write("ca.pem", ca.cert_pem.as_bytes(), 0o644)?;
    staged.write(
        "chain.pem",
        format!("{}{}", cert.cert_pem, ca.cert_pem).as_bytes(),
        0o644,
    )?;
    let passphrase = match &cert.key_pem {
        Some(key_pem) => {
            let passphrase = generate_password();
            let bundle = piratenldap_ca::pkcs12(&cert, &ca, req.uid.as_str(), &passphrase)?;
            staged.write("key.pem", key_pem.as_bytes(), 0o600)?;
            staged.write("bundle.p12", &bundle, 0o600)?;
            Some(passphrase)
        }
        None => None,
    };
    ctx.store.record_certificate(id, &group, &new, &actor(), now()).await?;
    staged.publish()?;
    println!(
        "Certificate for {} ({}) issued into {}.",
        req.uid,
        req.role,
        out.display()
    );
    println!("serial: {}", cert.serial);
    if let Some(passphrase) = passphrase {
        println!("The PKCS#12 bundle bundle.p12 is protected by this passphrase, shown only now:");
        println!("passphrase: {passphrase}");
    }
    Ok(())
}

/// Signs a new CRL of every revoked, unexpired certificate and stores it: one CRL per CA that
/// signs (the current one and those retired by a rollover that have not ended), concatenated
/// in one PEM text, as nginx's `ssl_crl` and OpenSSL read it. Each lists every revoked serial
/// (serials are 128 random bits: a CA's CRL naming another CA's serial matches nothing).
pub async fn publish_crl(ctx: &Ctx) -> Result<Crl> {
    publish_crl_at(ctx, now()).await
}

/// [`publish_crl`] at `now`, valid for `[ca] crl_minutes`: the one CRL signing path, shared by
/// the commands and the server's refresh (`crl_refresh.rs`).
pub async fn publish_crl_at(ctx: &Ctx, now: OffsetDateTime) -> Result<Crl> {
    let signers = super::ca_files::signers(&ctx.config.ca_dir, now)?;
    let revoked: Vec<Revoked> = ctx
        .store
        .certificates()
        .await?
        .into_iter()
        .filter(|c| c.not_after > now)
        .filter_map(|c| c.revoked_at.map(|at| Revoked { serial: c.serial, at }))
        .collect();
    let number = ctx.store.latest_crl().await?.map_or(1, |c| c.number + 1);
    let next_update = now + Duration::minutes(i64::from(ctx.config.crl_minutes));
    let mut pem = String::new();
    for ca in &signers {
        pem.push_str(&piratenldap_ca::make_crl(
            ca,
            &revoked,
            u64::try_from(number).unwrap_or(1),
            now,
            next_update,
        )?);
    }
    let crl = Crl {
        number,
        pem,
        this_update: now,
        next_update,
    };
    ctx.store.save_crl(&crl).await?;
    Ok(crl)
}
