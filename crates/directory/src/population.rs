//! Each service's population: which entries it may see (active members, unless it includes
//! inactive ones; never locked ones; of its chapter, if a chapter registered it; in its group,
//! if it names one), one flag per entry in a chunked vector, so that a view that changes a
//! few entries copies only the chunks they are in (issue 17).

use std::sync::Arc;

use piratenldap_store::ServiceProfile;
use rustc_hash::FxHashMap;

use crate::build::Layout;
use crate::chunked::Chunked;
use crate::entry::{Entry, EntryKind};
use crate::indexes::indexed_values;

/// Per service DN (normalised): one flag per entry. Looked up on every entry a service's
/// search reads, so hashed with rustc-hash (the keys are the view's own, never a client's).
pub(crate) type Scopes = FxHashMap<String, Chunked<bool>>;

/// A service's population rule, prepared.
#[derive(Debug, Clone)]
pub(crate) struct Population {
    /// The service's name.
    pub(crate) name: String,
    /// The service's normalised DN.
    pub(crate) service_dn: String,
    /// It sees pseudonymous entries instead of the members' own.
    pub(crate) pseudonymous: bool,
    include_inactive: bool,
    chapter: Option<String>,
    group_dn: Option<String>,
}

impl Population {
    /// The rule of `profile`.
    pub(crate) fn new(layout: &Layout, profile: &ServiceProfile) -> Self {
        Population {
            name: profile.name.to_string(),
            service_dn: layout.service_dn(profile.name.as_str()).normalised().to_string(),
            pseudonymous: profile.pseudonymous,
            include_inactive: profile.include_inactive,
            chapter: profile.chapter.as_ref().map(|c| c.to_string()),
            group_dn: profile
                .members_of
                .as_ref()
                .map(|g| layout.group_dn(g.as_str()).normalised().to_string()),
        }
    }

    /// Whether the service may see `e` (a person by the rule; other entries always; a
    /// pseudonymous entry only by its own service's flag, which [`crate::pseudonymous`] sets).
    pub(crate) fn admits(&self, e: &Entry) -> bool {
        match &e.kind {
            EntryKind::Person { active, locked, .. } => {
                (*active || self.include_inactive)
                    && !locked
                    && self
                        .chapter
                        .as_ref()
                        .is_none_or(|c| e.values("pirateStateAssociation").iter().any(|v| v == c))
                    && self
                        .group_dn
                        .as_ref()
                        .is_none_or(|g| indexed_values(e, "memberOf").iter().any(|m| m == g))
            }
            EntryKind::Pseudonym(_) => false,
            _ => true,
        }
    }
}

/// The populations of `services` over `entries`.
pub(crate) fn scopes(populations: &[Population], entries: &[Arc<Entry>]) -> Scopes {
    populations
        .iter()
        .map(|p| {
            let flags = entries.iter().map(|e| p.admits(e)).collect();
            (p.service_dn.clone(), flags)
        })
        .collect()
}
