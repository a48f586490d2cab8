//! Issue 17: a view changed in place ([`View::apply`]) answers every reader exactly as a view
//! built whole from the changed rows does: entries, attributes, derived group member lists,
//! credentials, populations, pseudonymous entries and certificates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ldap3_proto::proto::{LdapFilter, LdapSearchScope};
use piratenldap_core::Dn;
use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::service_pseudonym::PseudonymKey;
use piratenldap_directory::render::{Selection, render};
use piratenldap_directory::{Layout, Principal, View};
use piratenldap_store::{
    Account, AppPassword, Certificate, Group, GroupKind, Member, PartialSnapshot, Service, ServiceProfile, Snapshot,
};
use time::OffsetDateTime;

fn t(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + n).unwrap()
}

fn layout() -> Layout {
    Layout::new(Dn::parse("dc=example,dc=org").unwrap(), "Example").with_pseudonym_key(PseudonymKey::new([3; 32]))
}

fn member(n: &str, state: &str, status: MembershipStatus, voting: bool) -> Member {
    Member {
        number: MemberNumber::parse(n).unwrap(),
        state: StateCode::parse(state).unwrap(),
        status,
        voting_right: voting,
        given_name: Some(format!("Given{n}")),
        surname: Some(format!("Sur{n}")),
        email: Some(format!("m{n}@example.org")),
        joined: None,
    }
}

fn account(uid: &str, n: &str) -> Account {
    Account {
        uid: Uid::parse(uid).unwrap(),
        member_number: MemberNumber::parse(n).unwrap(),
        display_name: format!("{uid} display"),
        password_hash: format!("hash-{uid}"),
        locked: false,
        uid_number: 20000 + n.parse::<i64>().unwrap(),
        entry_uuid: format!("00000000-0000-4000-8000-{:012}", n.parse::<u64>().unwrap()),
        created_at: t(0),
        modified_at: t(0),
        totp_secret: None,
        totp_enabled: false,
    }
}

fn group(name: &str, kind: GroupKind, gid: i64, manual: &[&str], chapter: Option<&str>) -> Group {
    Group {
        name: Name::parse(name).unwrap(),
        kind,
        gid_number: gid,
        description: Some(format!("{name} group")),
        entry_uuid: format!("00000000-0000-4000-9000-{gid:012}"),
        manual_members: manual.iter().map(|u| Uid::parse(u).unwrap()).collect(),
        chapter: chapter.map(|c| StateCode::parse(c).unwrap()),
        created_at: t(0),
        modified_at: t(0),
    }
}

fn service(name: &str, edit: impl FnOnce(&mut ServiceProfile)) -> Service {
    let mut profile = ServiceProfile {
        name: Name::parse(name).unwrap(),
        attrs: None,
        members_of: None,
        real_names: false,
        include_inactive: false,
        pseudonymous: false,
        chapter: None,
    };
    edit(&mut profile);
    Service {
        profile,
        password_hash: format!("hash-{name}"),
        entry_uuid: format!("00000000-0000-4000-a000-{:012}", name.len()),
        created_at: t(0),
        modified_at: t(0),
    }
}

fn certificate(serial: &str, uid: &str, revoked: bool) -> Certificate {
    Certificate {
        serial: serial.into(),
        request_id: 1,
        uid: Uid::parse(uid).unwrap(),
        role: "treasurer".into(),
        fingerprint: format!("fp-{serial}"),
        not_before: t(0),
        not_after: t(1_000_000),
        issued_by: "admin".into(),
        issued_at: t(0),
        revoked_at: revoked.then(|| t(10)),
        revoke_reason: None,
    }
}

