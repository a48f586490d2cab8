//! The storage of an entry's attributes (issue 17, docs/performance-memory.md): one text with
//! every value, a table of where each value lies, and a table of which attribute owns which
//! values; a normal form that equals its value points at the same bytes. Built in per-thread
//! scratch buffers, then sealed into three exact-size allocations. Written by hand: no crate
//! stores many small string tables this compactly.

use piratenldap_core::schema::{ATTRIBUTE_TYPES, AttributeType};

use crate::values::{Attribute, Values};

/// Where one value lies in its block's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
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
pub(crate) struct Block(BlockRepr);

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
pub(crate) struct Parts<'a> {
    pub(crate) text: &'a str,
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
    pub(crate) fn parts(&self) -> Parts<'_> {
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
    pub(crate) fn seal(&mut self) {
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
    pub(crate) fn push<'s>(&mut self, kind: &'static AttributeType, values: impl IntoIterator<Item = &'s str>) {
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
    pub(crate) fn push_normalised<'s>(
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

    pub(crate) fn find(&self, kind: &AttributeType) -> Option<Attribute<'_>> {
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

    pub(crate) fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
        let parts = self.parts();
        parts.slots.iter().filter_map(move |s| parts.attribute(s))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.parts().slots.is_empty()
    }

    /// The heap bytes the block holds (for the bench's byte budget).
    pub(crate) fn heap_bytes(&self) -> usize {
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
        Some(Attribute::new(
            kind,
            Values::spans(self.text, raw),
            Values::spans(self.text, normal),
        ))
    }
}
