//! The in-memory view of the tree at one store revision: the entries, the indexes that answer
//! lookups without scanning (DN, uid, mail, objectClass, memberOf), the bind credentials, and
//! each service's population. Immutable once built; a new revision builds a new view.

use std::sync::Arc;
use std::time::Instant;

use ldap3_proto::proto::{LdapFilter, LdapSearchScope};
use piratenldap_core::Dn;
use piratenldap_core::dn::fold_case_ignore;
use piratenldap_core::schema::{self, AttributeType};
use piratenldap_store::Snapshot;

use crate::access::{self, Principal};
use crate::build::{Layout, build_entries};
use crate::chunked::Chunked;
use crate::credentials::{self, Certificates, Credentials};
pub use crate::credentials::{CertBinding, Credential, Owner};
use crate::entry::{DerivedAttribute, Entry, EntryKind, Readable};
use crate::filter::{Reader, Truth, evaluate};
use crate::indexes::{self, Candidates, Indexes, hits};
use crate::population::{self, Population, Scopes};
use crate::pseudonymous;

/// Why a search cannot run or did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// The base entry does not exist (or is invisible to the reader).
    NoSuchObject {
        /// The nearest existing ancestor the reader may see.
        matched: String,
    },
    /// The deadline passed while the filter was evaluated.
    TimeLimit,
}

/// Candidates evaluated between two looks at the clock.
const DEADLINE_STRIDE: usize = 256;

/// An immutable view of the directory.
#[derive(Debug, Clone)]
pub struct View {
    /// The store revision it was built from.
    pub revision: i64,
    /// Where the tree's parts live.
    pub layout: Layout,
    /// All entries, in a fixed order (entries added since the last whole build come last), in
    /// chunks: the next view shares every chunk a change does not touch.
    pub entries: Chunked<Arc<Entry>>,
    pub(crate) indexes: Indexes,
    pub(crate) credentials: Credentials,
    /// Each service's population rule.
    pub(crate) populations: Arc<Vec<Population>>,
    /// Per service DN (normalised): which entries are in its population.
    pub(crate) service_scope: Scopes,
    /// Client certificates by SHA-256 fingerprint (lower-case hex).
    pub(crate) certificates: Certificates,
    /// The groups' rows (automatic ones' rules, manual members), for applying changes.
    pub(crate) groups: Arc<Vec<piratenldap_store::Group>>,
}

impl View {
    /// Builds the view of a snapshot. CPU work proportional to the directory's size: run it off
    /// the async reactor. The parts that only read the entries (indexes, credentials) are
    /// built side by side.
    pub fn build(layout: Layout, snap: Snapshot) -> View {
        // A group's member lists are read from its members' memberOf (`View::readable`):
        // stored once, and a change of one member does not copy the list.
        let mut entries: Vec<Arc<Entry>> = build_entries(&layout, &snap, false);
        let Snapshot {
            revision,
            members,
            accounts,
            groups,
            services,
            certificates,
            app_passwords,
        } = snap;
        // The member records are in the entries now: freed before the indexes allocate.
        drop(members);
        let populations: Vec<Population> = services.iter().map(|s| Population::new(&layout, &s.profile)).collect();
        let mut service_scope = population::scopes(&populations, &entries);
        pseudonymous::add_entries(&layout, &services, &mut entries, &mut service_scope);
        let (indexes, credentials) = rayon::join(
            || Indexes::build(&entries),
            || credentials::credentials(&layout, accounts, app_passwords, &groups, &services, &entries),
        );
        let certificates = credentials::certificates(&layout, &certificates);
        View {
            revision,
            layout,
            entries: entries.into_iter().collect(),
            indexes,
            credentials,
            populations: Arc::new(populations),
            service_scope,
            certificates,
            groups: Arc::new(groups),
        }
    }

    /// The credential of a bind DN (for a pseudonymous entry's DN, its member's).
    pub fn credential(&self, dn: &Dn) -> Option<&Credential> {
        self.credentials.get(self.account_dn(dn)).map(|c| c.as_ref())
    }

    /// The normalised DN whose credential `dn` binds with: `dn` itself, or for a pseudonymous
    /// entry the member's own entry (so both share one throttle bucket and one lock).
    pub fn account_dn<'a>(&'a self, dn: &'a Dn) -> &'a str {
        match self.pseudonymous_entry(dn) {
            Some(EntryKind::Pseudonym(p)) => &p.account_dn,
            _ => dn.normalised(),
        }
    }