/// Six members (five with accounts), automatic and manual groups, four kinds of service.
fn before() -> Snapshot {
    use MembershipStatus::*;
    Snapshot {
        revision: 10,
        members: vec![
            member("1", "BY", Active, true),
            member("2", "BY", Active, false),
            member("3", "NW", Active, true),
            member("4", "NW", Suspended, true),
            member("5", "HH", Active, true),
            member("6", "BY", Active, true),
        ],
        accounts: vec![
            account("alice", "1"),
            account("bob", "2"),
            account("carol", "3"),
            account("dave", "4"),
            account("erin", "5"),
        ],
        groups: vec![
            group("members", GroupKind::Automatic, 10001, &[], None),
            group("voting", GroupKind::Automatic, 10002, &[], None),
            group("lv-by", GroupKind::Automatic, 10003, &[], None),
            group("lv-nw", GroupKind::Automatic, 10004, &[], None),
            group("lv-hh", GroupKind::Automatic, 10005, &[], None),
            group("admins", GroupKind::Manual, 10006, &["alice"], None),
            group("wiki", GroupKind::Manual, 10007, &["carol"], None),
            group("by-board", GroupKind::Manual, 10008, &[], Some("BY")),
        ],
        services: vec![
            service("plain", |_| {}),
            service("names", |p| p.real_names = true),
            service("wikionly", |p| p.members_of = Some(Name::parse("wiki").unwrap())),
            service("bayern", |p| p.chapter = Some(StateCode::parse("BY").unwrap())),
            service("ballot", |p| {
                p.pseudonymous = true;
                p.members_of = Some(Name::parse("voting").unwrap());
            }),
            service("everyone", |p| p.include_inactive = true),
        ],
        certificates: vec![certificate("c1", "alice", false), certificate("c2", "bob", false)],
        app_passwords: vec![AppPassword {
            uid: Uid::parse("bob").unwrap(),
            label: "mail".into(),
            hash: "app-hash".into(),
            created_at: t(0),
            last_used_at: None,
        }],
    }
}

/// The rows of `after` for the given keys, as the store's change log would hand them over.
fn delta(from: &Snapshot, after: &Snapshot, uids: &[&str], numbers: &[&str], groups: &[&str]) -> PartialSnapshot {
    let uids: Vec<Uid> = uids.iter().map(|u| Uid::parse(u).unwrap()).collect();
    let mut numbers: Vec<MemberNumber> = numbers.iter().map(|n| MemberNumber::parse(n).unwrap()).collect();
    for a in after.accounts.iter().filter(|a| uids.contains(&a.uid)) {
        numbers.push(a.member_number.clone());
    }
    let group_names: Vec<Name> = groups.iter().map(|g| Name::parse(g).unwrap()).collect();
    PartialSnapshot {
        from: from.revision,
        revision: after.revision,
        members: after
            .members
            .iter()
            .filter(|m| numbers.contains(&m.number))
            .cloned()
            .collect(),
        member_numbers: numbers,
        accounts: after
            .accounts
            .iter()
            .filter(|a| uids.contains(&a.uid))
            .cloned()
            .collect(),
        app_passwords: after
            .app_passwords
            .iter()
            .filter(|p| uids.contains(&p.uid))
            .cloned()
            .collect(),
        certificates: after
            .certificates
            .iter()
            .filter(|c| uids.contains(&c.uid))
            .cloned()
            .collect(),
        uids,
        groups: after
            .groups
            .iter()
            .filter(|g| group_names.contains(&g.name))
            .cloned()
            .collect(),
        group_names,
        service_names: Vec::new(),
        services: Vec::new(),
    }
}

/// Everything `principal` reads in the whole tree: each entry as (DN, sorted attribute lines).
fn everything(view: &View, principal: &Principal) -> BTreeSet<(String, Vec<String>)> {
    let base = Dn::parse("dc=example,dc=org").unwrap();
    let filter = LdapFilter::Present("objectClass".into());
    let Ok(candidates) = view.candidates(principal, &base, &LdapSearchScope::Subtree, &filter) else {
        return BTreeSet::new();
    };
    let found = view
        .matching(principal, &filter, candidates, Instant::now() + Duration::from_secs(10))
        .unwrap();
    let selection = Selection::parse(&["*".into(), "+".into()]);
    found
        .into_iter()
        .map(|i| {
            let e = render(view, principal, i, &selection, false);
            let mut lines: Vec<String> = e
                .attributes
                .iter()
                .map(|a| {
                    let mut vals: Vec<String> =
                        a.vals.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
                    vals.sort();
                    format!("{}: {}", a.atype, vals.join(" | "))
                })
                .collect();
            lines.sort();
            (e.dn, lines)
        })
        .collect()
}

