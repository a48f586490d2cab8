//! `account create|show|lock|unlock|passwd`.

use std::path::Path;

use anyhow::{Result, bail};
use piratenldap_core::ids::{MemberNumber, Uid};
use piratenldap_core::password::generate_password;
use piratenldap_store::NewAccount;

use super::now;
use crate::args::AccountCommand;
use crate::context::{check_password, hash_password, open, read_password_stdin};

/// Runs an `account` command.
pub async fn run(config: &Path, cmd: AccountCommand) -> Result<()> {
    match cmd {
        AccountCommand::Create {
            uid,
            member,
            display_name,
            password_stdin: _,
        } => create(config, &uid, &member, display_name).await,
        AccountCommand::Show { uid } => show(config, &uid).await,
        AccountCommand::Lock { uid } => set_locked(config, &uid, true).await,
        AccountCommand::Unlock { uid } => set_locked(config, &uid, false).await,
        AccountCommand::Passwd { uid, password_stdin } => passwd(config, &uid, password_stdin).await,
        AccountCommand::TotpEnroll { uid, confirm } => {
            super::second_factor::enroll(config, &uid, confirm.as_deref()).await
        }
        AccountCommand::TotpDisable { uid } => super::second_factor::disable(config, &uid).await,
        AccountCommand::AppPassword(cmd) => super::second_factor::app_password(config, cmd).await,
    }
}

async fn create(config: &Path, uid: &str, member: &str, display_name: Option<String>) -> Result<()> {
    let uid = Uid::parse(uid)?;
    if uid.is_reserved() {
        bail!("the uid {uid} is reserved for system and role addresses; choose another");
    }
    let member_number = MemberNumber::parse(member)?;
    let password = read_password_stdin()?;
    check_password(&password, &[uid.as_str()])?;
    let ctx = open(config).await?;
    let hash = hash_password(&ctx, &password).await?;
    let display_name = display_name
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| uid.to_string());
    let account = ctx
        .store
        .create_account(
            NewAccount {
                uid,
                member_number,
                display_name,
                password_hash: hash,
            },
            now(),
        )
        .await?;
    let layout = crate::context::layout(&ctx.config)?;
    println!("Account created.");
    println!("dn: {}", layout.person_dn(account.uid.as_str()));
    Ok(())
}

async fn show(config: &Path, uid: &str) -> Result<()> {
    let uid = Uid::parse(uid)?;
    let ctx = open(config).await?;
    let Some(a) = ctx.store.account(&uid).await? else {
        bail!("no account {uid}")
    };
    let layout = crate::context::layout(&ctx.config)?;
    let snapshot = ctx.store.snapshot().await?;
    let members: std::collections::HashMap<&str, &piratenldap_store::Member> =
        snapshot.members.iter().map(|m| (m.number.as_str(), m)).collect();
    let groups: Vec<String> = snapshot
        .groups
        .iter()
        .filter(|g| {
            piratenldap_directory::build::group_members(g, &snapshot.accounts, &members)
                .iter()
                .any(|u| u == uid.as_str())
        })
        .map(|g| g.name.to_string())
        .collect();
    println!("uid: {}", a.uid);
    println!("dn: {}", layout.person_dn(a.uid.as_str()));
    println!("member: {}", a.member_number);
    println!("display_name: {}", a.display_name);
    println!("locked: {}", a.locked);
    println!("uid_number: {}", a.uid_number);
    println!("groups: {}", groups.join(", "));
    println!(
        "created: {}",
        piratenldap_directory::build::generalized_time(a.created_at)
    );
    Ok(())
}

async fn set_locked(config: &Path, uid: &str, locked: bool) -> Result<()> {
    let uid = Uid::parse(uid)?;
    let ctx = open(config).await?;
    let revoked = ctx
        .store
        .set_account_locked(&uid, locked, &super::actor(), now())
        .await?;
    println!("{uid} is {}.", if locked { "locked" } else { "unlocked" });
    if revoked > 0 {
        let crl = super::cert::publish_crl(&ctx).await?;
        println!(
            "{revoked} client certificate(s) of {uid} revoked; CRL {} published.",
            crl.number
        );
    }
    Ok(())
}

async fn passwd(config: &Path, uid: &str, from_stdin: bool) -> Result<()> {
    let uid = Uid::parse(uid)?;
    let password = if from_stdin {
        let chosen = read_password_stdin()?;
        check_password(&chosen, &[uid.as_str()])?;
        chosen
    } else {
        generate_password()
    };
    let ctx = open(config).await?;
    let hash = hash_password(&ctx, &password).await?;
    ctx.store.set_account_password(&uid, &hash, now()).await?;
    println!("Password of {uid} changed.");
    if !from_stdin {
        println!("password: {password}");
    }
    Ok(())
}
