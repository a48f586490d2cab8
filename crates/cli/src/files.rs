//! Writing files: secrets with mode 0600, created atomically enough for an installer;
//! directories made for secrets and the data directory with mode 0700.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

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
