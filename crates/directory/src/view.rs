//! The in-memory view of the tree at one store revision: the entries, the indexes that answer
//! lookups without scanning (DN, uid, mail, objectClass, memberOf), the bind credentials, and
//! each service's population. Immutable once built; a new revision builds a new view.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use ldap3_proto::proto::{LdapFilter, LdapSearchScope};
use piratenldap_core::Dn;
use piratenldap_core::dn::fold_case_ignore;
use piratenldap_core::ids::{MembershipStatus, Name, Uid};
use piratenldap_core::schema::{self, AttributeType};
use piratenldap_store::Snapshot;

use crate::access::{self, Principal, ServiceAccess};
use crate::build::{Layout, build_entries};
use crate::entry::{Attribute, Entry, EntryKind};
use crate::filter::{Reader, Truth, evaluate};
use crate::pseudonymous;

/// Whose credential it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A member's account.
    Account(Uid),
    /// A service bind account.
    Service(Name),
}

impl Owner {
    /// The uid or the service's name (the audit trail's subject).
    pub fn name(&self) -> &str {
        match self {
            Owner::Account(uid) => uid.as_str(),
            Owner::Service(name) => name.as_str(),
        }
    }
}

/// What a bind DN may authenticate with.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The stored password hash.
    pub hash: String,
    /// Binds are refused.
    pub locked: bool,
    /// The principal the connection becomes after a successful bind.
    pub principal: Principal,
    /// Whose it is (where a rehashed or changed password is stored).
    pub owner: Owner,
    /// The sealed TOTP secret, when binds need a code.
    pub totp: Option<String>,
    /// App passwords: (label, argon2 hash).
    pub app_passwords: Vec<(String, String)>,
}

/// A client certificate as SASL EXTERNAL sees it.
#[derive(Debug, Clone)]
pub struct CertBinding {
    /// The account's DN.
    pub dn: Dn,
    /// Revoked.
    pub revoked: bool,
    /// Validity start.
    pub not_before: time::OffsetDateTime,
    /// Validity end.
    pub not_after: time::OffsetDateTime,
}

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
#[derive(Debug)]
pub struct View {
    /// The store revision it was built from.
    pub revision: i64,
    /// Where the tree's parts live.
    pub layout: Layout,
    /// All entries, in a fixed order.
    pub entries: Vec<Entry>,
    indexes: Indexes,
    credentials: HashMap<String, Credential>,
    /// Per service DN (normalised): which entries are in its population.
    service_scope: HashMap<String, Vec<bool>>,
    /// Client certificates by SHA-256 fingerprint (lower-case hex).
    certificates: HashMap<String, CertBinding>,
}

impl View {
    /// Builds the view of a snapshot. CPU work proportional to the directory's size: run it off
    /// the async reactor. The parts that only read the entries (indexes, credentials, service
    /// populations) are built side by side.
    pub fn build(layout: Layout, snap: &Snapshot) -> View {
        let mut entries = build_entries(&layout, snap);
        let mut service_scope = service_scopes(&layout, snap, &entries);
        pseudonymous::add_entries(&layout, snap, &mut entries, &mut service_scope);
        let (indexes, credentials) = rayon::join(|| Indexes::build(&entries), || credentials(&layout, snap, &entries));
        let certificates = snap
            .certificates
            .iter()
            .map(|c| {
                let binding = CertBinding {
                    dn: layout.person_dn(c.uid.as_str()),
                    revoked: c.revoked_at.is_some(),
                    not_before: c.not_before,
                    not_after: c.not_after,
                };
                (c.fingerprint.clone(), binding)
            })
            .collect();
        View {
            revision: snap.revision,
            layout,
            entries,
            indexes,
            credentials,
            service_scope,
            certificates,
        }
    }

    /// The credential of a bind DN (for a pseudonymous entry's DN, its member's).
    pub fn credential(&self, dn: &Dn) -> Option<&Credential> {
        self.credentials.get(self.account_dn(dn))
    }

