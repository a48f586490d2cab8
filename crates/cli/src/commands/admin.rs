//! `admin grant|revoke|list`: chapter admins (issue 15). Federal admins are the group `admins`
//! (`group add admins UID`); whoever runs the CLI on the server acts as the federal level.

use std::path::Path;

use anyhow::Result;
use piratenldap_core::ids::{StateCode, Uid};

use super::{actor, now};
use crate::args::AdminCommand;
use crate::context::open;

/// Runs an `admin` command.
pub async fn run(config: &Path, cmd: AdminCommand) -> Result<()> {
    let ctx = open(config).await?;
    match cmd {
        AdminCommand::Grant {
            uid,
            chapter,
            real_names,
        } => {
            let (uid, chapter) = (Uid::parse(&uid)?, StateCode::parse(&chapter)?);
            ctx.store
                .grant_chapter_admin(&uid, &chapter, real_names, &actor(), now())
                .await?;
            println!(
                "{uid} is now chapter admin of {chapter}{}.",
                if real_names { ", with real names" } else { "" }
            );
        }
        AdminCommand::Revoke { uid, chapter } => {
            let (uid, chapter) = (Uid::parse(&uid)?, StateCode::parse(&chapter)?);
            ctx.store.revoke_chapter_admin(&uid, &chapter, &actor(), now()).await?;
            println!("{uid} is no longer chapter admin of {chapter}.");
        }
        AdminCommand::List => {
            println!(
                "{:<8} {:<20} {:<10} {:<20} granted",
                "chapter", "uid", "real-names", "by"
            );
            for a in ctx.store.chapter_admins().await? {
                println!(
                    "{:<8} {:<20} {:<10} {:<20} {}",
                    a.chapter.as_str(),
                    a.uid.as_str(),
                    if a.real_names { "yes" } else { "no" },
                    a.granted_by,
                    a.granted_at.date()
                );
            }
        }
    }
    Ok(())
}
