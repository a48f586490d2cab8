//! Writing files: secrets with mode 0600, created atomically enough for an installer;
//! directories made for secrets and the data directory with mode 0700; files and directories
//! that must appear complete or not at all ([`Staged`], [`StagedDir`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Writes a file readable by the owner only (keys, secrets).
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    write_with_mode(path, contents.as_bytes(), 0o600)
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
    /// Whether publishing may replace an existing target.
    replace: bool,
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
        Staged::open(target, 0o600, false)
    }

    /// Creates the temporary file for `target` with `mode`; publishing replaces what `target`
    /// holds then (`restore`).
    pub fn replacing(target: &Path, mode: u32) -> Result<Staged> {
        Staged::open(target, mode, true)
    }

    fn open(target: &Path, mode: u32, replace: bool) -> Result<Staged> {
        let temporary = temporary_name(target)?;
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&temporary)
                .with_context(|| format!("cannot write {}: creating {}", target.display(), temporary.display()))?
        };
        Ok(Staged {
            target: target.to_path_buf(),
            temporary,
            file: Some(file),
            replace,
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
        if !self.replace && std::fs::symlink_metadata(&self.target).is_ok() {
            bail!(
                "{} appeared meanwhile; the complete file is {}",
                self.target.display(),
                self.temporary.display()
            );
        }
        rename_into_place(&self.temporary, &self.target)
    }
}

/// Renames a complete staged file or directory to its target and makes the rename durable;
/// an error names where the complete data is.
fn rename_into_place(temporary: &Path, target: &Path) -> Result<()> {
    std::fs::rename(temporary, target).with_context(|| {
        format!(
            "renaming {} to {}; the complete data is in {}",
            temporary.display(),
            target.display(),
            temporary.display()
        )
    })?;
    sync_parent(target);
    Ok(())
}

/// `.NAME.partial-PID` beside `target`.
fn temporary_name(target: &Path) -> Result<PathBuf> {
    let name = target
        .file_name()
        .with_context(|| format!("{} does not name a file", target.display()))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".partial-{}", std::process::id()));
    Ok(target.with_file_name(temporary_name))
}

/// Flushes the directory holding `path` after a rename into it. The rename is done; a directory
/// that cannot be flushed (some file systems refuse fsync on directories) only weakens
/// durability across a power cut, so warn.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        eprintln!("warning: flushing {}: {e}", dir.display());
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

/// A directory of files written under a temporary name beside its final one and renamed into
/// place, so the final name only ever holds the complete set (`cert issue`). The temporary
/// directory `.NAME.partial-PID` is created mode 0700 (the set may hold a private key) and
/// removed with its files when the value is dropped unpublished.
pub struct StagedDir {
    target: PathBuf,
    temporary: PathBuf,
    keep: bool,
}

impl StagedDir {
    /// Creates the temporary directory for `target` (and `target`'s missing parents). Refuses if
    /// `target` exists and is not an empty directory, so callers learn that before changing
    /// anything.
    pub fn create(target: &Path) -> Result<StagedDir> {
        match std::fs::read_dir(target) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    bail!("{} exists and is not empty; choose a new directory", target.display());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("{} is in the way", target.display())),
        }
        let temporary = temporary_name(target)?;
        if let Some(parent) = temporary.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&temporary)
                .with_context(|| format!("cannot write {}: creating {}", target.display(), temporary.display()))?;
        }
        Ok(StagedDir {
            target: target.to_path_buf(),
            temporary,
            keep: false,
        })
    }

    /// Writes one complete file `name` with `mode` into the temporary directory and flushes it.
    pub fn write(&self, name: &str, contents: &[u8], mode: u32) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.temporary.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(contents)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Flushes the temporary directory, renames it to the target (an empty directory there is
    /// replaced) and flushes the parent. On failure the temporary directory stays (the error
    /// names it): the caller may have committed what it holds.
    pub fn publish(mut self) -> Result<()> {
        self.keep = true;
        std::fs::File::open(&self.temporary)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("flushing {}", self.temporary.display()))?;
        rename_into_place(&self.temporary, &self.target)
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.temporary);
        }
    }
}
