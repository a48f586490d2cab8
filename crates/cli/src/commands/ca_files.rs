//! The CA's files in `[ca] dir`: the current CA (`ca.pem`, `ca.key`: it signs new client and
//! server certificates), the CAs a rollover retired (`retired/ca-<when>.pem` and `.key`: kept
//! while client certificates they issued may still be in use, each signs its own CRL), and the
//! trust bundle `trusted.pem` (every CA whose certificates count: served at `/ca/cert.pem`, the
//! file nginx's `ssl_client_certificate` names, the names LDAPS and HTTPS ask clients for).
//!
//! A rollover ([`rollover`]) survives a kill at any point: the old pair is copied to `retired/`
//! first; the new pair is written complete as `ca.key.next` and `ca.pem.next` and renamed key
//! first. Whoever loads the CA next ([`current`]) finishes a rollover that renamed the key but
//! not the certificate, and discards one that renamed neither, under an exclusive lock of
//! `.lock` (readers take it shared), so no process ever signs with a key and a certificate that
//! do not belong together ([`piratenldap_ca::key_matches`] is checked at every load as well).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use piratenldap_ca::{Described, Issued};
use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use crate::files::{Staged, create_private_dir};

/// The subdirectory of retired CAs.
pub const RETIRED_DIR: &str = "retired";
/// The trust bundle's file name.
pub const TRUSTED: &str = "trusted.pem";
/// A CA file is a few KiB; anything larger is not one (the files are read by the server).
const MAX_FILE_BYTES: u64 = 64 * 1024;
/// When a CA was retired, in its file name (`ca-20261202T032640.123456Z`), to the microsecond
/// as the store records when a certificate was issued.
const RETIRED_AT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second].[subsecond digits:6]Z");

/// A CA retired by a rollover.
pub struct RetiredCa {
    /// Its certificate and key.
    pub ca: Issued,
    /// Its certificate, described.
    pub described: Described,
    /// When the rollover retired it: client certificates issued before may be its.
    pub retired_at: OffsetDateTime,
    /// `retired/ca-<when>` without the extension.
    pub stem: PathBuf,
}

/// `stem.ext` (not `Path::with_extension`: the stem's time has a dot of its own).
fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

fn read(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = File::open(path).with_context(|| format!("reading the CA file {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the CA file {}", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "{} is larger than {MAX_FILE_BYTES} bytes: not a CA file",
            path.display()
        );
    }
    Ok(text)
}

/// The lock of `dir`, shared (`exclusive` false) or exclusive; released when dropped.
fn lock(dir: &Path, exclusive: bool) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if exclusive { file.lock() } else { file.lock_shared() }.with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

fn next_key(dir: &Path) -> PathBuf {
    dir.join("ca.key.next")
}

fn next_cert(dir: &Path) -> PathBuf {
    dir.join("ca.pem.next")
}

/// Finishes or discards an interrupted rollover. Caller holds the exclusive lock.
fn finish_rollover(dir: &Path) -> Result<()> {
    let (key, cert) = (next_key(dir), next_cert(dir));
    match (key.exists(), cert.exists()) {
        (false, false) => {}
        (false, true) => {
            // The key was switched: the certificate follows.
            std::fs::rename(&cert, dir.join("ca.pem"))
                .with_context(|| format!("finishing the rollover in {}", dir.display()))?;
            eprintln!(
                "note: finished the CA rollover that was interrupted in {}",
                dir.display()
            );
        }
        (true, _) => {
            // Nothing was switched: the old CA stays current.
            for f in [&key, &cert] {
                match std::fs::remove_file(f) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("removing {}", f.display()));
                    }
                    _ => {}
                }
            }
            eprintln!(
                "note: discarded a CA rollover that was interrupted before the switch in {}",
                dir.display()
            );
        }
    }
    Ok(())
}

fn read_pair(dir: &Path) -> Result<Issued> {
    let ca = Issued {
        cert_pem: read(&dir.join("ca.pem"))?,
        key_pem: read(&dir.join("ca.key"))?,
    };
    if !piratenldap_ca::key_matches(&ca).with_context(|| format!("reading the CA in {}", dir.display()))? {
        bail!(
            "{}: ca.key does not belong to ca.pem; restore the pair from a backup",
            dir.display()
        );
    }
    Ok(ca)
}

