//! One entry of the in-memory tree: its DN, what kind of object it is, and its attributes with
//! values pre-normalised for matching (so filters never re-normalise stored values).
//!
//! The lean form (issue 17, docs/performance-memory.md): an entry's attributes are one
//! [`Block`]: all values in one string, a table of where each value lies, and a table of which
//! attribute owns which values. A normal form that equals its value points at the same bytes.
//! What every person has alike (`objectClass`, `structuralObjectClass`, `loginShell`,
//! `hasSubordinates`, `subschemaSubentry`) lives once in a static [`Common`] block, and
//! `entryDN` is read from the entry's DN. Measured before: 41 % of a whole build at 100 000
//! members was the kernel zeroing fresh pages, so the bytes not stored are also the time not
//! spent. Written by hand: no crate stores many small string tables this compactly.

use std::sync::LazyLock;

use piratenldap_core::Dn;
use piratenldap_core::schema::{self, ATTRIBUTE_TYPES, AttributeType};

/// Where one value lies in its block's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// One attribute of a block: its type (position in the schema table) and its values
/// (`spans[first..first + count]`, their normal forms the next `count` spans when `folded`).
#[derive(Debug, Clone, Copy)]
struct Slot {
    attr: u16,
    folded: bool,
    first: u32,
    count: u32,
}

/// Offsets are `u32`: a block beyond 4 GiB is refused long before (entries are kilobytes).
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The schema table's position of an attribute type.
fn type_index(kind: &'static AttributeType) -> Option<u16> {
    let at = (kind as *const AttributeType as usize).wrapping_sub(ATTRIBUTE_TYPES.as_ptr() as usize)
        / std::mem::size_of::<AttributeType>();
    ATTRIBUTE_TYPES
        .get(at)
        .filter(|t| std::ptr::eq(*t, kind))
        .and_then(|_| u16::try_from(at).ok())
}

/// Attributes stored as one text, one table of value spans and one table of attributes: open
/// (growing) while the builder adds to it, then sealed into three exact-size allocations.
#[derive(Debug, Clone)]
pub struct Block(BlockRepr);

#[derive(Debug, Clone)]
enum BlockRepr {
    Open(Box<Open>),
    Sealed {
        text: Box<str>,
        spans: Box<[Span]>,
        slots: Box<[Slot]>,
    },
}

/// A block being built. Its buffers are reused from block to block on the same thread
/// ([`SCRATCH`]), so building a million entries does not grow and copy a million buffers.
#[derive(Debug, Clone, Default)]
struct Open {
    text: String,
    spans: Vec<Span>,
    slots: Vec<Slot>,
}

/// Scratch buffers up to this size are kept for the next block (an entry is about 1 KiB).
const SCRATCH_KEEP_BYTES: usize = 64 * 1024;

thread_local! {
    /// Open blocks' buffers left by sealed ones, for the next entry built on this thread.
    static SCRATCH: std::cell::RefCell<Vec<Open>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A block's parts, borrowed.
#[derive(Clone, Copy)]
struct Parts<'a> {
    text: &'a str,
    spans: &'a [Span],
    slots: &'a [Slot],
}

impl Default for Block {
    fn default() -> Block {
        Block(BlockRepr::Sealed {
            text: Box::from(""),
            spans: Box::new([]),
            slots: Box::new([]),
        })
    }
}

impl Open {
    fn span(&mut self, value: &str) -> Span {
        let start = offset(self.text.len());
        self.text.push_str(value);
        Span {
            start,
            len: offset(value.len()),
        }
    }
}

