//! The command line: member import (good, spreadsheet-style, bad), config validation, accounts,
//! groups and services, each checked through the CLI and, where it matters, over LDAP.

use ldap3::Scope;
use piratenldap_tests::{BASE, Install, person};

use crate::{bound, connect, ok_stdout, search};

fn members_listed(install: &Install) -> String {
    ok_stdout(&install.cli(&["member", "list"]))
}

#[test]
fn import_good_file_then_full_sync() {
    let install = Install::new();
    let csv = install.dir.path().join("members.csv");
    std::fs::write(&csv, "member_number,state,status,voting_right,given_name,surname,email,joined\n1,BY,active,true,Anna,Alt,anna@example.org,2020-01-31\n2,NW,active,false,Ben,Bau,,\n").unwrap();
    let out = ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    assert!(out.contains("2 were added"), "{out}");
    let shown = ok_stdout(&install.cli(&["member", "show", "1"]));
    assert!(
        shown.contains("state: BY")
            && shown.contains("joined: 2020-01-31")
            && shown.contains("email: anna@example.org"),
        "{shown}"
    );
    // --dry-run --full reports without changing; --full marks the missing member as left.
    std::fs::write(&csv, "member_number,state\n1,BY\n").unwrap();
    let out = ok_stdout(&install.cli(&["member", "import", "--full", "--dry-run", csv.to_str().unwrap()]));
    assert!(
        out.contains("1 marked as left") && out.contains("nothing was changed"),
        "{out}"
    );
    assert!(ok_stdout(&install.cli(&["member", "show", "2"])).contains("status: active"));
    ok_stdout(&install.cli(&["member", "import", "--full", csv.to_str().unwrap()]));
    assert!(ok_stdout(&install.cli(&["member", "show", "2"])).contains("status: left"));
}

#[test]
fn import_spreadsheet_semicolon_file() {
    let install = Install::new();
    let csv = install.dir.path().join("export.csv");
    let text = "\u{feff}Member_Number;State;Status;Voting_Right;Given_Name;Surname;Email\r\n\
                10;BY;active;ja;\"Jürgen\";\"Müller; Sohn\";j@example.org\r\n\
                11;HH;suspended;nein;Zoë;\"O\"\"Brien\";\r\n";
    std::fs::write(&csv, text).unwrap();
    ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    let shown = ok_stdout(&install.cli(&["member", "show", "10"]));
    assert!(
        shown.contains("given_name: Jürgen")
            && shown.contains("surname: Müller; Sohn")
            && shown.contains("voting_right: true"),
        "{shown}"
    );
    let shown = ok_stdout(&install.cli(&["member", "show", "11"]));
    assert!(
        shown.contains("surname: O\"Brien") && shown.contains("status: suspended"),
        "{shown}"
    );
}

