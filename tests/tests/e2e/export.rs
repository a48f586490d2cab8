//! Issue 16, a member's own data (GDPR art. 15): `member export NUMBER` writes everything the
//! system holds about a member as JSON, never a secret; the member downloads the same on
//! `/account/export` after logging in.

use piratenldap_tests::{PASSWORD, SERVICE_PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;

use crate::ok_stdout;
use crate::sso::{Browser, sign_in, sso_server};

fn export(server: &piratenldap_tests::Server, number: &str) -> (Value, String) {
    let text = ok_stdout(&server.cli(&["member", "export", number]));
    (serde_json::from_str(&text).unwrap(), text)
}

/// The service entry `name` of an export.
fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {doc}"))
}

fn reads(doc: &Value, service_name: &str, attr: &str) -> bool {
    service(doc, service_name)["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == attr)
}

#[tokio::test]
async fn an_export_holds_everything_about_a_member_and_no_secret() {
    let sso = sso_server().await;
    let server = &sso.server;
    // A token for member 7 (no account yet) and a failed bind against alice for the audit trail.
    let recs = [piratenldap_tests::record(
        "7",
        "BY",
        piratenldap_core::ids::MembershipStatus::Active,
        true,
        "Tina",
        "Token",
        None,
    )];
    piratenldap_store::Store::import_members(
        &server.install.store().await,
        &recs,
        false,
        false,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    let csv = server.install.dir.path().join("letters.csv");
    ok_stdout(&server.cli(&["token", "issue", "--member", "7", "--out", csv.to_str().unwrap()]));
    let token = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();

    let (alice, text) = export(server, "1");
    assert_eq!(alice["member"]["number"], "1");
    assert_eq!(alice["member"]["given_name"], "Alice");
    assert_eq!(alice["account"]["uid"], "alice");
    assert_eq!(alice["account"]["second_factor"]["totp_enabled"], true);
    assert_eq!(alice["account"]["app_passwords"][0]["label"], "tests");
    let groups: Vec<&str> = alice["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        groups.contains(&"admins") && groups.contains(&"wiki-admins"),
        "{groups:?}"
    );
    // Which service reads what, under today's profiles.
    assert!(reads(&alice, "hr", "givenName"), "hr has --real-names");
    assert!(!reads(&alice, "wiki", "givenName") && reads(&alice, "wiki", "uid"));
    assert!(reads(&alice, "mailer", "mail") && !reads(&alice, "mailer", "pirateStateAssociation"));
    assert!(!text.contains("$argon2") && !text.contains(SERVICE_PASSWORD) && !text.contains(PASSWORD));
    assert!(!text.contains("0123456789abcdefghij"), "the TOTP secret leaked");
    assert!(!alice["audit"].as_array().unwrap().is_empty());

    // A member without an account: the record and the letter's token, never the token itself.
    let (tina, text) = export(server, "7");
    assert_eq!(tina["account"], Value::Null);
    assert_eq!(tina["tokens"][0]["state"], "live");
    assert_eq!(tina["tokens"][0]["kind"], "activation");
    let bare = token.replace('-', "");
    assert!(!text.contains(&token) && !text.contains(&bare), "the token leaked");

    let out = server.cli(&["member", "export", "999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no member 999"));

    // The member downloads the same on the web after logging in; without a session: the login page.
    let bob = Browser::new();
    let res = bob.get(&format!("{}/account/export", sso.issuer)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let portal = sso.client("portal").await;
    sign_in(&sso, &bob, &portal, &[], Some(("bob", PASSWORD, ""))).await;
    let res = bob.get(&format!("{}/account/export", sso.issuer)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let doc: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(doc["member"]["number"], "2");
    assert_eq!(doc["account"]["uid"], "bob");
    let page = bob.get(&format!("{}/account/", sso.issuer)).await.text().await.unwrap();
    assert!(page.contains("/account/export"), "{page}");
}
