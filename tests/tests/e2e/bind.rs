//! Binds: people and services, wrong and locked credentials, unauthenticated binds, the
//! plaintext policy.

use piratenldap_tests::{PASSWORD, SERVICE_PASSWORD, person, service, standard_server, standard_server_with};

use crate::{connect, ok_stdout};

#[tokio::test]
async fn simple_binds_succeed_and_fail_as_they_should() {
    let server = standard_server().await;
    let cases = [
        (person("alice"), PASSWORD, 49), // admin with TOTP: the password alone fails
        (person("bob"), PASSWORD, 0),
        (person("bob").to_uppercase(), PASSWORD, 0),
        (service("wiki"), SERVICE_PASSWORD, 0),
        (person("alice"), "wrong-password", 49),
        (person("nosuchuser"), PASSWORD, 49),
        (person("erin"), PASSWORD, 49), // locked
        (person("dave"), PASSWORD, 49), // left the party
        (person("alice"), "", 53),      // unauthenticated bind
        ("".to_string(), "", 0),        // anonymous
        ("not a dn".to_string(), PASSWORD, 34),
    ];
    for (dn, pw, want) in cases {
        let mut ldap = connect(&server).await;
        let res = ldap.simple_bind(&dn, pw).await.unwrap();
        assert_eq!(res.rc, want, "bind {dn:?}: {res:?}");
    }
}

#[tokio::test]
async fn ldapwhoami_reports_the_bound_dn() {
    let server = standard_server().await;
    let out = server.openldap(
        "ldapwhoami",
        &["-x", "-H", &server.ldap_url(), "-D", &person("bob"), "-w", PASSWORD],
    );
    assert_eq!(ok_stdout(&out).trim(), format!("dn:{}", person("bob")));
    let out = server.openldap("ldapwhoami", &["-x", "-H", &server.ldap_url()]);
    assert_eq!(ok_stdout(&out).trim(), "anonymous");
    let out = server.openldap(
        "ldapwhoami",
        &["-x", "-H", &server.ldap_url(), "-D", &person("bob"), "-w", "nope"],
    );
    assert_eq!(out.status.code(), Some(49), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn plaintext_bind_never_requires_tls() {
    let server = standard_server_with("plaintext_bind = \"loopback\"", "plaintext_bind = \"never\"").await;
    let mut ldap = connect(&server).await;
    let res = ldap.simple_bind(&person("bob"), PASSWORD).await.unwrap();
    assert_eq!(res.rc, 13, "{res:?}");
    assert!(
        res.text.contains("StartTLS"),
        "the message says what to do: {}",
        res.text
    );
    // With StartTLS (-ZZ: required) the same bind works.
    let out = server.openldap(
        "ldapwhoami",
        &[
            "-x",
            "-ZZ",
            "-H",
            &format!("ldap://localhost:{}", server.ldap.port()),
            "-D",
            &person("bob"),
            "-w",
            PASSWORD,
        ],
    );
    assert_eq!(ok_stdout(&out).trim(), format!("dn:{}", person("bob")));
}

#[tokio::test]
async fn a_flood_of_binds_is_served_in_line() {
    // 48 failures from one address: give the address room, this test is about concurrency.
    let server = standard_server_with("address_burst = 100", "address_burst = 1000").await;
    let mut tasks = Vec::new();
    for i in 0..48 {
        let url = server.ldap_url();
        tasks.push(tokio::spawn(async move {
            let (conn, mut ldap) = ldap3::LdapConnAsync::new(&url).await.unwrap();
            ldap3::drive!(conn);
            let uid = format!("m{:04}", i);
            let ok = ldap
                .simple_bind(&piratenldap_tests::person(&uid), PASSWORD)
                .await
                .unwrap()
                .rc;
            let bad = ldap
                .simple_bind(&piratenldap_tests::person(&uid), "wrong-password")
                .await
                .unwrap()
                .rc;
            (ok, bad)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), (0, 49));
    }
}
