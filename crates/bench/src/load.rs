//! `load`: N connections for D seconds against any LDAP server, with the `ldap3` client.
//!
//! - `search`: a service account searches `(&(objectClass=inetOrgPerson)(uid=<random member>))`
//!   (or the bare `(uid=…)` with `--bare-filter`) for uid cn mail memberOf;
//! - `bind`: a random member binds;
//! - `login`: search as the service, then bind as the found DN on a second connection (what a
//!   web app does);
//! - `mixed`: 90 % search, 10 % login;
//! - `groups`: the service searches a member's POSIX groups,
//!   `(&(objectClass=posixGroup)(memberUid=<random member>))` below `--group-base` (what NSS
//!   does at every login; every automatic group lists every active member).
//!
//! Any unexpected result (not exactly one entry, a bind that fails) counts as an error.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rand::Rng;

/// The operation to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Op {
    /// Service searches a member by uid.
    Search,
    /// A member binds.
    Bind,
    /// Search, then bind as the found DN.
    Login,
    /// 90 % search, 10 % login.
    Mixed,
    /// Service searches a member's POSIX groups.
    Groups,
}

/// The server measured and the generated directory it serves (shared by `load` and
/// `freshness`).
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Server URL, e.g. ldap://127.0.0.1:3389.
    #[arg(long)]
    pub url: String,
    /// Search base for people.
    #[arg(long)]
    pub base: String,
    /// DN of the service account that searches.
    #[arg(long)]
    pub service_dn: String,
    /// Its password.
    #[arg(long)]
    pub service_password: String,
    /// Members are `u000000` … `u{members-1}`.
    #[arg(long)]
    pub members: usize,
}

/// Options of `load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The server and its directory.
    #[command(flatten)]
    pub target: Target,
    /// Members' password.
    #[arg(long, default_value = "bench-password")]
    pub password: String,
    /// DN of member `{uid}`.
    #[arg(long, default_value = "uid={uid},ou=people,dc=example,dc=org")]
    pub member_dn: String,
    /// What to measure.
    #[arg(long, value_enum)]
    pub op: Op,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// StartTLS on every connection (certificates are not checked: a benchmark, not a client).
    #[arg(long)]
    pub starttls: bool,
    /// Search with `(uid=…)` instead of `(&(objectClass=inetOrgPerson)(uid=…))`.
    #[arg(long)]
    pub bare_filter: bool,
    /// Search base for groups (`groups`).
    #[arg(long, default_value = "ou=groups,dc=example,dc=org")]
    pub group_base: String,
}

/// What one connection measured.
#[derive(Default)]
struct Tally {
    search_us: Vec<u32>,
    login_us: Vec<u32>,
    bind_us: Vec<u32>,
    errors: u64,
}

async fn connect(args: &LoadArgs) -> Result<Ldap> {
    let settings = LdapConnSettings::new()
        .set_starttls(args.starttls)
        .set_no_tls_verify(true);
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &args.target.url)
        .await
        .with_context(|| format!("connecting to {}", args.target.url))?;
    ldap3::drive!(conn);
    Ok(ldap)
}

fn uid(args: &LoadArgs) -> String {
    format!("u{:06}", rand::thread_rng().gen_range(0..args.target.members))
}

/// One search; the DN found, if exactly one entry came back.
async fn search(ldap: &mut Ldap, args: &LoadArgs, uid: &str) -> Option<String> {
    let filter = if args.bare_filter {
        format!("(uid={uid})")
    } else {
        format!("(&(objectClass=inetOrgPerson)(uid={uid}))")
    };
    let res = ldap
        .search(
            &args.target.base,
            Scope::Subtree,
            &filter,
            vec!["uid", "cn", "mail", "memberOf"],
        )
        .await
        .ok()?;
    let (entries, result) = (res.0, res.1);
    (result.rc == 0 && entries.len() == 1).then(|| SearchEntry::construct(entries.into_iter().next()?).dn.into())?
}

