//! `freshness`: how soon a committed change is answered by searches on a running server
//! (issue 17). Locks and unlocks generated accounts (`u000000…`) through the store, as the CLI
//! would, at a given rate, and after each commit searches as a service until the change shows
//! (a locked member leaves the service's population). Prints one JSON line: the latency from
//! the commit to the first search that shows it, p50/p99/max. Run a `load` beside it to see
//! what a stream of changes costs searches.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ldap3::{LdapConnAsync, Scope};
use piratenldap_core::config::Config;
use piratenldap_core::ids::Uid;
use serde_json::json;

use crate::changes::stats;

/// Arguments of `freshness`.
#[derive(clap::Args)]
pub struct FreshnessArgs {
    /// The installation's configuration file (its database is changed).
    #[arg(long)]
    pub config: PathBuf,
    /// The server and its directory (members all active).
    #[command(flatten)]
    pub target: crate::load::Target,
    /// How many changes.
    #[arg(long, default_value_t = 1_000)]
    pub changes: usize,
    /// Changes per second (0: the next as soon as the last is seen).
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Only commit the changes, without searching for them: a stream of changes beside a
    /// `load` run, whose searches the checking would otherwise compete with.
    #[arg(long)]
    pub stream_only: bool,
}

/// Runs `freshness`.
pub async fn run(args: FreshnessArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.config).with_context(|| format!("reading {}", args.config.display()))?;
    let base = args.config.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let config = Config::parse(&text, &base, 1)?;
    let store = piratenldap_store::connect(&config.database_url).await?;
    let (conn, mut ldap) = LdapConnAsync::new(&args.target.url).await?;
    ldap3::drive!(conn);
    ldap.simple_bind(&args.target.service_dn, &args.target.service_password)
        .await?
        .success()?;
    let period = if args.rate > 0.0 {
        Duration::from_secs_f64(1.0 / args.rate)
    } else {
        Duration::ZERO
    };
    let mut latencies = Vec::with_capacity(args.changes);
    let mut commits = Vec::with_capacity(args.changes);
    let started = Instant::now();
    for n in 0..args.changes {
        let due = started + period * u32::try_from(n)?;
        tokio::time::sleep_until(due.into()).await;
        // Two passes over the same accounts: lock them, then unlock them again.
        let half = args.changes.div_ceil(2);
        let uid = Uid::parse(&format!("u{:06}", (n % half * 7919) % args.target.members))?;
        let lock = n < half;
        let begin = Instant::now();
        store
            .set_account_locked(&uid, lock, "bench", time::OffsetDateTime::now_utc())
            .await?;
        let committed = Instant::now();
        commits.push(committed.duration_since(begin).as_secs_f64() * 1e3);
        if args.stream_only {
            continue;
        }
        loop {
            let (found, _) = ldap
                .search(&args.target.base, Scope::Subtree, &format!("(uid={uid})"), vec!["1.1"])
                .await?
                .success()?;
            if found.is_empty() == lock {
                break;
            }
            if committed.elapsed() > Duration::from_secs(10) {
                bail!("change {n} ({uid} locked: {lock}) not visible after 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(committed.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{}",
        json!({
            "changes": args.changes,
            "rate_per_s": args.rate,
            "visible_after_commit_ms": stats(&mut latencies),
            "commit_ms": stats(&mut commits),
        })
    );
    Ok(())
}
