//! `token issue|revoke` (activation and reset letters, through `piratenldap_auth::letters`) and
//! `activate` (activation tokens only: a reset token is refused with the way to the portal).

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use piratenldap_auth::HashPool;
use piratenldap_auth::activation::{ActivationInput, activate};
use piratenldap_auth::letters::{LetterBatch, LetterSettings};
use piratenldap_core::ids::MemberNumber;
use piratenldap_store::TokenKind;

use super::{actor, now};
use crate::args::TokenCommand;
use crate::context::{Ctx, open, read_password_stdin};
use crate::files::Staged;

/// The token HMAC key from `tokens.key_file` (hex, made by init).
pub fn token_key(ctx: &Ctx) -> Result<Vec<u8>> {
    crate::context::read_hex_key(&ctx.config.token_key_file)
}

/// Runs a `token` command.
pub async fn run(config: &Path, cmd: TokenCommand) -> Result<()> {
    let ctx = open(config).await?;
    match cmd {
        TokenCommand::Issue {
            pending,
            member,
            reset,
            out,
        } => {
            let kind = if reset { TokenKind::Reset } else { TokenKind::Activation };
            issue(&ctx, pending, &member, kind, &out).await
        }
        TokenCommand::Revoke { member } => {
            ctx.store
                .revoke_token(&MemberNumber::parse(&member)?, &actor(), now())
                .await?;
            println!("The token of member {member} is revoked.");
            Ok(())
        }
    }
}

/// `token issue`: all or nothing. Either the CSV is complete on disk (mode 0600) and its tokens
/// are stored (older live tokens of those members revoked), or nothing changed:
///
/// 1. refuse if `out` exists; create the temporary file `.NAME.partial-PID` beside it (0600,
///    `create_new`), which fails at once for a missing or read-only directory;
/// 2. write the complete CSV there and fsync it;
/// 3. store the tokens in one transaction (the store refuses the whole batch if any member may
///    not get one); if that fails, the temporary file is removed;
/// 4. rename the temporary file to `out` and fsync the directory.
///
/// An error or a kill before step 3 commits leaves the store as it was (a kill may leave the
/// temporary file, whose tokens were never stored: delete it). The one window left is a kill
/// between the commit and the rename (well under a millisecond, but the end-to-end test
/// `files::token_issue_killed_…` hits it on purpose): the tokens are live and the complete CSV
/// is the temporary file, to be renamed by hand; running the command again instead issues fresh
/// tokens and revokes those. If the rename itself fails, the error names the temporary file.
async fn issue(ctx: &Ctx, pending: bool, members: &[String], kind: TokenKind, out: &Path) -> Result<()> {
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
    if std::fs::symlink_metadata(out).is_ok() {
        bail!(
            "{} exists already; choose a new file (tokens are shown only once)",
            out.display()
        );
    }
    let mut csv_file = Staged::create(out).context("no token was issued")?;
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("generating {} tokens", numbers.len()));
    let settings = LetterSettings {
        public_url: ctx.config.public_url.clone(),
        lifetime_days: ctx.config.token_lifetime_days,
    };
    let batch = LetterBatch::prepare(&key, &settings, &numbers, kind, now()).context("no token was issued")?;
    spinner.set_message("writing");
    csv_file
        .write_synced(batch.csv().as_bytes())
        .context("no token was issued")?;
    spinner.set_message("storing");
    // On an error (nothing is stored; a refusal says why) `csv_file` is dropped unpublished,
    // which removes the temporary file.
    batch.store(ctx.store.as_ref(), &actor(), now()).await?;
    spinner.finish_and_clear();
    let temporary = csv_file.temporary().to_path_buf();
    csv_file.publish().with_context(|| {
        format!(
            "the {} tokens are stored, but the CSV is still {}: rename it to {}",
            batch.len(),
            temporary.display(),
            out.display()
        )
    })?;
    println!(
        "{} {} letters issued, valid until {}; written to {} for the mail merge.",
        batch.len(),
        kind.as_str(),
        batch.expires_date(),
        out.display()
    );
    Ok(())
}

/// `activate --token T --uid U --password-stdin [--totp]`: activation tokens only. A reset
/// letter's token is refused (before the password is read) with the way to the portal: a reset
/// is the member's own act, and the helpdesk has `account passwd` for its own path.
pub async fn activate_cli(config: &Path, token: &str, uid: &str, display_name: Option<&str>, totp: bool) -> Result<()> {
    let ctx = open(config).await?;
    let key = token_key(&ctx)?;
    if let Ok(checked) = piratenldap_auth::activation::check_token(ctx.store.as_ref(), &key, token, now()).await
        && checked.live.kind == TokenKind::Reset
    {
        bail!(
            "this token is from a reset letter: it creates no account; the member sets a new password at {}/activate",
            ctx.config.public_url.trim_end_matches('/')
        );
    }
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
    let layout = crate::context::layout(&ctx.config)?;
    println!("Account {} activated.", account.uid);
    println!("dn: {}", layout.person_dn(account.uid.as_str()));
    if totp {
        super::second_factor::enroll(config, account.uid.as_str(), None).await?;
    }
    Ok(())
}
