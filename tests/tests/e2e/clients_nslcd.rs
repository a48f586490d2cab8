//! ops/clients/nslcd/ with Debian's nslcd and libnss-ldapd: `try-in-namespace.sh` runs nslcd
//! on the folder's nslcd.conf (LDAPS, the installation's CA) in a private mount and PID
//! namespace with its own nsswitch.conf, so the machine's /etc stays as it is. `getent
//! passwd` gives a member's uid, gid, name, home and login shell, `getent group` a group with
//! its members; a locked member and an unknown name are not found.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use ldap3::Scope;
use piratenldap_tests::{BASE, Install, person};

use crate::clients_support::{add_service, ops_file, set_lines, show};
use crate::{bound, search};

/// The output and exit status of each command in the script's output.
fn results(text: &str) -> Vec<(String, String, i32)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let command = line.strip_prefix("== ").unwrap_or_else(|| panic!("{text}"));
        let mut body = String::new();
        loop {
            let line = lines.next().unwrap_or_else(|| panic!("no exit line: {text}"));
            if let Some(status) = line.strip_prefix("== exit ") {
                out.push((command.to_string(), body, status.parse().unwrap()));
                break;
            }
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[tokio::test]
async fn clients_nslcd_getent_passwd_group() {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    let (bind_dn, bind_password) = add_service(&install, "nss", &["--attrs", "uid,cn"]);
    let server = install.serve();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // nslcd runs as the user nslcd: it reads the CA file.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ca = d.join("ca.pem");
    std::fs::copy(server.install.ca_pem(), &ca).unwrap();
    std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = std::fs::read_to_string(ops_file("nslcd", "nslcd.conf")).unwrap();
    let conf = d.join("nslcd.conf");
    std::fs::write(
        &conf,
        set_lines(
            &text,
            &[
                ("uri", format!("uri {}/", server.ldaps_url())),
                ("tls_cacertfile", format!("tls_cacertfile {}", ca.display())),
                ("binddn", format!("binddn {bind_dn}")),
                ("bindpw", format!("bindpw {bind_password}")),
            ],
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();

    let commands = [
        "getent passwd bob",
        "getent passwd m0042",
        "getent group wiki-admins",
        "getent passwd erin",
        "getent passwd nobody-here",
        "getent group no-such-group",
        "id -Gn bob",
    ];
    let log = d.join("nslcd.log");
    let out = Command::new("timeout")
        .arg("60")
        .arg(ops_file("nslcd", "try-in-namespace.sh"))
        .arg(&conf)
        .args(commands)
        .env("NSLCD_LOG", &log)
        .output()
        .expect("unshare, nslcd (apt-get install nslcd libnss-ldapd)");
    let nslcd_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(out.status.success(), "{}\n{}", show(&out), nslcd_log());
    let results = results(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(results.len(), commands.len());
    let result = |i: usize| {
        let (command, body, status) = &results[i];
        assert_eq!(command, commands[i]);
        (body.trim().to_string(), *status)
    };

    // The POSIX attributes as the service sees them.
    let mut ldap = bound(&server, &bind_dn, &bind_password).await;
    let (entries, _) = search(
        &mut ldap,
        &person("bob"),
        Scope::Base,
        "(objectClass=*)",
        &["uidNumber", "gidNumber"],
    )
    .await;
    let attr = |name: &str| entries[0].attrs[name][0].clone();
    let (bob, status) = result(0);
    assert_eq!(status, 0, "{}", nslcd_log());
    assert_eq!(
        bob,
        format!(
            "bob:*:{}:{}:Bob B.:/home/bob:/bin/bash",
            attr("uidNumber"),
            attr("gidNumber")
        )
    );
    let (m0042, status) = result(1);
    assert_eq!(status, 0);
    assert!(
        m0042.starts_with("m0042:*:") && m0042.ends_with(":Generated 42:/home/m0042:/bin/bash"),
        "{m0042}"
    );

    let (entries, _) = search(
        &mut ldap,
        &format!("cn=wiki-admins,ou=groups,{BASE}"),
        Scope::Base,
        "(objectClass=*)",
        &["gidNumber"],
    )
    .await;
    let (group, status) = result(2);
    assert_eq!(status, 0);
    let fields: Vec<&str> = group.split(':').collect();
    assert_eq!(
        fields[..3],
        ["wiki-admins", "*", entries[0].attrs["gidNumber"][0].as_str()],
        "{group}"
    );
    let mut members: Vec<&str> = fields[3].split(',').collect();
    members.sort_unstable();
    assert_eq!(members, ["alice", "bob"], "{group}");

    for (i, command) in commands.iter().enumerate().take(6).skip(3) {
        // getent: exit 2 = not found.
        assert_eq!(result(i), (String::new(), 2), "{command}");
    }
    let (groups, status) = result(6);
    assert_eq!(status, 0);
    assert!(groups.split(' ').any(|g| g == "wiki-admins"), "{groups}");
}
