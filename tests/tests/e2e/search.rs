//! Search: filters, scopes, attribute selection, typesOnly, limits, paging, controls, the
//! root DSE and the subschema.

use std::collections::BTreeSet;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Scope, SearchEntry};
use piratenldap_tests::{ADMIN_APP_PASSWORD, BASE, GENERATED, SERVICE_PASSWORD, person, service, standard_server};

use crate::{bound, connect, ok_stdout, search, uids};

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn every_filter_type_over_ldap() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    let people = format!("ou=people,{BASE}");
    // Filters that leave out the generated members (state BE) to keep the sets small.
    let cases: &[(&str, &[&str])] = &[
        ("(&(!(pirateStateAssociation=BE))(uid=ALICE))", &["alice"]),
        ("(&(!(pirateStateAssociation=BE))(cn=*li*))", &["alice"]),
        ("(&(!(pirateStateAssociation=BE))(cn=b*))", &["bob"]),
        (
            "(&(!(pirateStateAssociation=BE))(mail=*))",
            &["alice", "bob", "carol", "erin"],
        ),
        ("(&(!(pirateStateAssociation=BE))(!(mail=*)))", &["dave"]),
        ("(&(!(pirateStateAssociation=BE))(uidNumber>=20003))", &["dave", "erin"]),
        ("(&(!(pirateStateAssociation=BE))(uidNumber<=20000))", &["alice"]),
        ("(&(!(pirateStateAssociation=BE))(cn~=bobb))", &["bob"]),
        (
            "(&(!(pirateStateAssociation=BE))(|(uid=alice)(uid=carol)))",
            &["alice", "carol"],
        ),
        (
            "(&(!(pirateStateAssociation=BE))(pirateMembershipStatus=suspended))",
            &["carol"],
        ),
        (
            "(&(!(pirateStateAssociation=BE))(pirateVotingRight=TRUE)(pirateMembershipStatus=active))",
            &["alice", "erin"],
        ),
        (
            "(&(!(pirateStateAssociation=BE))(memberOf=CN=wiki-admins,OU=groups,dc=example,dc=org))",
            &["alice", "bob"],
        ),
        ("(&(!(pirateStateAssociation=BE))(uid:caseExactMatch:=bob))", &["bob"]),
        // NOT of Undefined (no such attribute value) stays Undefined: dave has no mail.
        (
            "(&(!(pirateStateAssociation=BE))(!(mail=alice@example.org)))",
            &["bob", "carol", "erin"],
        ),
        ("(&(!(pirateStateAssociation=BE))(description=x))", &[]),
    ];
    for (filter, want) in cases {
        let (entries, res) = search(&mut ldap, &people, Scope::OneLevel, filter, &["uid"]).await;
        assert_eq!(res.rc, 0, "{filter}: {res:?}");
        assert_eq!(uids(&entries), set(want), "{filter}");
    }
}

#[tokio::test]
async fn scopes_and_missing_bases() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    let (base, _) = search(&mut ldap, BASE, Scope::Base, "(objectClass=*)", &["dc", "o"]).await;
    assert_eq!(base.len(), 1);
    assert_eq!(base[0].attrs["dc"], vec!["example"]);
    let (one, _) = search(&mut ldap, BASE, Scope::OneLevel, "(objectClass=*)", &["ou"]).await;
    let ous: BTreeSet<String> = one.iter().map(|e| e.dn.clone()).collect();
    assert_eq!(
        ous,
        set(&[
            &format!("ou=groups,{BASE}"),
            &format!("ou=people,{BASE}"),
            &format!("ou=services,{BASE}")
        ])
    );
    let (sub, _) = search(&mut ldap, BASE, Scope::Subtree, "(objectClass=inetOrgPerson)", &["1.1"]).await;
    assert_eq!(sub.len(), 5 + GENERATED);
    let (_, res) = search(
        &mut ldap,
        &format!("ou=nowhere,{BASE}"),
        Scope::Subtree,
        "(objectClass=*)",
        &["1.1"],
    )
    .await;
    assert_eq!(res.rc, 32);
    assert_eq!(res.matched, BASE);
    let (_, res) = search(
        &mut ldap,
        "this is not a dn",
        Scope::Subtree,
        "(objectClass=*)",
        &["1.1"],
    )
    .await;
    assert_eq!(res.rc, 34);
    // DN matching is case- and space-insensitive.
    let (e, _) = search(
        &mut ldap,
        "UID=Alice, OU=People,DC=Example,DC=Org",
        Scope::Base,
        "(objectClass=*)",
        &["uid"],
    )
    .await;
    assert_eq!(uids(&e), set(&["alice"]));
}