impl Block {
    fn parts(&self) -> Parts<'_> {
        match &self.0 {
            BlockRepr::Open(o) => Parts {
                text: &o.text,
                spans: &o.spans,
                slots: &o.slots,
            },
            BlockRepr::Sealed { text, spans, slots } => Parts { text, spans, slots },
        }
    }

    /// The block, open for adding (a sealed one is copied into scratch buffers).
    fn open(&mut self) -> &mut Open {
        if let BlockRepr::Sealed { text, spans, slots } = &self.0 {
            let mut o = SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default();
            o.text.push_str(text);
            o.spans.extend_from_slice(spans);
            o.slots.extend_from_slice(slots);
            self.0 = BlockRepr::Open(Box::new(o));
        }
        match &mut self.0 {
            BlockRepr::Open(o) => o,
            BlockRepr::Sealed { .. } => unreachable!("opened above"),
        }
    }

    /// Seals the block into exact-size allocations and keeps its buffers for the next one.
    fn seal(&mut self) {
        if let BlockRepr::Open(o) = &mut self.0 {
            let mut o = std::mem::take(o.as_mut());
            self.0 = BlockRepr::Sealed {
                text: Box::from(o.text.as_str()),
                spans: Box::from(o.spans.as_slice()),
                slots: Box::from(o.slots.as_slice()),
            };
            o.text.clear();
            o.spans.clear();
            o.slots.clear();
            // A person's buffers are kept; a large group's member list is not kept per thread.
            if o.text.capacity() <= SCRATCH_KEEP_BYTES {
                SCRATCH.with(|s| {
                    let mut s = s.borrow_mut();
                    if s.len() < 4 {
                        s.push(o);
                    }
                });
            }
        }
    }

    /// Appends values with the normal forms of `kind`'s matching rule (a value that does not
    /// normalise keeps its raw form). Replaces the attribute's values if it already has some.
    fn push<'s>(&mut self, kind: &'static AttributeType, values: impl IntoIterator<Item = &'s str>) {
        let values: Vec<&str> = values.into_iter().collect();
        let normal: Vec<Option<String>> = values
            .iter()
            .map(|v| {
                if kind.matching.is_normal(v) {
                    None
                } else {
                    kind.matching.normalise(v)
                }
            })
            .collect();
        let pairs = values.iter().zip(&normal).map(|(v, n)| (*v, n.as_deref().unwrap_or(v)));
        self.push_normalised(kind, pairs);
    }

    /// Appends values whose normal forms the caller knows (`(value, normalised)` pairs).
    fn push_normalised<'s>(
        &mut self,
        kind: &'static AttributeType,
        pairs: impl IntoIterator<Item = (&'s str, &'s str)>,
    ) {
        let Some(attr) = type_index(kind) else {
            debug_assert!(false, "{} is not in the schema table", kind.name());
            return;
        };
        let mut pairs = pairs.into_iter().peekable();
        if pairs.peek().is_none() {
            return;
        }
        let o = self.open();
        let first = o.spans.len();
        let mut folded = false;
        let mut normal: Vec<&str> = Vec::new();
        for (v, n) in pairs {
            let raw = o.span(v);
            o.spans.push(raw);
            folded |= v != n;
            normal.push(n);
        }
        let count = o.spans.len() - first;
        if folded {
            for (i, n) in normal.into_iter().enumerate() {
                let raw = o.spans[first + i];
                let same = o.text.get(raw.start as usize..(raw.start + raw.len) as usize) == Some(n);
                let s = if same { raw } else { o.span(n) };
                o.spans.push(s);
            }
        }
        let slot = Slot {
            attr,
            folded,
            first: offset(first),
            count: offset(count),
        };
        match o.slots.iter_mut().find(|s| s.attr == attr) {
            Some(existing) => *existing = slot,
            None => o.slots.push(slot),
        }
    }

    fn find(&self, kind: &AttributeType) -> Option<Attribute<'_>> {
        let parts = self.parts();
        parts
            .slots
            .iter()
            .find(|s| {
                ATTRIBUTE_TYPES
                    .get(usize::from(s.attr))
                    .is_some_and(|t| std::ptr::eq(t, kind))
            })
            .and_then(|s| parts.attribute(s))
    }

    fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
        let parts = self.parts();
        parts.slots.iter().filter_map(move |s| parts.attribute(s))
    }

    fn is_empty(&self) -> bool {
        self.parts().slots.is_empty()
    }

    /// The heap bytes the block holds (for the bench's byte budget).
    fn heap_bytes(&self) -> usize {
        let p = self.parts();
        p.text.len() + std::mem::size_of_val(p.spans) + std::mem::size_of_val(p.slots)
    }
}

impl<'a> Parts<'a> {
    fn attribute(self, slot: &Slot) -> Option<Attribute<'a>> {
        let kind = ATTRIBUTE_TYPES.get(usize::from(slot.attr))?;
        let first = slot.first as usize;
        let count = slot.count as usize;
        let raw = self.spans.get(first..first + count)?;
        let normal = if slot.folded {
            self.spans.get(first + count..first + 2 * count)?
        } else {
            raw
        };
        Some(Attribute {
            kind,
            values: Values(Repr::Spans {
                text: self.text,
                spans: raw,
            }),
            normalised: Values(Repr::Spans {
                text: self.text,
                spans: normal,
            }),
        })
    }
}

/// The values of one attribute, borrowed from where they are stored.
#[derive(Clone, Copy)]
pub struct Values<'a>(Repr<'a>);

