//! Turns a store [`Snapshot`] into the entries of the tree (DESIGN.md "Directory tree"):
//! the base, `ou=people|groups|services`, one person per account, one group per group with
//! automatic memberships computed from member data, one entry per service.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use piratenldap_core::Dn;
use piratenldap_core::dn::Rdn;
use piratenldap_core::ids::MembershipStatus;
use piratenldap_core::service_pseudonym::PseudonymKey;
use piratenldap_store::{Account, Group, GroupKind, Member, Snapshot};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use time::OffsetDateTime;

use crate::entry::{Entry, EntryKind, PERSON};

/// Where the parts of the tree live.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The base DN.
    pub base: Dn,
    /// The organisation's name.
    pub organisation: String,
    /// `ou=people,BASE`.
    pub people: Dn,
    /// `ou=groups,BASE`.
    pub groups: Dn,
    /// `ou=services,BASE`.
    pub services: Dn,
    /// The key of pseudonymous services' entries; without it they see no people.
    pub pseudonym_key: Option<Arc<PseudonymKey>>,
}

impl Layout {
    /// The layout under a base DN.
    pub fn new(base: Dn, organisation: &str) -> Self {
        Layout {
            people: base.child(Rdn::new("ou", "people")),
            groups: base.child(Rdn::new("ou", "groups")),
            services: base.child(Rdn::new("ou", "services")),
            base,
            organisation: organisation.to_string(),
            pseudonym_key: None,
        }
    }

    /// The same layout, with the key of pseudonymous services' entries.
    pub fn with_pseudonym_key(mut self, key: PseudonymKey) -> Self {
        self.pseudonym_key = Some(Arc::new(key));
        self
    }

    /// The DN of a person.
    pub fn person_dn(&self, uid: &str) -> Dn {
        self.people.child(Rdn::new("uid", uid))
    }

    /// The DN of a group.
    pub fn group_dn(&self, name: &str) -> Dn {
        self.groups.child(Rdn::new("cn", name))
    }

    /// The DN of a service.
    pub fn service_dn(&self, name: &str) -> Dn {
        self.services.child(Rdn::new("cn", name))
    }
}

/// The DN of the subschema entry.
pub const SUBSCHEMA_DN: &str = "cn=Subschema";
/// [`SUBSCHEMA_DN`], normalised.
const SUBSCHEMA_DN_NORMALISED: &str = "cn=subschema";

/// LDAP GeneralizedTime of a timestamp (`YYYYMMDDhhmmssZ`). Written digit by digit: two per
/// member on every build, where `format!` was 3 % of it.
pub fn generalized_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut out = String::with_capacity(15);
    let mut digits = |n: u32, width: u32| {
        for p in (0..width).rev() {
            let d = (n / 10u32.pow(p)) % 10;
            out.push(char::from_digit(d, 10).unwrap_or('0'));
        }
    };
    digits(u32::try_from(t.year()).unwrap_or(0), 4);
    digits(u32::from(u8::from(t.month())), 2);
    digits(u32::from(t.day()), 2);
    digits(u32::from(t.hour()), 2);
    digits(u32::from(t.minute()), 2);
    digits(u32::from(t.second()), 2);
    out.push('Z');
    out
}

/// Who is in a group, by uid, given the member data.
pub fn group_members<S: BuildHasher>(
    group: &Group,
    accounts: &[Account],
    members: &HashMap<&str, &Member, S>,
) -> Vec<String> {
    if group.kind == GroupKind::Manual {
        return group.manual_members.iter().map(|u| u.to_string()).collect();
    }
    accounts
        .iter()
        .filter(|a| {
            members
                .get(a.member_number.as_str())
                .is_some_and(|m| in_automatic_group(group, m))
        })
        .map(|a| a.uid.to_string())
        .collect()
}

/// Whether `member` belongs to the automatic group `group` (active, and for `voting` with a
/// voting right, for `lv-xx` of that state association).
pub(crate) fn in_automatic_group(group: &Group, member: &Member) -> bool {
    group.kind != GroupKind::Manual
        && member.status == MembershipStatus::Active
        && match group.name.as_str() {
            "members" => true,
            "voting" => member.voting_right,
            name => member.state.is_group(name),
        }
}

/// Whether a member belongs to `group`: a manual group by its list (`listed`), an automatic
/// one by the member's data.
fn belongs(group: &Group, member: &Member, listed: bool) -> bool {
    match group.kind {
        GroupKind::Manual => listed,
        _ => in_automatic_group(group, member),
    }
}

/// The `memberOf` of account `uid` of `member`: the served and normalised DNs of the groups,
/// in the order of `groups`.
pub(crate) fn member_of(layout: &Layout, groups: &[Group], uid: &str, member: &Member) -> Vec<(String, String)> {
    groups
        .iter()
        .filter(|g| belongs(g, member, g.manual_members.iter().any(|u| u.as_str() == uid)))
        .map(|g| {
            let dn = layout.group_dn(g.name.as_str());
            (dn.to_string(), dn.normalised().to_string())
        })
        .collect()
}

