//! The lookup tables of a view, by entry position: DN, uid, login (pseudonymous entries by
//! their account's uid), mail, objectClass, memberOf, and each entry's children.
//!
//! Built so that a view that differs from its predecessor by a few entries is cheap to make
//! (issue 17): the tables with one key per entry (DN, uid, login, mail) are persistent maps
//! keyed by the key's hash (`imbl`: a copy shares all but the changed paths; `dn_map.rs`,
//! `key_table.rs`), and the hit lists that name thousands of entries (objectClass, memberOf,
//! children) are shared behind `Arc` and copied only when one of them changes.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use piratenldap_core::dn::fold_case_ignore;
use piratenldap_core::schema;

use crate::entry::{Entry, EntryKind, Values};

use crate::dn_map::DnMap;
use crate::hits::HitList;
use crate::key_table::KeyTable;

/// The lookup tables of a view.
#[derive(Debug, Clone, Default)]
pub(crate) struct Indexes {
    pub(crate) by_dn: DnMap<usize>,
    /// Entries by case-folded uid (a pseudonymous entry by its own uids).
    pub(crate) by_uid: KeyTable,
    /// Pseudonymous entries by their account's case-folded uid.
    pub(crate) by_login: KeyTable,
    pub(crate) by_mail: KeyTable,
    pub(crate) by_class: HashMap<String, HitList>,
    pub(crate) by_member_of: HashMap<String, HitList>,
    children: HashMap<usize, HitList>,
}

impl Indexes {
    /// The tables of `entries`, three groups of them side by side (the DN table and the
    /// children, the keys, the hit lists): on the start-up's critical path.
    pub(crate) fn build(entries: &[Arc<Entry>]) -> Indexes {
        let ((by_dn, children), (keys, (by_class, by_member_of))) = rayon::join(
            || {
                let by_dn = DnMap::from_pairs(entries.iter().enumerate().map(|(i, e)| (e.dn.clone(), i)).collect());
                let mut children: HashMap<usize, Vec<usize>> = HashMap::default();
                for (i, e) in entries.iter().enumerate() {
                    if !e.dn.is_root()
                        && let Some(parent) = by_dn.get(e.dn.parent_normalised()).copied()
                    {
                        children.entry(parent).or_default().push(i);
                    }
                }
                (by_dn, children)
            },
            || {
                rayon::join(
                    || Indexes::keys(entries),
                    || {
                        let mut by_class: HashMap<String, Vec<usize>> = HashMap::default();
                        let mut by_member_of: HashMap<String, Vec<usize>> = HashMap::default();
                        for (i, e) in entries.iter().enumerate() {
                            for c in indexed_values(e, "objectClass") {
                                push_hit(&mut by_class, c, i);
                            }
                            for g in indexed_values(e, "memberOf") {
                                push_hit(&mut by_member_of, g, i);
                            }
                        }
                        (by_class, by_member_of)
                    },
                )
            },
        );
        Indexes {
            by_dn,
            by_uid: keys.by_uid,
            by_login: keys.by_login,
            by_mail: keys.by_mail,
            by_class: by_class
                .into_iter()
                .map(|(k, v)| (k, HitList::from_sorted(v)))
                .collect(),
            by_member_of: by_member_of
                .into_iter()
                .map(|(k, v)| (k, HitList::from_sorted(v)))
                .collect(),
            children: children
                .into_iter()
                .map(|(k, v)| (k, HitList::from_sorted(v)))
                .collect(),
        }
    }

