//! Compare, WhoAmI, Password Modify, write operations, abandon, unbind, bad PDUs.

use std::io::{Read, Write};

use ldap3::exop::{PasswordModify, PasswordModifyResp, WhoAmI, WhoAmIResp};
use ldap3::{Mod, Scope};
use piratenldap_tests::{ADMIN_APP_PASSWORD, BASE, PASSWORD, SERVICE_PASSWORD, person, service, standard_server};

use crate::{bound, connect, ok_stdout, search};

#[tokio::test]
async fn compare_uses_schema_matching_and_access() {
    let server = standard_server().await;
    let mut wiki = bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
    let rc = |r: ldap3::result::CompareResult| r.0.rc;
    assert_eq!(
        rc(wiki
            .compare(&person("alice"), "mail", "ALICE@example.org")
            .await
            .unwrap()),
        6
    );
    assert_eq!(rc(wiki.compare(&person("alice"), "uid", "bob").await.unwrap()), 5);
    assert_eq!(
        rc(wiki
            .compare(&person("alice"), "memberOf", &format!("CN=members, ou=groups,{BASE}"))
            .await
            .unwrap()),
        6
    );
    assert_eq!(
        rc(wiki.compare(&person("alice"), "givenName", "Alice").await.unwrap()),
        16,
        "restricted attribute"
    );
    assert_eq!(rc(wiki.compare(&person("alice"), "noSuchType", "x").await.unwrap()), 17);
    assert_eq!(
        rc(wiki.compare(&person("carol"), "uid", "carol").await.unwrap()),
        32,
        "outside wiki's population"
    );
    // OpenLDAP's ldapcompare exits 6 for TRUE and 5 for FALSE.
    let args = |v: &str| {
        vec![
            "-x".to_string(),
            "-H".into(),
            server.ldap_url(),
            "-D".into(),
            service("wiki"),
            "-w".into(),
            SERVICE_PASSWORD.into(),
            person("bob"),
            format!("cn:{v}"),
        ]
    };
    let out = server.openldap(
        "ldapcompare",
        &args("bob b.").iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stdout));
    let out = server.openldap(
        "ldapcompare",
        &args("somebody").iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(5));
}

#[tokio::test]
async fn whoami_over_ldap3() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    let (exop, _) = ldap.extended(WhoAmI).await.unwrap().success().unwrap();
    let resp: WhoAmIResp = exop.parse();
    assert_eq!(resp.authzid, format!("dn:{}", person("alice")));
}

#[tokio::test]
async fn password_modify_changes_own_password_only() {
    let server = standard_server().await;
    // ldappasswd with an explicit new password.
    let out = server.openldap(
        "ldappasswd",
        &[
            "-x",
            "-H",
            &server.ldap_url(),
            "-D",
            &person("bob"),
            "-w",
            PASSWORD,
            "-a",
            PASSWORD,
            "-s",
            "violet tractors hum softly",
        ],
    );
    ok_stdout(&out);
    let mut ldap = connect(&server).await;
    assert_eq!(
        ldap.simple_bind(&person("bob"), "violet tractors hum softly")
            .await
            .unwrap()
            .rc,
        0
    );
    assert_eq!(
        ldap.simple_bind(&person("bob"), PASSWORD).await.unwrap().rc,
        49,
        "the old password still works"
    );

    // Without a new value the server generates one and returns it (RFC 3062).
    let mut member = bound(&server, &person("m0003"), PASSWORD).await;
    let (exop, _) = member
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some(PASSWORD),
            new_pass: None,
        })
        .await
        .unwrap()
        .success()
        .unwrap();
    let generated: PasswordModifyResp = exop.parse();
    assert!(generated.gen_pass.len() >= 10);
    let mut again = connect(&server).await;
    assert_eq!(
        again
            .simple_bind(&person("m0003"), &generated.gen_pass)
            .await
            .unwrap()
            .rc,
        0
    );

    // Someone else's password, a wrong old password, a short one: refused.
    let mut m = bound(&server, &person("m0001"), PASSWORD).await;
    let res = m
        .extended(PasswordModify {
            user_id: Some(&person("m0002")),
            old_pass: None,
            new_pass: Some("long-enough-pass"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 50);
    let res = m
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some("wrong"),
            new_pass: Some("long-enough-pass"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 49);
    let res = m
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some(PASSWORD),
            new_pass: Some("short"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 19);
    let mut anon = connect(&server).await;
    let res = anon
        .extended(PasswordModify {
            user_id: None,
            old_pass: None,
            new_pass: Some("long-enough-pass"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 50);
}

#[tokio::test]
async fn write_operations_are_refused_with_a_pointer() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    let add = ldap
        .add(
            &format!("uid=x,ou=people,{BASE}"),
            vec![("objectClass", ["top"].into())],
        )
        .await
        .unwrap();
    let modify = ldap
        .modify(&person("bob"), vec![Mod::Replace("mail", ["x@y.z"].into())])
        .await
        .unwrap();
    let delete = ldap.delete(&person("bob")).await.unwrap();
    let moddn = ldap.modifydn(&person("bob"), "uid=robert", true, None).await.unwrap();
    for res in [add, modify, delete, moddn] {
        assert_eq!(res.rc, 53, "{res:?}");
        assert!(res.text.contains("piratenldap command line"), "{}", res.text);
    }
    let (e, _) = search(&mut ldap, &person("bob"), Scope::Base, "(objectClass=*)", &["mail"]).await;
    assert_eq!(e[0].attrs["mail"], vec!["bob@example.org"], "nothing changed");
}

#[tokio::test]
async fn abandon_and_unbind() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    // Abandoning a finished or unknown operation is silently accepted; the connection goes on.
    ldap.abandon(9999).await.unwrap();
    let (e, _) = search(&mut ldap, BASE, Scope::Base, "(objectClass=*)", &["1.1"]).await;
    assert_eq!(e.len(), 1);
    ldap.unbind().await.unwrap();
}

#[tokio::test]
async fn undecodable_pdu_closes_only_that_connection() {
    let server = standard_server().await;
    let mut raw = std::net::TcpStream::connect(server.ldap).unwrap();
    raw.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    raw.write_all(&[0x30, 0x05, 0x02, 0x01, 0x01, 0xff, 0x00]).unwrap();
    // A Notice of Disconnection (an unsolicited extended response, message ID 0), then EOF.
    let mut got = Vec::new();
    let _ = raw.read_to_end(&mut got);
    assert!(got.windows(22).any(|w| w == b"1.3.6.1.4.1.1466.20036"), "{got:x?}");
    let mut ldap = connect(&server).await;
    assert_eq!(
        ldap.simple_bind(&person("alice"), ADMIN_APP_PASSWORD).await.unwrap().rc,
        0,
        "the server still serves"
    );
}
