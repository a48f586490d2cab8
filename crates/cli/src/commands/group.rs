//! `group create|delete|add|remove|list`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, bail};
use piratenldap_core::ids::{Name, StateCode, Uid};
use piratenldap_directory::build::group_members;
use piratenldap_store::GroupKind;

use super::now;
use crate::args::GroupCommand;
use crate::context::open;

/// Runs a `group` command.
pub async fn run(config: &Path, cmd: GroupCommand) -> Result<()> {
    let ctx = open(config).await?;
    let store = &ctx.store;
    match cmd {
        GroupCommand::Create {
            name,
            description,
            chapter,
        } => {
            let chapter = chapter.as_deref().map(StateCode::parse).transpose()?;
            let g = store
                .create_group(&Name::parse(&name)?, description.as_deref(), chapter.as_ref(), now())
                .await?;
            match &g.chapter {
                Some(c) => println!(
                    "Group {} of chapter {c} created (gidNumber {}); it admits only members of {c}.",
                    g.name, g.gid_number
                ),
                None => println!("Group {} created (gidNumber {}).", g.name, g.gid_number),
            }
        }
        GroupCommand::Delete { name } => {
            store.delete_group(&Name::parse(&name)?).await?;
            println!("Group {name} deleted.");
        }
        GroupCommand::Add { name, uid } => {
            let (name, uid) = (Name::parse(&name)?, Uid::parse(&uid)?);
            store.add_group_member(&name, &uid, now()).await?;
            println!("{uid} added to {name}.");
        }
        GroupCommand::Remove { name, uid } => {
            let (name, uid) = (Name::parse(&name)?, Uid::parse(&uid)?);
            let roles: Vec<String> = ctx
                .config
                .roles
                .iter()
                .filter(|(_, g)| **g == name)
                .map(|(r, _)| r.clone())
                .collect();
            let revoked = store
                .remove_group_member(&name, &uid, &roles, &super::actor(), now())
                .await?;
            println!("{uid} removed from {name}.");
            if revoked > 0 {
                let crl = super::cert::publish_crl(&ctx).await?;
                println!(
                    "{revoked} client certificate(s) of {uid} revoked; CRL {} published.",
                    crl.number
                );
            }
        }
        GroupCommand::List { name } => {
            let snap = store.snapshot().await?;
            let members: HashMap<&str, &piratenldap_store::Member> =
                snap.members.iter().map(|m| (m.number.as_str(), m)).collect();
            match name {
                Some(name) => {
                    let Some(g) = snap.groups.iter().find(|g| g.name.as_str() == name) else {
                        bail!("no group named {name}")
                    };
                    for uid in group_members(g, &snap.accounts, &members) {
                        println!("{uid}");
                    }
                }
                None => {
                    println!(
                        "{:<24} {:<9} {:<8} {:>8} {:>8}",
                        "group", "kind", "chapter", "gid", "members"
                    );
                    for g in &snap.groups {
                        let kind = if g.kind == GroupKind::Automatic {
                            "automatic"
                        } else {
                            "manual"
                        };
                        let n = group_members(g, &snap.accounts, &members).len();
                        let chapter = g.chapter.as_ref().map_or("-", |c| c.as_str());
                        println!("{:<24} {:<9} {:<8} {:>8} {:>8}", g.name, kind, chapter, g.gid_number, n);
                    }
                }
            }
        }
    }
    Ok(())
}
