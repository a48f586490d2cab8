//! Issue 16, "who read real names": entries with real names or member numbers that a
//! `--real-names` service receives over LDAP, and real-name claims an OpenID Connect client
//! with `--real-names` receives, are counted per service and hour in the audit trail and
//! listed by `audit --reads`; services without real names are never counted.

use ldap3::{LdapConnAsync, Scope, SearchEntry};
use openidconnect::OAuth2TokenResponse;
use piratenldap_tests::{BASE, PASSWORD, SERVICE_PASSWORD, service};

use crate::ok_stdout;
use crate::sso::{Browser, sign_in, sso_server, userinfo};

/// Entries of people a service finds with `attrs`, and how many carry `givenName`.
async fn search_people(url: &str, name: &str, attrs: Vec<&str>) -> (usize, usize) {
    let (conn, mut ldap) = LdapConnAsync::new(url).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(&service(name), SERVICE_PASSWORD)
        .await
        .unwrap()
        .success()
        .unwrap();
    let (entries, _) = ldap
        .search(
            &format!("ou=people,{BASE}"),
            Scope::Subtree,
            "(objectClass=person)",
            attrs,
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let entries: Vec<SearchEntry> = entries.into_iter().map(SearchEntry::construct).collect();
    let named = entries.iter().filter(|e| e.attrs.contains_key("givenName")).count();
    (entries.len(), named)
}

/// The `audit --reads` table as (service, entries) summed over hours.
fn reads(out: &str) -> std::collections::BTreeMap<String, u64> {
    let mut sums = std::collections::BTreeMap::new();
    for line in out.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if let [_, service, n] = cols[..] {
            *sums.entry(service.to_string()).or_default() += n.parse::<u64>().unwrap();
        }
    }
    sums
}

#[tokio::test]
async fn real_name_reads_are_counted_per_service_and_hour() {
    let mut sso = sso_server().await;
    let url = sso.server.ldap_url();
    // hr (--real-names) reads names; uid-only results of hr and everything wiki reads are not counted.
    let (found, named) = search_people(&url, "hr", vec!["uid", "givenName", "sn"]).await;
    assert!(named >= 2 && named <= found, "hr saw {named} names in {found} entries");
    let (_, uid_only) = search_people(&url, "hr", vec!["uid"]).await;
    assert_eq!(uid_only, 0);
    let (wiki_found, wiki_named) = search_people(&url, "wiki", vec!["*"]).await;
    assert!(wiki_found > 0 && wiki_named == 0, "wiki must not see real names");

    // OpenID Connect: bob signs in at staff (--real-names) with the profile scope: the ID token
    // and the userinfo answer each carry his real name.
    let client = sso.client("staff").await;
    let bob = Browser::new();
    let (tokens, _) = sign_in(&sso, &bob, &client, &["profile"], Some(("bob", PASSWORD, ""))).await;
    let (_, info) = userinfo(&sso, tokens.access_token().secret()).await;
    assert!(info.get("given_name").is_some(), "{info}");

    // The counts reach the audit trail at the latest when the server stops.
    assert!(sso.server.terminate().success());
    let table = reads(&ok_stdout(&sso.server.cli(&["audit", "--reads"])));
    assert_eq!(table.get("hr"), Some(&(named as u64)), "{table:?}");
    assert_eq!(table.get("staff"), Some(&2), "{table:?}");
    assert!(!table.contains_key("wiki"), "{table:?}");
    // The raw events name the service and the hour; --reads refuses to mix with --uid.
    let audit = ok_stdout(&sso.server.cli(&["audit"]));
    assert!(audit.contains("read.real_names") && audit.contains("hour="), "{audit}");
    let out = sso.server.cli(&["audit", "--reads", "--uid", "bob"]);
    assert_eq!(out.status.code(), Some(2));
}
