//! `backup FILE` and `restore FILE`: a consistent copy of the whole state in piratenldap's own
//! portable format, so a backup of an SQLite installation restores into PostgreSQL and back.
//!
//! The format is JSON Lines, one record per line: a header (format name, version, creation
//! time, source backend), the configuration file's text, every key file (CA key and
//! certificate, TLS key and certificate, token and secret keys), one line per table with its
//! column names and rows, and an end record with the counts, so a truncated file is refused.
//! The tables are read in one consistent transaction while the server keeps serving. The file
//! holds the CA key and password hashes, so it is written with mode 0600.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};
use piratenldap_core::config::Config;
use piratenldap_store::TableDump;
use serde::{Deserialize, Serialize};

use super::now;
use crate::context::{create_database_dir, load_config, parse_config};
use crate::files::Staged;

const FORMAT: &str = "piratenldap-backup";
const VERSION: u32 = 1;

/// One line of a backup file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Record {
    Header {
        format: String,
        version: u32,
        created: String,
        backend: String,
    },
    Config {
        text: String,
    },
    File {
        name: String,
        secret: bool,
        text: String,
    },
    Table(TableDump),
    End {
        tables: usize,
        rows: usize,
    },
}

/// The prefix of single sign-on key files (`oidc/<file>` in `oidc.keys_dir`) in a backup.
const OIDC_PREFIX: &str = "oidc/";
/// The prefix of retired CAs' files (`ca-retired/<file>` in `[ca] dir/retired`) in a backup.
const RETIRED_CA_PREFIX: &str = "ca-retired/";

/// The key files of an installation, by the name a backup gives them: the fixed ones, every
/// file of `oidc.keys_dir` (signing keys and the pairwise key), and the CAs a rollover retired.
fn key_files(config: &Config) -> Vec<(String, PathBuf, bool)> {
    let mut files: Vec<(String, PathBuf, bool)> = [
        ("ca.cert", config.ca_dir.join("ca.pem"), false),
        ("ca.key", config.ca_dir.join("ca.key"), true),
        ("tls.cert", config.tls_cert.clone(), false),
        ("tls.key", config.tls_key.clone(), true),
        ("tokens.key", config.token_key_file.clone(), true),
        ("secrets.key", config.secret_key_file.clone(), true),
        ("pseudonym.key", config.pseudonym_key_file.clone(), true),
    ]
    .into_iter()
    .map(|(n, p, s)| (n.to_string(), p, s))
    .collect();
    for n in names_in(&config.oidc.keys_dir, oidc_key_name) {
        files.push((format!("{OIDC_PREFIX}{n}"), config.oidc.keys_dir.join(&n), true));
    }
    let retired = config.ca_dir.join(super::ca_files::RETIRED_DIR);
    for n in names_in(&retired, retired_ca_name) {
        let secret = n.ends_with(".key");
        files.push((format!("{RETIRED_CA_PREFIX}{n}"), retired.join(&n), secret));
    }
    files
}

/// The names in `dir` that `keep` accepts, sorted; none when `dir` is missing.
fn names_in(dir: &Path, keep: fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names
}

