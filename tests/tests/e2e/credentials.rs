//! Issue 12 through real clients (ldapsearch, ldapcompare, ldappasswd, the CLI): member lists
//! that filters and compare cannot probe past a read, Password Modify's rules, and the audit
//! trail naming the account of a failed bind. Each of these passed on the code before the
//! authentication core, and fails there.

use piratenldap_tests::{
    ADMIN_APP_PASSWORD, BASE, PASSWORD, SERVICE_PASSWORD, Server, person, service, standard_server,
};

use crate::{bound, connect, ok_stdout};

/// ldapsearch as service `name`: the DNs that match `filter`.
fn dns_as(server: &Server, name: &str, filter: &str) -> Vec<String> {
    let out = server.openldap(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &server.ldap_url(),
            "-D",
            &service(name),
            "-w",
            SERVICE_PASSWORD,
            "-b",
            BASE,
            filter,
            "1.1",
        ],
    );
    ok_stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("dn: ").map(str::to_string))
        .collect()
}

#[tokio::test]
async fn filters_and_compare_see_only_the_members_a_read_shows() {
    let server = standard_server().await;
    // `vote` is made with --members-of voting; bob has no vote, so vote may not see him.
    assert_eq!(dns_as(&server, "vote", "(memberUid=bob)"), Vec::<String>::new());
    assert_eq!(
        dns_as(&server, "vote", "(&(cn=wiki-admins)(memberUid=b*))"),
        Vec::<String>::new()
    );
    assert_eq!(
        dns_as(&server, "vote", &format!("(member={})", person("bob"))),
        Vec::<String>::new()
    );
    // erin's account is locked: the default profile does not learn her groups.
    assert_eq!(dns_as(&server, "wiki", "(memberUid=erin)"), Vec::<String>::new());
    // alice votes: vote sees her memberships.
    assert!(!dns_as(&server, "vote", "(memberUid=alice)").is_empty());
    // ldapcompare exits 6 for TRUE, 5 for FALSE.
    let compare = |value: String| {
        server
            .openldap(
                "ldapcompare",
                &[
                    "-x",
                    "-H",
                    &server.ldap_url(),
                    "-D",
                    &service("vote"),
                    "-w",
                    SERVICE_PASSWORD,
                    &format!("cn=wiki-admins,ou=groups,{BASE}"),
                    &value,
                ],
            )
            .status
            .code()
    };
    assert_eq!(
        compare(format!("member:{}", person("bob"))),
        Some(5),
        "an invisible member"
    );
    assert_eq!(compare(format!("member:{}", person("alice"))), Some(6));
}

/// ldappasswd bound as `dn` with `bind_pw`; `old` as -a, `new` as -s.
fn ldappasswd(server: &Server, dn: &str, bind_pw: &str, old: Option<&str>, new: &str) -> std::process::Output {
    let url = server.ldap_url();
    let mut args = vec!["-x", "-H", &url, "-D", dn, "-w", bind_pw, "-s", new];
    if let Some(old) = old {
        args.extend(["-a", old]);
    }
    server.openldap("ldappasswd", &args)
}

#[tokio::test]
async fn an_app_password_cannot_take_over_the_account() {
    let server = standard_server().await;
    let alice = person("alice");
    // Bound with her app password (no TOTP code), without and with the old password.
    let out = ldappasswd(&server, &alice, ADMIN_APP_PASSWORD, None, "violet tractors hum softly");
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = ldappasswd(
        &server,
        &alice,
        ADMIN_APP_PASSWORD,
        Some(PASSWORD),
        "violet tractors hum softly",
    );
    assert!(!out.status.success());
    let mut ldap = connect(&server).await;
    let code = piratenldap_tests::totp_now(piratenldap_tests::ALICE_TOTP_SECRET);
    let rc = ldap
        .simple_bind(&alice, &format!("violet tractors hum softly{code}"))
        .await
        .unwrap()
        .rc;
    assert_eq!(rc, 49, "the new password took over the account");
}

#[tokio::test]
async fn an_admins_app_password_opens_a_member_session_only() {
    let server = standard_server().await;
    // alice is an admin: with password and code she reads bob; with her app password, only herself.
    let mut admin = bound(&server, &person("alice"), &server.admin_password().await).await;
    let (found, _) = crate::search(&mut admin, BASE, ldap3::Scope::Subtree, "(uid=bob)", &["uid"]).await;
    assert_eq!(found.len(), 1);
    let mut app = bound(&server, &person("alice"), ADMIN_APP_PASSWORD).await;
    let (found, _) = crate::search(&mut app, BASE, ldap3::Scope::Subtree, "(uid=bob)", &["uid"]).await;
    assert!(found.is_empty(), "admin rights without the second factor");
}

#[tokio::test]
async fn password_modify_needs_the_old_password_and_a_strong_new_one() {
    let server = standard_server().await;
    let bob = person("bob");
    let out = ldappasswd(&server, &bob, PASSWORD, None, "violet tractors hum softly");
    assert!(!out.status.success(), "no old password");
    let out = ldappasswd(&server, &bob, PASSWORD, Some(PASSWORD), "aaaaaaaaaa");
    assert!(!out.status.success(), "a weak new password");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Constraint violation (19)"),
        "{out:?}"
    );
    // Wrong old passwords count on the bind throttle (burst 5): then bob cannot bind either.
    let mut ldap = bound(&server, &bob, PASSWORD).await;
    for i in 0..5 {
        let res = ldap
            .extended(ldap3::exop::PasswordModify {
                user_id: None,
                old_pass: Some(&format!("guess-{i}")),
                new_pass: Some("violet tractors hum softly"),
            })
            .await
            .unwrap();
        assert_eq!(res.1.rc, 49);
    }
    let mut other = connect(&server).await;
    assert_eq!(
        other.simple_bind(&bob, PASSWORD).await.unwrap().rc,
        49,
        "the guesses were not throttled"
    );
}

#[tokio::test]
async fn audit_uid_lists_failed_binds_against_the_account() {
    let server = standard_server().await;
    let mut ldap = connect(&server).await;
    for dn in [person("bob"), service("wiki")] {
        assert_eq!(ldap.simple_bind(&dn, "wrong-password").await.unwrap().rc, 49);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for name in ["bob", "wiki"] {
        let out = ok_stdout(&server.cli(&["audit", "--uid", name]));
        assert!(
            out.lines().any(|l| l.contains("bind.fail") && l.contains("127.0.0.1")),
            "audit --uid {name}:\n{out}"
        );
    }
}
