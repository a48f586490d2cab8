//! `service add|list|remove|rotate-password`.

use std::path::Path;

use anyhow::{Result, bail};
use piratenldap_core::ids::Name;
use piratenldap_core::password::generate_password;
use piratenldap_core::schema;
use piratenldap_directory::Layout;
use piratenldap_store::ServiceProfile;

use super::now;
use crate::args::ServiceCommand;
use crate::context::{hash_password, open};

/// Runs a `service` command.
pub async fn run(config: &Path, cmd: ServiceCommand) -> Result<()> {
    let ctx = open(config).await?;
    let layout = Layout::new(ctx.config.base_dn.clone(), &ctx.config.organisation);
    match cmd {
        ServiceCommand::Add {
            name,
            attrs,
            members_of,
            real_names,
            include_inactive,
        } => {
            let attrs = attrs.map(|list| canonical_attrs(&list)).transpose()?;
            let profile = ServiceProfile {
                name: Name::parse(&name)?,
                attrs,
                members_of: members_of.as_deref().map(Name::parse).transpose()?,
                real_names,
                include_inactive,
            };
            let password = generate_password();
            let hash = hash_password(&ctx, &password).await?;
            ctx.store.add_service(&profile, &hash, now()).await?;
            println!("Service {} added. The password is shown only now.", profile.name);
            println!("dn: {}", layout.service_dn(profile.name.as_str()));
            println!("password: {password}");
        }
        ServiceCommand::List => {
            println!(
                "{:<20} {:<10} {:<16} {:<9} attributes",
                "service", "real-names", "members-of", "inactive"
            );
            for s in ctx.store.services().await? {
                let p = s.profile;
                println!(
                    "{:<20} {:<10} {:<16} {:<9} {}",
                    p.name,
                    if p.real_names { "yes" } else { "no" },
                    p.members_of.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
                    if p.include_inactive { "yes" } else { "no" },
                    p.attrs.map(|a| a.join(",")).unwrap_or_else(|| "default".into())
                );
            }
        }
        ServiceCommand::Remove { name } => {
            ctx.store.remove_service(&Name::parse(&name)?).await?;
            println!("Service {name} removed.");
        }
        ServiceCommand::RotatePassword { name } => {
            let name = Name::parse(&name)?;
            let password = generate_password();
            let hash = hash_password(&ctx, &password).await?;
            ctx.store.set_service_password(&name, &hash, now()).await?;
            println!("New password for {name}. It is shown only now.");
            println!("dn: {}", layout.service_dn(name.as_str()));
            println!("password: {password}");
        }
    }
    Ok(())
}

/// Checks attribute names against the schema and returns their canonical names.
fn canonical_attrs(list: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for a in list.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        let Some(kind) = schema::attribute(a) else {
            bail!("--attrs: {a} is not an attribute of the schema")
        };
        if kind.name() == "userPassword" {
            bail!("--attrs: userPassword is never readable");
        }
        if !out.iter().any(|o| o == kind.name()) {
            out.push(kind.name().to_string());
        }
    }
    Ok(out)
}