    /// What a pseudonymous entry's DN names, if `dn` is one whose member is in its service's
    /// population (an entry left behind by a change, see `apply.rs`, is no entry).
    fn pseudonymous_entry(&self, dn: &Dn) -> Option<&EntryKind> {
        let i = *self.indexes.by_dn.get(dn.normalised())?;
        let kind = &self.entries[i].kind;
        let EntryKind::Pseudonym(p) = kind else {
            return None;
        };
        let admitted = self
            .service_scope
            .get(&p.service_dn)
            .is_some_and(|s| s.get(i) == Some(&true));
        admitted.then_some(kind)
    }

    /// The principal a bind with `dn` and `credential` makes: the credential's, except that a
    /// bind through a pseudonymous entry is that entry's member (never an admin), so what the
    /// session reads and who it is (WhoAmI) stay the pseudonym.
    pub fn bound_as(&self, dn: &Dn, credential: &Credential) -> Principal {
        if self.pseudonymous_entry(dn).is_some() {
            return Principal::Member { dn: dn.clone() };
        }
        credential.principal.clone()
    }

    /// The entry through which service `principal` sees the person at entry `i`: `i` itself,
    /// or for a pseudonymous service its pseudonymous entry of that member. `None` when it
    /// sees neither.
    pub fn seen_by_service(&self, principal: &Principal, i: usize) -> Option<usize> {
        if self.visible(principal, i) {
            return Some(i);
        }
        let account = self.entries.get(i)?.dn.normalised();
        let Principal::Service { access, .. } = principal else {
            return None;
        };
        if !access.profile.pseudonymous {
            return None;
        }
        let login = match &self.entries[i].kind {
            EntryKind::Person { uid, .. } => fold_case_ignore(uid),
            _ => return None,
        };
        self.indexes.by_login.get(&login).iter().copied().find(|j| {
            matches!(&self.entries[*j].kind, EntryKind::Pseudonym(p) if p.account_dn == account)
                && self.visible(principal, *j)
        })
    }

    /// What a session bound as `bound` may do in this view: the principal its DN has now, or
    /// anonymous once the account is locked, its member is no longer active or it is gone. A bind's rights
    /// are not kept past the change that takes them away (a lock, leaving `admins`, a narrower
    /// service profile).
    pub fn current(&self, bound: &Principal) -> Principal {
        let Some(dn) = bound.dn() else {
            return Principal::Anonymous;
        };
        // One lookup of the DN, one of the credential it binds with.
        let pseudonym = self.pseudonymous_entry(dn);
        let account = match pseudonym {
            Some(EntryKind::Pseudonym(p)) => p.account_dn.as_str(),
            _ => dn.normalised(),
        };
        match self.credentials.get(account) {
            // Bound through a pseudonymous entry: that entry, while it exists (its member
            // still in the service's population).
            Some(cred) if pseudonym.is_some() => match bound {
                Principal::Member { dn } if !cred.locked => Principal::Member { dn: dn.clone() },
                _ => Principal::Anonymous,
            },
            // Never more than the bind granted (an app-password session of an admin is a member).
            Some(cred) if !cred.locked => match (bound, &cred.principal) {
                (Principal::Member { .. }, Principal::Admin { dn }) => Principal::Member { dn: dn.clone() },
                (_, now) => now.clone(),
            },
            _ => Principal::Anonymous,
        }
    }

    /// Client certificates neither revoked nor expired at `now`: how many end within `within`,
    /// and when the first of them ends (`/metrics`).
    pub fn certificates_ending(
        &self,
        now: time::OffsetDateTime,
        within: time::Duration,
    ) -> (usize, Option<time::OffsetDateTime>) {
        let valid = self.certificates.values().filter(|c| !c.revoked && c.not_after > now);
        let (mut soon, mut first) = (0, None);
        for c in valid {
            if c.not_after <= now + within {
                soon += 1;
            }
            first = Some(first.map_or(c.not_after, |f: time::OffsetDateTime| f.min(c.not_after)));
        }
        (soon, first)
    }

