//! Who sees what (DESIGN.md "Who sees what"): which entries and which attributes a bound
//! principal may read. Filters, compare and result rendering all ask here, so an attribute a
//! principal cannot read can neither be returned nor probed with a filter.

use std::sync::{Arc, LazyLock};

use piratenldap_core::Dn;
use piratenldap_core::schema::{self, AttributeType, Usage};
use piratenldap_store::ServiceProfile;

use crate::entry::{Entry, EntryKind};

/// Attributes a service sees by default (plus the POSIX ones below).
pub const SERVICE_DEFAULT_ATTRS: &[&str] = &[
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

/// POSIX attributes every service profile includes.
pub const POSIX_ATTRS: &[&str] = &["uidNumber", "gidNumber", "homeDirectory", "loginShell", "memberUid"];

/// Real names and member numbers: only with `--real-names`.
pub const RESTRICTED_ATTRS: &[&str] = &["givenName", "sn", "pirateMemberNumber"];

/// Group attributes every service sees on the groups it may read (`ou`: the owner chapter).
const GROUP_ATTRS: &[&str] = &[
    "objectClass",
    "cn",
    "description",
    "ou",
    "member",
    "uniqueMember",
    "memberUid",
    "gidNumber",
    "entryUUID",
];

/// Harmless bookkeeping every reader of an entry may see.
const BOOKKEEPING_ATTRS: &[&str] = &[
    "entryDN",
    "createTimestamp",
    "modifyTimestamp",
    "structuralObjectClass",
    "hasSubordinates",
    "subschemaSubentry",
];

/// Naming attributes of containers.
const CONTAINER_ATTRS: &[&str] = &["objectClass", "dc", "o", "ou", "description"];

/// Attribute types named in a list, resolved through the schema once, so that a check compares
/// the schema's static types by address instead of names as strings (every attribute a search
/// reads is checked: the string form was 15 % of a uid search's instructions, issue 17). A
/// name the schema does not know is no attribute any entry has, so it is left out.
#[derive(Debug, Clone, Default)]
struct AttrSet(Vec<&'static AttributeType>);

impl AttrSet {
    fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> AttrSet {
        let mut set = AttrSet::default();
        set.extend(names);
        set
    }

    fn extend<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for kind in names.into_iter().filter_map(schema::attribute) {
            if !self.contains(kind) {
                self.0.push(kind);
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(kind) = schema::attribute(name) {
            self.0.retain(|k| !std::ptr::eq(*k, kind));
        }
    }

    fn contains(&self, attr: &AttributeType) -> bool {
        self.0.iter().any(|k| std::ptr::eq(*k, attr))
    }
}

/// [`BOOKKEEPING_ATTRS`], resolved.
static BOOKKEEPING: LazyLock<AttrSet> = LazyLock::new(|| AttrSet::of(BOOKKEEPING_ATTRS.iter().copied()));
/// [`CONTAINER_ATTRS`], resolved.
static CONTAINER: LazyLock<AttrSet> = LazyLock::new(|| AttrSet::of(CONTAINER_ATTRS.iter().copied()));
/// [`GROUP_ATTRS`], resolved.
static GROUP: LazyLock<AttrSet> = LazyLock::new(|| AttrSet::of(GROUP_ATTRS.iter().copied()));
/// What a member reads of a group.
static GROUP_FOR_MEMBERS: LazyLock<AttrSet> =
    LazyLock::new(|| AttrSet::of(["objectClass", "cn", "description", "ou", "gidNumber"]));
/// What anyone but an admin reads of a service's entry.
static SERVICE_ENTRY: LazyLock<AttrSet> =
    LazyLock::new(|| AttrSet::of(["objectClass", "cn", "description", "entryUUID"]));
/// Never readable.
static PASSWORD: LazyLock<Option<&'static AttributeType>> = LazyLock::new(|| schema::attribute("userPassword"));

/// A service's profile in the form access checks use.
#[derive(Debug)]
pub struct ServiceAccess {
    /// The stored profile.
    pub profile: ServiceProfile,
    /// The person attributes it may read.
    person_attrs: AttrSet,
}

impl ServiceAccess {
    /// Prepares a profile for access checks.
    pub fn new(profile: ServiceProfile) -> Self {
        let mut person_attrs = match &profile.attrs {
            Some(list) => AttrSet::of(list.iter().map(String::as_str)),
            None => AttrSet::of(SERVICE_DEFAULT_ATTRS.iter().copied()),
        };
        person_attrs.extend(["objectClass"]);
        person_attrs.extend(POSIX_ATTRS.iter().copied());
        if profile.real_names && profile.attrs.is_none() {
            person_attrs.extend(RESTRICTED_ATTRS.iter().copied());
        }
        if !profile.real_names {
            for r in RESTRICTED_ATTRS {
                person_attrs.remove(r);
            }
        }
        person_attrs.remove("userPassword");
        ServiceAccess { profile, person_attrs }
    }
}

/// The identity a connection is bound as.
#[derive(Debug, Clone)]
pub enum Principal {
    /// Not bound.
    Anonymous,
    /// A member's account.
    Member {
        /// Its entry's DN.
        dn: Dn,
    },
    /// A member of `admins`.
    Admin {
        /// Its entry's DN.
        dn: Dn,
    },
    /// A service bind account.
    Service {
        /// Its entry's DN.
        dn: Dn,
        /// Its access profile.
        access: Arc<ServiceAccess>,
    },
}

impl Principal {
    /// The bound DN, if any.
    pub fn dn(&self) -> Option<&Dn> {
        match self {
            Principal::Anonymous => None,
            Principal::Member { dn } | Principal::Admin { dn } | Principal::Service { dn, .. } => Some(dn),
        }
    }
}

/// Whether `principal` may see `entry` at all. `in_service_scope` says whether a person is in
/// the service's population (its group and status rules), computed when the view is built.
pub fn entry_visible(principal: &Principal, entry: &Entry, in_service_scope: bool) -> bool {
    match (principal, &entry.kind) {
        (Principal::Anonymous, _) => false,
        // A pseudonymous entry is its service's and, bound through it, its member's; nobody
        // else's (admins read the members' own entries).
        (Principal::Service { .. }, EntryKind::Pseudonym(_)) => in_service_scope,
        (Principal::Member { dn }, EntryKind::Pseudonym(_)) => entry.dn == *dn,
        (_, EntryKind::Pseudonym(_)) => false,
        (Principal::Admin { .. }, _) => true,
        (_, EntryKind::Container) => true,
        (Principal::Member { dn }, EntryKind::Person { .. } | EntryKind::Service { .. }) => entry.dn == *dn,
        (Principal::Member { .. }, EntryKind::Group) => true,
        (Principal::Service { .. }, EntryKind::Person { .. }) => in_service_scope,
        (Principal::Service { .. }, EntryKind::Group) => true,
        (Principal::Service { dn, .. }, EntryKind::Service { .. }) => entry.dn == *dn,
    }
}

/// Whether `principal` may read attribute `attr` of `entry` (which it may see).
/// `userPassword` is never readable: entries do not even carry it.
pub fn attribute_visible(principal: &Principal, entry: &Entry, attr: &AttributeType) -> bool {
    if PASSWORD.is_some_and(|p| std::ptr::eq(p, attr)) {
        return false;
    }
    if BOOKKEEPING.contains(attr) {
        return true;
    }
    match (principal, &entry.kind) {
        (Principal::Anonymous, _) => false,
        (Principal::Admin { .. }, EntryKind::Pseudonym(_)) => false,
        (Principal::Admin { .. }, _) => true,
        (_, EntryKind::Container) => CONTAINER.contains(attr),
        (Principal::Member { dn }, EntryKind::Person { .. } | EntryKind::Pseudonym(_)) => entry.dn == *dn,
        (Principal::Member { .. }, EntryKind::Group) => GROUP_FOR_MEMBERS.contains(attr),
        (Principal::Service { access, .. }, EntryKind::Person { .. } | EntryKind::Pseudonym(_)) => {
            access.person_attrs.contains(attr)
        }
        (Principal::Service { .. }, EntryKind::Group) => GROUP.contains(attr),
        (_, EntryKind::Service { .. }) => SERVICE_ENTRY.contains(attr),
    }
}

/// Whether an attribute is returned for a request that asked for all user (`*`) or all
/// operational (`+`) attributes.
pub fn selected_by_wildcards(attr: &AttributeType, all_user: bool, all_operational: bool) -> bool {
    match attr.usage {
        Usage::User => all_user,
        Usage::Operational => all_operational,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_is_an_attribute_of_the_schema() {
        let lists = [
            SERVICE_DEFAULT_ATTRS,
            POSIX_ATTRS,
            RESTRICTED_ATTRS,
            GROUP_ATTRS,
            BOOKKEEPING_ATTRS,
            CONTAINER_ATTRS,
        ];
        for name in lists.iter().flat_map(|l| l.iter()) {
            assert!(schema::attribute(name).is_some(), "{name} is not in the schema");
        }
        assert!(PASSWORD.is_some());
        assert_eq!(GROUP_FOR_MEMBERS.0.len(), 5);
        assert_eq!(SERVICE_ENTRY.0.len(), 4);
    }

    fn profile(attrs: &[&str], real_names: bool) -> ServiceProfile {
        ServiceProfile {
            name: piratenldap_core::ids::Name::parse("wiki").unwrap(),
            attrs: Some(attrs.iter().map(|a| a.to_string()).collect()),
            members_of: None,
            real_names,
            include_inactive: false,
            pseudonymous: false,
            chapter: None,
        }
    }

    #[test]
    fn a_profile_names_attributes_in_any_case_or_by_another_name_and_never_reads_a_password() {
        let access = ServiceAccess::new(profile(&["MAIL", "surname", "userPassword", "noSuchThing"], true));
        let has = |name| access.person_attrs.contains(schema::attribute(name).unwrap());
        assert!(has("mail") && has("sn") && has("objectClass") && has("uidNumber"));
        assert!(!has("userPassword") && !has("givenName"));
        assert!(
            !ServiceAccess::new(profile(&["sn"], false))
                .person_attrs
                .contains(schema::attribute("sn").unwrap())
        );
    }
}