/// Whether `name` is a retired CA's file name (`ca-<when>.pem` or `.key`): a plain file name.
fn retired_ca_name(name: &str) -> bool {
    name.starts_with("ca-")
        && (name.ends_with(".pem") || name.ends_with(".key"))
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Whether `name` is a single sign-on key file's name (a signing key or the pairwise key):
/// a plain file name, never a path.
fn oidc_key_name(name: &str) -> bool {
    (name == "pairwise.key" || name.ends_with(".pem"))
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Where a file of the backup goes in the installation `config` describes.
fn target_of(config: &Config, known: &[(String, PathBuf, bool)], name: &str) -> Option<PathBuf> {
    if let Some(file) = name.strip_prefix(OIDC_PREFIX) {
        return oidc_key_name(file).then(|| config.oidc.keys_dir.join(file));
    }
    if let Some(file) = name.strip_prefix(RETIRED_CA_PREFIX) {
        return retired_ca_name(file).then(|| config.ca_dir.join(super::ca_files::RETIRED_DIR).join(file));
    }
    known.iter().find(|(n, _, _)| n == name).map(|(_, p, _)| p.clone())
}

/// Whether the file `name` of a backup holds a secret, by its name: a key file is written
/// private whatever the backup's own `secret` flag says (a hand-edited backup does not make a
/// CA key world-readable).
fn is_secret(known: &[(String, PathBuf, bool)], name: &str) -> bool {
    if name.starts_with(OIDC_PREFIX) {
        return true;
    }
    if let Some(file) = name.strip_prefix(RETIRED_CA_PREFIX) {
        return file.ends_with(".key");
    }
    known.iter().any(|(n, _, secret)| n == name && *secret)
}

/// Runs `backup FILE`.
pub async fn backup(config_path: &Path, file: &Path) -> Result<()> {
    let ctx = crate::context::open(config_path).await?;
    let config_text =
        std::fs::read_to_string(config_path).with_context(|| format!("reading {}", config_path.display()))?;
    let mut records = vec![
        Record::Header {
            format: FORMAT.into(),
            version: VERSION,
            created: now().format(&time::format_description::well_known::Rfc3339)?,
            backend: backend_name(&ctx.config.database_url).into(),
        },
        Record::Config { text: config_text },
    ];
    for (name, path, secret) in key_files(&ctx.config) {
        match std::fs::read_to_string(&path) {
            Ok(text) => records.push(Record::File { name, secret, text }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    let tables = ctx.store.dump().await.context("reading the database")?;
    let (count, rows) = (tables.len(), tables.iter().map(|t| t.rows.len()).sum());
    records.extend(tables.into_iter().map(Record::Table));
    records.push(Record::End { tables: count, rows });

    // Written next to the target and renamed, so FILE is either the old or the complete new one.
    let tmp = file.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    {
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        let mut out = std::io::BufWriter::new(f);
        for record in &records {
            serde_json::to_writer(&mut out, record)?;
            out.write_all(b"\n")?;
        }
        out.into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()
            .with_context(|| format!("writing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))?;
    // What `/metrics` reads as the last backup (the alert "backup older than a day").
    let written = piratenldap_store::AuditEvent {
        at: super::now(),
        actor: super::actor(),
        action: "backup.written".into(),
        subject: "backup".into(),
        detail: format!("{count} tables, {rows} rows"),
    };
    if let Err(e) = ctx.store.append_audit(&[written]).await {
        eprintln!("warning: the backup is complete, but recording it in the audit trail failed: {e}");
    }
    println!(
        "Backed up {count} tables ({rows} rows) and the key files to {} (mode 0600: it holds the CA key).",
        file.display()
    );
    Ok(())
}

fn backend_name(url: &str) -> &'static str {
    match piratenldap_store::Backend::of_url(url) {
        Some(piratenldap_store::Backend::Postgres) => "postgres",
        _ => "sqlite",
    }
}

/// A backup file, read and checked completely before anything is changed.
struct Backup {
    config: String,
    files: Vec<(String, bool, String)>,
    tables: Vec<TableDump>,
}

fn read_backup(file: &Path) -> Result<Backup> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let (mut config, mut files, mut tables, mut end) = (None, Vec::new(), Vec::new(), None);
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        let record: Record = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}: not a piratenldap backup record", file.display(), i + 1))?;
        match (i, record) {
            (0, Record::Header { format, version, .. }) => {
                ensure!(format == FORMAT, "{} is not a piratenldap backup", file.display());
                ensure!(
                    version == VERSION,
                    "{} is backup format version {version}; this piratenldap reads version {VERSION}",
                    file.display()
                );
            }
            (0, _) => bail!("{} line 1: not a piratenldap backup header", file.display()),
            (_, Record::Header { .. }) => bail!("{} line {}: a second header", file.display(), i + 1),
            (_, Record::Config { text }) => config = Some(text),
            (_, Record::File { name, secret, text }) => files.push((name, secret, text)),
            (_, Record::Table(t)) => tables.push(t),
            (_, Record::End { tables, rows }) => end = Some((tables, rows)),
        }
    }
    let Some((count, rows)) = end else {
        bail!(
            "{} is incomplete (no end record): the backup was cut off",
            file.display()
        );
    };
    ensure!(
        count == tables.len() && rows == tables.iter().map(|t| t.rows.len()).sum::<usize>(),
        "{} is damaged: its end record does not match its tables",
        file.display()
    );
    let config = config.with_context(|| format!("{} holds no configuration", file.display()))?;
    Ok(Backup { config, files, tables })
}

/// Replaces the `url` line of the `[database]` table.
fn with_database_url(config: &str, url: &str) -> Result<String> {
    let mut in_database = false;
    let mut replaced = false;
    let mut out = String::with_capacity(config.len());
    for line in config.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_database = trimmed.starts_with("[database]");
        }
        if in_database && !replaced && trimmed.starts_with("url") {
            out.push_str(&format!("url = {}", toml::Value::String(url.to_string())));
            replaced = true;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    ensure!(replaced, "the backup's configuration has no [database] url to replace");
    Ok(out)
}

/// Runs `restore FILE [--force] [--database-url URL]`.
pub async fn restore(config_path: &Path, file: &Path, force: bool, database_url: Option<&str>) -> Result<()> {
    let backup = read_backup(file)?;
    let new_config = !config_path.exists();
    let (config, config_text) = if new_config {
        let text = match database_url {
            Some(url) => with_database_url(&backup.config, url)?,
            None => backup.config.clone(),
        };
        let config = parse_config(&text, config_path).context("the configuration in the backup is not valid here")?;
        (config, Some(text))
    } else {
        ensure!(
            database_url.is_none(),
            "--database-url is for restoring without a configuration; edit {} instead",
            config_path.display()
        );
        (load_config(config_path)?, None)
    };
    create_database_dir(&config)?;
    let store = piratenldap_store::connect(&config.database_url)
        .await
        .context("opening the database")?;

    // Refuse to destroy anything without --force: data in the database, key files that differ.
    let paths = key_files(&config);
    let mut in_the_way = Vec::new();
    if store.holds_data().await? {
        in_the_way.push(format!("the database {} holds data", redact_url(&config.database_url)));
    }
    for (name, _, text) in &backup.files {
        let Some(path) = target_of(&config, &paths, name) else {
            bail!("{} holds an unknown file {name:?}", file.display());
        };
        if std::fs::read_to_string(&path).is_ok_and(|old| old != *text) {
            in_the_way.push(format!("{} exists", path.display()));
        }
    }
    if !in_the_way.is_empty() && !force {
        bail!(
            "restore would overwrite: {}. Nothing was changed; restore into a fresh installation or use --force",
            in_the_way.join(", ")
        );
    }
    // Every file complete under a temporary name first, the tables in one transaction, then
    // the renames, the configuration last: a kill before the commit leaves the database as it
    // was (and no configuration in a fresh installation), one after it the complete files under
    // their temporary names (ARCHITECTURE.md Decisions).
    let mut staged = Vec::new();
    for (name, secret, text) in &backup.files {
        if let Some(path) = target_of(&config, &paths, name) {
            staged.push(stage_file(&path, text, *secret || is_secret(&paths, name))?);
        }
    }
    if let Some(text) = &config_text {
        staged.push(stage_file(config_path, text, false)?);
    }
    store.load(&backup.tables).await.context("loading the tables")?;
    for file in staged {
        file.publish()?;
    }
    let rows: usize = backup.tables.iter().map(|t| t.rows.len()).sum();
    println!(
        "Restored {} tables ({rows} rows) and {} key files into {}{}.",
        backup.tables.len(),
        backup.files.len(),
        redact_url(&config.database_url),
        if new_config {
            ", with the backup's configuration"
        } else {
            ""
        }
    );
    Ok(())
}

/// Writes `text` complete and flushed beside `path` (private with its directory for a secret),
/// to replace `path` when published.
fn stage_file(path: &Path, text: &str, secret: bool) -> Result<Staged> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if secret {
            crate::files::create_private_dir(dir)?;
        } else {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let mut file = Staged::replacing(path, if secret { 0o600 } else { 0o644 })?;
    file.write_synced(text.as_bytes())?;
    Ok(file)
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
