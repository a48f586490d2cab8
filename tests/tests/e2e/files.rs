//! Files the binary leaves on disk: the database, its WAL/SHM files and the data directory are
//! private whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use piratenldap_tests::{Install, binary};

use crate::ok_stdout;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn init_makes_the_database_and_data_directory_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("piratenldap.toml");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(binary())
        .arg("--config")
        .arg(&config)
        .args(["init", "--ldap-listen", "127.0.0.1:0", "--ldaps-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    ok_stdout(&out);
    let data = dir.path().join("data");
    let db = data.join("piratenldap.db");
    let (wal, shm) = (data.join("piratenldap.db-wal"), data.join("piratenldap.db-shm"));
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&db), 0o600, "database");
    for side in [&wal, &shm] {
        if side.exists() {
            assert_eq!(mode(side), 0o600, "{}", side.display());
        }
    }
    // A database someone made readable (or an older version created) is made private when it
    // is opened; SQLite gives the WAL and SHM files the database's mode.
    for file in [&db, &wal, &shm] {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let server = Install::adopt(dir, None).serve();
    for file in [&db, &wal, &shm] {
        assert_eq!(mode(file), 0o600, "{} while serving", file.display());
    }
    drop(server);
}
