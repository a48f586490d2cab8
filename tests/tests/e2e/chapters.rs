//! Groups and services owned by a chapter (issue 15) through the real CLI and LDAP: a chapter's
//! service sees, finds and lets bind only that chapter's members; a chapter's group refuses a
//! member of another chapter and changes nothing; a member who moves leaves it at the import.
//! The single sign-on side (a chapter's client refusing a foreign member) is in `sso.rs`.

use ldap3::Scope;
use piratenldap_tests::{BASE, Install, PASSWORD, add_member_with_account, person, standard_fixture};

use crate::{bound, ok_stdout, search, uids};

/// A command's standard error, asserting it failed.
fn failed(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "expected a refusal: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The service's generated password from `service add` output.
fn password_of(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a password")
        .to_string()
}

/// The standard fixture plus nina (member 6, NW, active), and `by-wiki` (`--chapter BY`),
/// `nw-all` (`--chapter NW --include-inactive`); returns the installation and both passwords.
async fn chapter_install() -> (Install, String, String) {
    let install = Install::new();
    standard_fixture(&install).await;
    add_member_with_account(&install, "nina", "6", "NW").await;
    let by = ok_stdout(&install.cli(&["service", "add", "by-wiki", "--chapter", "BY"]));
    assert!(by.contains("of chapter BY"), "{by}");
    assert!(by.contains("dn: cn=by-wiki,ou=services,"), "{by}");
    let nw = ok_stdout(&install.cli(&["service", "add", "nw-all", "--chapter", "nw", "--include-inactive"]));
    (install, password_of(&by), password_of(&nw))
}

#[tokio::test]
async fn a_chapter_service_sees_finds_and_binds_only_its_chapters_members() {
    let (install, by_password, nw_password) = chapter_install().await;
    let list = ok_stdout(&install.cli(&["service", "list"]));
    let line = |name: &str| list.lines().find(|l| l.starts_with(name)).unwrap().to_string();
    assert!(line("by-wiki ").contains(" BY "), "{list}");
    assert!(line("nw-all ").contains(" NW "), "{list}");
    assert!(line("wiki ").contains(" - "), "{list}");
    let server = install.serve();
    let people = format!("ou=people,{BASE}");

    // BY's service: alice and bob (BY, active); not nina (NW), not the 260 members in BE, not
    // erin (HH).
    let mut by = bound(&server, &piratenldap_tests::service("by-wiki"), &by_password).await;
    let (entries, res) = search(&mut by, BASE, Scope::Subtree, "(objectClass=person)", &["uid"]).await;
    assert_eq!(res.rc, 0, "{res:?}");
    assert_eq!(uids(&entries), ["alice", "bob"].map(String::from).into());
    for hidden in ["nina", "m0000"] {
        let (entries, _) = search(&mut by, &people, Scope::Subtree, &format!("(uid={hidden})"), &["uid"]).await;
        assert!(entries.is_empty(), "{hidden} is visible to by-wiki");
        let (entries, _) = search(&mut by, &person(hidden), Scope::Base, "(objectClass=*)", &["uid"]).await;
        assert!(entries.is_empty(), "{hidden}'s entry is readable by by-wiki");
    }
    // Found through the service, then bound as herself: the usual login of an LDAP app.
    let (found, _) = search(&mut by, &people, Scope::Subtree, "(uid=bob)", &["uid"]).await;
    assert_eq!(found.len(), 1);
    bound(&server, &found[0].dn, PASSWORD).await;
    // Group member lists are narrowed to the chapter too.
    let (groups, _) = search(
        &mut by,
        &format!("cn=members,ou=groups,{BASE}"),
        Scope::Base,
        "(objectClass=*)",
        &["memberUid"],
    )
    .await;
    let mut listed = groups[0].attrs.get("memberUid").cloned().unwrap_or_default();
    listed.sort();
    assert_eq!(listed, ["alice", "bob"]);

    // NW's service with inactive members: nina, carol (suspended), dave (left); nobody else.
    let mut nw = bound(&server, &piratenldap_tests::service("nw-all"), &nw_password).await;
    let (entries, _) = search(&mut nw, &people, Scope::Subtree, "(uid=*)", &["uid"]).await;
    assert_eq!(uids(&entries), ["carol", "dave", "nina"].map(String::from).into());
    // A federal service still sees everyone active.
    let mut wiki = bound(
        &server,
        &piratenldap_tests::service("wiki"),
        piratenldap_tests::SERVICE_PASSWORD,
    )
    .await;
    let (entries, _) = search(&mut wiki, &people, Scope::Subtree, "(|(uid=nina)(uid=bob))", &["uid"]).await;
    assert_eq!(uids(&entries), ["bob", "nina"].map(String::from).into());
}

#[tokio::test]
async fn a_chapter_group_refuses_a_foreign_member_and_loses_one_who_moves() {
    let install = Install::new();
    standard_fixture(&install).await;
    add_member_with_account(&install, "nina", "6", "NW").await;
    let created = ok_stdout(&install.cli(&["group", "create", "by-vorstand", "--chapter", "by"]));
    assert!(created.contains("of chapter BY"), "{created}");
    ok_stdout(&install.cli(&["group", "add", "by-vorstand", "bob"]));
    let before = install.store().await;
    let revision = piratenldap_store::Store::revision(&before).await.unwrap();

    let refused = failed(&install.cli(&["group", "add", "by-vorstand", "nina"]));
    assert!(
        refused.contains("nina is a member of NW; group by-vorstand belongs to chapter BY"),
        "{refused}"
    );
    assert_eq!(piratenldap_store::Store::revision(&before).await.unwrap(), revision);
    assert_eq!(ok_stdout(&install.cli(&["group", "list", "by-vorstand"])), "bob\n");
    let list = ok_stdout(&install.cli(&["group", "list"]));
    let line = list.lines().find(|l| l.starts_with("by-vorstand ")).unwrap();
    assert!(line.contains(" BY "), "{list}");
    assert!(
        list.lines().find(|l| l.starts_with("lv-by ")).unwrap().contains(" - "),
        "{list}"
    );

    // Bad state codes are refused before anything is stored.
    let bad = failed(&install.cli(&["group", "create", "x-vorstand", "--chapter", "B"]));
    assert!(bad.contains("state"), "{bad}");
    let bad = failed(&install.cli(&["service", "add", "x-wiki", "--chapter", "B Y"]));
    assert!(bad.contains("state"), "{bad}");
    // A chapter's service may not be narrowed to another chapter's group.
    ok_stdout(&install.cli(&["group", "create", "nw-vorstand", "--chapter", "NW"]));
    let bad = failed(&install.cli(&[
        "service",
        "add",
        "by-forum",
        "--chapter",
        "BY",
        "--members-of",
        "nw-vorstand",
    ]));
    assert!(bad.contains("group nw-vorstand belongs to chapter NW"), "{bad}");
    let services = ok_stdout(&install.cli(&["service", "list"]));
    assert!(
        !services.contains("x-wiki") && !services.contains("by-forum"),
        "{services}"
    );
    assert!(!ok_stdout(&install.cli(&["group", "list"])).contains("x-vorstand"));

    // The group shows its chapter as `ou`; bob moves to NW and leaves it at the import.
    let server = install.serve();
    let group = format!("cn=by-vorstand,ou=groups,{BASE}");
    let mut admin = bound(&server, &person("alice"), &server.admin_password().await).await;
    let (entries, _) = search(&mut admin, &group, Scope::Base, "(objectClass=*)", &["ou", "memberUid"]).await;
    assert_eq!(entries[0].attrs.get("ou").cloned().unwrap_or_default(), ["BY"]);
    assert_eq!(entries[0].attrs.get("memberUid").cloned().unwrap_or_default(), ["bob"]);
    let csv = server.install.dir.path().join("move.csv");
    std::fs::write(
        &csv,
        "member_number,state,status,voting_right,given_name,surname,email\n2,NW,active,false,Bob,Brecht,bob@example.org\n",
    )
    .unwrap();
    let out = ok_stdout(&server.cli(&["member", "import", csv.to_str().unwrap()]));
    assert!(out.contains("1 membership(s) of chapter groups were ended"), "{out}");
    let gone = crate::within_one_second("bob out of by-vorstand", || {
        let group = group.clone();
        let admin = admin.clone();
        async move {
            let mut admin = admin;
            let (entries, _) = search(&mut admin, &group, Scope::Base, "(objectClass=*)", &["memberUid"]).await;
            !entries[0].attrs.contains_key("memberUid")
        }
    });
    gone.await;
    assert_eq!(ok_stdout(&server.cli(&["group", "list", "by-vorstand"])), "");
    let audit = ok_stdout(&server.cli(&["audit", "--uid", "bob"]));
    assert!(audit.contains("by-vorstand: moved from chapter BY to NW"), "{audit}");
}
