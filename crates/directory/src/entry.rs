//! One entry of the in-memory tree: its DN, what kind of object it is, and its attributes with
//! values pre-normalised for matching (so filters never re-normalise stored values).
//!
//! The lean form (issue 17, docs/performance-memory.md): an entry's attributes are one block
//! (`block.rs`), read as borrowed [`Attribute`]s (`values.rs`). What every person has alike (`objectClass`, `structuralObjectClass`, `loginShell`,
//! `hasSubordinates`, `subschemaSubentry`) lives once in a static [`Common`] block, and
//! `entryDN` is read from the entry's DN. Measured before: 41 % of a whole build at 100 000
//! members was the kernel zeroing fresh pages, so the bytes not stored are also the time not
//! spent.

use std::sync::{Arc, LazyLock};

use piratenldap_core::Dn;
use piratenldap_core::schema::{self, AttributeType};

use crate::block::Block;
pub use crate::values::{Attribute, DerivedAttribute, Readable, Values, ValuesIter};

/// What every entry of one kind has alike, stored once: attributes returned before the
/// entry's own (`head`) and after them (`tail`); the entry's `entryDN` is its DN.
#[derive(Debug)]
pub struct Common {
    head: Block,
    tail: Block,
}

impl Common {
    fn new(head: &[(&str, &[&str])], tail: &[(&str, &[&str])]) -> Common {
        let block = |attrs: &[(&str, &[&str])]| {
            let mut b = Block::default();
            for (name, values) in attrs {
                match schema::attribute(name) {
                    Some(kind) => b.push(kind, values.iter().copied()),
                    None => debug_assert!(false, "attribute {name} missing from the schema"),
                }
            }
            b.seal();
            b
        };
        Common {
            head: block(head),
            tail: block(tail),
        }
    }
}

/// The operational attributes every person and pseudonymous entry has alike.
const PERSON_TAIL: &[(&str, &[&str])] = &[
    ("structuralObjectClass", &["inetOrgPerson"]),
    ("hasSubordinates", &["FALSE"]),
    ("subschemaSubentry", &[crate::build::SUBSCHEMA_DN]),
];

/// What every member's entry has alike.
pub static PERSON: LazyLock<Common> = LazyLock::new(|| {
    Common::new(
        &[(
            "objectClass",
            &[
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                "posixAccount",
                "piratePerson",
            ],
        )],
        &[&[("loginShell", &["/bin/bash"][..])][..], PERSON_TAIL].concat(),
    )
});

/// What every pseudonymous entry has alike.
pub static PSEUDONYM: LazyLock<Common> = LazyLock::new(|| {
    Common::new(
        &[(
            "objectClass",
            &["top", "person", "organizationalPerson", "inetOrgPerson", "piratePerson"],
        )],
        PERSON_TAIL,
    )
});

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
    /// Boxed: only pseudonymous services' entries carry it, and inline it made every entry
    /// 48 bytes larger (issue 17).
    Pseudonym(Box<PseudonymOf>),
    /// A group.
    Group,
    /// A service bind account.
    Service {
        /// Service name.
        name: String,
    },
}

/// Whose pseudonymous entry it is (`EntryKind::Pseudonym`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PseudonymOf {
    /// The account's uid, case-folded: an equality filter on `uid` finds the entry by it (the
    /// service's login search), nothing else reads it.
    pub login: String,
    /// The account's own entry's normalised DN (its credential, its throttle).
    pub account_dn: String,
    /// The service's normalised DN (its population decides whether the entry exists).
    pub service_dn: String,
}

/// One entry of the tree.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its DN.
    pub dn: Dn,
    /// Its DN as served (the string form; `Dn::served`).
    pub dn_string: Arc<str>,
    /// What it is.
    pub kind: EntryKind,
    own: Block,
    common: Option<&'static Common>,
}

static ENTRY_DN: LazyLock<Option<&'static AttributeType>> = LazyLock::new(|| schema::attribute("entryDN"));

impl Entry {
    /// A new entry without attributes.
    pub fn new(dn: Dn, kind: EntryKind) -> Self {
        let dn_string = dn.served();
        Entry {
            dn,
            dn_string,
            kind,
            own: Block::default(),
            common: None,
        }
    }

