//! One module per command group; `run` dispatches.

mod account;
mod admin;
mod audit;
mod backup;
mod ca_files;
mod ca_rollover;
mod cert;
mod crl_refresh;
mod demo;
mod erase;
mod generate;
mod group;
mod init;
mod interchange;
mod member;
mod member_export;
mod oidc;
mod second_factor;
mod serve;
mod service;
mod switch;
mod tls_reload;
mod token;

use anyhow::Result;
use time::OffsetDateTime;

use crate::args::{Cli, Command};

/// Runs a parsed command line; a command that changes data is recorded in the audit trail.
pub async fn run(cli: Cli) -> Result<()> {
    let audited = changes_data(&cli.command);
    let config = cli.config.clone();
    let outcome = dispatch(cli).await;
    if audited && outcome.is_ok() {
        record_command(&config).await;
    }
    outcome
}

/// Whether a command changes the directory (and so belongs in the audit trail).
fn changes_data(cmd: &Command) -> bool {
    use crate::args::{
        AccountCommand as A, AppPasswordCommand as P, CertCommand as C, GroupCommand as G, MemberCommand as M,
        ServiceCommand as S,
    };
    match cmd {
        Command::Init(_) | Command::Serve | Command::Demo { .. } | Command::Audit { .. } | Command::Backup { .. } => {
            false
        }
        Command::Restore { .. } => true,
        Command::GenerateManpages { .. } | Command::GenerateCompletions { .. } => false,
        Command::Export { .. } => false,
        Command::Import { dry_run, .. } => !dry_run,
        Command::Member(m) => matches!(
            m,
            M::Import { dry_run: false, .. } | M::Suspend { .. } | M::Reinstate { .. }
        ),
        Command::Account(a) => !matches!(a, A::Show { .. } | A::AppPassword(P::List { .. })),
        Command::Group(g) => !matches!(g, G::List { .. }),
        Command::Service(s) => !matches!(s, S::List),
        Command::Cert(c) => !matches!(c, C::List { .. }),
        Command::Token(_) | Command::Activate { .. } | Command::Oidc(_) => true,
        Command::Admin(a) => !matches!(a, crate::args::AdminCommand::List),
    }
}

/// Appends `cli <arguments>` to the audit trail, secrets redacted (passwords never are
/// arguments; they come on standard input).
async fn record_command(config: &std::path::Path) {
    let mut args: Vec<String> = Vec::new();
    let mut skip_next = false;
    let mut redact_next = false;
    for a in std::env::args().skip(1) {
        if skip_next {
            skip_next = false;
        } else if redact_next {
            redact_next = false;
            args.push("[redacted]".into());
        } else if a == "--config" {
            skip_next = true;
        } else if a.starts_with("--config=") {
        } else if a == "--token" || a == "--confirm" {
            redact_next = true;
            args.push(a);
        } else {
            args.push(a);
        }
    }
    let event = piratenldap_store::AuditEvent {
        at: now(),
        actor: actor(),
        action: "cli".into(),
        subject: args.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
        detail: args.join(" "),
    };
    let written = match crate::context::open(config).await {
        Ok(ctx) => ctx.store.append_audit(&[event]).await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        eprintln!("warning: the command succeeded but could not be recorded in the audit trail: {e:#}");
    }
}

async fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => init::init(&cli.config, &args).await,
        Command::Serve => serve::serve(&cli.config).await,
        Command::Demo { data_dir } => demo::demo(&data_dir).await,
        Command::Member(cmd) => member::run(&cli.config, cmd).await,
        Command::Account(cmd) => account::run(&cli.config, cmd).await,
        Command::Group(cmd) => group::run(&cli.config, cmd).await,
        Command::Service(cmd) => service::run(&cli.config, cmd).await,
        Command::Oidc(cmd) => oidc::run(&cli.config, cmd).await,
        Command::Admin(cmd) => admin::run(&cli.config, cmd).await,
        Command::Cert(cmd) => cert::run(&cli.config, cmd).await,
        Command::Token(cmd) => token::run(&cli.config, cmd).await,
        Command::Activate {
            token,
            uid,
            display_name,
            password_stdin: _,
            totp,
        } => token::activate_cli(&cli.config, &token, &uid, display_name.as_deref(), totp).await,
        Command::Audit {
            uid,
            since,
            reads: false,
        } => audit::run(&cli.config, uid.as_deref(), since.as_deref()).await,
        Command::Audit { since, reads: true, .. } => audit::reads(&cli.config, since.as_deref()).await,
        Command::Backup { file } => backup::backup(&cli.config, &file).await,
        Command::Restore {
            file,
            force,
            database_url,
        } => backup::restore(&cli.config, &file, force, database_url.as_deref()).await,
        Command::Export {
            ldif: _,
            with_secrets,
            out,
        } => interchange::export(&cli.config, with_secrets, out.as_deref()).await,
        Command::Import { ldif, state, dry_run } => {
            let opts = interchange::ImportOptions {
                file: ldif,
                state,
                dry_run,
            };
            interchange::import(&cli.config, &opts).await
        }
        Command::GenerateManpages { dir } => generate::manpages(&dir),
        Command::GenerateCompletions { shell } => generate::completions(shell),
    }
}

/// Who the audit trail names for a CLI command: the operating-system user.
fn actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

/// The current time; the one clock of the CLI.
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
