//! `account totp-enroll|totp-disable` and `account app-password add|list|revoke`.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use piratenldap_auth::second_factor::{self, CodeError};
use piratenldap_core::ids::Uid;
use piratenldap_core::password::generate_password;
use piratenldap_core::sealed::SealKey;
use piratenldap_core::totp;
use time::format_description::well_known::Rfc3339;

use super::{actor, now};
use crate::args::AppPasswordCommand;
use crate::context::{Ctx, hash_password, open};

fn seal_key(ctx: &Ctx) -> Result<SealKey> {
    let path = &ctx.config.secret_key_file;
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading secrets.key_file {} (made by init; copy it from another node)",
            path.display()
        )
    })?;
    Ok(SealKey::from_hex(&text)?)
}

/// `account totp-enroll UID [--confirm CODE]`.
pub async fn enroll(config: &Path, uid: &str, confirm: Option<&str>) -> Result<()> {
    let uid = Uid::parse(uid)?;
    let ctx = open(config).await?;
    let key = seal_key(&ctx)?;
    let Some(account) = ctx.store.account(&uid).await? else {
        bail!("no account {uid}")
    };
    match confirm {
        None => {
            let secret = totp::generate_secret();
            ctx.store
                .set_totp_secret(&uid, &key.seal(&secret), &actor(), now())
                .await?;
            println!("TOTP secret for {uid} made; it is off until confirmed with a valid code:");
            println!("  piratenldap account totp-enroll {uid} --confirm CODE");
            println!("secret: {}", totp::secret_base32(&secret));
            println!(
                "uri: {}",
                totp::otpauth_uri(&secret, &ctx.config.organisation, uid.as_str())
            );
        }
        Some(code) => {
            let Some(sealed) = account.totp_secret else {
                bail!("{uid} has no TOTP secret yet: run `piratenldap account totp-enroll {uid}` first")
            };
            let secret = key.open(&sealed)?;
            // The confirming code is used up, as every code is.
            let when = now();
            match second_factor::accept_code(ctx.store.as_ref(), &uid, &secret, code, when).await {
                Ok(()) => {}
                Err(CodeError::Rejected) => {
                    bail!("the code is not valid now; check the device's clock and type the current code")
                }
                Err(e) => return Err(e.into()),
            }
            ctx.store.set_totp_enabled(&uid, true, &actor(), when).await?;
            println!("TOTP is on for {uid}: binds now need the password immediately followed by the current code.");
        }
    }
    Ok(())
}

/// `account totp-disable UID`.
pub async fn disable(config: &Path, uid: &str) -> Result<()> {
    let uid = Uid::parse(uid)?;
    let ctx = open(config).await?;
    ctx.store.set_totp_enabled(&uid, false, &actor(), now()).await?;
    println!("TOTP is off for {uid}.");
    Ok(())
}

/// `account app-password …`.
pub async fn app_password(config: &Path, cmd: AppPasswordCommand) -> Result<()> {
    let ctx = open(config).await?;
    match cmd {
        AppPasswordCommand::Add { uid, label } => {
            let uid = Uid::parse(&uid)?;
            let label = label.trim().to_string();
            if label.is_empty() || label.len() > 64 {
                bail!("--label must be 1 to 64 characters");
            }
            let password = generate_password();
            let hash = hash_password(&ctx, &password).await?;
            ctx.store.add_app_password(&uid, &label, &hash, &actor(), now()).await?;
            println!("App password {label:?} for {uid}; it binds without a TOTP code and is shown only now.");
            println!("password: {password}");
        }
        AppPasswordCommand::List { uid } => {
            let uid = Uid::parse(&uid)?;
            println!("{:<32} {:<32} last used", "label", "created");
            for p in ctx.store.app_passwords(&uid).await? {
                let last = p
                    .last_used_at
                    .map(|t| t.format(&Rfc3339))
                    .transpose()?
                    .unwrap_or_else(|| "never".into());
                println!("{:<32} {:<32} {last}", p.label, p.created_at.format(&Rfc3339)?);
            }
        }
        AppPasswordCommand::Revoke { uid, label } => {
            ctx.store
                .revoke_app_password(&Uid::parse(&uid)?, &label, &actor(), now())
                .await?;
            println!("App password {label:?} of {uid} revoked.");
        }
    }
    Ok(())
}