/// The current CA (finishing an interrupted rollover first).
pub fn current(dir: &Path) -> Result<Issued> {
    current_held(dir).map(|(ca, _)| ca)
}

/// A shared hold on the CA files: no rollover happens while it lives.
pub struct Held(#[allow(dead_code)] File);

/// The current CA, held: `cert issue` keeps the hold until the certificate is recorded, so a
/// certificate the old CA signed is always recorded before a rollover's time (which is how
/// `cert ca` tells whose certificates are whose).
pub fn current_held(dir: &Path) -> Result<(Issued, Held)> {
    if next_key(dir).exists() || next_cert(dir).exists() {
        let _lock = lock(dir, true)?;
        finish_rollover(dir)?;
    }
    let held = lock(dir, false)?;
    Ok((read_pair(dir)?, Held(held)))
}

/// The retired CAs, oldest first; the current CA is never among them (an interrupted rollover
/// can leave its copy in `retired/`).
pub fn retired(dir: &Path) -> Result<Vec<RetiredCa>> {
    let current = piratenldap_ca::describe(&read(&dir.join("ca.pem"))?)?.fingerprint;
    let folder = dir.join(RETIRED_DIR);
    let entries = match std::fs::read_dir(&folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", folder.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(when) = name.to_str().and_then(|n| n.strip_prefix("ca-")?.strip_suffix(".pem")) else {
            continue;
        };
        let Ok(retired_at) = time::PrimitiveDateTime::parse(when, RETIRED_AT) else {
            continue;
        };
        let stem = folder.join(format!("ca-{when}"));
        let ca = Issued {
            cert_pem: read(&with_ext(&stem, "pem"))?,
            key_pem: read(&with_ext(&stem, "key"))?,
        };
        let described = piratenldap_ca::describe(&ca.cert_pem)
            .with_context(|| format!("reading the retired CA {}", with_ext(&stem, "pem").display()))?;
        if described.fingerprint != current {
            found.push(RetiredCa {
                ca,
                described,
                retired_at: retired_at.assume_utc(),
                stem,
            });
        }
    }
    found.sort_by_key(|r| r.retired_at);
    Ok(found)
}

/// Every CA that signs a CRL at `now`: the current one and the retired ones that have not
/// ended (each CA's certificates are checked against its own CRL).
pub fn signers(dir: &Path, now: OffsetDateTime) -> Result<Vec<Issued>> {
    let mut all = vec![current(dir)?];
    all.extend(
        retired(dir)?
            .into_iter()
            .filter(|r| r.described.not_after > now)
            .map(|r| r.ca),
    );
    Ok(all)
}

/// The subjects of the current and retired CAs (a server certificate one of them issued is
/// renewed by the current one).
pub fn subjects(dir: &Path) -> Result<Vec<String>> {
    let mut all = vec![piratenldap_ca::describe(&current(dir)?.cert_pem)?.subject];
    all.extend(retired(dir)?.into_iter().map(|r| r.described.subject));
    Ok(all)
}

/// The trust bundle: the current CA's certificate, then those of retired CAs that have not
/// ended.
pub fn trusted_pem(dir: &Path, now: OffsetDateTime) -> Result<String> {
    let mut pem = current(dir)?.cert_pem;
    for r in retired(dir)?.into_iter().filter(|r| r.described.not_after > now) {
        if !pem.ends_with('\n') {
            pem.push('\n');
        }
        pem.push_str(&r.ca.cert_pem);
    }
    Ok(pem)
}

/// Writes `trusted.pem` (staged and renamed) when it is missing or differs; returns the bundle.
pub fn write_trusted(dir: &Path, now: OffsetDateTime) -> Result<String> {
    let pem = trusted_pem(dir, now)?;
    let path = dir.join(TRUSTED);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(pem.as_str()) {
        let mut staged = Staged::replacing(&path, 0o644)?;
        staged.write_synced(pem.as_bytes())?;
        staged.publish()?;
    }
    Ok(pem)
}

/// Writes `text` to `path` complete or not at all (a new file).
fn write_new(path: &Path, text: &str, mode: u32) -> Result<()> {
    let mut staged = Staged::replacing(path, mode)?;
    staged.write_synced(text.as_bytes())?;
    staged.publish()
}

