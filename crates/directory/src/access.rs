//! Who sees what (DESIGN.md "Who sees what"): which entries and which attributes a bound
//! principal may read. Filters, compare and result rendering all ask here, so an attribute a
//! principal cannot read can neither be returned nor probed with a filter.

use std::collections::HashSet;
use std::sync::Arc;

use piratenldap_core::Dn;
use piratenldap_core::schema::{AttributeType, Usage};
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

/// A service's profile in the form access checks use.
#[derive(Debug)]
pub struct ServiceAccess {
    /// The stored profile.
    pub profile: ServiceProfile,
    /// Lower-case names of the person attributes it may read.
    person_attrs: HashSet<String>,
}

impl ServiceAccess {
    /// Prepares a profile for access checks.
    pub fn new(profile: ServiceProfile) -> Self {
        let mut person_attrs: HashSet<String> = match &profile.attrs {
            Some(list) => list.iter().map(|a| a.to_ascii_lowercase()).collect(),
            None => SERVICE_DEFAULT_ATTRS.iter().map(|a| a.to_ascii_lowercase()).collect(),
        };
        person_attrs.insert("objectclass".into());
        person_attrs.extend(POSIX_ATTRS.iter().map(|a| a.to_ascii_lowercase()));
        if profile.real_names && profile.attrs.is_none() {
            person_attrs.extend(RESTRICTED_ATTRS.iter().map(|a| a.to_ascii_lowercase()));
        }
        if !profile.real_names {
            for r in RESTRICTED_ATTRS {
                person_attrs.remove(&r.to_ascii_lowercase());
            }
        }
        person_attrs.remove("userpassword");
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

fn listed(list: &[&str], attr: &AttributeType) -> bool {
    attr.names
        .iter()
        .any(|n| list.iter().any(|l| l.eq_ignore_ascii_case(n)))
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
    if attr.name() == "userPassword" {
        return false;
    }
    if listed(BOOKKEEPING_ATTRS, attr) {
        return true;
    }
    match (principal, &entry.kind) {
        (Principal::Anonymous, _) => false,
        (Principal::Admin { .. }, EntryKind::Pseudonym(_)) => false,
        (Principal::Admin { .. }, _) => true,
        (_, EntryKind::Container) => listed(CONTAINER_ATTRS, attr),
        (Principal::Member { dn }, EntryKind::Person { .. } | EntryKind::Pseudonym(_)) => entry.dn == *dn,
        (Principal::Member { .. }, EntryKind::Group) => {
            listed(&["objectClass", "cn", "description", "ou", "gidNumber"], attr)
        }
        (Principal::Service { access, .. }, EntryKind::Person { .. } | EntryKind::Pseudonym(_)) => attr
            .names
            .iter()
            .any(|n| access.person_attrs.contains(&n.to_ascii_lowercase())),
        (Principal::Service { .. }, EntryKind::Group) => listed(GROUP_ATTRS, attr),
        (_, EntryKind::Service { .. }) => listed(&["objectClass", "cn", "description", "entryUUID"], attr),
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