/// One search of a member's POSIX groups; true if at least one came back.
async fn groups(ldap: &mut Ldap, args: &LoadArgs, uid: &str) -> bool {
    let filter = format!("(&(objectClass=posixGroup)(memberUid={uid}))");
    match ldap
        .search(&args.group_base, Scope::Subtree, &filter, vec!["cn", "gidNumber"])
        .await
    {
        Ok(res) => res.1.rc == 0 && !res.0.is_empty(),
        Err(_) => false,
    }
}

async fn bind(ldap: &mut Ldap, dn: &str, password: &str) -> bool {
    matches!(ldap.simple_bind(dn, password).await, Ok(r) if r.rc == 0)
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}

async fn worker(args: LoadArgs, deadline: Instant) -> Result<Tally> {
    let mut tally = Tally::default();
    let mut service = connect(&args).await?;
    if matches!(args.op, Op::Search | Op::Login | Op::Mixed | Op::Groups)
        && !bind(&mut service, &args.target.service_dn, &args.target.service_password).await
    {
        bail!("the service account cannot bind");
    }
    let mut user = connect(&args).await?;
    while Instant::now() < deadline {
        let op = match args.op {
            Op::Mixed if rand::thread_rng().gen_range(0..10) == 0 => Op::Login,
            Op::Mixed => Op::Search,
            other => other,
        };
        let uid = uid(&args);
        let start = Instant::now();
        match op {
            Op::Search => {
                let ok = search(&mut service, &args, &uid).await.is_some();
                tally.search_us.push(micros(start));
                tally.errors += u64::from(!ok);
            }
            Op::Groups => {
                let ok = groups(&mut service, &args, &uid).await;
                tally.search_us.push(micros(start));
                tally.errors += u64::from(!ok);
            }
            Op::Bind => {
                let dn = args.member_dn.replace("{uid}", &uid);
                let ok = bind(&mut user, &dn, &args.password).await;
                tally.bind_us.push(micros(start));
                tally.errors += u64::from(!ok);
            }
            Op::Login | Op::Mixed => {
                let ok = match search(&mut service, &args, &uid).await {
                    Some(dn) => bind(&mut user, &dn, &args.password).await,
                    None => false,
                };
                tally.login_us.push(micros(start));
                tally.errors += u64::from(!ok);
            }
        }
    }
    let _ = service.unbind().await;
    let _ = user.unbind().await;
    Ok(tally)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Runs the load and prints one JSON line.
pub async fn run(args: LoadArgs) -> Result<()> {
    if args.target.members == 0 || args.connections == 0 {
        bail!("--members and --connections must be at least 1");
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(worker(args.clone(), deadline)))
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        let tally = t.await.context("a load task panicked")??;
        all.search_us.extend(tally.search_us);
        all.login_us.extend(tally.login_us);
        all.bind_us.extend(tally.bind_us);
        all.errors += tally.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    for v in [&mut all.search_us, &mut all.login_us, &mut all.bind_us] {
        v.sort_unstable();
    }
    let mut every: Vec<u32> = all
        .search_us
        .iter()
        .chain(&all.login_us)
        .chain(&all.bind_us)
        .copied()
        .collect();
    every.sort_unstable();
    let line = serde_json::json!({
        "url": args.target.url,
        "op": format!("{:?}", args.op).to_lowercase(),
        "filter": if args.bare_filter { "bare" } else { "and" },
        "starttls": args.starttls,
        "connections": args.connections,
        "seconds": (elapsed * 10.0).round() / 10.0,
        "ops": every.len(),
        "ops_per_sec": ((every.len() as f64 / elapsed) * 10.0).round() / 10.0,
        "p50_ms": percentile(&every, 0.50),
        "p99_ms": percentile(&every, 0.99),
        "search_ops_per_sec": ((all.search_us.len() as f64 / elapsed) * 10.0).round() / 10.0,
        "search_p99_ms": percentile(&all.search_us, 0.99),
        "login_ops_per_sec": ((all.login_us.len() as f64 / elapsed) * 10.0).round() / 10.0,
        "login_p99_ms": percentile(&all.login_us, 0.99),
        "errors": all.errors,
    });
    println!("{line}");
    Ok(())
}
