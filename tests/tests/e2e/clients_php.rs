//! ops/clients/php-nextcloud/ with Debian's PHP and its LDAP extension: the script does what
//! Nextcloud's user_ldap does (service bind, the user list with the paged results control in
//! several pages, a lookup by entryUUID, the login as a bind with the member's DN). The test
//! checks the counts, the lookup and that the right password logs in and a wrong one does not.

use std::process::{Command, Output};

use piratenldap_tests::{BASE, GENERATED, Install, PASSWORD, Server, person};

use crate::clients_support::{add_service, line_value, ops_file, show};

/// Page size of the test: smaller than the number of members, so the list takes pages.
const PAGE_SIZE: usize = 100;

fn run(server: &Server, service: &(String, String), user: &str, password: &str) -> Output {
    Command::new("php")
        .arg(ops_file("php-nextcloud", "nextcloud-ldap.php"))
        .env("LDAP_URI", server.ldap_url())
        .env("LDAP_BIND_DN", &service.0)
        .env("LDAP_BIND_PASSWORD", &service.1)
        .env("LDAP_BASE_USERS", format!("ou=people,{BASE}"))
        .env("LDAP_PAGE_SIZE", PAGE_SIZE.to_string())
        .env("LOGIN_USER", user)
        .env("LOGIN_PASSWORD", password)
        .env("LDAPCONF", "/dev/null")
        .env("LDAPRC", "/dev/null")
        .output()
        .expect("php (apt-get install php-cli php-ldap)")
}

#[tokio::test]
async fn clients_php_nextcloud_paged_list_uuid_lookup_login() {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    let service = add_service(&install, "nextcloud", &[]);
    let server = install.serve();

    let out = run(&server, &service, "bob", PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    // Active members with an account: alice, bob and the generated ones; erin (locked), carol
    // (suspended) and dave (left) are not in the service's view.
    let members = GENERATED + 2;
    assert_eq!(line_value(&text, "users:"), members.to_string(), "{text}");
    assert_eq!(
        line_value(&text, "pages:"),
        members.div_ceil(PAGE_SIZE).to_string(),
        "{text}"
    );
    let uuid = line_value(&text, "entryuuid:");
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(line_value(&text, "dn:"), person("bob"));
    assert_eq!(line_value(&text, "displayname:"), "Bob B.");
    assert_eq!(line_value(&text, "mail:"), "bob@example.org");
    assert_eq!(line_value(&text, "login:"), "ok");

    let out = run(&server, &service, "bob", "wrong-password");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(line_value(&text, "entryuuid:"), uuid, "the entryUUID is stable");
    assert!(line_value(&text, "login:").starts_with("refused (49 "), "{text}");

    // A locked member is not listed (and cannot log in).
    let out = run(&server, &service, "erin", PASSWORD);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("erin is not in the list"),
        "{}",
        show(&out)
    );

    // The same script for a generated member on a later page.
    let out = run(&server, &service, "m0259", PASSWORD);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(
        line_value(&String::from_utf8_lossy(&out.stdout), "dn:"),
        person("m0259")
    );
}
