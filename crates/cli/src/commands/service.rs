//! `service add|list|remove|rotate-password`: argument parsing and printing; registering and
//! renewing credentials is `piratenldap_auth::services` (shared with the admin console).

use std::path::Path;

use anyhow::Result;
use piratenldap_auth::services::{
    OidcRequest, ServiceCredential, ServiceKind, register_service, renew_service_credential,
};
use piratenldap_core::ids::{Name, StateCode};
use piratenldap_store::ServiceProfile;

use super::now;
use crate::args::ServiceCommand;
use crate::context::{hash_pool, open};

/// Runs a `service` command.
pub async fn run(config: &Path, cmd: ServiceCommand) -> Result<()> {
    let ctx = open(config).await?;
    let layout = crate::context::layout(&ctx.config)?;
    match cmd {
        ServiceCommand::Add {
            name,
            oidc,
            redirect_uris,
            public,
            pairwise,
            consent,
            logout_uri,
            attrs,
            members_of,
            real_names,
            pseudonymous,
            include_inactive,
            chapter,
        } => {
            let profile = ServiceProfile {
                name: Name::parse(&name)?,
                attrs,
                members_of: members_of.as_deref().map(Name::parse).transpose()?,
                real_names,
                include_inactive,
                pseudonymous,
                chapter: chapter.as_deref().map(StateCode::parse).transpose()?,
            };
            let kind = if oidc {
                ServiceKind::Oidc(OidcRequest {
                    redirect_uris,
                    logout_uri,
                    public,
                    pairwise,
                    consent,
                })
            } else {
                ServiceKind::Ldap
            };
            let owner = match &profile.chapter {
                Some(c) => format!(" of chapter {c} (it sees only members of {c})"),
                None => String::new(),
            };
            if pseudonymous && crate::context::ensure_pseudonym_key(&ctx.config)? {
                println!(
                    "Made the pseudonym key {} (mode 0600): copy it to every node, it is in the backup.",
                    ctx.config.pseudonym_key_file.display()
                );
            }
            let pool = hash_pool(&ctx);
            match register_service(&*ctx.store, &pool, &layout, profile, kind, now()).await? {
                ServiceCredential::Oidc {
                    client_id,
                    client_secret,
                } => {
                    println!(
                        "OpenID Connect client {client_id}{owner} added ({}).",
                        if client_secret.is_none() {
                            "public: PKCE, no secret"
                        } else {
                            "confidential; the secret is shown only now"
                        }
                    );
                    println!("issuer: {}", ctx.config.public_url.trim_end_matches('/'));
                    println!("client_id: {client_id}");
                    if let Some(secret) = client_secret {
                        println!("client_secret: {secret}");
                    }
                }
                ServiceCredential::Ldap { dn, password } => {
                    println!("Service {name}{owner} added. The password is shown only now.");
                    println!("dn: {dn}");
                    println!("password: {password}");
                }
            }
        }
        ServiceCommand::List => {
            let clients = ctx.store.oidc().oidc_clients().await?;
            println!(
                "{:<20} {:<12} {:<8} {:<10} {:<16} {:<9} attributes / redirect URIs",
                "service", "kind", "chapter", "real-names", "members-of", "inactive"
            );
            for s in ctx.store.services().await? {
                let p = s.profile;
                let client = clients.iter().find(|(n, _)| *n == p.name).map(|(_, r)| r);
                let mut kind = match client {
                    None => "ldap".to_string(),
                    Some(r) => {
                        let mut k = if r.secret_hash.is_some() { "oidc" } else { "oidc-public" }.to_string();
                        if r.pairwise {
                            k.push_str("+pairwise");
                        }
                        k
                    }
                };
                if p.pseudonymous {
                    kind.push_str("+pseudonymous");
                }
                let detail = match client {
                    Some(r) => r.redirect_uris.join(" "),
                    None => p.attrs.map(|a| a.join(",")).unwrap_or_else(|| "default".into()),
                };
                println!(
                    "{:<20} {:<12} {:<8} {:<10} {:<16} {:<9} {}",
                    p.name.as_str(),
                    kind,
                    p.chapter.as_ref().map_or("-", |c| c.as_str()),
                    if p.real_names { "yes" } else { "no" },
                    p.members_of.map(|g| g.to_string()).unwrap_or_else(|| "-".into()),
                    if p.include_inactive { "yes" } else { "no" },
                    detail
                );
            }
        }
        ServiceCommand::Remove { name } => {
            ctx.store.remove_service(&Name::parse(&name)?).await?;
            println!("Service {name} removed.");
        }
        ServiceCommand::RotatePassword { name } => {
            let name = Name::parse(&name)?;
            let pool = hash_pool(&ctx);
            match renew_service_credential(&*ctx.store, &pool, &layout, &name, now()).await? {
                ServiceCredential::Oidc {
                    client_id,
                    client_secret,
                } => {
                    println!("New client secret for {name}. It is shown only now; the old one no longer works.");
                    println!("client_id: {client_id}");
                    if let Some(secret) = client_secret {
                        println!("client_secret: {secret}");
                    }
                }
                ServiceCredential::Ldap { dn, password } => {
                    println!("New password for {name}. It is shown only now.");
                    println!("dn: {dn}");
                    println!("password: {password}");
                }
            }
        }
    }
    Ok(())
}