/// The gidNumber people get: the `members` group's.
pub(crate) fn members_gid(groups: &[Group]) -> i64 {
    groups
        .iter()
        .find(|g| g.name.as_str() == "members")
        .map(|g| g.gid_number)
        .unwrap_or(10001)
}

/// Builds all entries. Returns them in a fixed order: base, the three containers, people,
/// groups, services. A group's member lists are built only with `member_lists` (an LDIF
/// export); the view reads them from its members' `memberOf`.
pub fn build_entries(layout: &Layout, snap: &Snapshot, member_lists: bool) -> Vec<Arc<Entry>> {
    let members: FxHashMap<&str, &Member> = snap.members.iter().map(|m| (m.number.as_str(), m)).collect();
    // Each group's DN in served and normalised form, for its members' `memberOf`.
    let group_dns: Vec<(String, String)> = snap
        .groups
        .iter()
        .map(|g| {
            let dn = layout.group_dn(g.name.as_str());
            (dn.to_string(), dn.normalised().to_string())
        })
        .collect();
    // The manual groups of each uid, by position; the automatic ones are decided per person.
    let mut manual: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
    for (g, group) in snap.groups.iter().enumerate() {
        if group.kind == GroupKind::Manual {
            for uid in &group.manual_members {
                manual.entry(uid.as_str()).or_default().push(g);
            }
        }
    }
    let members_gid = members_gid(&snap.groups);

    let mut entries = Vec::with_capacity(4 + snap.accounts.len() + snap.groups.len() + snap.services.len());
    entries.push(Arc::new(base_entry(layout)));
    for (dn, desc) in [
        (&layout.people, "Member accounts"),
        (&layout.groups, "Groups"),
        (&layout.services, "Service bind accounts"),
    ] {
        let mut e = Entry::new(dn.clone(), EntryKind::Container);
        e.add("objectClass", ["top", "organizationalUnit"]);
        e.add("ou", dn.rdn().and_then(|r| r.value_of("ou")).map(str::to_string));
        e.add("description", [desc]);
        bookkeeping(&mut e, "organizationalUnit", true, None, None);
        entries.push(Arc::new(e));
    }
    let people_start = entries.len();
    // People are nearly all of the tree and independent of each other: build them on every
    // core (rayon keeps their order), each in its shared place at once: an entry moved from
    // vector to vector to `Arc` touched three times its memory, and at start-up every byte
    // touched the first time costs (issue 17).
    entries.par_extend(snap.accounts.par_iter().filter_map(|account| {
        let member = members.get(account.member_number.as_str())?;
        let manual = manual.get(account.uid.as_str());
        let groups: Vec<(&str, &str)> = snap
            .groups
            .iter()
            .zip(&group_dns)
            .enumerate()
            .filter(|(g, (group, _))| belongs(group, member, manual.is_some_and(|m| m.contains(g))))
            .map(|(_, (_, (shown, norm)))| (shown.as_str(), norm.as_str()))
            .collect();
        Some(Arc::new(person_entry(layout, account, member, &groups, members_gid)))
    }));
    // Each person's DN in served and normalised form, taken from its entry for `member`.
    let people_built = if member_lists { &entries[people_start..] } else { &[] };
    let person_dns: FxHashMap<&str, (&str, &str)> = people_built
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Person { uid, .. } => Some((uid.as_str(), (e.dn_string.as_ref(), e.dn.normalised()))),
            _ => None,
        })
        .collect();
    let mut group_entries = Vec::with_capacity(snap.groups.len());
    for group in &snap.groups {
        let mut e = group_entry(layout, group);
        if member_lists {
            let uids = group_members(group, &snap.accounts, &members);
            let dns: Vec<(&str, &str)> = uids
                .iter()
                .filter_map(|u| person_dns.get(u.as_str()).copied())
                .collect();
            e.add_normalised("member", dns.iter().copied());
            e.add_normalised("uniqueMember", dns);
            e.add("memberUid", &uids);
            e.finish();
        }
        group_entries.push(Arc::new(e));
    }
    entries.extend(group_entries);
    for service in &snap.services {
        let name = service.profile.name.as_str();
        let mut e = Entry::new(layout.service_dn(name), EntryKind::Service { name: name.to_string() });
        e.add("objectClass", ["top", "applicationProcess"]);
        e.add("cn", [name.to_string()]);
        e.add("description", [format!("Service bind account {name}")]);
        e.add("entryUUID", [service.entry_uuid.clone()]);
        bookkeeping(
            &mut e,
            "applicationProcess",
            false,
            Some(service.created_at),
            Some(service.modified_at),
        );
        entries.push(Arc::new(e));
    }
    entries
}

