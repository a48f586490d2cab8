//! `token issue|revoke` and `activate`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use piratenldap_auth::HashPool;
use piratenldap_auth::activation::{ActivationInput, activate};
use piratenldap_core::ids::MemberNumber;
use piratenldap_core::token::Token;
use time::Duration;

use super::{actor, now};
use crate::args::TokenCommand;
use crate::context::{Ctx, open, read_password_stdin};

/// The token HMAC key from `tokens.key_file` (hex, made by init).
pub fn token_key(ctx: &Ctx) -> Result<Vec<u8>> {
    crate::context::read_hex_key(&ctx.config.token_key_file)
}

/// Runs a `token` command.
pub async fn run(config: &Path, cmd: TokenCommand) -> Result<()> {
    let ctx = open(config).await?;
    match cmd {
        TokenCommand::Issue { pending, member, out } => issue(&ctx, pending, &member, &out).await,
        TokenCommand::Revoke { member } => {
            ctx.store
                .revoke_token(&MemberNumber::parse(&member)?, &actor(), now())
                .await?;
            println!("The token of member {member} is revoked.");
            Ok(())
        }
    }
}

async fn issue(ctx: &Ctx, pending: bool, members: &[String], out: &Path) -> Result<()> {
    let key = token_key(ctx)?;
    let numbers: Vec<MemberNumber> = if pending {
        ctx.store.pending_members().await?
    } else {
        members
            .iter()
            .map(|m| MemberNumber::parse(m))
            .collect::<Result<_, _>>()?
    };
    if numbers.is_empty() {
        println!("No member needs a token.");
        return Ok(());
    }
    if out.exists() {
        bail!(
            "{} exists already; choose a new file (tokens are shown only once)",
            out.display()
        );
    }
    let bar = indicatif::ProgressBar::new(numbers.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("generating tokens");
    let mut rows = Vec::with_capacity(numbers.len());
    let mut stored = Vec::with_capacity(numbers.len());
    for n in numbers {
        let token = Token::generate();
        stored.push((n.clone(), token.hmac(&key)));
        rows.push((n, token.display()));
        bar.inc(1);
    }
    bar.set_message("storing");
    let expires = now() + Duration::days(i64::from(ctx.config.token_lifetime_days));
    ctx.store.issue_tokens(&stored, expires, &actor(), now()).await?;
    bar.finish_and_clear();
    let date = expires.date().to_string();
    let url = format!("{}/activate", ctx.config.public_url.trim_end_matches('/'));
    let mut csv = String::with_capacity(rows.len() * 80);
    csv.push_str("member_number,token,activation_url,expires_at\n");
    for (n, t) in &rows {
        csv.push_str(&format!("{n},{t},{url},{date}\n"));
    }
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out)
            .with_context(|| format!("creating {}", out.display()))?
    };
    f.write_all(csv.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{} tokens issued, valid until {date}; written to {} for the mail merge.",
        rows.len(),
        out.display()
    );
    Ok(())
}

/// `activate --token T --uid U --password-stdin [--totp]`.
pub async fn activate_cli(config: &Path, token: &str, uid: &str, display_name: Option<&str>, totp: bool) -> Result<()> {
    let ctx = open(config).await?;
    let key = token_key(&ctx)?;
    let password = read_password_stdin()?;
    let input = ActivationInput {
        token: token.to_string(),
        uid: uid.to_string(),
        display_name: display_name.unwrap_or(uid).to_string(),
        password: password.clone(),
        password_again: password,
    };
    let hasher = HashPool::new(1, ctx.config.passwords, Default::default());
    let account = activate(ctx.store.as_ref(), &key, &hasher, &input, now()).await?;
    let layout = piratenldap_directory::Layout::new(ctx.config.base_dn.clone(), &ctx.config.organisation);
    println!("Account {} activated.", account.uid);
    println!("dn: {}", layout.person_dn(account.uid.as_str()));
    if totp {
        super::second_factor::enroll(config, account.uid.as_str(), None).await?;
    }
    Ok(())
}
