//! Issue 6: `backup` while the server serves, `restore` into a fresh installation on SQLite and
//! on PostgreSQL and back; every member binds with the old password and every certificate still
//! verifies (openssl against the restored CA, SASL EXTERNAL against the restored server); a
//! restore over existing data is refused without `--force` and changes nothing.

use std::path::Path;
use std::process::Command;

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Uid};
use piratenldap_core::password::hash_password;
use piratenldap_store::{NewAccount, Store};
use piratenldap_tests::{Install, Server, TEST_PARAMS, binary, person, record, totp_now};

use crate::certs::{cert_install, cert_people, field, issue_for_carol, whoami_external};
use crate::{connect, ok_stdout};

/// The password of every account made here (cert_people uses the same).
const PW: &str = "a-long-password";
/// Extra members with accounts, beyond the four of `cert_people`.
const EXTRA: usize = 40;

/// What a restored installation must still know.
struct Expected {
    /// Directory of carol's live certificate.
    live: std::path::PathBuf,
    /// Serial of her revoked one.
    revoked: String,
    /// App passwords of the admins alice and bob (TOTP is on for them).
    app_passwords: Vec<(String, String)>,
    /// dave's TOTP code for the next time step (he has TOTP on).
    dave_code: String,
}

/// cert_people plus `EXTRA` members with accounts; carol holds one live and one revoked
/// certificate; the admins have app passwords; dave has TOTP.
async fn populated(install: Install) -> (Install, Expected) {
    let install = cert_people(install);
    let mut app_passwords = Vec::new();
    for uid in ["alice", "bob"] {
        let out = ok_stdout(&install.cli(&["account", "app-password", "add", uid, "--label", "mail"]));
        app_passwords.push((uid.to_string(), field(&out, "password: ")));
    }
    let out = ok_stdout(&install.cli(&["account", "totp-enroll", "dave"]));
    let secret = crate::certs::base32_decode(&field(&out, "secret: "));
    ok_stdout(&install.cli(&["account", "totp-enroll", "dave", "--confirm", &totp_now(&secret)]));
    let next_step = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap() + 30;
    let dave_code = piratenldap_core::totp::code_at(&secret, next_step);
    let store = install.store().await;
    let now = time::OffsetDateTime::now_utc();
    let recs: Vec<_> = (0..EXTRA)
        .map(|i| {
            record(
                &format!("{}", 500 + i),
                "BE",
                MembershipStatus::Active,
                true,
                "X",
                "Y",
                None,
            )
        })
        .collect();
    store.import_members(&recs, false, false, now).await.unwrap();
    let hash = hash_password(PW, &TEST_PARAMS).unwrap();
    for i in 0..EXTRA {
        let new = NewAccount {
            uid: Uid::parse(&format!("x{i:03}")).unwrap(),
            member_number: MemberNumber::parse(&format!("{}", 500 + i)).unwrap(),
            display_name: format!("X {i}"),
            password_hash: hash.clone(),
        };
        store.create_account(new, now).await.unwrap();
    }
    let (_, revoked_text) = issue_for_carol(&install, None);
    let revoked = field(&revoked_text, "serial: ");
    ok_stdout(&install.cli(&["cert", "revoke", &revoked, "--reason", "superseded"]));
    let (live, _) = issue_for_carol(&install, None);
    let expected = Expected {
        live,
        revoked,
        app_passwords,
        dave_code,
    };
    (install, expected)
}

/// Restores `backup` into a new directory (no configuration there yet).
fn restore_fresh(backup: &Path, database_url: Option<&str>) -> Install {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("piratenldap.toml");
    let mut args = vec![
        "--config".to_string(),
        config.to_str().unwrap().into(),
        "restore".into(),
        backup.to_str().unwrap().into(),
    ];
    if let Some(url) = database_url {
        args.extend(["--database-url".into(), url.into()]);
    }
    ok_stdout(&Command::new(binary()).args(&args).output().unwrap());
    Install::adopt(
        dir,
        database_url.filter(|u| u.starts_with("postgres")).map(str::to_string),
    )
}