    /// The uid, login and mail tables of `entries` (the rest left empty).
    fn keys(entries: &[Arc<Entry>]) -> Indexes {
        let mut uids: Vec<(String, usize)> = Vec::with_capacity(entries.len());
        let mut logins: Vec<(&str, usize)> = Vec::new();
        let mut mails: Vec<(&str, usize)> = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            match &e.kind {
                EntryKind::Person { uid, .. } => uids.push((fold_case_ignore(uid), i)),
                EntryKind::Pseudonym(p) => {
                    uids.extend(e.values("uid").iter().map(|v| (fold_case_ignore(v), i)));
                    logins.push((&p.login, i));
                }
                _ => {}
            }
            mails.extend(indexed_values(e, "mail").iter().map(|m| (m, i)));
        }
        Indexes {
            by_uid: KeyTable::from_keys(uids),
            by_login: KeyTable::from_keys(logins),
            by_mail: KeyTable::from_keys(mails),
            ..Indexes::default()
        }
    }

    /// The children of entry `i`, in tree order.
    pub(crate) fn children(&self, i: usize) -> impl DoubleEndedIterator<Item = usize> + '_ {
        self.children.get(&i).into_iter().flat_map(HitList::iter)
    }

    /// Records that entry `i` changed from `old` to `new` (same DN; `old` is `None` for an entry
    /// appended at position `i`). Touches only the keys whose values differ.
    pub(crate) fn update(&mut self, i: usize, old: Option<&Entry>, new: &Entry) {
        if old.is_none() {
            self.by_dn.insert(new.dn.clone(), i);
            if !new.dn.is_root()
                && let Some(parent) = self.by_dn.get(new.dn.parent_normalised()).copied()
            {
                self.children.entry(parent).or_default().insert(i);
            }
        }
        if let Some(old) = old {
            for m in indexed_values(old, "mail") {
                if !indexed_values(new, "mail").contains(m) {
                    self.by_mail.remove(m, i);
                }
            }
        }
        for m in indexed_values(new, "mail") {
            if old.is_none_or(|o| !indexed_values(o, "mail").contains(m)) {
                self.by_mail.insert(m, i);
            }
        }
        if old.is_none() {
            match &new.kind {
                EntryKind::Person { uid, .. } => {
                    self.by_uid.insert(&fold_case_ignore(uid), i);
                }
                EntryKind::Pseudonym(p) => {
                    for v in new.values("uid") {
                        self.by_uid.insert(&fold_case_ignore(v), i);
                    }
                    self.by_login.insert(&p.login, i);
                }
                _ => {}
            }
        }
        diff_hits(&mut self.by_class, i, old, new, "objectClass");
        diff_hits(&mut self.by_member_of, i, old, new, "memberOf");
    }
}

/// Moves entry `i` between the hit lists of attribute `name` as its values changed.
fn diff_hits(index: &mut HashMap<String, HitList>, i: usize, old: Option<&Entry>, new: &Entry, name: &str) {
    let before = old.map_or(Values::EMPTY, |o| indexed_values(o, name));
    let after = indexed_values(new, name);
    for v in before.iter().filter(|v| !after.contains(v)) {
        if let Some(hits) = index.get_mut(v) {
            hits.remove(i);
        }
    }
    for v in after.iter().filter(|v| !before.contains(v)) {
        index.entry(v.to_string()).or_default().insert(i);
    }
}

fn push_hit(index: &mut HashMap<String, Vec<usize>>, key: &str, i: usize) {
    match index.get_mut(key) {
        Some(hits) => hits.push(i),
        None => {
            index.insert(key.to_string(), vec![i]);
        }
    }
}

/// The normalised values of an indexed attribute of an entry, borrowed.
pub(crate) fn indexed_values<'e>(e: &'e Entry, name: &str) -> Values<'e> {
    schema::attribute(name)
        .and_then(|k| e.get(k))
        .map_or(Values::EMPTY, |a| a.normalised())
}

/// The entries a hit list names, borrowed.
pub(crate) fn hits<'a>(index: &'a HashMap<String, HitList>, key: &str) -> Candidates<'a> {
    index.get(key).map_or(Candidates::Owned(Vec::new()), Candidates::List)
}

/// Entries an index names for a filter, borrowed where it can be: a search picks the shortest
/// of an AND's lists before copying one.
pub(crate) enum Candidates<'a> {
    /// A hit list.
    List(&'a HitList),
    /// A key table's slice.
    Slice(&'a [usize]),
    /// Made for this search.
    Owned(Vec<usize>),
}

impl Candidates<'_> {
    /// How many.
    pub(crate) fn len(&self) -> usize {
        match self {
            Candidates::List(l) => l.len(),
            Candidates::Slice(s) => s.len(),
            Candidates::Owned(v) => v.len(),
        }
    }

    /// The positions, as the caller's own vector.
    pub(crate) fn into_vec(self) -> Vec<usize> {
        match self {
            Candidates::List(l) => l.to_vec(),
            Candidates::Slice(s) => s.to_vec(),
            Candidates::Owned(v) => v,
        }
    }

    /// Appends the positions to `out`.
    pub(crate) fn append_to(&self, out: &mut Vec<usize>) {
        match self {
            Candidates::List(l) => out.extend(l.iter()),
            Candidates::Slice(s) => out.extend_from_slice(s),
            Candidates::Owned(v) => out.extend_from_slice(v),
        }
    }
}
