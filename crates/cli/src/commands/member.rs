//! `member import|list|show`; `export` is in `member_export.rs`, `suspend` and `reinstate` in
//! `switch.rs`, `erase` in `erase.rs`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use piratenldap_core::ids::MemberNumber;
use piratenldap_core::import::parse_members_csv;

use super::now;
use crate::args::MemberCommand;
use crate::context::open;

/// Runs a `member` command.
pub async fn run(config: &Path, cmd: MemberCommand) -> Result<()> {
    match cmd {
        MemberCommand::Import { file, full, dry_run } => import(config, &file, full, dry_run).await,
        MemberCommand::List => list(config).await,
        MemberCommand::Show { number } => show(config, &number).await,
        MemberCommand::Export { number } => super::member_export::run(config, &number).await,
        MemberCommand::Suspend { number, reason } => super::switch::suspend(config, &number, &reason).await,
        MemberCommand::Reinstate { number } => super::switch::reinstate(config, &number).await,
        MemberCommand::Erase { number } => super::erase::erase(config, &number).await,
    }
}

async fn import(config: &Path, file: &PathBuf, full: bool, dry_run: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let records = parse_members_csv(&bytes).with_context(|| format!("{} was not imported", file.display()))?;
    let ctx = open(config).await?;
    // Erased members are recognised by their tombstone (a keyed hash of the number).
    let key = super::erase::erasure_key(&ctx)?;
    let tombstones: Vec<String> = records
        .iter()
        .map(|r| piratenldap_core::erasure::tombstone(&key, &r.number))
        .collect();
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("importing {} members", records.len()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = ctx
        .store
        .import_members_sparing(&records, &tombstones, full, dry_run, now())
        .await;
    spinner.finish_and_clear();
    let report = report?;
    let verb = if dry_run { "would be" } else { "were" };
    println!(
        "{} rows read: {} {verb} added, {} updated, {} unchanged, {} marked as left.",
        records.len(),
        report.added,
        report.updated,
        report.unchanged,
        report.marked_left
    );
    if report.erased_skipped > 0 {
        println!(
            "{} row(s) skipped: those members were erased (GDPR art. 17) and are not re-created.",
            report.erased_skipped
        );
    }
    if report.left_chapter_groups > 0 {
        println!(
            "{} membership(s) of chapter groups {verb} ended: those members moved to another state association.",
            report.left_chapter_groups
        );
    }
    for d in &report.disabled {
        let number = d.member.as_ref().map_or("-", |n| n.as_str());
        let account = d.uid.as_ref().map_or("no account", |u| u.as_str());
        let disabled = if dry_run { "would be disabled" } else { "disabled" };
        println!("Member {number} ({account}) {disabled}: status no longer active.");
        super::switch::print_disabled(d);
    }
    if dry_run {
        println!("Dry run: nothing was changed.");
        return Ok(());
    }
    super::switch::publish_crl_after(&ctx, &report.disabled, "The import").await
}

async fn list(config: &Path) -> Result<()> {
    let ctx = open(config).await?;
    let members = ctx.store.members().await?;
    let accounts: std::collections::HashMap<String, String> = ctx
        .store
        .snapshot()
        .await?
        .accounts
        .into_iter()
        .map(|a| (a.member_number.to_string(), a.uid.to_string()))
        .collect();
    println!(
        "{:<12} {:<6} {:<10} {:<6} account",
        "number", "state", "status", "voting"
    );
    for m in &members {
        let account = accounts.get(m.number.as_str()).map(String::as_str).unwrap_or("-");
        println!(
            "{:<12} {:<6} {:<10} {:<6} {account}",
            m.number,
            m.state,
            m.status,
            if m.voting_right { "yes" } else { "no" }
        );
    }
    println!("{} members", members.len());
    Ok(())
}

async fn show(config: &Path, number: &str) -> Result<()> {
    let number = MemberNumber::parse(number)?;
    let ctx = open(config).await?;
    let Some(m) = ctx.store.member(&number).await? else {
        bail!("no member with number {number}");
    };
    let account = ctx
        .store
        .snapshot()
        .await?
        .accounts
        .into_iter()
        .find(|a| a.member_number == number);
    println!("number: {}", m.number);
    println!("state: {}", m.state);
    println!("status: {}", m.status);
    println!("voting_right: {}", m.voting_right);
    println!("given_name: {}", m.given_name.as_deref().unwrap_or("-"));
    println!("surname: {}", m.surname.as_deref().unwrap_or("-"));
    println!("email: {}", m.email.as_deref().unwrap_or("-"));
    println!(
        "joined: {}",
        m.joined.map(|d| d.to_string()).unwrap_or_else(|| "-".into())
    );
    println!(
        "account: {}",
        account.map(|a| a.uid.to_string()).unwrap_or_else(|| "-".into())
    );
    Ok(())
}