    /// A new entry whose common attributes (and `entryDN`) are `common`'s.
    pub fn with_common(dn: Dn, kind: EntryKind, common: &'static Common) -> Self {
        let mut e = Entry::new(dn, kind);
        e.common = Some(common);
        e
    }

    /// Whether its common attributes are stored once for all entries of its kind.
    pub fn has_common(&self) -> bool {
        self.common.is_some()
    }

    /// Adds values to an attribute named as in the schema (replacing the values it had).
    /// Empty value lists are skipped. An unknown name is a programming error: it trips a debug
    /// assertion (the builder's tests catch it) and is ignored in release builds.
    pub fn add<I, S>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let Some(kind) = schema::attribute(name) else {
            debug_assert!(false, "attribute {name} missing from the schema");
            return;
        };
        self.own.push(kind, values);
    }

    /// Adds an attribute whose values' normal forms the caller knows (DNs the builder made
    /// itself), saving the parse that normalising would cost.
    pub fn add_normalised<'s>(&mut self, name: &str, pairs: impl IntoIterator<Item = (&'s str, &'s str)>) {
        let Some(kind) = schema::attribute(name) else {
            debug_assert!(false, "attribute {name} missing from the schema");
            return;
        };
        self.own.push_normalised(kind, pairs);
    }

    /// Gives back spare capacity; the builder calls it last.
    pub fn finish(&mut self) {
        self.own.seal();
    }

    /// The attribute of this type, if the entry has it.
    pub fn get(&self, kind: &AttributeType) -> Option<Attribute<'_>> {
        if let Some(a) = self.own.find(kind) {
            return Some(a);
        }
        let common = self.common?;
        if ENTRY_DN.is_some_and(|e| std::ptr::eq(e, kind)) {
            return Some(self.entry_dn_attribute());
        }
        [&common.head, &common.tail].into_iter().find_map(|b| b.find(kind))
    }

    fn entry_dn_attribute(&self) -> Attribute<'_> {
        Attribute::new(
            ENTRY_DN.unwrap_or_else(|| unreachable!("entryDN is in the schema")),
            Values::one(&self.dn_string),
            Values::one(self.dn.normalised()),
        )
    }

    /// The attributes in the order they are returned: the common head, the entry's own, its
    /// `entryDN`, the common tail.
    pub fn attrs(&self) -> impl Iterator<Item = Attribute<'_>> {
        let head = self.common.map(|c| c.head.attributes());
        let tail = self.common.map(|c| c.tail.attributes());
        let entry_dn = self.common.map(|_| self.entry_dn_attribute());
        head.into_iter()
            .flatten()
            .chain(self.own.attributes())
            .chain(entry_dn)
            .chain(tail.into_iter().flatten())
    }

    /// Copies attribute `name` of `other` (values and normal forms), if it has it.
    pub fn copy_from(&mut self, other: &Entry, name: &str) {
        if let Some(attr) = schema::attribute(name).and_then(|k| other.get(k)) {
            self.own
                .push_normalised(attr.kind, attr.values.iter().zip(attr.normalised().iter()));
        }
    }

    /// The values of an attribute by name.
    pub fn values(&self, name: &str) -> Values<'_> {
        schema::attribute(name)
            .and_then(|k| self.get(k))
            .map_or(Values::EMPTY, |a| a.values)
    }

    /// The heap bytes this entry holds beside itself (its DN's shared parts not counted).
    pub fn heap_bytes(&self) -> usize {
        self.own.heap_bytes() + self.dn_string.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str) -> &'static AttributeType {
        schema::attribute(name).unwrap_or_else(|| unreachable!("{name} is in the schema"))
    }

    #[test]
    fn an_entry_fits_a_128_byte_allocation_with_its_arc() {
        // 100 000 people: every 16 bytes here is 1.6 MB touched at start-up (issue 17).
        assert!(
            std::mem::size_of::<Entry>() + 16 <= 128,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }

    #[test]
    fn a_served_dn_shares_the_normalised_bytes_only_when_they_are_equal() {
        let lower = Entry::new(Dn::parse("uid=anna,ou=people,dc=org").unwrap(), EntryKind::Group);
        assert_eq!(&*lower.dn_string, "uid=anna,ou=people,dc=org");
        assert_eq!(lower.dn_string.as_ptr(), lower.dn.normalised().as_ptr());
        let upper = Entry::new(Dn::parse("uid=Anna,ou=people,dc=org").unwrap(), EntryKind::Group);
        assert_eq!(&*upper.dn_string, "uid=Anna,ou=people,dc=org");
        assert_eq!(upper.dn.normalised(), "uid=anna,ou=people,dc=org");
    }

    #[test]
    fn values_keep_their_normal_forms_and_share_bytes_when_equal() {
        let mut e = Entry::new(Dn::parse("cn=x,dc=example,dc=org").unwrap(), EntryKind::Group);
        e.add("cn", ["Alice  Liddell", "bob"]);
        e.add("uid", ["alice"]);
        e.finish();
        let cn = e.get(kind("cn")).unwrap();
        assert_eq!(cn.values.iter().collect::<Vec<_>>(), ["Alice  Liddell", "bob"]);
        assert_eq!(cn.normalised().iter().collect::<Vec<_>>(), ["alice liddell", "bob"]);
        let uid = e.get(kind("uid")).unwrap();
        assert_eq!(uid.normalised().first(), Some("alice"));
        // "bob" and "alice" are stored once: raw text plus the one differing normal form.
        assert_eq!(e.own.parts().text, "Alice  Liddellbobalice liddellalice");
    }

    #[test]
    fn adding_to_a_sealed_block_replaces_the_attribute_and_keeps_the_others() {
        let mut e = Entry::new(Dn::parse("cn=x,dc=example,dc=org").unwrap(), EntryKind::Group);
        e.add("cn", ["one"]);
        e.add("description", ["first"]);
        e.finish();
        e.add("cn", ["two", "three"]);
        e.finish();
        assert_eq!(e.values("cn").iter().collect::<Vec<_>>(), ["two", "three"]);
        assert_eq!(e.values("description").first(), Some("first"));
        let names: Vec<&str> = e.attrs().map(|a| a.kind.name()).collect();
        assert_eq!(names, ["cn", "description"]);
    }

    #[test]
    fn a_person_reads_its_common_attributes_and_its_entry_dn_from_the_dn() {
        let dn = Dn::parse("uid=Alice,ou=people,dc=example,dc=org").unwrap();
        let mut e = Entry::with_common(
            dn,
            EntryKind::Person {
                uid: "Alice".into(),
                active: true,
                locked: false,
            },
            &PERSON,
        );
        e.add("uid", ["Alice"]);
        e.finish();
        let names: Vec<&str> = e.attrs().map(|a| a.kind.name()).collect();
        assert_eq!(
            names,
            [
                "objectClass",
                "uid",
                "entryDN",
                "loginShell",
                "structuralObjectClass",
                "hasSubordinates",
                "subschemaSubentry"
            ]
        );
        let entry_dn = e.get(kind("entryDN")).unwrap();
        assert_eq!(entry_dn.values.first(), Some("uid=Alice,ou=people,dc=example,dc=org"));
        assert_eq!(
            entry_dn.normalised().first(),
            Some("uid=alice,ou=people,dc=example,dc=org")
        );
        assert!(e.values("objectClass").contains("posixAccount"));
        assert_eq!(e.get(kind("objectClass")).unwrap().normalised().first(), Some("top"));
        // The common block is shared: nothing of it is in the entry's own text.
        assert_eq!(e.own.parts().text, "Alicealice");
    }

    #[test]
    fn a_derived_attribute_of_many_values_reads_back_in_order() {
        let pairs: Vec<(String, String)> = (0..10_000).map(|i| (format!("U{i}"), format!("u{i}"))).collect();
        let d = DerivedAttribute::new(kind("memberUid"), pairs.iter().map(|(v, n)| (v.as_str(), n.as_str()))).unwrap();
        let a = d.get().unwrap();
        assert_eq!(a.values.len(), 10_000);
        assert_eq!(a.values.iter().next_back(), Some("U9999"));
        assert_eq!(a.normalised().get(42), Some("u42"));
        assert!(DerivedAttribute::new(kind("memberUid"), std::iter::empty()).is_none());
    }
}