    /// The client certificate with this SHA-256 fingerprint, if we issued it.
    pub fn certificate(&self, fingerprint: &str) -> Option<&CertBinding> {
        self.certificates.get(fingerprint)
    }

    /// The entry with this DN, if it exists.
    pub fn entry_index(&self, dn: &Dn) -> Option<usize> {
        self.indexes.by_dn.get(dn.normalised()).copied()
    }

    /// The entry with this normalised DN, if it exists.
    pub fn entry_index_normalised(&self, normalised: &str) -> Option<usize> {
        self.indexes.by_dn.get(normalised).copied()
    }

    /// Whether `principal` may see entry `i`.
    pub fn visible(&self, principal: &Principal, i: usize) -> bool {
        let entry = &self.entries[i];
        let in_scope = match principal {
            Principal::Service { dn, .. } => self
                .service_scope
                .get(dn.normalised())
                .is_some_and(|s| s.get(i) == Some(&true)),
            _ => true,
        };
        access::entry_visible(principal, entry, in_scope)
    }

    /// Whether `principal` may read attribute `attr` of entry `i`.
    pub fn attribute_visible(&self, principal: &Principal, i: usize, attr: &AttributeType) -> bool {
        access::attribute_visible(principal, &self.entries[i], attr)
    }

    /// The values of attribute `kind` of entry `i` that `principal` may read: `None` when the
    /// attribute is hidden or absent. A group's `member`, `uniqueMember` and `memberUid` are read from its
    /// members' `memberOf`, narrowed to the entries the reader may see (`None` when none is
    /// left). Filters, compare and rendering all read through here, so none of them can reach a
    /// value another hides.
    pub fn readable(&self, principal: &Principal, i: usize, kind: &'static AttributeType) -> Option<Readable<'_>> {
        if !self.attribute_visible(principal, i, kind) {
            return None;
        }
        if self.is_group_member_list(i, kind) {
            return self.member_list(principal, i, kind).map(Readable::Derived);
        }
        self.entries[i].get(kind).map(Readable::Stored)
    }

    /// The attribute types entry `i` has, in the order a read returns them (a group's member
    /// lists, which are derived, last).
    pub fn attribute_types(&self, i: usize) -> impl Iterator<Item = &'static AttributeType> + '_ {
        let derived: &[&'static AttributeType] = if matches!(self.entries[i].kind, EntryKind::Group) {
            &MEMBER_LISTS[..]
        } else {
            &[]
        };
        self.entries[i].attrs().map(|a| a.kind).chain(derived.iter().copied())
    }

    fn is_group_member_list(&self, i: usize, kind: &AttributeType) -> bool {
        matches!(self.entries[i].kind, EntryKind::Group) && is_member_list(kind)
    }

    /// The members of group `i` that `principal` may see, as `member` DNs or `memberUid`s.
    fn member_list(&self, principal: &Principal, i: usize, kind: &'static AttributeType) -> Option<DerivedAttribute> {
        let members = self.indexes.by_member_of.get(self.entries[i].dn.normalised())?;
        let seen = members
            .iter()
            .filter(|j| self.visible(principal, *j))
            .map(|j| &self.entries[j]);
        if kind.name() != "memberUid" {
            return DerivedAttribute::new(kind, seen.map(|e| (e.dn_string.as_ref(), e.dn.normalised())));
        }
        let uids: Vec<(&str, String)> = seen
            .filter_map(|e| e.values("uid").first())
            .map(|u| (u, kind.matching.normalise(u).unwrap_or_else(|| u.to_string())))
            .collect();
        DerivedAttribute::new(kind, uids.iter().map(|(u, n)| (*u, n.as_str())))
    }

    /// Whether `principal` reads a value of `kind` on entry `i` whose normalised form is
    /// `wanted` (`None`: it reads no value of `kind`): [`View::readable`]'s answer without
    /// building a member list of thousands for one equality test.
    pub fn holds(&self, principal: &Principal, i: usize, kind: &'static AttributeType, wanted: &str) -> Option<bool> {
        if !self.attribute_visible(principal, i, kind) {
            return None;
        }
        if !self.is_group_member_list(i, kind) {
            let attr = self.entries[i].get(kind)?;
            return Some(attr.normalised().contains(wanted));
        }
        let group = self.entries[i].dn.normalised();
        let member = if kind.name() != "memberUid" {
            self.indexes.by_dn.get(wanted).copied()
        } else {
            self.indexes
                .by_uid
                .get(&fold_case_ignore(wanted))
                .iter()
                .copied()
                .find(|j| {
                    self.entries[*j]
                        .values("uid")
                        .iter()
                        .any(|u| kind.matching.normalise(u).as_deref() == Some(wanted))
                })
        };
        let in_group = |j: usize| {
            indexes::indexed_values(&self.entries[j], "memberOf")
                .iter()
                .any(|g| g == group)
        };
        if member.is_some_and(|j| self.visible(principal, j) && in_group(j)) {
            return Some(true);
        }
        // FALSE only when some value is readable; a list narrowed to nothing is absent.
        let members = self.indexes.by_member_of.get(group)?;
        members.iter().any(|j| self.visible(principal, j)).then_some(false)
    }

    /// Whether a DN value (e.g. of `member`) names an entry `principal` may see.
    pub fn dn_visible(&self, principal: &Principal, normalised_dn: &str) -> bool {
        self.indexes
            .by_dn
            .get(normalised_dn)
            .is_some_and(|i| self.visible(principal, *i))
    }

    /// The first half of a search: the entries in scope that an index (or the subtree) names,
    /// before visibility and the filter are checked. Cheap: its length tells the caller how
    /// much work [`View::matching`] will be.
    pub fn candidates(
        &self,
        principal: &Principal,
        base: &Dn,
        scope: &LdapSearchScope,
        filter: &LdapFilter,
    ) -> Result<Vec<usize>, SearchError> {
        let Some(base_idx) = self.entry_index(base).filter(|i| self.visible(principal, *i)) else {
            return Err(SearchError::NoSuchObject {
                matched: self.matched_dn(principal, base),
            });
        };
        let candidates: Vec<usize> = match scope {
            LdapSearchScope::Base => vec![base_idx],
            LdapSearchScope::OneLevel => self.indexes.children(base_idx).collect(),
            LdapSearchScope::Subtree | LdapSearchScope::Children => match self.index_candidates(filter) {
                Some(c) => {
                    let mut c = c.into_vec();
                    c.sort_unstable();
                    c.dedup();
                    // The view's own DN of the base: the candidates' parents are the same
                    // `Arc`, so the scope check compares pointers, not strings (5 % of a
                    // bare search's CPU before).
                    let base = &self.entries[base_idx].dn;
                    c.retain(|i| self.in_subtree(*i, base, scope));
                    c
                }
                None => self.subtree(base_idx, matches!(scope, LdapSearchScope::Subtree)),
            },
        };
        Ok(candidates)
    }

    /// The second half: the candidates `principal` may see and `filter` matches, in tree
    /// order; `TimeLimit` once `deadline` has passed (looked at every few hundred entries).
    pub fn matching(
        &self,
        principal: &Principal,
        filter: &LdapFilter,
        candidates: Vec<usize>,
        deadline: Instant,
    ) -> Result<Vec<usize>, SearchError> {
        let mut out = Vec::new();
        for (n, i) in candidates.into_iter().enumerate() {
            if n % DEADLINE_STRIDE == DEADLINE_STRIDE - 1 && Instant::now() > deadline {
                return Err(SearchError::TimeLimit);
            }
            if !self.visible(principal, i) {
                continue;
            }
            let read = EntryReader {
                view: self,
                principal,
                i,
            };
            if evaluate(filter, &self.entries[i], &read) == Truth::True {
                out.push(i);
            }
        }
        Ok(out)
    }

    fn in_subtree(&self, i: usize, base: &Dn, scope: &LdapSearchScope) -> bool {
        let dn = &self.entries[i].dn;
        dn.is_within(base) && (matches!(scope, LdapSearchScope::Subtree) || dn.depth() > base.depth())
    }

    fn subtree(&self, root: usize, include_root: bool) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            if i != root || include_root {
                out.push(i);
            }
            stack.extend(self.indexes.children(i).rev());
        }
        out.sort_unstable();
        out
    }

    /// Candidates from an index when the filter pins an indexed attribute; `None` means scan.
    /// Index hits are borrowed, not copied: `(objectClass=inetOrgPerson)` names every person,
    /// and an AND with `(uid=…)` must not copy that list on every search only to discard it.
    fn index_candidates(&self, filter: &LdapFilter) -> Option<Candidates<'_>> {
        match filter {
            LdapFilter::Equality(attr, value) => {
                let kind = schema::attribute(attr)?;
                let key = kind.matching.normalise(value).unwrap_or_default();
                let one = |i: Option<&usize>| Candidates::Owned(i.map(|i| vec![*i]).unwrap_or_default());
                // Key tables name a superset (keys of one hash share a slot): the filter,
                // checked on every candidate, drops the stranger.
                match kind.name() {
                    // An account's own entry, or one that has this pseudonym, and the
                    // pseudonymous entries of that account (found by its uid: a login search).
                    "uid" => Some(match self.indexes.by_login.get(&key) {
                        [] => Candidates::Slice(self.indexes.by_uid.get(&key)),
                        shadows => {
                            Candidates::Owned(self.indexes.by_uid.get(&key).iter().chain(shadows).copied().collect())
                        }
                    }),
                    "mail" => Some(Candidates::Slice(self.indexes.by_mail.get(&key))),
                    "objectClass" => Some(hits(&self.indexes.by_class, &key)),
                    "memberOf" => Some(hits(&self.indexes.by_member_of, &key)),
                    "entryDN" => Some(one(self.indexes.by_dn.get(key.as_str()))),
                    _ => None,
                }
            }
            LdapFilter::And(parts) => parts
                .iter()
                .filter_map(|p| self.index_candidates(p))
                .min_by_key(|c| c.len()),
            LdapFilter::Or(parts) if !parts.is_empty() => {
                // The union, deduplicated as it grows: an OR of thousands of elements that each
                // name every entry must not copy the hit list once per element. Past the size
                // of the directory, scanning is cheaper than the union.
                let mut all = Vec::new();
                for p in parts {
                    self.index_candidates(p)?.append_to(&mut all);
                    if all.len() > self.entries.len() {
                        all.sort_unstable();
                        all.dedup();
                        if all.len() * 2 > self.entries.len() {
                            return None;
                        }
                    }
                }
                Some(Candidates::Owned(all))
            }
            _ => None,
        }
    }

    /// The nearest ancestor of `dn` that exists and `principal` may see (for matchedDN).
    fn matched_dn(&self, principal: &Principal, dn: &Dn) -> String {
        let mut cur = dn.parent();
        while let Some(d) = cur {
            if let Some(i) = self.entry_index(&d).filter(|i| self.visible(principal, *i)) {
                return self.entries[i].dn_string.to_string();
            }
            cur = d.parent();
        }
        String::new()
    }
}

