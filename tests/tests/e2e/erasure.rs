//! Issue 16, erasure (GDPR art. 17): `member erase NUMBER` removes a member who has left so
//! that nothing about them remains in any table of the database, in an LDIF export or in a
//! backup made afterwards; the CRL still lists their certificate, the audit trail keeps its
//! events under a pseudonym, and the membership administration's file does not bring them
//! back. The running server erases members `left` for longer than `[privacy]
//! erase_after_days` by itself.

use std::process::Command;
use std::time::Duration;

use piratenldap_core::ids::{MemberNumber, MembershipStatus};
use piratenldap_store::Store;
use piratenldap_tests::{Install, add_member_with_account, person, record};

use crate::certs::{base32_decode, field, issue_for_carol};
use crate::sso::{Browser, sign_in, sso_on};
use crate::suspend::in_crl;
use crate::{connect, ok_stdout};

const PW: &str = "a-long-password";
/// Everything that names carol; none of it may remain after the erasure.
const CAROL: [&str; 6] = [
    "carol",
    "77123",
    "Caroline",
    "Quastenberg",
    "Carrington",
    "caroline.q@example.org",
];

/// alice and bob (admins with TOTP), carol (member 77123, real names, e-mail, display name
/// "Lady Carrington", in `membership-admins`).
fn people(install: Install) -> Install {
    let csv = install.dir.path().join("m.csv");
    std::fs::write(
        &csv,
        "member_number,state,given_name,surname,email\n1,BY,Alice,Admin,alice@example.org\n\
         2,BY,Bob,Admin,bob@example.org\n77123,NW,Caroline,Quastenberg,caroline.q@example.org\n",
    )
    .unwrap();
    ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    for (uid, n, name) in [
        ("alice", "1", "alice"),
        ("bob", "2", "bob"),
        ("carol", "77123", "Lady Carrington"),
    ] {
        ok_stdout(&install.cli_stdin(
            &[
                "account",
                "create",
                uid,
                "--member",
                n,
                "--display-name",
                name,
                "--password-stdin",
            ],
            &format!("{PW}\n"),
        ));
    }
    for uid in ["alice", "bob"] {
        enrol_totp(&install, uid);
    }
    for (group, uid) in [("admins", "alice"), ("admins", "bob"), ("membership-admins", "carol")] {
        ok_stdout(&install.cli(&["group", "add", group, uid]));
    }
    install
}

fn enrol_totp(install: &Install, uid: &str) {
    let out = ok_stdout(&install.cli(&["account", "totp-enroll", uid]));
    let secret = base32_decode(&field(&out, "secret: "));
    ok_stdout(&install.cli(&[
        "account",
        "totp-enroll",
        uid,
        "--confirm",
        &piratenldap_tests::totp_now(&secret),
    ]));
}

