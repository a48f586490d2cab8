//! Writing files: secrets with mode 0600, created atomically enough for an installer;
//! directories made for secrets and the data directory with mode 0700; files that must appear
//! complete or not at all ([`Staged`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Writes a file readable by the owner only (keys, secrets).
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    write_with_mode(path, contents.as_bytes(), 0o600)
}

/// Writes binary data readable by the owner only (PKCS#12 bundles).
pub fn write_secret_bytes(path: &Path, contents: &[u8]) -> Result<()> {
    write_with_mode(path, contents, 0o600)
}

/// Writes a file readable by everyone (certificates, configuration).
pub fn write_public(path: &Path, contents: &str) -> Result<()> {
    write_with_mode(path, contents.as_bytes(), 0o644)
}

/// Creates `dir` and any missing parents with mode 0700 (whatever the umask); an existing
/// directory is left as it is.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if mode & 0o077 == 0 {
            create_private_dir(dir)?;
        } else {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A file written under a temporary name beside its final one and renamed into place, so the
/// final name only ever holds a complete file. The temporary file is created mode 0600 with
/// `create_new` as `.NAME.partial-PID`; it is removed when the value is dropped unpublished
/// (any error before [`Staged::publish`]).
pub struct Staged {
    target: PathBuf,
    temporary: PathBuf,
    file: Option<std::fs::File>,
    /// Whether dropping leaves the temporary file alone (once publishing starts, it may be the
    /// only copy of something already committed elsewhere).
    keep: bool,
}

impl Staged {
    /// Creates the temporary file for `target`. Refuses if `target` exists; fails if its
    /// directory is missing or not writable, so callers learn that before changing anything.
    pub fn create(target: &Path) -> Result<Staged> {
        if std::fs::symlink_metadata(target).is_ok() {
            bail!("{} exists already; choose a new file", target.display());
        }
        let name = target
            .file_name()
            .with_context(|| format!("{} does not name a file", target.display()))?;
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(name);
        temporary_name.push(format!(".partial-{}", std::process::id()));
        let temporary = target.with_file_name(temporary_name);
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)
                .with_context(|| format!("cannot write {}: creating {}", target.display(), temporary.display()))?
        };
        Ok(Staged {
            target: target.to_path_buf(),
            temporary,
            file: Some(file),
            keep: false,
        })
    }

    /// The temporary file's path.
    pub fn temporary(&self) -> &Path {
        &self.temporary
    }

    /// Writes the whole contents and flushes them to disk.
    pub fn write_synced(&mut self, contents: &[u8]) -> Result<()> {
        let file = self
            .file
            .as_mut()
            .with_context(|| format!("{} is written already", self.temporary.display()))?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", self.temporary.display()))?;
        self.file = None;
        Ok(())
    }

    /// Renames the temporary file to the target and flushes the directory. On failure the
    /// temporary file stays (the error names it): the caller may have committed what it holds.
    pub fn publish(mut self) -> Result<()> {
        self.keep = true;
        if std::fs::symlink_metadata(&self.target).is_ok() {
            bail!(
                "{} appeared meanwhile; the complete file is {}",
                self.target.display(),
                self.temporary.display()
            );
        }
        std::fs::rename(&self.temporary, &self.target).with_context(|| {
            format!(
                "renaming {} to {}; the complete file is {}",
                self.temporary.display(),
                self.target.display(),
                self.temporary.display()
            )
        })?;
        // The rename is done; a directory that cannot be flushed (some file systems refuse
        // fsync on directories) only weakens durability across a power cut, so warn.
        let dir = match self.target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            eprintln!("warning: flushing {}: {e}", dir.display());
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.keep {
            self.file = None;
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}
