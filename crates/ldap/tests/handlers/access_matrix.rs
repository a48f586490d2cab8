//! The access matrix (issue 12): every principal × every attribute of the schema × read,
//! presence, equality, substring, ordering and compare, on a person and on two groups, checked
//! against one visibility table written here from DESIGN.md ("Who sees what"), not derived from
//! the code.
//!
//! A cell the table hides must never match (a leak). A cell the table shows must answer as it
//! does for an admin, who sees everything but `userPassword` (else the principal is
//! under-served). The admin's answers are themselves checked against the raw entry on read.
//!
//! Reading of DESIGN.md written down here: operational bookkeeping that says nothing about the
//! member (entryDN, timestamps, structuralObjectClass, hasSubordinates, subschemaSubentry) is
//! readable by whoever sees the entry; "names of groups" for members are the group's
//! objectClass, cn, description and gidNumber (what `id` needs), never its member lists.

use std::collections::BTreeSet;

use ldap3_proto::proto::{LdapFilter, LdapResultCode, LdapSearchScope, LdapSubstringFilter};
use piratenldap_core::Dn;
use piratenldap_core::schema::{ATTRIBUTE_TYPES, AttributeType, Matching};
use piratenldap_directory::Principal;
use piratenldap_ldap::Session;

use crate::fixture::*;

/// Who reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    /// bob, reading his own entry.
    Member,
    /// carol, reading bob's.
    OtherMember,
    Admin,
    DefaultService,
    /// `--members-of wikiusers`.
    MembersOfService,
    /// `--real-names`.
    RealNamesService,
    /// eve: a session bound before her account was locked.
    LockedMember,
    /// bob, bound with an app password.
    AppPasswordSession,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Member,
    Who::OtherMember,
    Who::Admin,
    Who::DefaultService,
    Who::MembersOfService,
    Who::RealNamesService,
    Who::LockedMember,
    Who::AppPasswordSession,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// bob's entry.
    Person,
    /// `wikiusers`: bob and eve (locked).
    Wikiusers,
    /// `admins`: alice.
    Admins,
}

const BOOKKEEPING: &[&str] = &[
    "entryDN",
    "createTimestamp",
    "modifyTimestamp",
    "structuralObjectClass",
    "hasSubordinates",
    "subschemaSubentry",
];
/// DESIGN.md: a service's default attributes.
const SERVICE_DEFAULT: &[&str] = &[
    "objectClass",
    "uid",
    "cn",
    "displayName",
    "mail",
    "memberOf",
    "entryUUID",
    "pirateStateAssociation",
    "pirateMembershipStatus",
    "pirateVotingRight",
];
/// DESIGN.md: "+ POSIX".
const POSIX: &[&str] = &["uidNumber", "gidNumber", "homeDirectory", "loginShell", "memberUid"];
/// DESIGN.md: "real names and member numbers only with --real-names".
const REAL_NAMES: &[&str] = &["givenName", "sn", "pirateMemberNumber"];
/// What a service reads of a group it sees.
const SERVICE_GROUP: &[&str] = &[
    "objectClass",
    "cn",
    "description",
    "member",
    "uniqueMember",
    "memberUid",
    "gidNumber",
    "entryUUID",
];
/// "names of groups", for members.
const MEMBER_GROUP: &[&str] = &["objectClass", "cn", "description", "gidNumber"];

fn is(attr: &AttributeType, list: &[&str]) -> bool {
    list.iter()
        .any(|l| attr.names.iter().any(|n| n.eq_ignore_ascii_case(l)))
}

/// The table: may `who` read attribute `attr` of `target` at all?
fn readable(who: Who, target: Target, attr: &AttributeType) -> bool {
    if attr.name() == "userPassword" {
        return false;
    }
    let person = target == Target::Person;
    match who {
        Who::Anonymous | Who::LockedMember => false,
        Who::Admin => true,
        Who::Member | Who::AppPasswordSession if person => true,
        Who::OtherMember if person => false,
        Who::Member | Who::AppPasswordSession | Who::OtherMember => is(attr, MEMBER_GROUP) || is(attr, BOOKKEEPING),
        Who::DefaultService | Who::MembersOfService | Who::RealNamesService if !person => {
            is(attr, SERVICE_GROUP) || is(attr, BOOKKEEPING)
        }
        Who::DefaultService | Who::MembersOfService => {
            is(attr, SERVICE_DEFAULT) || is(attr, POSIX) || is(attr, BOOKKEEPING)
        }
        Who::RealNamesService => {
            is(attr, SERVICE_DEFAULT) || is(attr, POSIX) || is(attr, REAL_NAMES) || is(attr, BOOKKEEPING)
        }
    }
}

