//! What a `--pseudonymous` service sees (issue 16): for each member in its population, an
//! entry `uid=ps-…,ou=people,BASE` of its own whose uid, `cn` and `displayName` are the
//! member's pseudonym for that service (`piratenldap_core::service_pseudonym`), with the
//! member's groups, state association, status and voting right, and an entryUUID derived the
//! same way. No mail, no real names, no member number, no POSIX numbers, no timestamps: each of
//! them would link the entry to the member or to the same member in another service.
//!
//! These entries are added to the view after the tree is built. Only their service sees them
//! (and the member, when bound through one); the service no longer sees the members' own
//! entries. A member logs in through the service's usual path: the service searches
//! `(uid=<what the member typed>)`, which matches the pseudonymous entry by the account's uid
//! for an equality filter only, and binds with the entry's DN and the member's password.

use std::sync::Arc;

use piratenldap_core::dn::fold_case_ignore;
use piratenldap_core::service_pseudonym::PseudonymKey;
use piratenldap_store::Service;

use crate::build::{Layout, bookkeeping};
use crate::entry::{Entry, EntryKind, PSEUDONYM, PseudonymOf};
use crate::population::Scopes;

/// Attributes copied from the member's own entry (the profile still decides what is read).
const COPIED: &[&str] = &[
    "memberOf",
    "pirateStateAssociation",
    "pirateMembershipStatus",
    "pirateVotingRight",
];

/// Appends the entries of every pseudonymous service to `entries` and moves each such
/// service's population in `scopes` (by normalised service DN, one flag per entry) from the
/// members' own entries to its pseudonymous ones. Without a key a pseudonymous service sees no
/// people at all: it fails closed.
pub(crate) fn add_entries(layout: &Layout, services: &[Service], entries: &mut Vec<Arc<Entry>>, scopes: &mut Scopes) {
    let mut own: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for service in services.iter().filter(|s| s.profile.pseudonymous) {
        let name = service.profile.name.as_str();
        let dn = layout.service_dn(name).normalised().to_string();
        let Some(scope) = scopes.get_mut(&dn) else {
            continue;
        };
        let people: Vec<usize> = (0..scope.len())
            .filter(|i| scope[*i] && matches!(entries[*i].kind, EntryKind::Person { .. }))
            .collect();
        for i in &people {
            scope.set(*i, false);
        }
        let Some(key) = &layout.pseudonym_key else {
            continue;
        };
        let start = entries.len();
        let made: Vec<Arc<Entry>> = people
            .iter()
            .filter_map(|i| pseudonymous_entry(layout, key, name, &entries[*i]))
            .map(Arc::new)
            .collect();
        entries.extend(made);
        own.push((dn, start..entries.len()));
    }
    for scope in scopes.values_mut() {
        scope.resize_to(entries.len(), false);
    }
    for (dn, range) in own {
        if let Some(scope) = scopes.get_mut(&dn) {
            for i in range {
                scope.set(i, true);
            }
        }
    }
}

/// The entry `service` sees for the member whose own entry is `person`.
pub(crate) fn pseudonymous_entry(layout: &Layout, key: &PseudonymKey, service: &str, person: &Entry) -> Option<Entry> {
    let EntryKind::Person { uid, .. } = &person.kind else {
        return None;
    };
    let account = person.values("entryUUID").first()?;
    let pseudonym = key.pseudonym(service, account);
    let mut e = Entry::with_common(
        layout.person_dn(&pseudonym),
        EntryKind::Pseudonym(Box::new(PseudonymOf {
            login: fold_case_ignore(uid),
            account_dn: person.dn.normalised().to_string(),
            service_dn: layout.service_dn(service).normalised().to_string(),
        })),
        &PSEUDONYM,
    );
    for name in ["uid", "cn", "displayName", "sn"] {
        e.add(name, [&pseudonym]);
    }
    for name in COPIED {
        e.copy_from(person, name);
    }
    e.add("entryUUID", [key.entry_uuid(service, account)]);
    bookkeeping(&mut e, "inetOrgPerson", false, None, None);
    Some(e)
}