#[test]
fn import_with_three_bad_lines_reports_all_and_changes_nothing() {
    let install = Install::new();
    let csv = install.dir.path().join("bad.csv");
    std::fs::write(&csv, "member_number,state,status,voting_right\n1,BY,active,true\n").unwrap();
    ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    let before = members_listed(&install);
    std::fs::write(&csv, "member_number,state,status,voting_right\n1,BY,left,true\n2,X,active,true\n3,BY,retired,true\n4,BY,active,maybe\n5,NW,active,false\n").unwrap();
    let out = install.cli(&["member", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for (line, word) in [(3, "state"), (4, "status"), (5, "voting_right")] {
        assert!(
            err.contains(&format!("line {line}:")) && err.contains(word),
            "line {line} not reported: {err}"
        );
    }
    assert!(!err.contains("line 2:") && !err.contains("line 6:"), "{err}");
    assert_eq!(members_listed(&install), before, "a refused file changed data");
}

#[test]
fn config_with_unknown_key_is_refused_with_its_name() {
    let install = Install::new();
    let text = std::fs::read_to_string(&install.config)
        .unwrap()
        .replace("[ldap]\n", "[ldap]\nlisten_backlog = 5\n");
    std::fs::write(&install.config, text).unwrap();
    let out = install.cli(&["member", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_backlog"));
    let out = install.cli(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn init_refuses_to_overwrite_and_keeps_keys_private() {
    let install = Install::new();
    let out = install.cli(&["init"]);
    assert_eq!(out.status.code(), Some(1));
    use std::os::unix::fs::PermissionsExt;
    for key in ["data/ca/ca.key", "data/tls/server.key"] {
        let mode = std::fs::metadata(install.dir.path().join(key))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
}

#[tokio::test]
async fn accounts_groups_and_services_through_the_cli() {
    let install = Install::new();
    let csv = install.dir.path().join("m.csv");
    std::fs::write(
        &csv,
        "member_number,state,voting_right,email\n1,BY,true,anna@example.org\n2,BY,false,\n",
    )
    .unwrap();
    ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    let out = ok_stdout(&install.cli_stdin(
        &[
            "account",
            "create",
            "anna",
            "--member",
            "1",
            "--display-name",
            "Anna",
            "--password-stdin",
        ],
        "anna-password-1\n",
    ));
    assert!(out.contains(&format!("dn: {}", person("anna"))));
    for (uid, member, pw, why) in [
        ("admin", "2", "long-enough-1", "reserved"),
        ("anna", "2", "long-enough-1", "taken"),
        ("bert", "1", "long-enough-1", "already has"),
        ("bert", "2", "short", "10 characters"),
    ] {
        let out = install.cli_stdin(
            &["account", "create", uid, "--member", member, "--password-stdin"],
            &format!("{pw}\n"),
        );
        assert_eq!(out.status.code(), Some(1), "{uid}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(why),
            "{uid}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ok_stdout(&install.cli(&["group", "create", "press", "--description", "Press team"]));
    ok_stdout(&install.cli(&["group", "add", "press", "anna"]));
    assert_eq!(ok_stdout(&install.cli(&["group", "list", "press"])).trim(), "anna");
    let out = install.cli(&["group", "add", "members", "anna"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("automatic"));
    let shown = ok_stdout(&install.cli(&["account", "show", "anna"]));
    assert!(
        shown.contains("press") && shown.contains("members") && shown.contains("lv-by"),
        "{shown}"
    );
    let out = ok_stdout(&install.cli(&["service", "add", "forum", "--members-of", "press"]));
    let field = |key: &str| out.lines().find_map(|l| l.strip_prefix(key)).unwrap().to_string();
    let (dn, password) = (field("dn: "), field("password: "));
    let out = install.cli(&["service", "add", "bad", "--attrs", "uid,userPassword"]);
    assert_eq!(out.status.code(), Some(1));
    let server = install.serve();
    let mut forum = bound(&server, &dn, &password).await;
    let (e, _) = search(
        &mut forum,
        &format!("ou=people,{BASE}"),
        Scope::Subtree,
        "(objectClass=inetOrgPerson)",
        &["uid"],
    )
    .await;
    assert_eq!(
        crate::uids(&e),
        ["anna".to_string()].into(),
        "forum sees only the press group"
    );
    let rotated = ok_stdout(&server.cli(&["service", "rotate-password", "forum"]));
    let new_pw = rotated
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let mut ldap = connect(&server).await;
    assert_eq!(
        ldap.simple_bind(&dn, &password).await.unwrap().rc,
        49,
        "old service password still works"
    );
    assert_eq!(ldap.simple_bind(&dn, &new_pw).await.unwrap().rc, 0);
}

#[test]
fn version_names_the_version_and_the_commit() {
    let out = std::process::Command::new(piratenldap_tests::binary())
        .arg("--version")
        .output()
        .unwrap();
    let text = ok_stdout(&out);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(
        text.starts_with(&format!("piratenldap {} (commit {head}", env!("CARGO_PKG_VERSION"))),
        "{text} (HEAD is {head})"
    );
}
