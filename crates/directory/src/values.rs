//! What a reader gets of one attribute: its values and their normal forms, borrowed from the
//! entry's block (or the entry's DN), or made for one read (a group's narrowed member list).

use piratenldap_core::schema::AttributeType;

use crate::block::{Block, SpanList};

/// The values of one attribute, borrowed from where they are stored.
#[derive(Clone, Copy)]
pub struct Values<'a>(Repr<'a>);

#[derive(Clone, Copy)]
enum Repr<'a> {
    Spans { text: &'a str, spans: SpanList<'a> },
    One(&'a str),
    None,
}

impl<'a> Values<'a> {
    /// The values at `spans` of `text`.
    pub(crate) fn spans(text: &'a str, spans: SpanList<'a>) -> Values<'a> {
        Values(Repr::Spans { text, spans })
    }

    /// One value.
    pub(crate) fn one(value: &'a str) -> Values<'a> {
        Values(Repr::One(value))
    }

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
            Repr::Spans { text, spans } => text.get(spans.range(i)?),
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
    /// An attribute of `kind` with its values and their normal forms (same order).
    pub(crate) fn new(kind: &'static AttributeType, values: Values<'a>, normalised: Values<'a>) -> Attribute<'a> {
        Attribute {
            kind,
            values,
            normalised,
        }
    }

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
