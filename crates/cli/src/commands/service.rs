//! `service add|list|remove|rotate-password`.

use std::path::Path;

use anyhow::{Result, bail};
use piratenldap_core::ids::Name;
use piratenldap_core::password::generate_password;
use piratenldap_core::schema;
use piratenldap_directory::Layout;
use piratenldap_oidc::secrets;
use piratenldap_store::ServiceProfile;
use piratenldap_store::oidc::OidcRegistration;

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
            oidc,
            redirect_uris,
            public,
            pairwise,
            consent,
            logout_uri,
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
            if oidc {
                let registration = OidcRegistration {
                    secret_hash: None,
                    redirect_uris: checked_uris(&redirect_uris, "--redirect-uri")?,
                    logout_uri: logout_uri
                        .map(|u| checked_uris(&[u], "--logout-uri"))
                        .transpose()?
                        .and_then(|mut u| u.pop()),
                    pairwise,
                    consent,
                };
                if registration.redirect_uris.is_empty() {
                    bail!("an OpenID Connect client needs at least one --redirect-uri");
                }
                let secret = (!public).then(secrets::random);
                let registration = OidcRegistration {
                    secret_hash: secret.as_deref().map(|s| secrets::hash("client", s)),
                    ..registration
                };
                ctx.store.oidc().add_oidc_client(&profile, &registration, now()).await?;
                println!(
                    "OpenID Connect client {} added ({}).",
                    profile.name,
                    if public {
                        "public: PKCE, no secret"
                    } else {
                        "confidential; the secret is shown only now"
                    }
                );
                println!("issuer: {}", ctx.config.public_url.trim_end_matches('/'));
                println!("client_id: {}", profile.name);
                if let Some(secret) = secret {
                    println!("client_secret: {secret}");
                }
                return Ok(());
            }
            let password = generate_password();
            let hash = hash_password(&ctx, &password).await?;
            ctx.store.add_service(&profile, &hash, now()).await?;
            println!("Service {} added. The password is shown only now.", profile.name);
            println!("dn: {}", layout.service_dn(profile.name.as_str()));
            println!("password: {password}");
        }
        ServiceCommand::List => {
            let clients = ctx.store.oidc().oidc_clients().await?;
            println!(
                "{:<20} {:<12} {:<10} {:<16} {:<9} attributes / redirect URIs",
                "service", "kind", "real-names", "members-of", "inactive"
            );
            for s in ctx.store.services().await? {
                let p = s.profile;
                let client = clients.iter().find(|(n, _)| *n == p.name).map(|(_, r)| r);
                let kind = match client {
                    None => "ldap".to_string(),
                    Some(r) => {
                        let mut k = if r.secret_hash.is_some() { "oidc" } else { "oidc-public" }.to_string();
                        if r.pairwise {
                            k.push_str("+pairwise");
                        }
                        k
                    }
                };
                let detail = match client {
                    Some(r) => r.redirect_uris.join(" "),
                    None => p.attrs.map(|a| a.join(",")).unwrap_or_else(|| "default".into()),
                };
                println!(
                    "{:<20} {:<12} {:<10} {:<16} {:<9} {}",
                    p.name.as_str(),
                    kind,
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
            if let Some(client) = ctx.store.oidc().oidc_client(&name).await? {
                if client.registration.secret_hash.is_none() {
                    bail!("{name} is a public OpenID Connect client: it has no secret");
                }
                let secret = secrets::random();
                ctx.store
                    .oidc()
                    .set_oidc_secret(&name, &secrets::hash("client", &secret), now())
                    .await?;
                println!("New client secret for {name}. It is shown only now; the old one no longer works.");
                println!("client_id: {name}");
                println!("client_secret: {secret}");
                return Ok(());
            }
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

/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 16;

/// Checks redirect and logout URIs: absolute https URLs (http only on this machine's loopback),
/// without a fragment, at most 1024 characters.
fn checked_uris(uris: &[String], option: &str) -> Result<Vec<String>> {
    if uris.len() > MAX_REDIRECT_URIS {
        bail!("{option}: at most {MAX_REDIRECT_URIS}");
    }
    for uri in uris {
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| {
                uri.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
        let https = uri
            .strip_prefix("https://")
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !(https || loopback) {
            bail!("{option} {uri}: must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1])");
        }
        if uri.contains('#') || uri.len() > 1024 || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("{option} {uri}: no fragment, no spaces, at most 1024 characters");
        }
    }
    Ok(uris.to_vec())
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
