//! `init`: the configuration file, the database, the CA and the server certificate (made and
//! signed by the CA, or an existing pair given with `--tls-cert`/`--tls-key`, referenced).

use std::path::Path;

use anyhow::{Context, Result, bail};
use piratenldap_core::config::{InitSettings, render_initial};

use super::now;
use crate::args::InitArgs;
use crate::context::{create_database_dir, parse_config};
use crate::files::{create_private_dir, write_public, write_secret};

/// Runs `init`.
pub async fn init(config_path: &Path, args: &InitArgs) -> Result<()> {
    if config_path.exists() {
        bail!(
            "{} exists already; init does not overwrite a configuration",
            config_path.display()
        );
    }
    // Existing files are referenced by absolute path, and checked (a pair, valid now) first.
    let own_tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let absolute = |p: &Path| {
                std::fs::canonicalize(p)
                    .with_context(|| format!("{}", p.display()))
                    .and_then(|p| p.to_str().map(str::to_string).context("a path that is not UTF-8"))
            };
            let (cert, key) = (absolute(cert)?, absolute(key)?);
            piratenldap_ldap::ServerCert::load(Path::new(&cert), Path::new(&key), now())
                .context("--tls-cert and --tls-key cannot serve TLS")?;
            Some((cert, key))
        }
        _ => None,
    };
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| default_data_dir(config_path).to_string());
    let text = render_initial(&InitSettings {
        base_dn: args.base_dn.clone(),
        organisation: args.org.clone(),
        data_dir: data_dir.clone(),
        ldap_listen: args.ldap_listen.clone(),
        ldaps_listen: args.ldaps_listen.clone(),
        http_listen: args.http_listen.clone(),
        database_url: args.database_url.clone(),
        tls: own_tls.clone(),
    });
    // Validate before writing anything, so a bad --base-dn leaves no half-made installation.
    let config =
        parse_config(&text, config_path).context("the values given to init do not make a valid configuration")?;
    if (own_tls.is_none() && config.tls_key.exists()) || config.ca_dir.join("ca.key").exists() {
        bail!(
            "{} already holds keys; remove it or choose another --data-dir",
            config
                .ca_dir
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    private_data_dir(&crate::context::config_dir(config_path).join(&data_dir))?;
    let ca = piratenldap_ca::create_ca(&config.organisation, now())?;
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    // libldap compares a connection to "localhost" against the machine's own host name (it
    // canonicalises the peer), so OpenLDAP clients on this machine need that name too.
    if let Some(own) = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
    {
        hosts.push(own);
    }
    hosts.extend(args.hosts.iter().cloned());
    hosts.dedup();
    let server = match own_tls {
        None => Some(piratenldap_ca::issue_server_cert(
            &ca,
            &hosts,
            &config.organisation,
            now(),
        )?),
        Some(_) => None,
    };
    write_secret(&config.ca_dir.join("ca.key"), &ca.key_pem)?;
    write_secret(
        &config.token_key_file,
        &format!("{}\n", piratenldap_core::sealed::SealKey::generate_hex()),
    )?;
    write_secret(
        &config.secret_key_file,
        &format!("{}\n", piratenldap_core::sealed::SealKey::generate_hex()),
    )?;
    super::oidc::create_keys(&config)?;
    crate::context::ensure_pseudonym_key(&config)?;
    write_public(&config.ca_dir.join("ca.pem"), &ca.cert_pem)?;
    write_public(&config.ca_dir.join(super::ca_files::TRUSTED), &ca.cert_pem)?;
    if let Some(server) = server {
        write_secret(&config.tls_key, &server.key_pem)?;
        write_public(&config.tls_cert, &format!("{}{}", server.cert_pem, ca.cert_pem))?;
    }
    create_database_dir(&config)?;
    piratenldap_store::connect(&config.database_url)
        .await
        .context("creating the database")?;
    write_public(config_path, &text)?;
    let ctx = crate::context::open(config_path).await?;
    super::cert::publish_crl(&ctx)
        .await
        .context("publishing the first (empty) CRL")?;
    println!(
        "Initialised piratenldap for {} ({}).",
        config.organisation, config.base_dn
    );
    println!("config: {}", config_path.display());
    println!("ca: {}", config.ca_dir.join("ca.pem").display());
    println!("Next: import members (`piratenldap member import FILE.csv`), then `piratenldap serve`.");
    Ok(())
}

/// Creates the data directory with mode 0700: it holds the keys and (on SQLite) the database,
/// private to whoever runs the service whatever the umask. An existing directory is the
/// operator's (it may be `/var/lib/…` or the current one): init only says when others can list it.
/// Where `init` puts the data without `--data-dir`: the Debian package's state directory for
/// its configuration directory, else `data` beside the configuration.
fn default_data_dir(config_path: &Path) -> &'static str {
    if config_path.parent() == Some(Path::new("/etc/piratenldap")) {
        "/var/lib/piratenldap"
    } else {
        "data"
    }
}

fn private_data_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "note: {} has mode {mode:o}; the keys and the database in it are private (0600), `chmod 700 {}` hides their names too",
                dir.display(),
                dir.display()
            );
        }
    }
    create_private_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_layout_keeps_data_in_var_lib() {
        assert_eq!(
            default_data_dir(Path::new("/etc/piratenldap/piratenldap.toml")),
            "/var/lib/piratenldap"
        );
        assert_eq!(default_data_dir(Path::new("/srv/ldap/piratenldap.toml")), "data");
        assert_eq!(default_data_dir(Path::new("piratenldap.toml")), "data");
    }
}
