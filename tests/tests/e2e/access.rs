//! Who sees what (DESIGN.md): services by profile, members their own entry, nobody
//! userPassword, anonymous only the root DSE.

use ldap3::Scope;
use piratenldap_tests::{BASE, PASSWORD, SERVICE_PASSWORD, person, service, standard_server, standard_server_with};

use crate::{bound, connect, search, uids};

const RESTRICTED: [&str; 3] = ["givenName", "sn", "pirateMemberNumber"];

#[tokio::test]
async fn service_without_real_names_never_sees_them() {
    let server = standard_server().await;
    let mut wiki = bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
    let people = format!("ou=people,{BASE}");
    let (e, _) = search(
        &mut wiki,
        &people,
        Scope::Subtree,
        "(uid=alice)",
        &["*", "+", "givenName", "sn", "pirateMemberNumber"],
    )
    .await;
    assert_eq!(e.len(), 1);
    for attr in RESTRICTED {
        assert!(!e[0].attrs.contains_key(attr), "wiki sees {attr}");
    }
    for attr in [
        "uid",
        "cn",
        "displayName",
        "mail",
        "memberOf",
        "entryUUID",
        "pirateStateAssociation",
        "uidNumber",
    ] {
        assert!(e[0].attrs.contains_key(attr), "wiki misses {attr}");
    }
    // Nor can it probe them with a filter, positively or negated.
    for filter in [
        "(givenName=Alice)",
        "(sn=Arendt)",
        "(pirateMemberNumber=1)",
        "(givenName=*)",
        "(!(givenName=Nobody))",
    ] {
        let (e, _) = search(&mut wiki, &people, Scope::Subtree, filter, &["uid"]).await;
        assert!(e.is_empty(), "{filter} matched {:?}", uids(&e));
    }
    // Suspended, left and locked members are outside its default population.
    let (e, _) = search(
        &mut wiki,
        &people,
        Scope::Subtree,
        "(|(uid=carol)(uid=dave)(uid=erin))",
        &["uid"],
    )
    .await;
    assert!(e.is_empty(), "{:?}", uids(&e));
}

#[tokio::test]
async fn service_profiles_grant_what_they_say() {
    let server = standard_server().await;
    let people = format!("ou=people,{BASE}");
    let mut hr = bound(&server, &service("hr"), SERVICE_PASSWORD).await;
    let (e, _) = search(&mut hr, &people, Scope::Subtree, "(givenName=Alice)", &["*"]).await;
    assert_eq!(uids(&e), ["alice".to_string()].into());
    for attr in RESTRICTED {
        assert!(e[0].attrs.contains_key(attr), "hr misses {attr}");
    }
    let mut vote = bound(&server, &service("vote"), SERVICE_PASSWORD).await;
    let (e, _) = search(&mut vote, &people, Scope::Subtree, "(|(uid=alice)(uid=bob))", &["uid"]).await;
    assert_eq!(uids(&e), ["alice".to_string()].into(), "vote sees only voting members");
    let (g, _) = search(
        &mut vote,
        &format!("cn=wiki-admins,ou=groups,{BASE}"),
        Scope::Base,
        "(objectClass=*)",
        &["memberUid"],
    )
    .await;
    assert_eq!(
        g[0].attrs["memberUid"],
        vec!["alice"],
        "group members outside its population are hidden"
    );
    let mut mailer = bound(&server, &service("mailer"), SERVICE_PASSWORD).await;
    let (e, _) = search(&mut mailer, &people, Scope::Subtree, "(uid=alice)", &["*"]).await;
    let keys: std::collections::BTreeSet<&str> = e[0].attrs.keys().map(String::as_str).collect();
    assert!(keys.contains("uid") && keys.contains("mail"), "{keys:?}");
    assert!(
        !keys.contains("cn") && !keys.contains("memberOf"),
        "mailer sees more than uid and mail: {keys:?}"
    );
}

#[tokio::test]
async fn members_see_their_own_entry_only() {
    let server = standard_server().await;
    let people = format!("ou=people,{BASE}");
    let mut bob = bound(&server, &person("bob"), PASSWORD).await;
    let (own, _) = search(
        &mut bob,
        &person("bob"),
        Scope::Base,
        "(objectClass=*)",
        &["mail", "givenName"],
    )
    .await;
    assert_eq!(own[0].attrs["mail"], vec!["bob@example.org"]);
    let (other, res) = search(&mut bob, &person("alice"), Scope::Base, "(objectClass=*)", &["mail"]).await;
    assert!(other.is_empty());
    assert_eq!(res.rc, 32, "another member's entry does not exist for bob");
    let (all, _) = search(&mut bob, &people, Scope::Subtree, "(mail=*)", &["uid", "mail"]).await;
    assert_eq!(uids(&all), ["bob".to_string()].into(), "bob finds only himself");
    let (groups, _) = search(
        &mut bob,
        &format!("ou=groups,{BASE}"),
        Scope::OneLevel,
        "(objectClass=groupOfNames)",
        &["cn", "member"],
    )
    .await;
    assert!(groups.len() >= 4, "members see the names of groups");
    assert!(
        groups.iter().all(|g| !g.attrs.contains_key("member")),
        "but not who is in them"
    );
}

#[tokio::test]
async fn nobody_reads_or_matches_user_password() {
    let server = standard_server().await;
    let mut alice = bound(&server, &person("alice"), &server.admin_password().await).await;
    let (e, _) = search(&mut alice, BASE, Scope::Subtree, "(userPassword=*)", &["userPassword"]).await;
    assert!(e.is_empty(), "a filter on userPassword matched");
    let (e, _) = search(
        &mut alice,
        &person("bob"),
        Scope::Base,
        "(objectClass=*)",
        &["userPassword", "*", "+"],
    )
    .await;
    assert!(!e[0].attrs.contains_key("userPassword") && e[0].bin_attrs.is_empty());
    let cmp = alice.compare(&person("bob"), "userPassword", PASSWORD).await.unwrap();
    assert_eq!(cmp.0.rc, 50);
}

#[tokio::test]
async fn anonymous_sees_only_the_root_dse() {
    let server = standard_server().await;
    let mut anon = connect(&server).await;
    let (root, res) = search(&mut anon, "", Scope::Base, "(objectClass=*)", &["namingContexts"]).await;
    assert_eq!((res.rc, root.len()), (0, 1));
    let (schema, res) = search(
        &mut anon,
        "cn=Subschema",
        Scope::Base,
        "(objectClass=*)",
        &["objectClasses"],
    )
    .await;
    assert_eq!((res.rc, schema.len()), (0, 1));
    for base in [BASE, &format!("ou=people,{BASE}") as &str] {
        let (e, res) = search(&mut anon, base, Scope::Subtree, "(objectClass=*)", &["1.1"]).await;
        assert!(e.is_empty());
        assert_eq!(res.rc, 50, "{base}");
    }
}

#[tokio::test]
async fn anonymous_off_hides_the_root_dse_too() {
    let server = standard_server_with("anonymous = \"rootdse\"", "anonymous = \"off\"").await;
    let mut anon = connect(&server).await;
    let (e, res) = search(&mut anon, "", Scope::Base, "(objectClass=*)", &["+"]).await;
    assert!(e.is_empty());
    assert_eq!(res.rc, 50);
    let mut alice = bound(&server, &person("alice"), &server.admin_password().await).await;
    let (e, _) = search(&mut alice, "", Scope::Base, "(objectClass=*)", &["+"]).await;
    assert_eq!(e.len(), 1, "bound clients still read the root DSE");
}