/// The whole database as SQL text (every table, the throttle's and single sign-on's too).
fn sqlite_dump(install: &Install) -> String {
    let db = install.dir.path().join("data/piratenldap.db");
    let out = Command::new("sqlite3").arg(&db).arg(".dump").output().expect("sqlite3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn assert_nothing_of_carol(what: &str, text: &str) {
    for word in CAROL {
        let hit = text.lines().find(|l| l.contains(word));
        assert!(hit.is_none(), "{what} still holds {word:?}: {}", hit.unwrap_or(""));
    }
}

#[tokio::test]
async fn an_erased_member_leaves_nothing_but_a_pseudonym() {
    let install = people(Install::new());
    let (_cert_dir, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    ok_stdout(&install.cli(&["account", "app-password", "add", "carol", "--label", "mail"]));
    let letters = install.dir.path().join("letters.csv");
    ok_stdout(&install.cli(&[
        "token",
        "issue",
        "--reset",
        "--member",
        "77123",
        "--out",
        letters.to_str().unwrap(),
    ]));
    let sso = sso_on(install);
    let server = &sso.server;
    let client = sso.client("portal").await;
    sign_in(&sso, &Browser::new(), &client, &[], Some(("carol", PW, ""))).await;
    enrol_totp(&server.install, "carol");
    let wrong = connect(server)
        .await
        .simple_bind(&person("carol"), "wrong-password")
        .await
        .unwrap();
    assert_eq!(wrong.rc, 49);
    let before = sqlite_dump(&server.install);
    for word in CAROL {
        assert!(before.contains(word), "the fixture should store {word}");
    }
    assert!(
        before.contains("INSERT INTO buckets VALUES('a:uid=carol"),
        "a throttle bucket of carol"
    );

    // Only a member who has left is erased.
    let out = server.cli(&["member", "erase", "77123"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only a member who has left"));

    let left = server.install.dir.path().join("left.csv");
    std::fs::write(
        &left,
        "member_number,state,status,given_name,surname,email\n77123,NW,left,Caroline,Quastenberg,caroline.q@example.org\n",
    )
    .unwrap();
    ok_stdout(&server.cli(&["member", "import", left.to_str().unwrap()]));
    assert!(in_crl(server, &serial).await, "revoked when carol left");
    tokio::time::sleep(Duration::from_millis(1500)).await; // the server's audit sink flushes

    let out = ok_stdout(&server.cli(&["member", "erase", "77123"]));
    let pseudonym = field(&out, "pseudonym: ");
    assert!(pseudonym.starts_with("erased-") && pseudonym.len() == 19, "{out}");
    for line in [
        "account carol: deleted",
        "group memberships deleted: 1",
        "app passwords deleted: 1",
        "second factor (TOTP): deleted",
        "single sign-on sessions deleted (with codes and tokens): 1",
        "letter tokens deleted: 1",
        "kept for the CRL under the pseudonym: 1",
        "throttle entries deleted: 1",
    ] {
        assert!(out.contains(line), "{line:?} missing in:\n{out}");
    }

    let after = sqlite_dump(&server.install);
    assert_nothing_of_carol("the database", &after);
    assert!(
        after.matches(&pseudonym).count() >= 5,
        "the audit trail keeps the events under the pseudonym"
    );
    assert!(after.contains(&format!("'member.erase','{pseudonym}'")));
    assert!(after.contains(&serial), "the certificate is kept for the CRL");
    // Deleted rows are overwritten (secure_delete), so not even the file's free pages keep
    // them once the WAL is checkpointed into it.
    let db = server.install.dir.path().join("data/piratenldap.db");
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA wal_checkpoint(TRUNCATE)")
        .output()
        .unwrap();
    assert!(out.status.success());
    let raw = String::from_utf8_lossy(&std::fs::read(&db).unwrap()).to_string();
    assert_nothing_of_carol("the SQLite file's bytes", &raw);
    let ldif = ok_stdout(&server.cli(&["export", "--ldif"]));
    assert!(ldif.contains("uid=alice"), "the export works");
    assert_nothing_of_carol("the LDIF export", &ldif);
    let backup = server.install.dir.path().join("after.backup");
    ok_stdout(&server.cli(&["backup", backup.to_str().unwrap()]));
    let backup_text = String::from_utf8_lossy(&std::fs::read(&backup).unwrap()).to_string();
    assert!(backup_text.contains(&pseudonym));
    assert_nothing_of_carol("the backup", &backup_text);
    assert!(in_crl(server, &serial).await, "the CRL still lists the serial");

    // The membership administration's next file still lists carol: she stays erased.
    let out = ok_stdout(&server.cli(&["member", "import", left.to_str().unwrap()]));
    assert!(out.contains("1 row(s) skipped: those members were erased"), "{out}");
    assert_eq!(server.cli(&["member", "show", "77123"]).status.code(), Some(1));
    assert_nothing_of_carol("the database after a new import", &sqlite_dump(&server.install));
    let again = server.cli(&["member", "erase", "77123"]);
    assert_eq!(again.status.code(), Some(1), "erased already");
}

#[tokio::test]
async fn the_server_erases_members_who_left_long_ago() {
    let install = Install::new();
    add_member_with_account(&install, "erin", "55501", "BY").await;
    add_member_with_account(&install, "fritz", "55502", "BY").await;
    let store = install.store().await;
    let now = time::OffsetDateTime::now_utc();
    let left: Vec<_> = ["55501", "55502"]
        .iter()
        .map(|n| record(n, "BY", MembershipStatus::Left, false, "Nina", "Neu", None))
        .collect();
    store.import_members(&left, false, false, now).await.unwrap();
    // erin left in 2020, fritz today: only erin is past the default 90 days.
    let db = install.dir.path().join("data/piratenldap.db");
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg("UPDATE members SET status_since = '2020-01-01T00:00:00.000000Z' WHERE number = '55501'")
        .output()
        .unwrap();
    assert!(out.status.success());
    let server = install.serve();
    let store = server.install.store().await;
    let erin = MemberNumber::parse("55501").unwrap();
    let mut erased = false;
    for _ in 0..50 {
        if store.member(&erin).await.unwrap().is_none() {
            erased = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(erased, "the server erases at start and then daily");
    assert!(
        store
            .member(&MemberNumber::parse("55502").unwrap())
            .await
            .unwrap()
            .is_some()
    );
    let events = store
        .audit_by_action("member.erase", now - time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "erasure-daily");
    assert!(events[0].subject.starts_with("erased-"));
    let dump = sqlite_dump(&server.install);
    assert!(
        !dump.contains("55501") && !dump.contains("'erin'"),
        "nothing of erin remains"
    );
}