/// Every reader: anonymous, each member bound as itself and through each pseudonymous entry,
/// each service.
fn readers(view: &View) -> Vec<Principal> {
    let mut out = vec![Principal::Anonymous];
    for e in &view.entries {
        if let Some(c) = view.credential(&e.dn) {
            out.push(view.current(&c.principal));
            out.push(view.bound_as(&e.dn, c));
        }
    }
    out
}

/// A principal's kind, DN and (for a service) profile.
fn who(p: &Principal) -> String {
    match p {
        Principal::Anonymous => "anonymous".into(),
        Principal::Member { dn } => format!("member {dn}"),
        Principal::Admin { dn } => format!("admin {dn}"),
        Principal::Service { dn, access } => format!("service {dn} {:?}", access.profile),
    }
}

/// `applied` answers as `rebuilt` does, for every reader, credential and certificate.
fn assert_same(applied: &View, rebuilt: &View, what: &str) {
    assert_eq!(applied.revision, rebuilt.revision, "{what}");
    let mut dns: Vec<Dn> = rebuilt.entries.iter().map(|e| e.dn.clone()).collect();
    dns.extend(applied.entries.iter().map(|e| e.dn.clone()));
    for dn in &dns {
        let (a, r) = (applied.credential(dn), rebuilt.credential(dn));
        assert_eq!(a.is_some(), r.is_some(), "{what}: credential of {dn}");
        if let (Some(a), Some(r)) = (a, r) {
            assert_eq!(
                (&a.hash, a.locked, &a.totp, &a.app_passwords, who(&a.principal)),
                (&r.hash, r.locked, &r.totp, &r.app_passwords, who(&r.principal)),
                "{what}: credential of {dn}"
            );
            assert_eq!(
                who(&applied.bound_as(dn, a)),
                who(&rebuilt.bound_as(dn, r)),
                "{what}: a bind as {dn}"
            );
        }
    }
    for p in readers(rebuilt) {
        assert_eq!(
            everything(applied, &p),
            everything(rebuilt, &p),
            "{what}: as {}",
            who(&p)
        );
    }
    for fp in ["fp-c1", "fp-c2", "fp-c3"] {
        assert_eq!(
            format!("{:?}", applied.certificate(fp)),
            format!("{:?}", rebuilt.certificate(fp)),
            "{what}: certificate {fp}"
        );
    }
}

/// Applies `change` to `before()` and compares with a whole build of the changed rows.
fn check(what: &str, uids: &[&str], numbers: &[&str], groups: &[&str], change: impl FnOnce(&mut Snapshot)) {
    let old = before();
    let mut new = before();
    new.revision = 11;
    change(&mut new);
    let view = View::build(layout(), old.clone());
    let applied = view.apply(&delta(&old, &new, uids, numbers, groups)).unwrap();
    assert_same(&applied, &View::build(layout(), new.clone()), what);
}

fn find<'a>(s: &'a mut Snapshot, uid: &str) -> &'a mut Account {
    s.accounts.iter_mut().find(|a| a.uid.as_str() == uid).unwrap()
}

fn find_member<'a>(s: &'a mut Snapshot, n: &str) -> &'a mut Member {
    s.members.iter_mut().find(|m| m.number.as_str() == n).unwrap()
}

#[test]
fn account_changes_apply_in_place() {
    check("a lock", &["bob"], &[], &[], |s| find(s, "bob").locked = true);
    check("an unlock", &["bob"], &[], &[], |s| {
        find(s, "bob").locked = false;
    });
    check("a password", &["carol"], &[], &[], |s| {
        find(s, "carol").password_hash = "new".into()
    });
    check("TOTP on", &["bob"], &[], &[], |s| {
        let a = find(s, "bob");
        a.totp_secret = Some("sealed".into());
        a.totp_enabled = true;
    });
    check("an app password removed", &["bob"], &[], &[], |s| {
        s.app_passwords.clear()
    });
    check("a display name", &["erin"], &[], &[], |s| {
        find(s, "erin").display_name = "Erin".into()
    });
    check("an activation", &["frank"], &["6"], &[], |s| {
        let mut a = account("frank", "6");
        a.created_at = t(5);
        s.accounts.push(a);
    });
}