    /// The normalised DN whose credential `dn` binds with: `dn` itself, or for a pseudonymous
    /// entry the member's own entry (so both share one throttle bucket and one lock).
    pub fn account_dn<'a>(&'a self, dn: &'a Dn) -> &'a str {
        match self.pseudonymous_entry(dn) {
            Some(EntryKind::Pseudonym { account_dn, .. }) => account_dn,
            _ => dn.normalised(),
        }
    }

    /// What a pseudonymous entry's DN names, if `dn` is one.
    fn pseudonymous_entry(&self, dn: &Dn) -> Option<&EntryKind> {
        let i = self.indexes.by_dn.get(dn.normalised())?;
        let kind = &self.entries[*i].kind;
        matches!(kind, EntryKind::Pseudonym { .. }).then_some(kind)
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
        self.indexes.by_login.get(&login)?.iter().copied().find(|j| {
            matches!(&self.entries[*j].kind, EntryKind::Pseudonym { account_dn, .. } if account_dn == account)
                && self.visible(principal, *j)
        })
    }

    /// What a session bound as `bound` may do in this view: the principal its DN has now, or
    /// anonymous once the account is locked, its member is no longer active or it is gone. A bind's rights
    /// are not kept past the change that takes them away (a lock, leaving `admins`, a narrower
    /// service profile).
    pub fn current(&self, bound: &Principal) -> Principal {
        match bound.dn().and_then(|dn| self.credential(dn)) {
            // Bound through a pseudonymous entry: that entry, while it exists (its member
            // still in the service's population).
            Some(cred) if bound.dn().is_some_and(|dn| self.pseudonymous_entry(dn).is_some()) => match bound {
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
            Principal::Service { dn, .. } => self.service_scope.get(dn.normalised()).is_some_and(|s| s[i]),
            _ => true,
        };
        access::entry_visible(principal, entry, in_scope)
    }

    /// Whether `principal` may read attribute `attr` of entry `i`.
    pub fn attribute_visible(&self, principal: &Principal, i: usize, attr: &AttributeType) -> bool {
        access::attribute_visible(principal, &self.entries[i], attr)
    }

    /// The values of attribute `kind` of entry `i` that `principal` may read: `None` when the
    /// attribute is hidden or absent; for members and services, `member` and `memberUid`
    /// narrowed to the people the reader may see (`None` when none is left). Filters, compare
    /// and rendering all read through here, so none of them can reach a value another hides.
    pub fn readable(
        &self,
        principal: &Principal,
        i: usize,
        kind: &'static AttributeType,
    ) -> Option<Cow<'_, Attribute>> {
        if !self.attribute_visible(principal, i, kind) {
            return None;
        }
        let attr = self.entries[i].get(kind)?;
        if !narrowed_for(principal, kind) {
            return Some(Cow::Borrowed(attr));
        }
        let narrowed = attr.retain(|v, n| self.member_visible(principal, kind, v, n));
        (!narrowed.values.is_empty()).then_some(Cow::Owned(narrowed))
    }

    /// Whether `principal` reads a value of `kind` on entry `i` whose normalised form is
    /// `wanted` (`None`: it reads no value of `kind`): [`View::readable`]'s answer without
    /// narrowing a member list of thousands for one equality test.
    pub fn holds(&self, principal: &Principal, i: usize, kind: &'static AttributeType, wanted: &str) -> Option<bool> {
        if !self.attribute_visible(principal, i, kind) {
            return None;
        }
        let attr = self.entries[i].get(kind)?;
        let narrow = narrowed_for(principal, kind);
        let seen = |value: &str, normalised: &str| !narrow || self.member_visible(principal, kind, value, normalised);
        let mut pairs = attr.values.iter().zip(attr.normalised());
        if pairs.clone().any(|(v, n)| n == wanted && seen(v, n)) {
            return Some(true);
        }
        // FALSE only when some value is readable; a list narrowed to nothing is absent.
        pairs.any(|(v, n)| seen(v, n)).then_some(false)
    }

