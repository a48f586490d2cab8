//! The view follows the store: changes made with the CLI while the server runs show up over
//! LDAP within one second; SIGTERM stops the server cleanly.

use ldap3::Scope;
use piratenldap_tests::{ADMIN_APP_PASSWORD, BASE, PASSWORD, SERVICE_PASSWORD, person, service, standard_server};

use crate::{bound, connect, ok_stdout, search, uids, within_one_second};

#[tokio::test]
async fn cli_changes_are_visible_over_ldap_within_one_second() {
    let server = standard_server().await;
    let people = format!("ou=people,{BASE}");

    // A new member and account.
    let csv = server.install.dir.path().join("new.csv");
    std::fs::write(
        &csv,
        "member_number,state,status,voting_right,email\n9001,BY,active,true,new@example.org\n",
    )
    .unwrap();
    ok_stdout(&server.cli(&["member", "import", csv.to_str().unwrap()]));
    ok_stdout(&server.install.cli_stdin(
        &["account", "create", "newbie", "--member", "9001", "--password-stdin"],
        "newbie-password\n",
    ));
    within_one_second("new account", || async {
        let mut wiki = bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
        let (e, _) = search(&mut wiki, &people, Scope::Subtree, "(uid=newbie)", &["uid"]).await;
        !e.is_empty()
    })
    .await;

    // Locking bob ends his binds.
    ok_stdout(&server.cli(&["account", "lock", "bob"]));
    within_one_second("lock", || async {
        let mut ldap = connect(&server).await;
        ldap.simple_bind(&person("bob"), PASSWORD).await.unwrap().rc == 49
    })
    .await;

    // A manual group change.
    ok_stdout(&server.cli(&["group", "add", "wiki-admins", "m0007"]));
    within_one_second("group membership", || async {
        let mut wiki = bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
        let (e, _) = search(
            &mut wiki,
            &people,
            Scope::Subtree,
            &format!("(memberOf=cn=wiki-admins,ou=groups,{BASE})"),
            &["uid"],
        )
        .await;
        uids(&e).contains("m0007")
    })
    .await;
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    let (status, stderr) = server.stop();
    assert!(status.success(), "exit status {status:?}: {stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    // The open connection was told and closed.
    assert!(ldap.simple_bind(&person("alice"), ADMIN_APP_PASSWORD).await.is_err());
}
