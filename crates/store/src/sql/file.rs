//! The SQLite database on disk: it holds password hashes, member data and the audit trail, so
//! it is private to the user the service runs as, whatever that user's umask. The file is
//! created mode 0600 before SQLite opens it (SQLite would create it 0644 under umask 022), and
//! an existing database, WAL or SHM file that others may read is tightened on every open. SQLite
//! creates the WAL and SHM files with the mode of the database file, so they stay 0600 too.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// The files SQLite keeps for a database: the database and its WAL and SHM files.
fn files_of(database: &Path) -> [PathBuf; 3] {
    let with_suffix = |suffix: &str| {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [database.to_path_buf(), with_suffix("-wal"), with_suffix("-shm")]
}

/// Makes `database` private before SQLite opens it: creates it empty with mode 0600 when it is
/// missing and `create` is set (SQLite turns an empty file into a database), and takes group and
/// other permissions away from it and its WAL and SHM files where they have any.
pub(super) fn make_private(database: &Path, create: bool) -> Result<()> {
    if create {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(database)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::File {
                    action: "creating the database",
                    path: database.to_path_buf(),
                    source,
                });
            }
        }
    }
    for path in files_of(database) {
        let mode = match std::fs::metadata(&path) {
            Ok(meta) => meta.permissions().mode(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(StoreError::File {
                    action: "reading the mode of",
                    path,
                    source,
                });
            }
        };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o700)).map_err(|source| {
                StoreError::File {
                    action: "making private (chmod 600)",
                    path,
                    source,
                }
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_the_database_private_and_tightens_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        make_private(&db, false).unwrap();
        assert!(!db.exists(), "created without create");
        make_private(&db, true).unwrap();
        assert_eq!(mode(&db), 0o600);
        let [_, wal, shm] = files_of(&db);
        for path in [&db, &wal, &shm] {
            std::fs::write(path, b"").unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o664)).unwrap();
        }
        make_private(&db, true).unwrap();
        for path in [&db, &wal, &shm] {
            assert_eq!(mode(path), 0o600, "{}", path.display());
        }
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).unwrap();
        make_private(&db, true).unwrap();
        assert_eq!(mode(&db), 0o400, "a read-only database stays read-only");
    }
}
