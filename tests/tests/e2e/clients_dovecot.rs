//! ops/clients/dovecot/ with Debian's Dovecot (dovecot-core, dovecot-ldap) in a private
//! instance (its own base and state directories, no mail listeners) talking LDAPS to
//! piratenldap: `doveadm auth test` signs alice (admin with TOTP) in with an app password made
//! by the CLI and refuses a wrong one and her password without a code; bob signs in with his
//! password; `doveadm user` gives home, uid and gid from the POSIX attributes, and nothing for
//! a locked member.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ldap3::Scope;
use piratenldap_tests::{Install, PASSWORD, person};

use crate::clients_support::{Daemon, add_service, line_value, ops_file, set_lines, show};
use crate::{bound, ok_stdout, search};

fn doveadm(conf: &Path, args: &[&str]) -> Output {
    Command::new("doveadm")
        .arg("-c")
        .arg(conf)
        .args(args)
        .output()
        .expect("doveadm (apt-get install dovecot-core dovecot-ldap)")
}

/// `doveadm auth test USER PASSWORD`: whether the passdb accepted it; a temporary failure
/// (LDAP unreachable, a broken configuration) fails the test.
fn auth_test(conf: &Path, user: &str, password: &str, log: &dyn Fn() -> String) -> bool {
    let out = doveadm(conf, &["auth", "test", user, password]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("temp_fail"), "{}\n{}", show(&out), log());
    match out.status.code() {
        Some(0) if text.contains("auth succeeded") => true,
        Some(77) if text.contains("auth failed") => false,
        _ => panic!("doveadm auth test {user}: {}\n{}", show(&out), log()),
    }
}

#[tokio::test]
async fn clients_dovecot_passdb_userdb_app_password() {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    let (bind_dn, bind_password) = add_service(&install, "dovecot", &["--attrs", "uid,mail"]);
    let app = ok_stdout(&install.cli(&["account", "app-password", "add", "alice", "--label", "Thunderbird"]));
    let app_password = line_value(&app, "password:");
    let server = install.serve();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Dovecot's unprivileged processes reach the base directory.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The auth process runs as the user dovecot: the CA file must be readable for it (the
    // installation's directory is not).
    let ca = d.join("piratenldap-ca.pem");
    std::fs::copy(server.install.ca_pem(), &ca).unwrap();
    std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ldap_conf = d.join("dovecot-ldap.conf.ext");
    let text = std::fs::read_to_string(ops_file("dovecot", "dovecot-ldap.conf.ext")).unwrap();
    let text = set_lines(
        &text,
        &[
            ("uris", format!("uris = {}", server.ldaps_url())),
            ("tls_ca_cert_file", format!("tls_ca_cert_file = {}", ca.display())),
            ("dn", format!("dn = {bind_dn}")),
            ("dnpass", format!("dnpass = {bind_password}")),
        ],
    );
    std::fs::write(&ldap_conf, text).unwrap();
    let text = std::fs::read_to_string(ops_file("dovecot", "auth-piratenldap.conf.ext")).unwrap();
    let auth_conf = d.join("auth-piratenldap.conf.ext");
    std::fs::write(
        &auth_conf,
        set_lines(&text, &[("args", format!("args = {}", ldap_conf.display()))]),
    )
    .unwrap();
    let conf = d.join("dovecot.conf");
    std::fs::write(
        &conf,
        format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = none\nssl = no\nauth_failure_delay = 0\n!include {auth}\n",
            d = d.display(),
            auth = auth_conf.display()
        ),
    )
    .unwrap();
    let child = Command::new("dovecot")
        .arg("-F")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dovecot (apt-get install dovecot-core dovecot-ldap)");
    let mut dovecot = Daemon { child, name: "dovecot" };
    let log = || std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default();
    dovecot.wait_for(10, || d.join("run/auth-userdb").exists(), log);

    let cases = [
        ("alice", app_password.as_str(), true, "alice's app password"),
        (
            "alice@example.org",
            app_password.as_str(),
            true,
            "the address as login name",
        ),
        ("alice", "wrong-app-password", false, "a wrong password"),
        ("alice", PASSWORD, false, "alice's password without a TOTP code"),
        ("bob", PASSWORD, true, "bob's password (no TOTP)"),
        ("erin", PASSWORD, false, "erin (locked)"),
        ("nobody", PASSWORD, false, "an unknown user"),
    ];
    for (user, password, expected, what) in cases {
        assert_eq!(auth_test(&conf, user, password, &log), expected, "{what}\n{}", log());
    }

    // The userdb fields are the member's POSIX attributes.
    let mut ldap = bound(&server, &bind_dn, &bind_password).await;
    let (entries, _) = search(
        &mut ldap,
        &person("alice"),
        Scope::Base,
        "(objectClass=*)",
        &["uidNumber", "gidNumber"],
    )
    .await;
    let attr = |name: &str| entries[0].attrs[name][0].clone();
    let out = doveadm(&conf, &["user", "alice"]);
    assert!(out.status.success(), "{}\n{}", show(&out), log());
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix('\t')))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_string()
    };
    assert_eq!(field("home"), "/home/alice");
    assert_eq!(field("uid"), attr("uidNumber"));
    assert_eq!(field("gid"), attr("gidNumber"));
    assert_eq!(field("mail"), "maildir:~/Maildir");
    assert!(field("uid").parse::<u32>().unwrap() >= 1000, "{text}");

    // A locked member is unknown to the userdb (exit 67: no such user).
    let out = doveadm(&conf, &["user", "erin"]);
    assert_eq!(out.status.code(), Some(67), "{}", show(&out));
    assert!(log().lines().all(|l| !l.contains("Error")), "{}", log());
    drop(dovecot);
}
