//! StartTLS and LDAPS, verified against the CA that `init` made.

use ldap3::LdapConnSettings;
use piratenldap_tests::{ADMIN_APP_PASSWORD, Install, PASSWORD, client_tls, person, standard_server};

use crate::{connect_url, ok_stdout};

#[tokio::test]
async fn starttls_and_ldaps_with_ldap3_verify_against_our_ca() {
    let server = standard_server().await;
    let tls = client_tls(&server.install.ca_pem());
    let starttls = LdapConnSettings::new().set_config(tls.clone()).set_starttls(true);
    let mut ldap = connect_url(&format!("ldap://localhost:{}", server.ldap.port()), starttls).await;
    assert_eq!(
        ldap.simple_bind(&person("alice"), ADMIN_APP_PASSWORD).await.unwrap().rc,
        0
    );
    let ldaps = LdapConnSettings::new().set_config(tls);
    let mut ldap = connect_url(&server.ldaps_url(), ldaps).await;
    assert_eq!(
        ldap.simple_bind(&person("alice"), ADMIN_APP_PASSWORD).await.unwrap().rc,
        0
    );
    // By IP address too: the certificate names 127.0.0.1.
    let by_ip = LdapConnSettings::new().set_config(client_tls(&server.install.ca_pem()));
    let mut ldap = connect_url(&format!("ldaps://127.0.0.1:{}", server.ldaps.port()), by_ip).await;
    assert_eq!(
        ldap.simple_bind(&person("alice"), ADMIN_APP_PASSWORD).await.unwrap().rc,
        0
    );
}

#[tokio::test]
async fn a_client_trusting_another_ca_refuses_the_server() {
    let server = standard_server().await;
    let other = Install::new();
    let settings = LdapConnSettings::new().set_config(client_tls(&other.ca_pem()));
    let result = ldap3::LdapConnAsync::with_settings(settings, &server.ldaps_url()).await;
    assert!(result.is_err(), "TLS handshake succeeded against a foreign CA");
}

#[tokio::test]
async fn openldap_tools_over_starttls_and_ldaps() {
    let server = standard_server().await;
    let dn = person("bob");
    let starttls = format!("ldap://localhost:{}", server.ldap.port());
    let out = server.openldap("ldapwhoami", &["-x", "-ZZ", "-H", &starttls, "-D", &dn, "-w", PASSWORD]);
    assert_eq!(ok_stdout(&out).trim(), format!("dn:{dn}"));
    let out = server.openldap(
        "ldapwhoami",
        &["-x", "-H", &server.ldaps_url(), "-D", &dn, "-w", PASSWORD],
    );
    assert_eq!(ok_stdout(&out).trim(), format!("dn:{dn}"));
    let out = server.openldap(
        "ldapsearch",
        &[
            "-x", "-LLL", "-ZZ", "-H", &starttls, "-D", &dn, "-w", PASSWORD, "-b", &dn, "-s", "base", "uid",
        ],
    );
    assert!(ok_stdout(&out).contains("uid: bob"));
}

#[test]
fn server_certificate_names_local_addresses_and_given_hosts() {
    let install = piratenldap_tests::Install::new();
    let cert = install.dir.path().join("data/tls/server.pem");
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let sans = ok_stdout(&out);
    for name in ["DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"] {
        assert!(sans.contains(name), "{name} missing: {sans}");
    }
    // `openssl verify` accepts it against the CA init made.
    let out = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(install.ca_pem())
        .arg(&cert)
        .output()
        .unwrap();
    assert!(ok_stdout(&out).contains(": OK"));
    // --host adds names.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("p.toml");
    let out = std::process::Command::new(piratenldap_tests::binary())
        .args([
            "--config",
            config.to_str().unwrap(),
            "init",
            "--host",
            "ldap.piraten.example",
            "--host",
            "10.1.2.3",
        ])
        .output()
        .unwrap();
    ok_stdout(&out);
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(dir.path().join("data/tls/server.pem"))
        .output()
        .unwrap();
    let sans = ok_stdout(&out);
    assert!(
        sans.contains("DNS:ldap.piraten.example") && sans.contains("IP Address:10.1.2.3"),
        "{sans}"
    );
}