#[derive(Clone, Copy)]
enum Repr<'a> {
    Spans { text: &'a str, spans: &'a [Span] },
    One(&'a str),
    None,
}

impl<'a> Values<'a> {
    /// No values.
    pub const EMPTY: Values<'static> = Values(Repr::None);

    /// How many.
    pub fn len(&self) -> usize {
        match self.0 {
            Repr::Spans { spans, .. } => spans.len(),
            Repr::One(_) => 1,
            Repr::None => 0,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i`.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self.0 {
            Repr::Spans { text, spans } => {
                let s = spans.get(i)?;
                text.get(s.start as usize..(s.start as usize).checked_add(s.len as usize)?)
            }
            Repr::One(v) => (i == 0).then_some(v),
            Repr::None => None,
        }
    }

    /// The first value.
    pub fn first(&self) -> Option<&'a str> {
        self.get(0)
    }

    /// The values in order.
    pub fn iter(&self) -> ValuesIter<'a> {
        ValuesIter {
            values: *self,
            next: 0,
            end: self.len(),
        }
    }

    /// Whether one of them is `value`.
    pub fn contains(&self, value: &str) -> bool {
        self.iter().any(|v| v == value)
    }
}

impl<'a> IntoIterator for Values<'a> {
    type Item = &'a str;
    type IntoIter = ValuesIter<'a>;
    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Values<'a> {
    type Item = &'a str;
    type IntoIter = ValuesIter<'a>;
    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}

impl PartialEq for Values<'_> {
    fn eq(&self, other: &Values<'_>) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl std::fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over [`Values`].
#[derive(Clone)]
pub struct ValuesIter<'a> {
    values: Values<'a>,
    next: usize,
    end: usize,
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.next >= self.end {
            return None;
        }
        self.next += 1;
        self.values.get(self.next - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for ValuesIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        self.values.get(self.end)
    }
}

impl ExactSizeIterator for ValuesIter<'_> {}

/// One attribute of an entry, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'a> {
    /// The schema definition (its canonical name is what we return).
    pub kind: &'static AttributeType,
    /// The values as served.
    pub values: Values<'a>,
    normalised: Values<'a>,
}

impl<'a> Attribute<'a> {
    /// The values normalised with the attribute's matching rule (same order; a value that
    /// does not normalise keeps its raw form).
    pub fn normalised(&self) -> Values<'a> {
        self.normalised
    }
}

/// An attribute made for one read (a group's member list narrowed to a reader).
#[derive(Debug, Clone)]
pub struct DerivedAttribute(Block);

impl DerivedAttribute {
    /// An attribute of `kind` from `(value, normalised)` pairs; `None` when there are none.
    pub fn new<'s>(
        kind: &'static AttributeType,
        pairs: impl IntoIterator<Item = (&'s str, &'s str)>,
    ) -> Option<DerivedAttribute> {
        let mut block = Block::default();
        block.push_normalised(kind, pairs);
        block.seal();
        (!block.is_empty()).then_some(DerivedAttribute(block))
    }

    /// The attribute.
    pub fn get(&self) -> Option<Attribute<'_>> {
        self.0.attributes().next()
    }
}

/// What a reader reads of one attribute: stored in the entry, or made for the read.
#[derive(Debug, Clone)]
pub enum Readable<'a> {
    /// Stored in the entry.
    Stored(Attribute<'a>),
    /// Made for this read.
    Derived(DerivedAttribute),
}

impl Readable<'_> {
    /// The attribute.
    pub fn attr(&self) -> Attribute<'_> {
        match self {
            Readable::Stored(a) => *a,
            Readable::Derived(d) => d
                .get()
                .unwrap_or_else(|| unreachable!("a derived attribute has values")),
        }
    }
}

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
    own: Block,
    common: Option<&'static Common>,
}

static ENTRY_DN: LazyLock<Option<&'static AttributeType>> = LazyLock::new(|| schema::attribute("entryDN"));

impl Entry {
    /// A new entry without attributes.
    pub fn new(dn: Dn, kind: EntryKind) -> Self {
        let dn_string = dn.to_string();
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
        let values: Vec<S> = values.into_iter().collect();
        self.own.push(kind, values.iter().map(AsRef::as_ref));
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
        Attribute {
            kind: ENTRY_DN.unwrap_or_else(|| unreachable!("entryDN is in the schema")),
            values: Values(Repr::One(&self.dn_string)),
            normalised: Values(Repr::One(self.dn.normalised())),
        }
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