    /// Whether one value of a member list (`member` DN or `memberUid`) names a person
    /// `principal` may see.
    fn member_visible(&self, principal: &Principal, kind: &AttributeType, value: &str, normalised: &str) -> bool {
        if kind.name() == "member" {
            self.dn_visible(principal, normalised)
        } else {
            self.uid_visible(principal, value)
        }
    }

    /// Whether a DN value (e.g. of `member`) names an entry `principal` may see.
    pub fn dn_visible(&self, principal: &Principal, normalised_dn: &str) -> bool {
        self.indexes
            .by_dn
            .get(normalised_dn)
            .is_some_and(|i| self.visible(principal, *i))
    }

    /// Whether a uid names a person `principal` may see.
    pub fn uid_visible(&self, principal: &Principal, uid: &str) -> bool {
        self.indexes
            .by_uid
            .get(&fold_case_ignore(uid))
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
            LdapSearchScope::OneLevel => self.indexes.children[base_idx].clone(),
            LdapSearchScope::Subtree | LdapSearchScope::Children => match self.index_candidates(filter) {
                Some(c) => {
                    let mut c = c.into_owned();
                    c.sort_unstable();
                    c.dedup();
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
        dn.is_within(base) && (matches!(scope, LdapSearchScope::Subtree) || dn.rdns().len() > base.rdns().len())
    }

    fn subtree(&self, root: usize, include_root: bool) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            if i != root || include_root {
                out.push(i);
            }
            stack.extend(self.indexes.children[i].iter().rev());
        }
        out.sort_unstable();
        out
    }

    /// Candidates from an index when the filter pins an indexed attribute; `None` means scan.
    /// Index hits are borrowed, not copied: `(objectClass=inetOrgPerson)` names every person,
    /// and an AND with `(uid=…)` must not copy that list on every search only to discard it.
    fn index_candidates(&self, filter: &LdapFilter) -> Option<Cow<'_, [usize]>> {
        match filter {
            LdapFilter::Equality(attr, value) => {
                let kind = schema::attribute(attr)?;
                let key = kind.matching.normalise(value).unwrap_or_default();
                let one = |i: Option<&usize>| Cow::Owned(i.map(|i| vec![*i]).unwrap_or_default());
                match kind.name() {
                    // An account's own entry, or one that has this pseudonym, and the
                    // pseudonymous entries of that account (found by its uid: a login search).
                    "uid" => Some(match self.indexes.by_login.get(&key) {
                        None => one(self.indexes.by_uid.get(&key)),
                        Some(shadows) => Cow::Owned(
                            self.indexes
                                .by_uid
                                .get(&key)
                                .into_iter()
                                .chain(shadows)
                                .copied()
                                .collect(),
                        ),
                    }),
                    "mail" => Some(index_hits(&self.indexes.by_mail, &key)),
                    "objectClass" => Some(index_hits(&self.indexes.by_class, &key)),
                    "memberOf" => Some(index_hits(&self.indexes.by_member_of, &key)),
                    "entryDN" => Some(one(self.indexes.by_dn.get(&key))),
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
                    all.extend_from_slice(&self.index_candidates(p)?);
                    if all.len() > self.entries.len() {
                        all.sort_unstable();
                        all.dedup();
                        if all.len() * 2 > self.entries.len() {
                            return None;
                        }
                    }
                }
                Some(Cow::Owned(all))
            }
            _ => None,
        }
    }

    /// The nearest ancestor of `dn` that exists and `principal` may see (for matchedDN).
    fn matched_dn(&self, principal: &Principal, dn: &Dn) -> String {
        let mut cur = dn.parent();
        while let Some(d) = cur {
            if let Some(i) = self.entry_index(&d).filter(|i| self.visible(principal, *i)) {
                return self.entries[i].dn_string.clone();
            }
            cur = d.parent();
        }
        String::new()
    }
}

/// Whether `kind` is a member list that `principal` reads narrowed to the people it may see
/// (members and services; admins read every value).
fn narrowed_for(principal: &Principal, kind: &AttributeType) -> bool {
    matches!(principal, Principal::Service { .. } | Principal::Member { .. })
        && matches!(kind.name(), "member" | "memberUid")
}

