//! `member suspend|reinstate`: the one switch (issue 16), and the report of what it ended,
//! shared with `member import`. The store does the work in one transaction; here the CRL is
//! signed afterwards (the CA key is a file) and the outcome is printed.

use std::path::Path;

use anyhow::{Result, bail};
use piratenldap_core::ids::{MemberNumber, MembershipStatus};
use piratenldap_store::Disabled;

use super::{actor, now};
use crate::context::{Ctx, open};

/// `member suspend NUMBER --reason R`.
pub async fn suspend(config: &Path, number: &str, reason: &str) -> Result<()> {
    let number = MemberNumber::parse(number)?;
    let ctx = open(config).await?;
    let done = ctx.store.suspend_member(&number, reason, &actor(), now()).await?;
    let account = done
        .disabled
        .uid
        .as_ref()
        .map_or_else(|| "no account".to_string(), |uid| format!("account {uid}"));
    println!("Member {number} ({account}) is suspended: {}.", reason.trim());
    print_disabled(&done.disabled);
    println!(
        "LDAP binds, app passwords, certificate binds and single sign-on are refused on every node within a second."
    );
    println!("status_before: {}", done.status_before);
    publish_crl_after(&ctx, &[done.disabled], "The suspension").await
}

/// `member reinstate NUMBER`.
pub async fn reinstate(config: &Path, number: &str) -> Result<()> {
    let number = MemberNumber::parse(number)?;
    let ctx = open(config).await?;
    let done = ctx.store.reinstate_member(&number, &actor(), now()).await?;
    let account = done
        .uid
        .as_ref()
        .map_or_else(|| "no account".to_string(), |uid| format!("account {uid}"));
    println!(
        "Member {number} ({account}) is {} again; the suspension of {} by {} ({}) is lifted.",
        done.status,
        done.suspended_at.date(),
        done.suspended_by,
        done.reason
    );
    println!("status: {}", done.status);
    if done.status != MembershipStatus::Active {
        println!(
            "The membership administration's last import gave status {}: the member stays disabled.",
            done.status
        );
    } else if done.uid.is_some() {
        println!("Restored: LDAP binds with the password (and second factor), app passwords, single sign-on logins.");
    }
    println!("Not restored:");
    let mut nothing = true;
    for serial in &done.revoked_serials {
        nothing = false;
        println!(
            "  - client certificate {serial} stays revoked: a new one must be requested (`piratenldap cert request`)."
        );
    }
    if done.token_revoked {
        nothing = false;
        println!(
            "  - the letter token was revoked: a new letter is needed (`piratenldap token issue --member {number} --out FILE.csv`, with --reset if the member has an account)."
        );
    }
    if done.sessions_ended > 0 {
        nothing = false;
        println!(
            "  - {} single sign-on session(s) ended: the member logs in again.",
            done.sessions_ended
        );
    }
    if nothing {
        println!("  - nothing: the suspension ended no session, token or certificate.");
    }
    Ok(())
}

/// Prints what the switch ended for one member, with a `serial:` line per certificate.
pub fn print_disabled(done: &Disabled) {
    println!(
        "  single sign-on sessions ended (with their refresh and access tokens): {}",
        done.sessions_ended
    );
    println!(
        "  letter token revoked: {}",
        if done.token_revoked { "yes" } else { "no" }
    );
    println!("  client certificates revoked: {}", done.revoked_serials.len());
    for serial in &done.revoked_serials {
        println!("serial: {serial}");
    }
}

/// Signs and stores a new CRL when any certificate was revoked. The change is committed
/// already: a failure here says so loudly and makes the command fail, but `what` stays in
/// force (the directory refuses the certificates at once; only the published CRL lags).
pub async fn publish_crl_after(ctx: &Ctx, disabled: &[Disabled], what: &str) -> Result<()> {
    let revoked: usize = disabled.iter().map(|d| d.revoked_serials.len()).sum();
    if revoked == 0 {
        return Ok(());
    }
    match super::cert::publish_crl(ctx).await {
        Ok(crl) => {
            println!("{revoked} client certificate(s) revoked; CRL {} published.", crl.number);
            Ok(())
        }
        Err(e) => bail!(
            "{what} is in force and {revoked} certificate(s) are revoked in the directory, \
             but signing the new CRL FAILED: {e:#}. Other relying parties do not see the \
             revocation until a CRL is published: fix the CA files and run `piratenldap cert crl --out FILE`."
        ),
    }
}
