//! ops/clients/apache-ldap/ with a real Apache httpd: Basic login through Debian's
//! mod_ldap/mod_authnz_ldap against piratenldap, `Require ldap-group`. A member of the group
//! gets 200, a member outside it 401, a wrong password 401, a locked account 401; an admin
//! with TOTP gets in with an app password but not with the password alone; a lock takes
//! effect at once (mod_ldap's caches are off).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use piratenldap_tests::{ADMIN_APP_PASSWORD, BASE, Install, PASSWORD};

use crate::clients_support::{Daemon, add_service, ops_file, show};
use crate::nginx::free_port;
use crate::ok_stdout;

const MODULES: &str = "/usr/lib/apache2/modules";

/// Starts Apache on ops/clients/apache-ldap/piratenldap-ldap.conf with its Defines pointed at
/// this test's server, port and files.
fn start_apache(dir: &Path, port: u16, ldap_port: u16, bind_dn: &str, bind_password: &str) -> Daemon {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.join("htdocs");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "members only\n").unwrap();
    let modules: String = [
        "mpm_event",
        "authn_core",
        "authz_core",
        "auth_basic",
        "ldap",
        "authnz_ldap",
        "mime",
    ]
    .iter()
    .map(|name| format!("LoadModule {name}_module {MODULES}/mod_{name}.so\n"))
    .collect();
    let conf = dir.join("httpd.conf");
    std::fs::write(
        &conf,
        format!(
            "ServerRoot {d}\nPidFile {d}/httpd.pid\nErrorLog {d}/error.log\nLogLevel warn\n\
             DefaultRuntimeDir {d}\nMutex file:{d} default\nUser www-data\nGroup www-data\n\
             ServerName 127.0.0.1\nStartServers 1\nTypesConfig /etc/mime.types\n{modules}\
             Listen 127.0.0.1:{port}\n\
             Define LDAP_VHOST 127.0.0.1:{port}\nDefine LDAP_ROOT {root}\nDefine LOG_DIR {d}\n\
             Define PIRATENLDAP_URL ldap://127.0.0.1:{ldap_port}/ou=people,{BASE}?uid?one?(objectClass=inetOrgPerson)\n\
             Define LDAP_BIND_DN {bind_dn}\nDefine LDAP_BIND_PASSWORD {bind_password}\n\
             Define LDAP_GROUP_DN cn=wiki-admins,ou=groups,{BASE}\n\
             Include {ops}\n",
            d = dir.display(),
            root = root.display(),
            ops = ops_file("apache-ldap", "piratenldap-ldap.conf").display(),
        ),
    )
    .unwrap();
    let child = Command::new("apache2")
        .arg("-f")
        .arg(&conf)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("apache2 (apt-get install apache2)");
    let mut apache = Daemon { child, name: "apache2" };
    let log = || std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    apache.wait_for(10, || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), log);
    apache
}

/// The HTTP status of a GET with Basic credentials (`None`: without).
fn status(port: u16, credentials: Option<(&str, &str)>) -> u16 {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"]);
    if let Some((user, password)) = credentials {
        cmd.arg("-u").arg(format!("{user}:{password}"));
    }
    let out = cmd
        .arg(format!("http://127.0.0.1:{port}/index.html"))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout)
        .parse()
        .unwrap_or_else(|_| panic!("curl: {}", show(&out)))
}

#[tokio::test]
async fn clients_apache_mod_authnz_ldap_group() {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    // erin is locked: in the group, she must still be refused.
    ok_stdout(&install.cli(&["group", "add", "wiki-admins", "erin"]));
    let (bind_dn, bind_password) = add_service(&install, "apache", &["--attrs", "uid"]);
    assert_eq!(bind_dn, format!("cn=apache,ou=services,{BASE}"));
    let server = install.serve();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let apache = start_apache(dir.path(), port, server.ldap.port(), &bind_dn, &bind_password);
    let error_log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();

    let cases = [
        ("no credentials", None, 401),
        ("bob, wrong password", Some(("bob", "wrong-password")), 401),
        ("bob, in wiki-admins", Some(("bob", PASSWORD)), 200),
        ("m0000, not in wiki-admins", Some(("m0000", PASSWORD)), 401),
        ("erin, locked", Some(("erin", PASSWORD)), 401),
        ("alice, password without TOTP code", Some(("alice", PASSWORD)), 401),
        ("alice, app password", Some(("alice", ADMIN_APP_PASSWORD)), 200),
        ("nobody, unknown", Some(("nobody", PASSWORD)), 401),
        (
            "bob again, wrong password after a success",
            Some(("bob", "wrong-password")),
            401,
        ),
    ];
    for (what, credentials, expected) in cases {
        assert_eq!(status(port, credentials), expected, "{what}\n{}", error_log());
    }
    let access = std::fs::read_to_string(dir.path().join("ldap-access.log")).unwrap();
    assert!(
        access
            .lines()
            .any(|l| l.contains(" bob \"GET /index.html") && l.ends_with(" 200")),
        "REMOTE_USER is not the uid: {access}"
    );

    // A lock is seen at the next request: no cached bind lets bob in.
    ok_stdout(&server.cli(&["account", "lock", "bob"]));
    let start = Instant::now();
    while status(port, Some(("bob", PASSWORD))) != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "bob still gets in after the lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("apache: lock effective after {:?}", start.elapsed());
    drop(apache);
}
