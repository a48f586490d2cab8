//! `piratenldap-bench`: tools to measure piratenldap. `populate` fills an installation with N
//! generated members; `load` drives any LDAP server (piratenldap or OpenLDAP's slapd) with N
//! connections for D seconds and prints one JSON line of figures; `sso` measures single sign-on
//! logins and code exchanges through the HTTP endpoints beside LDAP binds.

mod changes;
mod freshness;
mod load;
mod populate;
mod sso;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Benchmark tools for piratenldap.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add N generated members with accounts `u000000…` to an installation.
    Populate {
        /// The installation's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// How many members.
        #[arg(long, default_value_t = 30_000)]
        members: usize,
        /// The password of every generated account.
        #[arg(long, default_value = "bench-password")]
        password: String,
        /// Make every member active (by default every 50th is suspended, as in real data).
        #[arg(long)]
        all_active: bool,
    },
    /// Write the members `populate` generates as a member CSV, for timing `member import`.
    MembersCsv {
        /// Where to write the CSV.
        #[arg(long)]
        out: PathBuf,
        /// How many members.
        #[arg(long, default_value_t = 30_000)]
        members: usize,
        /// Make every member active.
        #[arg(long)]
        all_active: bool,
    },
    /// Drive an LDAP server and print one JSON line (ops/s, p50, p99, errors).
    Load(load::LoadArgs),
    /// Single sign-on logins and code exchanges through the HTTP endpoints, beside LDAP binds.
    Sso(sso::SsoArgs),
    /// How soon a committed change is answered by searches on a running server.
    Freshness(freshness::FreshnessArgs),
    /// The CPU cost of one change to the in-memory view of N members, applied in place, beside
    /// a whole rebuild (in this process: no server, no database).
    Changes {
        /// How many members.
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        /// How many changes.
        #[arg(long, default_value_t = 1_000)]
        count: usize,
        /// Register a pseudonymous service too.
        #[arg(long)]
        pseudonymous: bool,
    },
}

/// The server's allocator (crates/cli/src/main.rs), so that what `changes` measures of the view
/// (build time, memory) is what `serve` gets.
#[global_allocator]
static ALLOCATOR: piratenldap_allocator::Allocator = piratenldap_allocator::ALLOCATOR;

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Populate {
            config,
            members,
            password,
            all_active,
        } => populate::populate(config, members, password, all_active).await,
        Command::MembersCsv {
            out,
            members,
            all_active,
        } => populate::write_members_csv(&out, members, all_active),
        Command::Load(args) => load::run(args).await,
        Command::Sso(args) => sso::run(args).await,
        Command::Freshness(args) => freshness::run(args).await,
        Command::Changes {
            members,
            count,
            pseudonymous,
        } => changes::changes(members, count, pseudonymous),
    }
}