#[test]
fn member_changes_apply_in_place() {
    check("a suspension", &["bob"], &["2"], &[], |s| {
        find_member(s, "2").status = MembershipStatus::Suspended
    });
    check("a reinstatement", &["dave"], &["4"], &[], |s| {
        find_member(s, "4").status = MembershipStatus::Active
    });
    check("a voting right", &["bob"], &["2"], &[], |s| {
        find_member(s, "2").voting_right = true
    });
    check("a voting right lost", &["carol"], &["3"], &[], |s| {
        find_member(s, "3").voting_right = false
    });
    check("a move to another state", &["alice"], &["1"], &[], |s| {
        find_member(s, "1").state = StateCode::parse("NW").unwrap();
    });
    check("a new mail address", &["carol"], &["3"], &[], |s| {
        find_member(s, "3").email = Some("new@example.org".into());
    });
    check("a member without an account", &[], &["6"], &[], |s| {
        find_member(s, "6").voting_right = false
    });
}

#[test]
fn group_and_certificate_changes_apply_in_place() {
    check("a manual member added", &["bob"], &[], &["wiki"], |s| {
        s.groups[6].manual_members.push(Uid::parse("bob").unwrap());
        s.groups[6].modified_at = t(7);
    });
    check("a manual member removed", &["carol"], &[], &["wiki"], |s| {
        s.groups[6].manual_members.clear();
    });
    check("a new admin", &["bob"], &[], &["admins"], |s| {
        s.groups[5].manual_members.push(Uid::parse("bob").unwrap());
    });
    check("a group described", &[], &[], &["by-board"], |s| {
        s.groups[7].description = Some("Board".into())
    });
    check("a certificate revoked", &["bob"], &[], &[], |s| {
        s.certificates[1].revoked_at = Some(t(9))
    });
    check("a certificate issued", &["carol"], &[], &[], |s| {
        s.certificates.push(certificate("c3", "carol", false))
    });
}

#[test]
fn changes_in_a_row_keep_applying() {
    let mut rows = before();
    let mut view = View::build(layout(), rows.clone());
    for (n, uid) in ["bob", "carol", "alice", "erin", "bob"].iter().enumerate() {
        let mut next = rows.clone();
        next.revision = rows.revision + 1;
        let a = find(&mut next, uid);
        a.locked = !a.locked;
        if n == 2 {
            next.accounts.push(account("frank", "6"));
        }
        let uids: Vec<&str> = if n == 2 { vec![uid, "frank"] } else { vec![uid] };
        view = view.apply(&delta(&rows, &next, &uids, &[], &[])).unwrap();
        assert_same(&view, &View::build(layout(), next.clone()), &format!("change {n}"));
        rows = next;
    }
}

#[test]
fn what_cannot_be_applied_asks_for_a_rebuild() {
    let old = before();
    let view = View::build(layout(), old.clone());
    let mut new = before();
    new.revision = 11;
    let mut d = delta(&old, &new, &[], &[], &[]);
    d.service_names.push(Name::parse("plain").unwrap());
    assert!(view.apply(&d).is_err(), "a service change");
    let mut gone = delta(&old, &new, &["bob"], &[], &[]);
    gone.accounts.clear();
    assert!(view.apply(&gone).is_err(), "a deleted account");
    let mut late = delta(&old, &new, &["bob"], &[], &[]);
    late.from = 9;
    assert!(view.apply(&late).is_err(), "a gap in the revisions");
    let mut new_group = delta(&old, &new, &[], &[], &[]);
    new_group.group_names.push(Name::parse("fresh").unwrap());
    new_group
        .groups
        .push(group("fresh", GroupKind::Manual, 10009, &[], None));
    assert!(view.apply(&new_group).is_err(), "a new group");
}