/// What a principal reads of one entry, for filters.
struct EntryReader<'v> {
    view: &'v View,
    principal: &'v Principal,
    i: usize,
}

impl Reader for EntryReader<'_> {
    fn values(&self, kind: &'static AttributeType) -> Option<Cow<'_, Attribute>> {
        self.view.readable(self.principal, self.i, kind)
    }

    fn holds(&self, kind: &'static AttributeType, wanted: &str) -> Option<bool> {
        let held = self.view.holds(self.principal, self.i, kind, wanted);
        // A pseudonymous entry also answers an equality test on `uid` with its account's uid:
        // the service's login search. Substrings, ordering and presence see the pseudonym only.
        if held == Some(false)
            && kind.name() == "uid"
            && let EntryKind::Pseudonym { login, .. } = &self.view.entries[self.i].kind
            && login == wanted
        {
            return Some(true);
        }
        held
    }
}

/// The lookup tables of a view, by entry position.
#[derive(Debug)]
struct Indexes {
    by_dn: HashMap<String, usize>,
    children: Vec<Vec<usize>>,
    by_uid: HashMap<String, usize>,
    /// Pseudonymous entries by their account's case-folded uid.
    by_login: HashMap<String, Vec<usize>>,
    by_mail: HashMap<String, Vec<usize>>,
    by_class: HashMap<String, Vec<usize>>,
    by_member_of: HashMap<String, Vec<usize>>,
}

impl Indexes {
    fn build(entries: &[Entry]) -> Indexes {
        let mut ix = Indexes {
            by_dn: HashMap::with_capacity(entries.len()),
            children: vec![Vec::new(); entries.len()],
            by_uid: HashMap::with_capacity(entries.len()),
            by_login: HashMap::new(),
            by_mail: HashMap::with_capacity(entries.len()),
            by_class: HashMap::new(),
            by_member_of: HashMap::new(),
        };
        for (i, e) in entries.iter().enumerate() {
            ix.by_dn.insert(e.dn.normalised().to_string(), i);
            match &e.kind {
                EntryKind::Person { uid, .. } => {
                    ix.by_uid.insert(fold_case_ignore(uid), i);
                }
                EntryKind::Pseudonym { login, .. } => {
                    for p in e.values("uid") {
                        ix.by_uid.insert(fold_case_ignore(p), i);
                    }
                    add_hit(&mut ix.by_login, login, i);
                }
                _ => {}
            }
            for m in indexed_values(e, "mail") {
                add_hit(&mut ix.by_mail, m, i);
            }
            for c in indexed_values(e, "objectClass") {
                add_hit(&mut ix.by_class, c, i);
            }
            for g in indexed_values(e, "memberOf") {
                add_hit(&mut ix.by_member_of, g, i);
            }
        }
        for (i, e) in entries.iter().enumerate() {
            if !e.dn.is_root()
                && let Some(parent) = ix.by_dn.get(e.dn.parent_normalised()).copied()
            {
                ix.children[parent].push(i);
            }
        }
        ix
    }
}

