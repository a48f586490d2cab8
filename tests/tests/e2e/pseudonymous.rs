//! Issue 16, pseudonymous services: `service add NAME --pseudonymous` makes a service (LDAP or
//! OpenID Connect) see a pseudonym per member instead of uid, names and mail, keyed by the
//! pseudonym key file; members still log in through the service's search-then-bind path, and
//! the pseudonym is the entry's RDN and the client's `sub`.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use ldap3::{Scope, SearchEntry};
use openidconnect::TokenResponse;
use piratenldap_core::service_pseudonym::{PseudonymKey, is_pseudonym};
use piratenldap_tests::{BASE, Install, PASSWORD, SERVICE_PASSWORD, person, service, standard_fixture};

use crate::sso::{Browser, sign_in, sso_server, userinfo};
use crate::{bound, connect, ok_stdout, search};

/// The installation's pseudonym key, read from its file.
fn pseudonym_key(install: &Install) -> PseudonymKey {
    let text = std::fs::read_to_string(install.dir.path().join("data/pseudonym.key")).unwrap();
    let text = text.trim();
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    PseudonymKey::new(bytes.try_into().unwrap())
}

/// `password:` of a `service add` output.
fn password_of(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string()
}

/// Every value (and DN) of every entry, for "nothing of X appears anywhere".
fn all_text(entries: &[SearchEntry]) -> String {
    let mut text = String::new();
    for e in entries {
        text.push_str(&e.dn);
        for (name, values) in &e.attrs {
            text.push_str(&format!("\n{name}: {}", values.join(" | ")));
        }
        text.push('\n');
    }
    text.to_lowercase()
}

/// The row of `service` in a member export's list of services.
fn find_service<'a>(value: &'a serde_json::Value, service: &str) -> Option<&'a serde_json::Value> {
    match value {
        serde_json::Value::Object(map) if map.get("service").and_then(|s| s.as_str()) == Some(service) => Some(value),
        serde_json::Value::Object(map) => map.values().find_map(|v| find_service(v, service)),
        serde_json::Value::Array(items) => items.iter().find_map(|v| find_service(v, service)),
        _ => None,
    }
}

