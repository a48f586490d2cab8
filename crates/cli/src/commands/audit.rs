//! `audit`: the append-only audit trail.

use std::path::Path;

use anyhow::{Context, Result};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::context::open;

/// Runs `audit`.
pub async fn run(config: &Path, uid: Option<&str>, since: Option<&str>) -> Result<()> {
    let since = since
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339)
                .with_context(|| format!("--since {s:?} is not an RFC 3339 time such as 2026-11-24T00:00:00Z"))
        })
        .transpose()?;
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