/// A group's entry without its member lists (the view derives them; an LDIF export adds them).
pub(crate) fn group_entry(layout: &Layout, group: &Group) -> Entry {
    let mut e = Entry::new(layout.group_dn(group.name.as_str()), EntryKind::Group);
    // groupOfUniqueNames beside groupOfNames: some clients (vCenter, several PHP
    // applications) look only for it and its uniqueMember.
    e.add(
        "objectClass",
        ["top", "groupOfNames", "groupOfUniqueNames", "posixGroup"],
    );
    e.add("cn", [group.name.to_string()]);
    e.add("description", group.description.clone());
    // A chapter's group carries its chapter as `ou` (groupOfNames allows it).
    e.add("ou", group.chapter.as_ref().map(|c| c.to_string()));
    e.add("gidNumber", [group.gid_number.to_string()]);
    e.add("entryUUID", [group.entry_uuid.clone()]);
    bookkeeping(
        &mut e,
        "groupOfNames",
        false,
        Some(group.created_at),
        Some(group.modified_at),
    );
    e
}

fn base_entry(layout: &Layout) -> Entry {
    let mut e = Entry::new(layout.base.clone(), EntryKind::Container);
    e.add("objectClass", ["top", "dcObject", "organization"]);
    e.add(
        "dc",
        layout.base.rdn().and_then(|r| r.value_of("dc")).map(str::to_string),
    );
    e.add("o", [layout.organisation.clone()]);
    bookkeeping(&mut e, "organization", true, None, None);
    e
}

/// A member's entry; `groups` are the served and normalised DNs of its groups.
pub(crate) fn person_entry(
    layout: &Layout,
    account: &Account,
    member: &Member,
    groups: &[(&str, &str)],
    gid: i64,
) -> Entry {
    let uid = account.uid.as_str();
    let mut e = Entry::with_common(
        layout.person_dn(uid),
        EntryKind::Person {
            uid: uid.to_string(),
            active: member.status == MembershipStatus::Active,
            locked: account.locked,
        },
        &PERSON,
    );
    e.add("uid", [uid]);
    e.add("cn", [&account.display_name]);
    e.add("displayName", [&account.display_name]);
    // person requires sn; without a real surname the chosen name stands in.
    e.add("sn", [member.surname.as_ref().unwrap_or(&account.display_name)]);
    e.add("givenName", member.given_name.as_ref());
    e.add("mail", member.email.as_ref());
    e.add_normalised("memberOf", groups.iter().copied());
    e.add("uidNumber", [account.uid_number.to_string()]);
    e.add("gidNumber", [gid.to_string()]);
    e.add("homeDirectory", [format!("/home/{uid}")]);
    e.add("pirateMemberNumber", [member.number.to_string()]);
    e.add("pirateStateAssociation", [member.state.to_string()]);
    e.add("pirateMembershipStatus", [member.status.as_str()]);
    e.add(
        "pirateVotingRight",
        [if member.voting_right { "TRUE" } else { "FALSE" }],
    );
    e.add("entryUUID", [&account.entry_uuid]);
    bookkeeping(
        &mut e,
        "inetOrgPerson",
        false,
        Some(account.created_at),
        Some(account.modified_at),
    );
    e
}

/// The operational attributes every entry carries (those an entry with common attributes
/// has there: only its timestamps); last, as it also trims the entry.
pub(crate) fn bookkeeping(
    e: &mut Entry,
    structural: &'static str,
    has_children: bool,
    created: Option<OffsetDateTime>,
    modified: Option<OffsetDateTime>,
) {
    if !e.has_common() {
        e.add("structuralObjectClass", [structural]);
        let (shown, norm) = (e.dn_string.to_string(), e.dn.normalised().to_string());
        e.add_normalised("entryDN", [(shown.as_str(), norm.as_str())]);
        e.add("hasSubordinates", [if has_children { "TRUE" } else { "FALSE" }]);
        e.add_normalised("subschemaSubentry", [(SUBSCHEMA_DN, SUBSCHEMA_DN_NORMALISED)]);
    }
    e.add("createTimestamp", created.map(generalized_time));
    e.add("modifyTimestamp", modified.map(generalized_time));
    // The last attribute of every entry: no spare capacity is kept for the view's life.
    e.finish();
}

#[cfg(test)]
mod tests {
    use super::generalized_time;

    #[test]
    fn generalized_time_is_utc_with_leading_zeros() {
        let t = time::macros::datetime!(2026-03-04 05:06:07 +02:00);
        assert_eq!(generalized_time(t), "20260304030607Z");
        let t = time::macros::datetime!(0999-12-31 23:59:59 UTC);
        assert_eq!(generalized_time(t), "09991231235959Z");
    }
}
