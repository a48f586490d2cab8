//! One entry of the in-memory tree: its DN, what kind of object it is, and its attributes with
//! values pre-normalised for matching (so filters never re-normalise stored values).

use piratenldap_core::Dn;
use piratenldap_core::schema::{self, AttributeType};

/// One attribute of an entry.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// The schema definition (its canonical name is what we return).
    pub kind: &'static AttributeType,
    /// The values as served.
    pub values: Vec<String>,
    /// The values normalised with the attribute's matching rule, when that differs from
    /// `values` (most values are already in normal form; sharing saves memory).
    folded: Option<Vec<String>>,
}

impl Attribute {
    /// The values normalised with the attribute's matching rule (same order; a value that
    /// does not normalise keeps its raw form).
    pub fn normalised(&self) -> &[String] {
        self.folded.as_deref().unwrap_or(&self.values)
    }

    /// An attribute whose normal forms are known (`normalised[i]` is `values[i]`'s).
    pub fn with_normalised(kind: &'static AttributeType, values: Vec<String>, normalised: Vec<String>) -> Attribute {
        let folded = (normalised != values).then_some(normalised);
        Attribute { kind, values, folded }
    }

    /// A copy holding only the values for which `keep(value, normalised)` holds (same order).
    pub fn retain(&self, keep: impl Fn(&str, &str) -> bool) -> Attribute {
        let (values, folded): (Vec<String>, Vec<String>) = self
            .values
            .iter()
            .zip(self.normalised())
            .filter(|(v, n)| keep(v, n))
            .map(|(v, n)| (v.clone(), n.clone()))
            .unzip();
        let folded = (folded != values).then_some(folded);
        Attribute {
            kind: self.kind,
            values,
            folded,
        }
    }
}

/// The normalised values, or `None` when they equal the values. Values already in normal
/// form (most of them) are recognised without normalising a copy.
fn fold(kind: &AttributeType, values: &[String]) -> Option<Vec<String>> {
    if values.iter().all(|v| kind.matching.is_normal(v)) {
        return None;
    }
    let folded: Vec<String> = values
        .iter()
        .map(|v| kind.matching.normalise(v).unwrap_or_else(|| v.clone()))
        .collect();
    (folded != values).then_some(folded)
}

/// What an entry is; decides who may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// The base entry or an organisational unit.
    Container,
    /// A member's account.
    Person {
        /// Login name.
        uid: String,
        /// Membership status is `active`.
        active: bool,
        /// Binds are refused.
        locked: bool,
    },
    /// What a `--pseudonymous` service sees of a member's account (`pseudonymous.rs`).
    Pseudonym {
        /// The account's uid, case-folded: an equality filter on `uid` finds the entry by it
        /// (the service's login search), nothing else reads it.
        login: String,
        /// The account's own entry's normalised DN (its credential, its throttle).
        account_dn: String,
        /// The service's normalised DN (its population decides whether the entry exists).
        service_dn: String,
    },
    /// A group.
    Group,
    /// A service bind account.
    Service {
        /// Service name.
        name: String,
    },
}

/// One entry of the tree.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its DN.
    pub dn: Dn,
    /// Its DN as served (the string form).
    pub dn_string: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its attributes, in the order they are returned.
    pub attrs: Vec<Attribute>,
}

impl Entry {
    /// A new entry without attributes.
    pub fn new(dn: Dn, kind: EntryKind) -> Self {
        let dn_string = dn.to_string();
        Entry {
            dn,
            dn_string,
            kind,
            attrs: Vec::new(),
        }
    }

    /// Adds values to an attribute named as in the schema. Empty value lists are skipped.
    /// An unknown name is a programming error: it trips a debug assertion (the builder's tests
    /// catch it) and is ignored in release builds.
    pub fn add<I, S>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        let Some(kind) = schema::attribute(name) else {
            debug_assert!(false, "attribute {name} missing from the schema");
            return;
        };
        if values.is_empty() {
            return;
        }
        match self.attrs.iter_mut().find(|a| std::ptr::eq(a.kind, kind)) {
            Some(existing) => {
                existing.values.extend(values);
                existing.folded = fold(kind, &existing.values);
            }
            None => {
                let folded = fold(kind, &values);
                self.attrs.push(Attribute { kind, values, folded });
            }
        }
    }

    /// Adds a new attribute whose values are already normalised (DNs the builder made itself),
    /// saving the parse that normalising would cost.
    pub fn add_normalised(&mut self, name: &str, values: Vec<String>, normalised: Vec<String>) {
        let Some(kind) = schema::attribute(name) else {
            debug_assert!(false, "attribute {name} missing from the schema");
            return;
        };
        if !values.is_empty() {
            let folded = (normalised != values).then_some(normalised);
            self.attrs.push(Attribute { kind, values, folded });
        }
    }

    /// The attribute of this type, if the entry has it.
    pub fn get(&self, kind: &AttributeType) -> Option<&Attribute> {
        self.attrs.iter().find(|a| std::ptr::eq(a.kind, kind))
    }

    /// Copies attribute `name` of `other` (values and normal forms), if it has it.
    pub fn copy_from(&mut self, other: &Entry, name: &str) {
        if let Some(attr) = schema::attribute(name).and_then(|k| other.get(k)) {
            self.attrs.push(attr.clone());
        }
    }

    /// The values of an attribute by name.
    pub fn values(&self, name: &str) -> &[String] {
        schema::attribute(name)
            .and_then(|k| self.get(k))
            .map(|a| a.values.as_slice())
            .unwrap_or(&[])
    }
}
