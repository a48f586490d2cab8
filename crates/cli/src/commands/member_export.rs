//! `member export NUMBER`: everything the system holds about one member (GDPR art. 15) as
//! JSON on standard output, made by `auth::export` from the database and a view built from it
//! (so "which service reads what" follows today's profiles exactly as the server would).

use std::path::Path;

use anyhow::{Context, Result};
use piratenldap_core::ids::MemberNumber;
use piratenldap_directory::View;

use super::now;
use crate::context::open;

/// Runs `member export`.
pub async fn run(config: &Path, number: &str) -> Result<()> {
    let number = MemberNumber::parse(number)?;
    let ctx = open(config).await?;
    let layout = crate::context::layout(&ctx.config)?;
    let snapshot = ctx.store.snapshot().await.context("reading the database")?;
    let view = tokio::task::spawn_blocking(move || View::build(layout, snapshot))
        .await
        .context("building the view")?;
    let export = piratenldap_auth::export::member_export(&*ctx.store, &view, &number, now()).await?;
    println!("{}", serde_json::to_string_pretty(&export)?);
    Ok(())
}