/// `cert ca rollover`: a successor CA becomes current, the old one is retired beside it.
/// Returns the old and the new CA, described, and the time of the switch.
pub fn rollover(dir: &Path, organisation: &str) -> Result<(Described, Described, OffsetDateTime)> {
    let _lock = lock(dir, true)?;
    // Taken under the lock: every certificate the old CA signed is recorded before it.
    let now = OffsetDateTime::now_utc();
    finish_rollover(dir)?;
    let old = read_pair(dir)?;
    // Whose certificates are whose is told by time: a clock behind the last rollover would
    // count the next CA's certificates as an older one's.
    if let Some(last) = retired(dir)?.last()
        && now <= last.retired_at
    {
        bail!(
            "the clock ({now}) is behind the last rollover ({}); set the clock right first",
            last.retired_at
        );
    }
    let new = piratenldap_ca::create_successor_ca(organisation, now)?;
    let folder = dir.join(RETIRED_DIR);
    create_private_dir(&folder)?;
    let stem = folder.join(format!("ca-{}", now.format(RETIRED_AT)?));
    if with_ext(&stem, "pem").exists() {
        bail!("{} exists: try again", with_ext(&stem, "pem").display());
    }
    // 1. The old pair is kept (the key first: a retired certificate is only listed with it).
    write_new(&with_ext(&stem, "key"), &old.key_pem, 0o600)?;
    write_new(&with_ext(&stem, "pem"), &old.cert_pem, 0o644)?;
    // 2. The new pair, complete beside the current one.
    write_new(&next_key(dir), &new.key_pem, 0o600)?;
    write_new(&next_cert(dir), &new.cert_pem, 0o644)?;
    // 3. The switch: the key, then the certificate ([`current`] finishes it after a kill).
    std::fs::rename(next_key(dir), dir.join("ca.key")).context("switching ca.key")?;
    std::fs::rename(next_cert(dir), dir.join("ca.pem")).context("switching ca.pem")?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    drop(_lock);
    write_trusted(dir, now)?;
    Ok((
        piratenldap_ca::describe(&old.cert_pem)?,
        piratenldap_ca::describe(&new.cert_pem)?,
        now,
    ))
}