#[tokio::test]
async fn a_pseudonymous_service_sees_pseudonyms_and_logs_members_in() {
    let install = Install::new();
    standard_fixture(&install).await;
    // Refused combinations change nothing.
    let refused = install.cli(&["service", "add", "x", "--pseudonymous", "--real-names"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "--pseudonymous --real-names is a usage error"
    );
    let ballot = password_of(&ok_stdout(&install.cli(&[
        "service",
        "add",
        "ballot",
        "--pseudonymous",
    ])));
    let tally = password_of(&ok_stdout(&install.cli(&["service", "add", "tally", "--pseudonymous"])));
    let listed = ok_stdout(&install.cli(&["service", "list"]));
    assert!(listed.contains("ldap+pseudonymous"), "{listed}");
    let key_file = install.dir.path().join("data/pseudonym.key");
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600,
        "the pseudonym key is private"
    );
    let key = pseudonym_key(&install);
    let mut server = install.serve();

    // What the default-profile service wiki sees: the identities that must not leak.
    let mut wiki = bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
    let (people, _) = search(
        &mut wiki,
        &format!("ou=people,{BASE}"),
        Scope::Subtree,
        "(uid=*)",
        &["*", "+"],
    )
    .await;
    let mut mut_hr = bound(&server, &service("hr"), SERVICE_PASSWORD).await;
    let (named, _) = search(
        &mut mut_hr,
        &format!("ou=people,{BASE}"),
        Scope::Subtree,
        "(uid=*)",
        &["*", "+"],
    )
    .await;
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    for e in people.iter().chain(&named) {
        for attr in [
            "uid",
            "mail",
            "givenName",
            "sn",
            "pirateMemberNumber",
            "entryUUID",
            "uidNumber",
            "cn",
        ] {
            secrets.extend(e.attrs.get(attr).into_iter().flatten().map(|v| v.to_lowercase()));
        }
    }
    let uuid_of = |uid: &str| {
        people
            .iter()
            .find(|e| e.attrs["uid"][0] == uid)
            .map(|e| e.attrs["entryUUID"][0].clone())
            .unwrap()
    };

    // ballot sees one pseudonymous entry per member of its population, and nothing else of them.
    let mut as_ballot = bound(&server, &service("ballot"), &ballot).await;
    let (seen, res) = search(
        &mut as_ballot,
        &format!("ou=people,{BASE}"),
        Scope::Subtree,
        "(objectClass=*)",
        &["*", "+"],
    )
    .await;
    assert_eq!(res.rc, 0);
    let persons: Vec<&SearchEntry> = seen.iter().filter(|e| e.dn != format!("ou=people,{BASE}")).collect();
    assert_eq!(persons.len(), people.len(), "the same population as a default service");
    for e in &persons {
        let uid = &e.attrs["uid"][0];
        assert!(is_pseudonym(uid), "{uid}");
        assert_eq!(e.dn, format!("uid={uid},ou=people,{BASE}"), "the pseudonym is the RDN");
        for hidden in [
            "mail",
            "givenName",
            "pirateMemberNumber",
            "uidNumber",
            "homeDirectory",
            "createTimestamp",
            "modifyTimestamp",
        ] {
            assert!(!e.attrs.contains_key(hidden), "{hidden} in {e:?}");
        }
        for shown in [
            "pirateVotingRight",
            "pirateStateAssociation",
            "pirateMembershipStatus",
            "entryUUID",
        ] {
            assert!(e.attrs.contains_key(shown), "{shown} missing in {e:?}");
        }
    }
    let text = all_text(&seen);
    let values: BTreeSet<String> = seen
        .iter()
        .flat_map(|e| e.attrs.values().flatten().map(|v| v.to_lowercase()))
        .collect();
    for secret in &secrets {
        assert!(!values.contains(secret), "{secret} leaked to a pseudonymous service");
        // Inside a longer value too, unless it could be a chance run of hex digits.
        if !secret.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            assert!(
                !text.contains(secret.as_str()),
                "{secret} leaked to a pseudonymous service"
            );
        }
    }

    // The pseudonym is the keyed hash of the account's ID and the service: stable, per service.
    let expected = key.pseudonym("ballot", &uuid_of("bob"));
    let (found, _) = search(
        &mut as_ballot,
        BASE,
        Scope::Subtree,
        "(&(objectClass=person)(uid=bob))",
        &["uid"],
    )
    .await;
    assert_eq!(found.len(), 1, "the login search finds bob");
    assert_eq!(found[0].dn, format!("uid={expected},ou=people,{BASE}"));
    let mut as_tally = bound(&server, &service("tally"), &tally).await;
    let (other, _) = search(&mut as_tally, BASE, Scope::Subtree, "(uid=BOB)", &["uid", "entryUUID"]).await;
    assert_eq!(other.len(), 1);
    assert_ne!(other[0].dn, found[0].dn, "pseudonyms differ between services");
    assert_eq!(other[0].attrs["uid"][0], key.pseudonym("tally", &uuid_of("bob")));
    // Only an equality on the uid finds a member: no enumeration of real uids or mail.
    for filter in [
        "(uid=bo*)",
        "(uid<=bob)",
        "(mail=bob@example.org)",
        "(cn=Bob B.)",
        "(uid~=bob)",
    ] {
        let (hits, _) = search(&mut as_ballot, BASE, Scope::Subtree, filter, &["uid"]).await;
        assert!(hits.is_empty(), "{filter} found {} entries", hits.len());
    }
    // A suspended member (carol) and a locked one (erin) have no entry; nor does anyone for wiki.
    for uid in ["carol", "erin"] {
        let (hits, _) = search(&mut as_ballot, BASE, Scope::Subtree, &format!("(uid={uid})"), &["uid"]).await;
        assert!(hits.is_empty(), "{uid}");
    }
    let (hits, _) = search(&mut wiki, BASE, Scope::Subtree, "(uid=ps-*)", &["uid"]).await;
    assert!(hits.is_empty(), "another service sees no pseudonymous entry");
    // Groups list ballot's members by their pseudonyms, and a group filter finds them.
    let (groups, _) = search(
        &mut as_ballot,
        &format!("ou=groups,{BASE}"),
        Scope::Subtree,
        "(cn=members)",
        &["member", "memberUid"],
    )
    .await;
    assert_eq!(groups.len(), 1);
    let shown: BTreeSet<&String> = groups[0].attrs["member"].iter().collect();
    let dns: BTreeSet<&String> = persons.iter().map(|e| &e.dn).collect();
    assert_eq!(
        shown, dns,
        "the members group lists exactly ballot's pseudonymous entries"
    );
    assert!(groups[0].attrs["memberUid"].iter().all(|u| is_pseudonym(u)));
    let bob_dn = format!("uid={expected},ou=people,{BASE}");
    let (by_member, _) = search(
        &mut as_ballot,
        &format!("ou=groups,{BASE}"),
        Scope::Subtree,
        &format!("(member={bob_dn})"),
        &["cn"],
    )
    .await;
    assert!(by_member.iter().any(|g| g.attrs["cn"][0] == "members"), "{by_member:?}");
    let (by_uid, _) = search(&mut as_ballot, BASE, Scope::Subtree, "(memberUid=bob)", &["cn"]).await;
    assert!(by_uid.is_empty(), "a real uid is no memberUid of ballot's groups");

    // bob binds with the DN the search gave and his password; WhoAmI is the pseudonym.
    let pseudonymous_dn = found[0].dn.clone();
    let mut as_bob = bound(&server, &pseudonymous_dn, PASSWORD).await;
    let who = as_bob.extended(ldap3::exop::WhoAmI).await.unwrap().0;
    let who = who
        .val
        .map(|v| String::from_utf8_lossy(&v).to_string())
        .unwrap_or_default();
    assert_eq!(who.to_lowercase(), format!("dn:{pseudonymous_dn}").to_lowercase());
    let (own, _) = search(
        &mut as_bob,
        &format!("ou=people,{BASE}"),
        Scope::Subtree,
        "(objectClass=person)",
        &["*"],
    )
    .await;
    assert_eq!(
        own.len(),
        1,
        "bob, bound through the pseudonym, sees his pseudonymous entry only"
    );
    assert_eq!(own[0].dn, pseudonymous_dn);
    assert!(!all_text(&own).contains("bob"), "{own:?}");
    let mut wrong = connect(&server).await;
    assert_eq!(
        wrong.simple_bind(&pseudonymous_dn, "wrong password").await.unwrap().rc,
        49
    );

    // The member's own data names the pseudonymous services.
    let export = ok_stdout(&server.cli(&["member", "export", "2"]));
    let export: serde_json::Value = serde_json::from_str(&export).unwrap();
    let ballot_row = find_service(&export, "ballot").expect("ballot in the export");
    assert_eq!(ballot_row["pseudonymous"], true, "{ballot_row}");
    assert_eq!(ballot_row["sees_entry"], true, "{ballot_row}");
    let attributes = ballot_row["attributes"].to_string();
    assert!(
        attributes.contains("\"uid\"") && !attributes.contains("mail"),
        "{attributes}"
    );
    assert_eq!(find_service(&export, "wiki").unwrap()["pseudonymous"], false);
    // The key is in the backup.
    let backup = server.install.dir.path().join("backup.jsonl");
    ok_stdout(&server.cli(&["backup", backup.to_str().unwrap()]));
    assert!(
        std::fs::read_to_string(&backup)
            .unwrap()
            .contains(r#""name":"pseudonym.key""#)
    );

    // Pseudonyms survive a restart (they come from the key, not from memory).
    server.kill_and_restart();
    let mut as_ballot = bound(&server, &service("ballot"), &ballot).await;
    let (again, _) = search(&mut as_ballot, BASE, Scope::Subtree, "(uid=bob)", &["uid"]).await;
    assert_eq!(again[0].dn, pseudonymous_dn);

    // The pseudonymous DN shares bob's throttle bucket: five failures through it, then even
    // the right password at his own DN is refused.
    for _ in 0..5 {
        let mut c = connect(&server).await;
        assert_eq!(c.simple_bind(&pseudonymous_dn, "wrong password").await.unwrap().rc, 49);
    }
    let mut c = connect(&server).await;
    assert_eq!(
        c.simple_bind(&person("bob"), PASSWORD).await.unwrap().rc,
        49,
        "no extra guesses through a pseudonymous DN"
    );
}