/// What every bind DN (people and services) may authenticate with, by normalised DN.
fn credentials(layout: &Layout, snap: &Snapshot, entries: &[Entry]) -> HashMap<String, Credential> {
    let admins: HashSet<&str> = snap
        .groups
        .iter()
        .filter(|g| g.name.as_str() == "admins")
        .flat_map(|g| g.manual_members.iter().map(|u| u.as_str()))
        .collect();
    let status: HashMap<&str, MembershipStatus> = snap.members.iter().map(|m| (m.number.as_str(), m.status)).collect();
    // People's DNs as the builder made them, by uid.
    let person_dns: HashMap<&str, &Dn> = entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Person { uid, .. } => Some((uid.as_str(), &e.dn)),
            _ => None,
        })
        .collect();
    let mut apps: HashMap<&str, Vec<(String, String)>> = HashMap::new();
    for p in &snap.app_passwords {
        apps.entry(p.uid.as_str())
            .or_default()
            .push((p.label.clone(), p.hash.clone()));
    }
    let mut credentials = HashMap::with_capacity(snap.accounts.len() + snap.services.len());
    for a in &snap.accounts {
        // An account whose member record is missing has no entry; its credential is locked.
        let dn = match person_dns.get(a.uid.as_str()) {
            Some(dn) => (*dn).clone(),
            None => layout.person_dn(a.uid.as_str()),
        };
        let principal = if admins.contains(a.uid.as_str()) {
            Principal::Admin { dn: dn.clone() }
        } else {
            Principal::Member { dn: dn.clone() }
        };
        // Only an active member binds: a suspended one (the one switch, or the membership
        // administration's CSV) is locked out like one who has left, app passwords, SASL
        // EXTERNAL and open sessions included.
        let inactive = status
            .get(a.member_number.as_str())
            .is_none_or(|s| *s != MembershipStatus::Active);
        credentials.insert(
            dn.normalised().to_string(),
            Credential {
                hash: a.password_hash.clone(),
                locked: a.locked || inactive,
                principal,
                owner: Owner::Account(a.uid.clone()),
                totp: a.totp_secret.clone().filter(|_| a.totp_enabled),
                app_passwords: apps.remove(a.uid.as_str()).unwrap_or_default(),
            },
        );
    }
    for s in &snap.services {
        let dn = layout.service_dn(s.profile.name.as_str());
        let access = Arc::new(ServiceAccess::new(s.profile.clone()));
        credentials.insert(
            dn.normalised().to_string(),
            Credential {
                hash: s.password_hash.clone(),
                locked: false,
                principal: Principal::Service { dn, access },
                owner: Owner::Service(s.profile.name.clone()),
                totp: None,
                app_passwords: Vec::new(),
            },
        );
    }
    credentials
}

/// Per service DN (normalised): which entries are in the service's population (active,
/// unless it includes inactive members; never locked; of its chapter, if a chapter registered
/// it; in its group, if it names one).
fn service_scopes(layout: &Layout, snap: &Snapshot, entries: &[Entry]) -> HashMap<String, Vec<bool>> {
    snap.services
        .iter()
        .map(|s| {
            let dn = layout.service_dn(s.profile.name.as_str()).normalised().to_string();
            let chapter = s.profile.chapter.as_ref().map(|c| c.as_str());
            let group_dn = s
                .profile
                .members_of
                .as_ref()
                .map(|g| layout.group_dn(g.as_str()).normalised().to_string());
            let scope = entries
                .iter()
                .map(|e| match &e.kind {
                    EntryKind::Person { active, locked, .. } => {
                        (*active || s.profile.include_inactive)
                            && !locked
                            && chapter.is_none_or(|c| e.values("pirateStateAssociation").iter().any(|v| v == c))
                            && group_dn
                                .as_ref()
                                .is_none_or(|g| indexed_values(e, "memberOf").iter().any(|m| m == g))
                    }
                    _ => true,
                })
                .collect();
            (dn, scope)
        })
        .collect()
}

/// The normalised values of an indexed attribute of an entry, borrowed.
fn indexed_values<'e>(e: &'e Entry, name: &str) -> &'e [String] {
    schema::attribute(name)
        .and_then(|k| e.get(k))
        .map(|a| a.normalised())
        .unwrap_or(&[])
}

/// Lists entry `i` under `key`; the key is copied only the first time it is seen.
fn add_hit(index: &mut HashMap<String, Vec<usize>>, key: &str, i: usize) {
    match index.get_mut(key) {
        Some(hits) => hits.push(i),
        None => {
            index.insert(key.to_string(), vec![i]);
        }
    }
}

/// The entries an index lists under `key`, borrowed.
fn index_hits<'a>(index: &'a HashMap<String, Vec<usize>>, key: &str) -> Cow<'a, [usize]> {
    index
        .get(key)
        .map_or(Cow::Borrowed(&[][..]), |v| Cow::Borrowed(v.as_slice()))
}
