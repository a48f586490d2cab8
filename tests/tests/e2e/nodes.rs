//! Issue 6: two `serve` processes on one PostgreSQL database. A change made through node A (its
//! CLI, its LDAP password change, its portal-equivalent `activate`) is seen over LDAP on node B
//! within one second; the failed-bind throttle and one-time TOTP codes hold across the nodes.

use ldap3::Scope;
use piratenldap_tests::{ALICE_TOTP_SECRET, BASE, Install, PASSWORD, Server, person, standard_fixture, totp_now};

use crate::{bound, connect, ok_stdout, search, within_one_second};

/// Two nodes serving one fresh PostgreSQL database with the standard directory.
async fn two_nodes() -> (Server, Server) {
    let a = Install::on_postgres().await;
    standard_fixture(&a).await;
    let b = a.second_node();
    (a.serve(), b.serve())
}

async fn bind_rc(server: &Server, dn: &str, pw: &str) -> u32 {
    connect(server).await.simple_bind(dn, pw).await.unwrap().rc
}

/// Waits until node B's view has the revision the store has after a change through node A.
async fn caught_up(what: &str, a: &Server, b: &Server) {
    use piratenldap_store::Store;
    let want = a.install.store().await.revision().await.unwrap();
    within_one_second(what, || async {
        crate::second_factor::metric(b, "piratenldap_directory_revision") >= want as u64
    })
    .await;
}

/// uids in `group` as an admin connection to node B shows them.
async fn group_members(admin: &mut ldap3::Ldap, group: &str) -> Vec<String> {
    let (entries, _) = search(
        admin,
        &format!("cn={group},ou=groups,{BASE}"),
        Scope::Base,
        "(objectClass=*)",
        &["memberUid"],
    )
    .await;
    entries
        .first()
        .and_then(|e| e.attrs.get("memberUid").cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn changes_on_one_node_reach_the_other_within_a_second() {
    let (a, b) = two_nodes().await;
    assert_eq!(bind_rc(&b, &person("bob"), PASSWORD).await, 0);

    // Lock through node A's CLI. Failed binds would feed the throttle, so node B is watched
    // through its view's revision, then asked once.
    ok_stdout(&a.cli(&["account", "lock", "bob"]));
    caught_up("lock", &a, &b).await;
    assert_eq!(bind_rc(&b, &person("bob"), PASSWORD).await, 49);
    ok_stdout(&a.cli(&["account", "unlock", "bob"]));
    caught_up("unlock", &a, &b).await;
    assert_eq!(bind_rc(&b, &person("bob"), PASSWORD).await, 0);
    // Node A follows the store on its own clock too: the next step binds there.
    caught_up("unlock on A", &a, &a).await;

    // Password change over LDAP on node A (RFC 3062, as ldappasswd sends it).
    let out = a.openldap(
        "ldappasswd",
        &[
            "-x",
            "-H",
            &a.ldap_url(),
            "-D",
            &person("bob"),
            "-w",
            PASSWORD,
            "-a",
            PASSWORD,
            "-s",
            "amber kettles whistle twice",
        ],
    );
    ok_stdout(&out);
    caught_up("password change", &a, &b).await;
    assert_eq!(bind_rc(&b, &person("bob"), "amber kettles whistle twice").await, 0);
    assert_eq!(bind_rc(&b, &person("bob"), PASSWORD).await, 49);

    // Group change, watched by one admin session on node B (each admin bind uses a TOTP step).
    let admin = std::sync::Arc::new(tokio::sync::Mutex::new(
        bound(&b, &person("alice"), &b.admin_password().await).await,
    ));
    ok_stdout(&a.cli(&["group", "add", "wiki-admins", "m0001"]));
    within_one_second("group change", || async {
        group_members(&mut *admin.lock().await, "wiki-admins")
            .await
            .contains(&"m0001".to_string())
    })
    .await;

    // Import of a new member, a token, its activation.
    let csv = a.install.dir.path().join("new.csv");
    std::fs::write(&csv, "member_number,state,status\n9001,SN,active\n").unwrap();
    ok_stdout(&a.cli(&["member", "import", csv.to_str().unwrap()]));
    within_one_second("import (new state group)", || async {
        let (entries, _) = search(
            &mut *admin.lock().await,
            &format!("ou=groups,{BASE}"),
            Scope::OneLevel,
            "(cn=lv-sn)",
            &["cn"],
        )
        .await;
        entries.len() == 1
    })
    .await;
    let tokens = a.install.dir.path().join("tokens.csv");
    ok_stdout(&a.cli(&["token", "issue", "--member", "9001", "--out", tokens.to_str().unwrap()]));
    let text = std::fs::read_to_string(&tokens).unwrap();
    let token = text.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
    ok_stdout(&a.install.cli_stdin(
        &["activate", "--token", &token, "--uid", "newbie", "--password-stdin"],
        "a-long-enough-password-42\n",
    ));
    caught_up("activation", &a, &b).await;
    assert_eq!(bind_rc(&b, &person("newbie"), "a-long-enough-password-42").await, 0);
}

#[tokio::test]
async fn throttle_and_one_time_codes_hold_across_nodes() {
    let (a, b) = two_nodes().await;
    // Guessing on node A uses up bob's bucket (burst 5) for node B too.
    for _ in 0..5 {
        assert_eq!(bind_rc(&a, &person("bob"), "wrong guess").await, 49);
    }
    let verified_before = crate::second_factor::metric(&b, "piratenldap_password_verifications_total");
    assert_eq!(bind_rc(&b, &person("bob"), PASSWORD).await, 49, "throttled on B too");
    assert_eq!(
        crate::second_factor::metric(&b, "piratenldap_password_verifications_total"),
        verified_before,
        "node B refused without argon2 work"
    );
    assert_eq!(
        bind_rc(&b, &person("m0001"), PASSWORD).await,
        0,
        "other accounts are not affected"
    );

    // A TOTP code used on node A does not work on node B.
    let code = totp_now(ALICE_TOTP_SECRET);
    let with_code = format!("{PASSWORD}{code}");
    assert_eq!(bind_rc(&a, &person("alice"), &with_code).await, 0);
    assert_eq!(bind_rc(&b, &person("alice"), &with_code).await, 49, "a code works once");
}

#[tokio::test]
async fn a_certificate_revoked_on_one_node_stops_binding_on_the_other() {
    let a = crate::certs::cert_people(Install::on_postgres().await);
    let (out, text) = crate::certs::issue_for_carol(&a, None);
    let serial = crate::certs::field(&text, "serial: ");
    let b = a.second_node();
    let (a, b) = (a.serve(), b.serve());
    let ldaps_b = b.ldaps_url();
    assert_eq!(
        ok_stdout(&crate::certs::whoami_external(&b, &ldaps_b, &out, false)).trim(),
        format!("dn:{}", person("carol"))
    );
    ok_stdout(&a.cli(&["cert", "revoke", &serial, "--reason", "key lost"]));
    within_one_second("certificate revocation", || async {
        crate::certs::whoami_external(&b, &ldaps_b, &out, false).status.code() == Some(49)
    })
    .await;
    // Node B publishes the CRL node A signed.
    let crl = reqwest::get(format!("http://{}/ca/crl.pem", b.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let crl_file = b.install.dir.path().join("crl.pem");
    std::fs::write(&crl_file, crl).unwrap();
    let text = std::process::Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in", crl_file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = ok_stdout(&text).to_uppercase();
    assert!(text.contains(&serial.to_uppercase().replace(':', "")), "{text}");
}
