//! `audit`: the append-only audit trail; `audit --reads`: who read real names, per service
//! and hour (from the `read.real_names` events the server writes, `auth::reads`).

use std::path::Path;

use anyhow::{Context, Result};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::context::open;

fn parse_since(since: Option<&str>) -> Result<Option<OffsetDateTime>> {
    since
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339)
                .with_context(|| format!("--since {s:?} is not an RFC 3339 time such as 2026-11-24T00:00:00Z"))
        })
        .transpose()
}

/// Runs `audit`.
pub async fn run(config: &Path, uid: Option<&str>, since: Option<&str>) -> Result<()> {
    let since = parse_since(since)?;
    let ctx = open(config).await?;
    for e in ctx.store.audit_events(uid, since).await? {
        println!(
            "{} {:<20} {:<16} {:<16} {}",
            e.at.format(&Rfc3339)?,
            e.actor,
            e.action,
            e.subject,
            e.detail
        );
    }
    Ok(())
}

/// Runs `audit --reads`: per hour and service, how many entries with real names or member
/// numbers the service received (default: the last 30 days).
pub async fn reads(config: &Path, since: Option<&str>) -> Result<()> {
    let since = parse_since(since)?.unwrap_or_else(|| super::now() - time::Duration::days(30));
    let ctx = open(config).await?;
    let mut table: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for e in ctx.store.audit_by_action("read.real_names", since).await? {
        if let Some((hour, n)) = piratenldap_auth::reads::parse_detail(&e.detail) {
            *table.entry((hour.to_string(), e.subject.clone())).or_default() += n;
        }
    }
    println!("{:<22} {:<20} entries", "hour (UTC)", "service");
    for ((hour, service), n) in table {
        println!("{hour:<22} {service:<20} {n}");
    }
    Ok(())
}