#[tokio::test]
async fn a_pseudonymous_client_gets_the_pseudonym_as_subject_and_no_identity() {
    let sso = sso_server().await;
    let key = pseudonym_key(&sso.server.install);
    let mut wiki = bound(&sso.server, &service("wiki"), SERVICE_PASSWORD).await;
    let (bob, _) = search(
        &mut wiki,
        &person("bob"),
        Scope::Base,
        "(objectClass=*)",
        &["entryUUID"],
    )
    .await;
    let uuid = bob[0].attrs["entryUUID"][0].clone();

    let client = sso.client("ballot").await;
    let browser = Browser::new();
    let scopes = ["profile", "email", "membership", "groups"];
    let (tokens, sub) = bob_signs_in(&sso, &browser, &client, &scopes).await;
    assert_eq!(
        sub,
        key.pseudonym("ballot", &uuid),
        "the sub is the member's pseudonym for the client"
    );
    let (status, info) = userinfo(&sso, openidconnect::OAuth2TokenResponse::access_token(&tokens).secret()).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(info["sub"], sub.as_str());
    assert!(info.get("email").is_none(), "{info}");
    assert_eq!(info["state_association"], "BY", "{info}");
    assert_eq!(info["voting_right"], false, "{info}");
    let text = info.to_string().to_lowercase();
    for secret in ["bob", "brecht", "example.org", &uuid] {
        assert!(!text.contains(secret), "{secret} in {info}");
    }
    // The same member signs in again: the same subject.
    let (_, again) = bob_signs_in(&sso, &Browser::new(), &client, &scopes).await;
    assert_eq!(again, sub);
}

/// bob signs in at `client`: the token response and the ID token's verified subject.
async fn bob_signs_in(
    sso: &crate::sso::Sso,
    browser: &Browser,
    client: &crate::sso::Client,
    scopes: &[&str],
) -> (openidconnect::core::CoreTokenResponse, String) {
    let (tokens, nonce) = sign_in(sso, browser, client, scopes, Some(("bob", PASSWORD, ""))).await;
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&sso.verifier(client), &nonce)
        .unwrap()
        .clone();
    (tokens, claims.subject().to_string())
}
