//! Loading the configuration file and opening the store, shared by the commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use piratenldap_auth::HashPool;
use piratenldap_core::config::Config;
use piratenldap_core::password::HashParams;
use piratenldap_store::Store;

/// What most commands need.
pub struct Ctx {
    /// The validated configuration.
    pub config: Config,
    /// The store.
    pub store: Arc<dyn Store>,
}

impl Ctx {
    /// The argon2 parameters.
    pub fn hash_params(&self) -> HashParams {
        self.config.passwords
    }
}

/// The directory relative paths in a config file are relative to.
pub fn config_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads and validates the configuration file.
pub fn load_config(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the configuration {} (create one with `piratenldap init`)",
            path.display()
        )
    })?;
    parse_config(&text, path).with_context(|| format!("configuration {}", path.display()))
}

/// Validates configuration text meant to live at `path` (relative paths resolve next to it).
pub fn parse_config(text: &str, path: &Path) -> Result<Config> {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    Ok(Config::parse(text, &config_dir(path), workers)?)
}

/// Creates the directory of an SQLite database file, mode 0700 (PostgreSQL needs nothing).
pub fn create_database_dir(config: &Config) -> Result<()> {
    if let Some(path) = config.database_url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_private_dir(dir)?;
        }
    }
    Ok(())
}

/// Loads the configuration and opens the store.
pub async fn open(path: &Path) -> Result<Ctx> {
    let config = load_config(path)?;
    let store = piratenldap_store::connect(&config.database_url)
        .await
        .context("opening the database")?;
    Ok(Ctx { config, store })
}

/// Reads a password from standard input: the first line, without its line ending.
pub fn read_password_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    anyhow::ensure!(!pw.is_empty(), "no password on standard input");
    Ok(pw)
}

/// The CLI's hashing pool: one worker, the configured argon2 parameters.
pub fn hash_pool(ctx: &Ctx) -> HashPool {
    HashPool::new(1, ctx.hash_params(), Default::default())
}

/// Hashes a password with the configured argon2 parameters, on a one-worker [`HashPool`].
pub async fn hash_password(ctx: &Ctx, password: &str) -> Result<String> {
    Ok(hash_pool(ctx).hash(password).await?)
}

/// Refuses a chosen password that breaks the one password rule (the portal's and LDAP's).
pub fn check_password(pw: &str, user_inputs: &[&str]) -> Result<()> {
    Ok(piratenldap_auth::password_rule::check(pw, user_inputs)?)
}

/// A 32-byte key stored as 64 hex digits (token and secret key files).
pub fn read_hex_key(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {} (made by init)", path.display()))?;
    let text = text.trim();
    anyhow::ensure!(text.len() == 64, "{} must hold 64 hex digits", path.display());
    (0..32)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .with_context(|| format!("{} must hold 64 hex digits", path.display()))
}

/// The tree's layout, with the pseudonym key when `[privacy] pseudonym_key_file` exists
/// (without it, pseudonymous services see no people: `serve` warns).
pub fn layout(config: &Config) -> Result<piratenldap_directory::Layout> {
    let layout = piratenldap_directory::Layout::new(config.base_dn.clone(), &config.organisation);
    if !config.pseudonym_key_file.exists() {
        return Ok(layout);
    }
    let bytes = read_hex_key(&config.pseudonym_key_file)?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} must hold 64 hex digits", config.pseudonym_key_file.display()))?;
    Ok(layout.with_pseudonym_key(piratenldap_core::service_pseudonym::PseudonymKey::new(key)))
}

/// Makes the pseudonym key file (0600) if it is missing; whether it did.
pub fn ensure_pseudonym_key(config: &Config) -> Result<bool> {
    if config.pseudonym_key_file.exists() {
        return Ok(false);
    }
    if let Some(dir) = config.pseudonym_key_file.parent() {
        crate::files::create_private_dir(dir)?;
    }
    crate::files::write_secret(
        &config.pseudonym_key_file,
        &format!("{}\n", piratenldap_core::sealed::SealKey::generate_hex()),
    )?;
    Ok(true)
}
