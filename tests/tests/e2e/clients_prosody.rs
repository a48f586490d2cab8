//! ops/clients/prosody/ with Debian's Prosody 0.12 and its mod_auth_ldap (lua-ldap): a private
//! Prosody (own data directory, pid file and c2s port on 127.0.0.1, no s2s, plain c2s allowed
//! on loopback) finds members through piratenldap over StartTLS and binds as them. A minimal
//! XMPP client (stream header, SASL PLAIN) signs bob in (`<success`), and gets `<failure` for
//! a wrong password, for alice's password without a TOTP code, for erin (locked) and for an
//! unknown user; alice gets in with an app password.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use piratenldap_tests::{ADMIN_APP_PASSWORD, Install, PASSWORD};

use crate::clients_support::{Daemon, add_service, ops_file, set_lines};
use crate::nginx::free_port;

const DOMAIN: &str = "example.org";

/// Reads from `stream` until the text received contains one of `ends`; at most 10 seconds.
fn read_until(stream: &mut TcpStream, ends: &[&str]) -> String {
    let start = Instant::now();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !ends.iter().any(|e| text.contains(e)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waiting for {ends:?}: {text}"
        );
        let n = stream.read(&mut buf).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(n > 0, "the server closed the stream: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

/// Opens a client stream and authenticates with SASL PLAIN; true on `<success`, false on
/// `<failure`.
fn sasl_plain(port: u16, user: &str, password: &str) -> bool {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client' \
         xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    )
    .unwrap();
    let features = read_until(&mut stream, &["</stream:features>"]);
    assert!(
        features.contains("<mechanism>PLAIN</mechanism>"),
        "PLAIN is not offered: {features}"
    );
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    write!(
        stream,
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{credentials}</auth>"
    )
    .unwrap();
    let answer = read_until(&mut stream, &["<success", "</failure>"]);
    let _ = stream.write_all(b"</stream:stream>");
    answer.contains("<success")
}

#[tokio::test]
async fn clients_prosody_mod_auth_ldap_sasl_plain() {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    let (bind_dn, bind_password) = add_service(&install, "prosody", &["--attrs", "uid"]);
    let server = install.serve();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("data")).unwrap();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = std::fs::read_to_string(ops_file("prosody", "piratenldap.cfg.lua")).unwrap();
    let auth = d.join("piratenldap.cfg.lua");
    std::fs::write(
        &auth,
        set_lines(
            &text,
            &[
                // StartTLS to the name the server certificate carries.
                (
                    "ldap_server",
                    format!("ldap_server = \"localhost:{}\"", server.ldap.port()),
                ),
                ("ldap_rootdn", format!("ldap_rootdn = \"{bind_dn}\"")),
                ("ldap_password", format!("ldap_password = \"{bind_password}\"")),
            ],
        ),
    )
    .unwrap();
    // libldap's settings for StartTLS: the installation's CA.
    let ldap_conf = d.join("ldap.conf");
    std::fs::write(
        &ldap_conf,
        format!("TLS_CACERT {}\nTLS_REQCERT demand\n", server.install.ca_pem().display()),
    )
    .unwrap();
    let port = free_port();
    let conf = d.join("prosody.cfg.lua");
    std::fs::write(
        &conf,
        format!(
            "run_as_root = true\ndata_path = \"{d}/data\"\npidfile = \"{d}/prosody.pid\"\n\
             certificates = \"{d}\"\nlog = {{ info = \"{d}/prosody.log\" }}\n\
             interfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ {port} }}\n\
             modules_enabled = {{ \"saslauth\", \"disco\" }}\nmodules_disabled = {{ \"s2s\" }}\n\
             c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n\
             Include \"{auth}\"\nVirtualHost \"{DOMAIN}\"\n",
            d = d.display(),
            auth = auth.display(),
        ),
    )
    .unwrap();
    let child = Command::new("prosody")
        .arg("-F")
        .arg("--config")
        .arg(&conf)
        .env("LDAPCONF", &ldap_conf)
        .env("LDAPRC", "/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prosody (apt-get install prosody lua-ldap)");
    let mut prosody = Daemon { child, name: "prosody" };
    let log = || std::fs::read_to_string(d.join("prosody.log")).unwrap_or_default();
    prosody.wait_for(20, || TcpStream::connect(("127.0.0.1", port)).is_ok(), log);

    let cases = [
        ("bob", PASSWORD, true, "bob's password"),
        ("bob", "wrong-password", false, "a wrong password"),
        ("alice", PASSWORD, false, "alice's password without a TOTP code"),
        ("alice", ADMIN_APP_PASSWORD, true, "alice's app password"),
        ("erin", PASSWORD, false, "erin (locked)"),
        ("nobody", PASSWORD, false, "an unknown user"),
    ];
    for (user, password, expected, what) in cases {
        assert_eq!(sasl_plain(port, user, password), expected, "{what}\n{}", log());
    }
    assert!(!log().contains("\terror\t"), "{}", log());
    drop(prosody);
}
