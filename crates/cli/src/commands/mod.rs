//! One module per command group; `run` dispatches.

mod account;
mod audit;
mod cert;
mod demo;
mod group;
mod init;
mod member;
mod serve;
mod service;

use anyhow::Result;
use time::OffsetDateTime;

use crate::args::{Cli, Command};

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => init::init(&cli.config, &args).await,
        Command::Serve => serve::serve(&cli.config).await,
        Command::Demo { data_dir } => demo::demo(&data_dir).await,
        Command::Member(cmd) => member::run(&cli.config, cmd).await,
        Command::Account(cmd) => account::run(&cli.config, cmd).await,
        Command::Group(cmd) => group::run(&cli.config, cmd).await,
        Command::Service(cmd) => service::run(&cli.config, cmd).await,
        Command::Cert(cmd) => cert::run(&cli.config, cmd).await,
        Command::Audit { uid, since } => audit::run(&cli.config, uid.as_deref(), since.as_deref()).await,
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