/// Every account binds (admins with their app passwords, dave with password and TOTP code
/// unless `code_used` says that code was used before the backup, when it must fail); carol's
/// live certificate verifies against the CA of this installation and binds by SASL EXTERNAL;
/// the revoked one is in the CRL.
async fn check_everything(server: &Server, expected: &Expected, code_used: bool) {
    let mut ldap = connect(server).await;
    for (uid, app) in &expected.app_passwords {
        let rc = ldap.simple_bind(&person(uid), app).await.unwrap().rc;
        assert_eq!(rc, 0, "{uid} does not bind with the app password after the restore");
    }
    let with_code = format!("{PW}{}", expected.dave_code);
    let rc = ldap.simple_bind(&person("dave"), &with_code).await.unwrap().rc;
    assert_eq!(
        rc,
        if code_used { 49 } else { 0 },
        "dave with TOTP (code used before: {code_used})"
    );
    let plain = std::iter::once("carol".to_string()).chain((0..EXTRA).map(|i| format!("x{i:03}")));
    for uid in plain {
        let rc = ldap.simple_bind(&person(&uid), PW).await.unwrap().rc;
        assert_eq!(rc, 0, "{uid} does not bind after the restore");
    }
    let (live, revoked) = (&expected.live, expected.revoked.as_str());
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(server.install.ca_pem())
        .arg(live.join("cert.pem"))
        .output()
        .unwrap();
    assert!(ok_stdout(&verify).contains(": OK"));
    assert_eq!(
        ok_stdout(&whoami_external(server, &server.ldaps_url(), live, false)).trim(),
        format!("dn:{}", person("carol"))
    );
    let crl = reqwest::get(format!("http://{}/ca/crl.pem", server.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let crl_file = server.install.dir.path().join("restored-crl.pem");
    std::fs::write(&crl_file, crl).unwrap();
    let text = Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in", crl_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        ok_stdout(&text).to_lowercase().contains(revoked),
        "revoked serial not in the CRL"
    );
}

#[tokio::test]
async fn backup_while_serving_restores_across_backends() {
    let (install, expected) = populated(Install::new()).await;
    let server = install.serve();
    let backup = server.install.dir.path().join("backup.jsonl");
    // Binds keep going while the backup is taken.
    let mut ldap = connect(&server).await;
    let out = server.cli(&["backup", backup.to_str().unwrap()]);
    assert_eq!(ldap.simple_bind(&person("x001"), PW).await.unwrap().rc, 0);
    ok_stdout(&out);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);

    // SQLite → a fresh SQLite installation.
    let on_sqlite = restore_fresh(&backup, None).serve();
    check_everything(&on_sqlite, &expected, false).await;

    // SQLite → PostgreSQL.
    let url = piratenldap_store::testing::fresh_postgres_database().await.unwrap();
    let on_postgres = restore_fresh(&backup, Some(&url)).serve();
    check_everything(&on_postgres, &expected, false).await;

    // … and back: a backup of the PostgreSQL installation into SQLite again.
    let again = on_postgres.install.dir.path().join("from-postgres.jsonl");
    ok_stdout(&on_postgres.cli(&["backup", again.to_str().unwrap()]));
    let back = restore_fresh(&again, Some("sqlite://data/piratenldap.db"));
    assert!(back.database_url().starts_with("sqlite://"));
    // dave's code was used on the PostgreSQL installation before this backup: still used.
    check_everything(&back.serve(), &expected, true).await;
}

#[tokio::test]
async fn restore_over_existing_data_needs_force_and_changes_nothing_without_it() {
    let (install, _) = populated(Install::new()).await;
    let backup = install.dir.path().join("backup.jsonl");
    ok_stdout(&install.cli(&["backup", backup.to_str().unwrap()]));
    let other = Install::new();
    let store = other.store().await;
    let now = time::OffsetDateTime::now_utc();
    store
        .import_members(
            &[record("77", "HH", MembershipStatus::Active, true, "O", "T", None)],
            false,
            false,
            now,
        )
        .await
        .unwrap();
    let before = store.dump().await.unwrap();
    let key_before = std::fs::read(other.dir.path().join("data/ca/ca.key")).unwrap();
    let out = other.cli(&["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--force") && err.contains("holds data"), "{err}");
    assert_eq!(
        store.dump().await.unwrap(),
        before,
        "the refused restore changed the database"
    );
    assert_eq!(
        std::fs::read(other.dir.path().join("data/ca/ca.key")).unwrap(),
        key_before
    );

    // A damaged (cut off) backup is refused before anything happens, even with --force.
    let text = std::fs::read_to_string(&backup).unwrap();
    let cut = other.dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let out = other.cli(&["restore", cut.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(store.dump().await.unwrap(), before);

    ok_stdout(&other.cli(&["restore", backup.to_str().unwrap(), "--force"]));
    assert!(
        store
            .member(&MemberNumber::parse("77").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.account(&Uid::parse("carol").unwrap()).await.unwrap().is_some());
    assert_ne!(
        std::fs::read(other.dir.path().join("data/ca/ca.key")).unwrap(),
        key_before
    );
}

#[test]
fn a_restore_writes_key_files_private_whatever_the_backup_says() {
    let install = cert_install();
    ok_stdout(&install.cli(&["cert", "ca", "rollover"]));
    let backup = install.dir.path().join("backup.jsonl");
    ok_stdout(&install.cli(&["backup", backup.to_str().unwrap()]));
    // A backup edited by hand or by a tool that calls every file public.
    let edited: String = std::fs::read_to_string(&backup)
        .unwrap()
        .lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(file) = record.get_mut("file") {
                file["secret"] = false.into();
            }
            format!("{record}\n")
        })
        .collect();
    std::fs::write(&backup, edited).unwrap();
    let restored = restore_fresh(&backup, None);
    use std::os::unix::fs::PermissionsExt;
    let data = restored.dir.path().join("data");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let retired: Vec<_> = std::fs::read_dir(data.join("ca/retired"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect();
    assert_eq!(retired.len(), 1, "the retired CA's key was not restored");
    for key in [data.join("ca/ca.key")].iter().chain(&retired) {
        assert_eq!(mode(key), 0o600, "{} is not private", key.display());
    }
    assert_eq!(mode(&data.join("ca/retired")), 0o700);
}
