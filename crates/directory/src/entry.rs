//! One entry of the in-memory tree: its DN, what kind of object it is, and its attributes with
//! values pre-normalised for matching (so filters never re-normalise stored values).
//!
//! The lean form (issue 17): a [`Value`] is the builder's constant (`objectClass`, `loginShell`,
//! `TRUE`: no allocation), a string shared by many entries (a group's DN in every member's
//! `memberOf`: one allocation for all), or the entry's own exact-size string. Measured before:
//! 41 % of a whole build at 100 000 members was the kernel zeroing fresh pages, so the bytes
//! not stored are also the time not spent.

use std::sync::Arc;

use piratenldap_core::Dn;
use piratenldap_core::schema::{self, AttributeType};

/// One attribute value (derefs to `str`).
#[derive(Clone)]
pub struct Value(Repr);

#[derive(Clone)]
enum Repr {
    /// A constant of the builder.
    Static(&'static str),
    /// Shared by many entries.
    Shared(Arc<str>),
    /// This entry's own.
    Own(Box<str>),
}

impl Value {
    /// A value shared with other entries (cloning it clones the `Arc`).
    pub fn shared(text: Arc<str>) -> Value {
        Value(Repr::Shared(text))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
            Repr::Own(s) => s,
        }
    }
}

impl std::ops::Deref for Value {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Value {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Value {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value(Repr::Own(s.into_boxed_str()))
    }
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value(Repr::Static(s))
    }
}

impl From<Arc<str>> for Value {
    fn from(s: Arc<str>) -> Value {
        Value(Repr::Shared(s))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Value {}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One attribute of an entry.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// The schema definition (its canonical name is what we return).
    pub kind: &'static AttributeType,
    /// The values as served.
    pub values: Vec<Value>,
    /// The values normalised with the attribute's matching rule, when that differs from
    /// `values` (most values are already in normal form; sharing saves memory).
    folded: Option<Vec<Value>>,
}

impl Attribute {
    /// The values normalised with the attribute's matching rule (same order; a value that
    /// does not normalise keeps its raw form).
    pub fn normalised(&self) -> &[Value] {
        self.folded.as_deref().unwrap_or(&self.values)
    }

    /// An attribute whose normal forms are known (`normalised[i]` is `values[i]`'s).
    pub fn with_normalised(kind: &'static AttributeType, values: Vec<Value>, normalised: Vec<Value>) -> Attribute {
        let folded = (normalised != values).then_some(normalised);
        Attribute { kind, values, folded }
    }

    /// A copy holding only the values for which `keep(value, normalised)` holds (same order).
    pub fn retain(&self, keep: impl Fn(&str, &str) -> bool) -> Attribute {
        let (values, folded): (Vec<Value>, Vec<Value>) = self
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
fn fold(kind: &AttributeType, values: &[Value]) -> Option<Vec<Value>> {
    if values.iter().all(|v| kind.matching.is_normal(v)) {
        return None;
    }
    let folded: Vec<Value> = values
        .iter()
        .map(|v| kind.matching.normalise(v).map_or_else(|| v.clone(), Value::from))
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
        S: Into<Value>,
    {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
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
    pub fn add_normalised(&mut self, name: &str, values: Vec<Value>, normalised: Vec<Value>) {
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
    pub fn values(&self, name: &str) -> &[Value] {
        schema::attribute(name)
            .and_then(|k| self.get(k))
            .map(|a| a.values.as_slice())
            .unwrap_or(&[])
    }
}