/// The table for member lists: may `who` see that `uid` is a member? Services see the people
/// of their population (active, not locked; for `--members-of`, in that group); admins all.
fn member_visible(who: Who, uid: &str) -> bool {
    let population = ["alice", "bob", "carol"]; // dora is suspended, eve locked
    match who {
        Who::Admin => true,
        Who::DefaultService | Who::RealNamesService => population.contains(&uid),
        Who::MembersOfService => uid == "bob",
        _ => false,
    }
}

/// Whether a value is one `who` may see, given the table's attribute rule.
fn value_visible(who: Who, target: Target, attr: &AttributeType, value: &str) -> bool {
    if !readable(who, target, attr) {
        return false;
    }
    match attr.name() {
        "memberUid" if target != Target::Person => member_visible(who, value),
        "member" | "uniqueMember" => {
            let dn = Dn::parse(value).unwrap();
            let uid = dn.rdn().unwrap().avas()[0].value.clone();
            member_visible(who, &uid)
        }
        _ => true,
    }
}

/// A session of `who`; `at` is the time of the bind (an admin's TOTP code works once).
async fn session_of(f: &Fixture, who: Who, at: time::OffsetDateTime) -> Session {
    let totp = format!("{PASSWORD}{}", code_at(ALICE_TOTP_SECRET, at));
    match who {
        Who::Anonymous => f.session(),
        Who::Member => f.bound(&person("bob"), PASSWORD).await,
        Who::OtherMember => f.bound(&person("carol"), PASSWORD).await,
        Who::Admin => {
            let mut s = f.session();
            assert_eq!(
                f.bind_at(&mut s, &person("alice"), &totp, at).await,
                LdapResultCode::Success
            );
            s
        }
        Who::DefaultService => f.bound(&service("wiki"), SERVICE_PASSWORD).await,
        Who::MembersOfService => f.bound(&service("wikionly"), SERVICE_PASSWORD).await,
        Who::RealNamesService => f.bound(&service("hr"), SERVICE_PASSWORD).await,
        Who::LockedMember => {
            let mut s = f.session();
            assert_eq!(
                f.bind(&mut s, &person("eve"), PASSWORD).await,
                LdapResultCode::InvalidCredentials
            );
            // As if bound just before the lock.
            s.principal = Principal::Member {
                dn: Dn::parse(&person("eve")).unwrap(),
            };
            s
        }
        Who::AppPasswordSession => f.bound(&person("bob"), BOB_APP_PASSWORD).await,
    }
}

/// What one principal's session answers for one cell.
async fn matches(f: &Fixture, s: &mut Session, dn: &str, filter: LdapFilter) -> bool {
    let (entries, _, _) = f
        .search_with(s, dn, LdapSearchScope::Base, filter, &["1.1"], vec![])
        .await;
    !entries.is_empty()
}

async fn read(f: &Fixture, s: &mut Session, dn: &str, attr: &str) -> BTreeSet<String> {
    let (entries, _, _) = f
        .search_with(
            s,
            dn,
            LdapSearchScope::Base,
            LdapFilter::Present("objectClass".into()),
            &[attr],
            vec![],
        )
        .await;
    entries
        .into_iter()
        .flat_map(|e| e.attributes)
        .flat_map(|a| a.vals)
        .map(|v| String::from_utf8(v).unwrap())
        .collect()
}

/// The probes of one value: equality, substring (first two characters), ordering.
fn probes(attr: &AttributeType, value: &str) -> Vec<(&'static str, LdapFilter)> {
    let name = attr.name().to_string();
    let mut out = vec![("equality", LdapFilter::Equality(name.clone(), value.into()))];
    if attr.matching.has_substrings() {
        let initial: String = value.chars().take(2).collect();
        let sub = LdapSubstringFilter {
            initial: Some(initial),
            any: vec![],
            final_: None,
        };
        out.push(("substring", LdapFilter::Substring(name.clone(), sub)));
    }
    if attr.matching != Matching::Dn {
        out.push(("ordering", LdapFilter::GreaterOrEqual(name, value.into())));
    }
    out
}

/// The DNs (`member`) or uids (`memberUid`) of the people whose memberOf names `group`.
fn members_of(view: &piratenldap_directory::View, group: &str, attr: &str) -> Vec<String> {
    let group = Dn::parse(group).unwrap();
    view.entries
        .iter()
        .filter(|e| {
            e.values("memberOf")
                .iter()
                .any(|g| Dn::parse(g).is_ok_and(|g| g == group))
        })
        .map(|e| match attr {
            "member" | "uniqueMember" => e.dn_string.to_string(),
            _ => e.values("uid").first().unwrap_or_default().to_string(),
        })
        .collect()
}