/// Removes a retired CA's files and rewrites the trust bundle: its certificates are no longer
/// accepted anywhere, and its CRL is no longer signed.
pub fn remove_retired(dir: &Path, ca: &RetiredCa, now: OffsetDateTime) -> Result<()> {
    {
        let _lock = lock(dir, true)?;
        for ext in ["pem", "key"] {
            let path = with_ext(&ca.stem, ext);
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    write_trusted(dir, now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(dir: &Path) -> Issued {
        let ca = piratenldap_ca::create_ca("Test Party", OffsetDateTime::now_utc()).unwrap();
        std::fs::write(dir.join("ca.pem"), &ca.cert_pem).unwrap();
        std::fs::write(dir.join("ca.key"), &ca.key_pem).unwrap();
        ca
    }

    fn certs_in(pem: &str) -> usize {
        pem.matches("BEGIN CERTIFICATE").count()
    }

    #[test]
    fn a_rollover_makes_a_new_ca_current_and_keeps_the_old_one_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = installed(dir);
        let now = OffsetDateTime::now_utc();
        let (was, new, _) = rollover(dir, "Test Party").unwrap();
        assert_eq!(
            was.fingerprint,
            piratenldap_ca::describe(&old.cert_pem).unwrap().fingerprint
        );
        let current = current(dir).unwrap();
        assert_eq!(
            piratenldap_ca::describe(&current.cert_pem).unwrap().fingerprint,
            new.fingerprint
        );
        let retired = retired(dir).unwrap();
        assert_eq!(retired.len(), 1);
        assert_eq!(retired[0].described.fingerprint, was.fingerprint);
        assert_eq!(
            retired[0].ca.key_pem, old.key_pem,
            "the old key is kept to sign its CRL"
        );
        let trusted = std::fs::read_to_string(dir.join(TRUSTED)).unwrap();
        assert_eq!(certs_in(&trusted), 2);
        assert!(trusted.starts_with(&current.cert_pem), "the current CA comes first");
        assert_eq!(signers(dir, now).unwrap().len(), 2);
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.join("ca.key")), 0o600);
        assert_eq!(mode(with_ext(&retired[0].stem, "key")), 0o600);
        assert_eq!(mode(dir.join(RETIRED_DIR)), 0o700);
        // Once retired, the old CA signs and counts no more.
        remove_retired(dir, &retired[0], now).unwrap();
        assert!(super::retired(dir).unwrap().is_empty());
        assert_eq!(certs_in(&std::fs::read_to_string(dir.join(TRUSTED)).unwrap()), 1);
        assert_eq!(signers(dir, now).unwrap().len(), 1);
    }

    #[test]
    fn a_rollover_with_the_clock_behind_the_last_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = installed(dir);
        std::fs::create_dir(dir.join(RETIRED_DIR)).unwrap();
        let other = piratenldap_ca::create_ca("Test Party", OffsetDateTime::now_utc()).unwrap();
        std::fs::write(dir.join("retired/ca-29991231T000000.000000Z.pem"), &other.cert_pem).unwrap();
        std::fs::write(dir.join("retired/ca-29991231T000000.000000Z.key"), &other.key_pem).unwrap();
        let err = format!("{:#}", rollover(dir, "Test Party").err().unwrap());
        assert!(err.contains("behind the last rollover"), "{err}");
        assert_eq!(current(dir).unwrap().cert_pem, old.cert_pem, "the CA changed");
    }

    #[test]
    fn a_rollover_killed_after_the_key_switch_is_finished_by_the_next_load() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        installed(dir);
        let new = piratenldap_ca::create_successor_ca("Test Party", OffsetDateTime::now_utc()).unwrap();
        // As a kill between the two renames leaves it: the new key, the old certificate.
        std::fs::write(next_cert(dir), &new.cert_pem).unwrap();
        std::fs::write(dir.join("ca.key"), &new.key_pem).unwrap();
        let loaded = current(dir).unwrap();
        assert_eq!(loaded.cert_pem, new.cert_pem);
        assert_eq!(loaded.key_pem, new.key_pem);
        assert!(!next_cert(dir).exists());
    }

    #[test]
    fn a_rollover_killed_before_the_switch_is_discarded() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = installed(dir);
        let new = piratenldap_ca::create_successor_ca("Test Party", OffsetDateTime::now_utc()).unwrap();
        std::fs::write(next_key(dir), &new.key_pem).unwrap();
        std::fs::write(next_cert(dir), &new.cert_pem).unwrap();
        // Its copy of the old CA in retired/ is not a retired CA: it is the current one.
        std::fs::create_dir(dir.join(RETIRED_DIR)).unwrap();
        std::fs::write(dir.join("retired/ca-20261202T000000.000000Z.pem"), &old.cert_pem).unwrap();
        std::fs::write(dir.join("retired/ca-20261202T000000.000000Z.key"), &old.key_pem).unwrap();
        let loaded = current(dir).unwrap();
        assert_eq!(loaded.cert_pem, old.cert_pem);
        assert!(!next_key(dir).exists() && !next_cert(dir).exists());
        assert!(retired(dir).unwrap().is_empty());
        assert_eq!(certs_in(&trusted_pem(dir, OffsetDateTime::now_utc()).unwrap()), 1);
    }

    #[test]
    fn a_retired_file_that_is_not_a_certificate_is_named_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        installed(dir);
        std::fs::create_dir(dir.join(RETIRED_DIR)).unwrap();
        std::fs::write(dir.join("retired/ca-20261202T000000.000000Z.pem"), "not a certificate").unwrap();
        std::fs::write(dir.join("retired/ca-20261202T000000.000000Z.key"), "not a key").unwrap();
        let err = format!("{:#}", trusted_pem(dir, OffsetDateTime::now_utc()).unwrap_err());
        assert!(err.contains("ca-20261202T000000.000000Z.pem"), "{err}");
    }

    #[test]
    fn a_key_and_certificate_that_do_not_belong_together_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        installed(dir);
        let other = piratenldap_ca::create_ca("Test Party", OffsetDateTime::now_utc()).unwrap();
        std::fs::write(dir.join("ca.key"), &other.key_pem).unwrap();
        let err = format!("{:#}", current(dir).unwrap_err());
        assert!(err.contains("does not belong"), "{err}");
        // An oversized file is not read whole.
        std::fs::write(dir.join("ca.pem"), vec![b'x'; 100_000]).unwrap();
        assert!(format!("{:#}", current(dir).unwrap_err()).contains("larger than"));
    }
}
