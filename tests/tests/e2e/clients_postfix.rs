//! ops/clients/postfix/ with Debian's Postfix LDAP tables (postfix-ldap), no daemon: `postmap
//! -q` over LDAPS (the files' TLS settings with the installation's CA) finds a member's
//! mailbox by address and nothing for an unknown, locked or former member; the alias table
//! forwards `<uid>@members.example.org` to the member's address and a group address to every
//! member's address.

use std::path::Path;
use std::process::{Command, Output};

use piratenldap_tests::Install;

use crate::clients_support::{add_service, ops_file, set_lines, show};

/// `postmap -q KEY ldap:TABLE` with a private config directory; the result, or `None` when
/// the key is not found (exit 1 and nothing on stderr). Any other outcome fails.
fn query(config: &Path, table: &Path, key: &str) -> Option<String> {
    let out: Output = Command::new("postmap")
        .arg("-c")
        .arg(config)
        .arg("-q")
        .arg(key)
        .arg(format!("ldap:{}", table.display()))
        .env("LDAPCONF", "/dev/null")
        .env("LDAPRC", "/dev/null")
        .output()
        .expect("postmap (apt-get install postfix postfix-ldap)");
    match out.status.code() {
        Some(0) if out.stderr.is_empty() => Some(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        Some(1) if out.stderr.is_empty() && out.stdout.is_empty() => None,
        _ => panic!("postmap -q {key} {}: {}", table.display(), show(&out)),
    }
}

#[tokio::test]
async fn clients_postfix_ldap_tables() {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    let (bind_dn, password) = add_service(&install, "postfix", &["--attrs", "uid,mail"]);
    let server = install.serve();
    let dir = tempfile::tempdir().unwrap();
    // postmap reads main.cf from its config directory; the tables need nothing from it.
    std::fs::write(dir.path().join("main.cf"), "compatibility_level = 3.6\n").unwrap();
    let tables: Vec<_> = ["virtual_mailboxes.cf", "virtual_aliases.cf"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(ops_file("postfix", name)).unwrap();
            let text = set_lines(
                &text,
                &[
                    ("server_host", format!("server_host = {}", server.ldaps_url())),
                    (
                        "tls_ca_cert_file",
                        format!("tls_ca_cert_file = {}", server.install.ca_pem().display()),
                    ),
                    ("bind_dn", format!("bind_dn = {bind_dn}")),
                    ("bind_pw", format!("bind_pw = {password}")),
                ],
            );
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let (mailboxes, aliases) = (&tables[0], &tables[1]);
    let config = dir.path();

    assert_eq!(
        query(config, mailboxes, "alice@example.org").as_deref(),
        Some("alice/Maildir/")
    );
    assert_eq!(
        query(config, mailboxes, "m0007@example.org").as_deref(),
        Some("m0007/Maildir/")
    );
    for unknown in [
        "nobody@example.org",
        "erin@example.org",  // locked
        "carol@example.org", // suspended
        "alice@example.com",
    ] {
        assert_eq!(query(config, mailboxes, unknown), None, "{unknown}");
    }

    assert_eq!(
        query(config, aliases, "bob@members.example.org").as_deref(),
        Some("bob@example.org")
    );
    let group = query(config, aliases, "wiki-admins@members.example.org").expect("the group alias");
    let mut addresses: Vec<&str> = group.split(',').collect();
    addresses.sort_unstable();
    assert_eq!(addresses, ["alice@example.org", "bob@example.org"]);
    // Another domain is not even looked up; an unknown name is not found.
    assert_eq!(query(config, aliases, "bob@example.org"), None);
    assert_eq!(query(config, aliases, "nobody@members.example.org"), None);

    // A wrong service password is an error, not "not found" (mail is deferred, not bounced).
    let text = std::fs::read_to_string(mailboxes).unwrap();
    std::fs::write(
        mailboxes,
        set_lines(&text, &[("bind_pw", "bind_pw = wrong".to_string())]),
    )
    .unwrap();
    let out = Command::new("postmap")
        .arg("-c")
        .arg(config)
        .args(["-q", "alice@example.org"])
        .arg(format!("ldap:{}", mailboxes.display()))
        .output()
        .unwrap();
    assert!(!out.status.success() && !out.stderr.is_empty(), "{}", show(&out));
}