#[tokio::test]
async fn attribute_selection_and_types_only() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    let dn = person("alice");
    let names = |e: &SearchEntry| e.attrs.keys().cloned().collect::<BTreeSet<String>>();
    let (all, _) = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &[]).await;
    assert!(names(&all[0]).contains("mail") && !names(&all[0]).contains("entryUUID"));
    let (plus, _) = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &["+"]).await;
    assert!(
        names(&plus[0]).contains("entryUUID")
            && names(&plus[0]).contains("createTimestamp")
            && !names(&plus[0]).contains("mail")
    );
    let (both, _) = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &["*", "+"]).await;
    assert!(names(&both[0]).contains("entryUUID") && names(&both[0]).contains("mail"));
    let (none, _) = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &["1.1"]).await;
    assert!(none[0].attrs.is_empty());
    let (mixed, _) = search(
        &mut ldap,
        &dn,
        Scope::Base,
        "(objectClass=*)",
        &["MAIL", "UidNumber", "nonexistent"],
    )
    .await;
    assert_eq!(names(&mixed[0]), set(&["mail", "uidNumber"]));
    let (up, _) = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &["userPassword"]).await;
    assert!(up[0].attrs.is_empty() && up[0].bin_attrs.is_empty());
    // typesOnly through ldapsearch -A
    let out = server.openldap(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &server.ldap_url(),
            "-D",
            &dn,
            "-w",
            ADMIN_APP_PASSWORD,
            "-b",
            &dn,
            "-s",
            "base",
            "-A",
            "mail",
            "cn",
        ],
    );
    let text = ok_stdout(&out);
    assert!(
        text.contains("mail\n") || text.contains("mail:\n") || text.lines().any(|l| l.trim() == "mail"),
        "{text}"
    );
    assert!(!text.contains("alice@example.org"), "{text}");
}

#[tokio::test]
async fn size_limit_and_paging() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
    let people = format!("ou=people,{BASE}");
    // sizeLimit → sizeLimitExceeded with exactly that many entries.
    let res = ldap
        .with_search_options(ldap3::SearchOptions::new().sizelimit(7))
        .search(&people, Scope::Subtree, "(objectClass=inetOrgPerson)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 4);
    assert_eq!(res.0.len(), 7);

    // Paged results with the ldap3 adapter: every entry exactly once.
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(50))];
    let mut stream = ldap
        .streaming_search_with(
            adapters,
            &people,
            Scope::Subtree,
            "(objectClass=inetOrgPerson)",
            vec!["uid"],
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(entry) = stream.next().await.unwrap() {
        seen.push(SearchEntry::construct(entry).dn);
    }
    let res = stream.finish().await;
    assert_eq!(res.rc, 0);
    let unique: BTreeSet<&String> = seen.iter().collect();
    // wiki sees the active, unlocked people: alice, bob and the generated ones.
    assert_eq!(seen.len(), GENERATED + 2, "entries returned");
    assert_eq!(unique.len(), seen.len(), "an entry was returned twice");

    // The same with OpenLDAP's client.
    let out = server.openldap(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &server.ldap_url(),
            "-D",
            &service("wiki"),
            "-w",
            SERVICE_PASSWORD,
            "-b",
            &people,
            "-E",
            "pr=100/noprompt",
            "(objectClass=inetOrgPerson)",
            "1.1",
        ],
    );
    let text = ok_stdout(&out);
    assert_eq!(text.lines().filter(|l| l.starts_with("dn: ")).count(), GENERATED + 2);
}

#[tokio::test]
async fn unknown_critical_control_is_refused() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &person("alice"), &server.admin_password().await).await;
    // unavailableCriticalExtension (12) when critical; ignored otherwise.
    for (crit, rc) in [(true, 12), (false, 0)] {
        let ctrl = RawControl {
            ctype: "1.2.3.4.5.6.7".into(),
            crit,
            val: None,
        };
        let res = ldap
            .with_controls(vec![ctrl])
            .search(BASE, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .unwrap();
        assert_eq!(res.1.rc, rc, "unknown control, critical: {crit}");
    }
}