/// A group's member lists: derived from the members' `memberOf`.
static MEMBER_LISTS: std::sync::LazyLock<[&'static AttributeType; 3]> = std::sync::LazyLock::new(|| {
    [
        member_list_type("member"),
        member_list_type("uniqueMember"),
        member_list_type("memberUid"),
    ]
});

fn member_list_type(name: &str) -> &'static AttributeType {
    schema::attribute(name).unwrap_or_else(|| unreachable!("{name} is in the schema"))
}

/// Whether `kind` is one of a group's member lists.
fn is_member_list(kind: &AttributeType) -> bool {
    matches!(kind.name(), "member" | "uniqueMember" | "memberUid")
}

/// What a principal reads of one entry, for filters.
struct EntryReader<'v> {
    view: &'v View,
    principal: &'v Principal,
    i: usize,
}

impl Reader for EntryReader<'_> {
    fn values(&self, kind: &'static AttributeType) -> Option<Readable<'_>> {
        self.view.readable(self.principal, self.i, kind)
    }

    fn holds(&self, kind: &'static AttributeType, wanted: &str) -> Option<bool> {
        let held = self.view.holds(self.principal, self.i, kind, wanted);
        // A pseudonymous entry also answers an equality test on `uid` with its account's uid:
        // the service's login search. Substrings, ordering and presence see the pseudonym only.
        if held == Some(false)
            && kind.name() == "uid"
            && let EntryKind::Pseudonym(p) = &self.view.entries[self.i].kind
            && p.login == wanted
        {
            return Some(true);
        }
        held
    }
}
