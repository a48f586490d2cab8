//! `oidc rotate-key`, and the single sign-on key material `init` makes: the directory
//! `oidc.keys_dir` (0700) with ES256 signing keys (0600 each, written under a temporary name
//! and renamed into place) and the pairwise-subject key `pairwise.key` (0600).

use std::path::Path;

use anyhow::{Context, Result};
use piratenldap_core::config::Config;
use piratenldap_oidc::keys::{self, KeySet};

use super::now;
use crate::args::OidcCommand;
use crate::files::{Staged, create_private_dir, write_secret};

/// The pairwise-subject key's file name in `oidc.keys_dir`.
const PAIRWISE_KEY: &str = "pairwise.key";

/// Runs an `oidc` command.
pub async fn run(config_path: &Path, cmd: OidcCommand) -> Result<()> {
    let config = crate::context::load_config(config_path)?;
    match cmd {
        OidcCommand::RotateKey => {
            let kid = add_signing_key(&config)?;
            prune_retired(&config)?;
            println!(
                "New signing key; the previous public key stays in the JWKS for {} days. Running servers switch within seconds.",
                config.oidc.key_overlap_days
            );
            println!("kid: {kid}");
        }
    }
    Ok(())
}

/// Makes the keys directory with a first signing key and the pairwise key, where missing.
pub fn create_keys(config: &Config) -> Result<()> {
    create_keys_dir(config)?;
    if KeySet::load(&config.oidc.keys_dir, now(), overlap(config)).is_err() {
        add_signing_key(config)?;
    }
    Ok(())
}

/// The key of pairwise subjects.
pub fn pairwise_key(config: &Config) -> Result<Vec<u8>> {
    crate::context::read_hex_key(&config.oidc.keys_dir.join(PAIRWISE_KEY))
}

fn overlap(config: &Config) -> time::Duration {
    time::Duration::days(i64::from(config.oidc.key_overlap_days))
}

/// Writes a new signing key (complete or not at all); returns its key ID.
fn add_signing_key(config: &Config) -> Result<String> {
    create_keys_dir(config)?;
    let key = keys::new_key(now())?;
    let mut staged = Staged::create(&config.oidc.keys_dir.join(keys::file_name(&key.kid)))?;
    staged.write_synced(key.pem.as_bytes())?;
    staged.publish()?;
    Ok(key.kid)
}

fn create_keys_dir(config: &Config) -> Result<()> {
    create_private_dir(&config.oidc.keys_dir)?;
    if !config.oidc.keys_dir.join(PAIRWISE_KEY).exists() {
        write_secret(
            &config.oidc.keys_dir.join(PAIRWISE_KEY),
            &format!("{}\n", piratenldap_core::sealed::SealKey::generate_hex()),
        )?;
    }
    Ok(())
}

/// Deletes key files that have left the JWKS (replaced longer than the overlap ago).
fn prune_retired(config: &Config) -> Result<()> {
    let set = KeySet::load(&config.oidc.keys_dir, now(), overlap(config))?;
    let published = set.published_kids();
    let dir = &config.oidc.keys_dir;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let retired = path.extension().is_some_and(|e| e == "pem")
            && path
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|kid| !published.iter().any(|p| p == kid));
        if retired {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            println!("removed retired key {}", path.display());
        }
    }
    Ok(())
}