#[tokio::test]
async fn every_principal_attribute_and_operation_against_the_table() {
    let f = Fixture::new().await;
    let view = f.ctx.directory.view();
    let targets = [
        (Target::Person, person("bob")),
        (Target::Wikiusers, group("wikiusers")),
        (Target::Admins, group("admins")),
    ];
    let mut admin = session_of(&f, Who::Admin, t0()).await;
    let mut sessions = Vec::new();
    for who in EVERYONE {
        sessions.push((who, session_of(&f, who, t0() + time::Duration::seconds(30)).await));
    }
    let (mut cells, mut leaks, mut under) = (0usize, Vec::new(), Vec::new());
    for (target, dn) in &targets {
        let entry = &view.entries[view.entry_index(&Dn::parse(dn).unwrap()).unwrap()];
        for attr in ATTRIBUTE_TYPES.iter() {
            let raw: Vec<String> = match attr.name() {
                // A group's member lists are its members' memberOf, read the other way round.
                "member" | "uniqueMember" | "memberUid" if *target != Target::Person => {
                    members_of(&view, dn, attr.name())
                }
                _ => entry
                    .get(attr)
                    .map(|a| a.values.iter().map(|v| v.to_string()).collect())
                    .unwrap_or_default(),
            };
            // The admin's read is the raw entry, but for userPassword (never in an entry).
            let admin_read = read(&f, &mut admin, dn, attr.name()).await;
            assert_eq!(
                admin_read,
                raw.iter().cloned().collect(),
                "admin reads {} of {dn}",
                attr.name()
            );
            // Probes and the admin's answers to them.
            let mut cases: Vec<(String, LdapFilter, bool, Option<&String>)> = Vec::new();
            let present = LdapFilter::Present(attr.name().into());
            let admin_present = matches(&f, &mut admin, dn, present.clone()).await;
            cases.push(("presence".into(), present, admin_present, None));
            for v in &raw {
                for (kind, filter) in probes(attr, v) {
                    let admin_says = matches(&f, &mut admin, dn, filter.clone()).await;
                    cases.push((format!("{kind} {v}"), filter, admin_says, Some(v)));
                }
            }
            for (who, s) in sessions.iter_mut() {
                let who = *who;
                // Read.
                let want: BTreeSet<String> = raw
                    .iter()
                    .filter(|v| value_visible(who, *target, attr, v))
                    .cloned()
                    .collect();
                let got = read(&f, s, dn, attr.name()).await;
                cells += 1;
                if !got.is_subset(&want) {
                    leaks.push(format!("{who:?} reads {} of {dn}: {got:?}", attr.name()));
                } else if got != want {
                    under.push(format!("{who:?} reads {} of {dn}: {got:?}, not {want:?}", attr.name()));
                }
                // Filters.
                for (what, filter, admin_says, value) in &cases {
                    let shown = match value {
                        Some(v) => value_visible(who, *target, attr, v),
                        None => !want.is_empty(),
                    };
                    let got = matches(&f, s, dn, filter.clone()).await;
                    cells += 1;
                    if got && !shown {
                        leaks.push(format!("{who:?} {what} on {} of {dn}", attr.name()));
                    } else if got != (*admin_says && shown) {
                        under.push(format!("{who:?} {what} on {} of {dn}: {got}", attr.name()));
                    }
                }
                // Compare, each value.
                for v in &raw {
                    let code = f.compare(s, dn, attr.name(), v).await;
                    cells += 1;
                    let shown = value_visible(who, *target, attr, v);
                    if code == LdapResultCode::CompareTrue && !shown {
                        leaks.push(format!("{who:?} compare {}={v} of {dn}", attr.name()));
                    } else if shown && code != LdapResultCode::CompareTrue {
                        under.push(format!("{who:?} compare {}={v} of {dn}: {code:?}", attr.name()));
                    }
                }
            }
        }
    }
    // The principals themselves: a member sees only their own entry, services only their
    // population, nobody the locked account.
    println!(
        "access matrix: {cells} cells checked, {} leaks, {} under-served",
        leaks.len(),
        under.len()
    );
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
    assert!(under.is_empty(), "{} under-served:\n{}", under.len(), under.join("\n"));
    assert!(cells > 3_500, "only {cells} cells");
}