#[tokio::test]
async fn root_dse_and_subschema() {
    let server = standard_server().await;
    let mut ldap = connect(&server).await;
    let (root, res) = search(&mut ldap, "", Scope::Base, "(objectClass=*)", &["+"]).await;
    assert_eq!(res.rc, 0);
    let a = &root[0].attrs;
    assert_eq!(a["namingContexts"], vec![BASE]);
    assert_eq!(a["supportedLDAPVersion"], vec!["3"]);
    for oid in [
        "1.3.6.1.4.1.1466.20037",
        "1.3.6.1.4.1.4203.1.11.3",
        "1.3.6.1.4.1.4203.1.11.1",
    ] {
        assert!(a["supportedExtension"].contains(&oid.to_string()), "{oid}");
    }
    assert!(a["supportedControl"].contains(&"1.2.840.113556.1.4.319".to_string()));
    assert_eq!(a["subschemaSubentry"], vec!["cn=Subschema"]);
    assert_eq!(a["vendorName"], vec!["piratenldap"]);
    assert!(a.contains_key("vendorVersion"));
    let (schema, _) = search(
        &mut ldap,
        "cn=Subschema",
        Scope::Base,
        "(objectClass=subschema)",
        &["attributeTypes", "objectClasses"],
    )
    .await;
    let types = schema[0].attrs["attributeTypes"].join("\n");
    for name in [
        "'uid'",
        "'memberOf'",
        "'pirateMemberNumber'",
        "'pirateVotingRight'",
        "'entryUUID'",
        "'gidNumber'",
        "'memberUid'",
    ] {
        assert!(types.contains(name), "{name} missing from attributeTypes");
    }
    let classes = schema[0].attrs["objectClasses"].join("\n");
    for name in [
        "'inetOrgPerson'",
        "'posixAccount'",
        "'piratePerson'",
        "'groupOfNames'",
        "'groupOfUniqueNames'",
        "'posixGroup'",
    ] {
        assert!(classes.contains(name), "{name} missing from objectClasses");
    }
}

#[tokio::test]
async fn groups_carry_member_and_member_uid() {
    let server = standard_server().await;
    let mut ldap = bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
    let (g, _) = search(
        &mut ldap,
        &format!("ou=groups,{BASE}"),
        Scope::OneLevel,
        "(cn=wiki-admins)",
        &["member", "memberUid", "gidNumber"],
    )
    .await;
    assert_eq!(g[0].attrs["member"], vec![person("alice"), person("bob")]);
    assert_eq!(g[0].attrs["memberUid"], vec!["alice", "bob"]);
    let (voting, _) = search(
        &mut ldap,
        &format!("cn=voting,ou=groups,{BASE}"),
        Scope::Base,
        "(objectClass=*)",
        &["memberUid"],
    )
    .await;
    let v = &voting[0].attrs["memberUid"];
    assert!(v.contains(&"alice".to_string()) && !v.contains(&"bob".to_string()) && !v.contains(&"carol".to_string()));
    let (lv, _) = search(
        &mut ldap,
        &format!("ou=groups,{BASE}"),
        Scope::OneLevel,
        "(cn=lv-by)",
        &["memberUid"],
    )
    .await;
    assert_eq!(lv[0].attrs["memberUid"], vec!["alice", "bob"]);
}

#[tokio::test]
async fn groups_carry_unique_member_for_clients_that_read_only_that() {
    let server = standard_server().await;
    // ldapsearch, as such a client would: groupOfUniqueNames and uniqueMember only.
    let out = server.openldap(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &server.ldap_url(),
            "-D",
            &service("wiki"),
            "-w",
            SERVICE_PASSWORD,
            "-b",
            &format!("ou=groups,{BASE}"),
            &format!("(&(objectClass=groupOfUniqueNames)(uniqueMember={}))", person("bob")),
            "uniqueMember",
        ],
    );
    let text = ok_stdout(&out);
    assert!(text.contains(&format!("dn: cn=wiki-admins,ou=groups,{BASE}")), "{text}");
    assert!(text.contains(&format!("uniqueMember: {}", person("alice"))), "{text}");
    assert!(!text.contains("cn=voting,"), "bob has no voting right: {text}");
    // Compare, and the same narrowing as member: a service sees only its population.
    let compare = server.openldap(
        "ldapcompare",
        &[
            "-x",
            "-H",
            &server.ldap_url(),
            "-D",
            &service("wiki"),
            "-w",
            SERVICE_PASSWORD,
            &format!("cn=wiki-admins,ou=groups,{BASE}"),
            &format!("uniqueMember:{}", person("bob")),
        ],
    );
    assert_eq!(compare.status.code(), Some(6), "compareTrue: {compare:?}");
    let mut vote = bound(&server, &service("vote"), SERVICE_PASSWORD).await;
    let (g, _) = search(
        &mut vote,
        &format!("cn=wiki-admins,ou=groups,{BASE}"),
        Scope::Base,
        "(objectClass=*)",
        &["member", "uniqueMember"],
    )
    .await;
    assert_eq!(
        g[0].attrs["uniqueMember"],
        vec![person("alice")],
        "vote's population is the voting group"
    );
    assert_eq!(g[0].attrs["uniqueMember"], g[0].attrs["member"]);
}
