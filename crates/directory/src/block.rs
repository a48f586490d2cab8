//! The storage of an entry's attributes (issue 17, docs/performance-memory.md): one text with
//! every value, a table of where each value lies, and a table of which attribute owns which
//! values; a normal form that equals its value points at the same bytes. Built in per-thread
//! scratch buffers, then sealed into exact-size allocations: a block of less than 64 KiB (every
//! person) keeps both tables as one array of `u16`, a larger one (a group's member lists in an
//! LDIF export) as `u32` spans and slots. Written by hand: no crate stores many small string
//! tables this compactly.

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
    /// Boxed tables: a large block is rare, and inline they made every entry 16 bytes larger.
    Sealed {
        text: Box<str>,
        wide: Box<WideTables>,
    },
    /// Both tables in one array: the slot count, then per slot its attribute, its value count
    /// (the top bit: `folded`) and its first span, then per span its start and length. At
    /// 100 000 members this is about 20 MB less than `Sealed` (issue 17).
    Narrow {
        text: Box<str>,
        table: Box<[u16]>,
    },
}

/// A sealed wide block's tables.
#[derive(Debug, Clone)]
struct WideTables {
    spans: Box<[Span]>,
    slots: Box<[Slot]>,
}

/// The `folded` bit of a narrow slot's count.
const NARROW_FOLDED: u16 = 1 << 15;
/// `u16`s per narrow slot and per narrow span.
const NARROW_SLOT: usize = 3;
const NARROW_SPAN: usize = 2;

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
    tables: Tables<'a>,
}

/// A block's span and slot tables, borrowed, in either width.
#[derive(Clone, Copy)]
enum Tables<'a> {
    Wide {
        spans: &'a [Span],
        slots: &'a [Slot],
    },
    /// The slots' `u16`s, then the spans' (`BlockRepr::Narrow` without its count).
    Narrow {
        slots: &'a [u16],
        spans: &'a [u16],
    },
}

/// A value's spans, borrowed, in either width (`Values` reads them).
#[derive(Clone, Copy)]
pub(crate) enum SpanList<'a> {
    Wide(&'a [Span]),
    /// Start and length pairs.
    Narrow(&'a [u16]),
}

impl<'a> SpanList<'a> {
    pub(crate) fn len(self) -> usize {
        match self {
            SpanList::Wide(s) => s.len(),
            SpanList::Narrow(s) => s.len() / NARROW_SPAN,
        }
    }

    /// Span `i` as a byte range of the block's text.
    pub(crate) fn range(self, i: usize) -> Option<std::ops::Range<usize>> {
        let (start, len) = match self {
            SpanList::Wide(s) => s.get(i).map(|s| (s.start as usize, s.len as usize))?,
            SpanList::Narrow(s) => {
                let at = i.checked_mul(NARROW_SPAN)?;
                (usize::from(*s.get(at)?), usize::from(*s.get(at + 1)?))
            }
        };
        Some(start..start.checked_add(len)?)
    }

    fn sub(self, first: usize, count: usize) -> Option<SpanList<'a>> {
        match self {
            SpanList::Wide(s) => s.get(first..first.checked_add(count)?).map(SpanList::Wide),
            SpanList::Narrow(s) => s
                .get(first * NARROW_SPAN..(first.checked_add(count)?) * NARROW_SPAN)
                .map(SpanList::Narrow),
        }
    }
}

impl<'a> Tables<'a> {
    fn slot_count(self) -> usize {
        match self {
            Tables::Wide { slots, .. } => slots.len(),
            Tables::Narrow { slots, .. } => slots.len() / NARROW_SLOT,
        }
    }

    fn slot(self, i: usize) -> Option<Slot> {
        match self {
            Tables::Wide { slots, .. } => slots.get(i).copied(),
            Tables::Narrow { slots, .. } => {
                let s = slots.get(i * NARROW_SLOT..(i + 1) * NARROW_SLOT)?;
                Some(Slot {
                    attr: s[0],
                    folded: s[1] & NARROW_FOLDED != 0,
                    count: u32::from(s[1] & !NARROW_FOLDED),
                    first: u32::from(s[2]),
                })
            }
        }
    }

    fn spans(self) -> SpanList<'a> {
        match self {
            Tables::Wide { spans, .. } => SpanList::Wide(spans),
            Tables::Narrow { spans, .. } => SpanList::Narrow(spans),
        }
    }
}

/// Both tables as one `u16` array (`BlockRepr::Narrow`), when every offset and count fits.
fn narrow(text: &str, spans: &[Span], slots: &[Slot]) -> Option<Box<[u16]>> {
    let small = |n: u32| u16::try_from(n).ok();
    if text.len() > usize::from(u16::MAX) || slots.len() > usize::from(u16::MAX) {
        return None;
    }
    let mut table = Vec::with_capacity(1 + slots.len() * NARROW_SLOT + spans.len() * NARROW_SPAN);
    table.push(u16::try_from(slots.len()).ok()?);
    for s in slots {
        let count = small(s.count).filter(|c| c & NARROW_FOLDED == 0)?;
        table.extend([
            s.attr,
            count | if s.folded { NARROW_FOLDED } else { 0 },
            small(s.first)?,
        ]);
    }
    for s in spans {
        table.extend([small(s.start)?, small(s.len)?]);
    }
    Some(table.into_boxed_slice())
}

impl Default for Block {
    /// An empty block, without an allocation.
    fn default() -> Block {
        Block(BlockRepr::Narrow {
            text: Box::from(""),
            table: Box::new([]),
        })
    }
}

impl Open {
    /// Points the slot's attribute at its new values (replacing the ones it had).
    fn set_slot(&mut self, slot: Slot) {
        match self.slots.iter_mut().find(|s| s.attr == slot.attr) {
            Some(existing) => *existing = slot,
            None => self.slots.push(slot),
        }
    }

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
                tables: Tables::Wide {
                    spans: &o.spans,
                    slots: &o.slots,
                },
            },
            BlockRepr::Sealed { text, wide } => Parts {
                text,
                tables: Tables::Wide {
                    spans: &wide.spans,
                    slots: &wide.slots,
                },
            },
            BlockRepr::Narrow { text, table } => {
                let slots = usize::from(table.first().copied().unwrap_or(0)) * NARROW_SLOT;
                let rest = table.get(1..).unwrap_or(&[]);
                let (slots, spans) = rest.split_at(slots.min(rest.len()));
                Parts {
                    text,
                    tables: Tables::Narrow { slots, spans },
                }
            }
        }
    }

    /// The block, open for adding (a sealed one is copied into scratch buffers).
    fn open(&mut self) -> &mut Open {
        if !matches!(self.0, BlockRepr::Open(_)) {
            let mut o = SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default();
            let parts = self.parts();
            o.text.push_str(parts.text);
            o.slots
                .extend((0..parts.tables.slot_count()).filter_map(|i| parts.tables.slot(i)));
            let spans = parts.tables.spans();
            o.spans
                .extend((0..spans.len()).filter_map(|i| spans.range(i)).map(|r| Span {
                    start: offset(r.start),
                    len: offset(r.len()),
                }));
            self.0 = BlockRepr::Open(Box::new(o));
        }
        match &mut self.0 {
            BlockRepr::Open(o) => o,
            _ => unreachable!("opened above"),
        }
    }

    /// Seals the block into exact-size allocations and keeps its buffers for the next one.
    pub(crate) fn seal(&mut self) {
        if let BlockRepr::Open(o) = &mut self.0 {
            let mut o = std::mem::take(o.as_mut());
            let text = Box::from(o.text.as_str());
            self.0 = match narrow(&o.text, &o.spans, &o.slots) {
                Some(table) => BlockRepr::Narrow { text, table },
                None => BlockRepr::Sealed {
                    text,
                    wide: Box::new(WideTables {
                        spans: Box::from(o.spans.as_slice()),
                        slots: Box::from(o.slots.as_slice()),
                    }),
                },
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
    ///
    /// Written straight into the open block: the values' spans, then a normal form per value
    /// (a normal value's own span), dropped again when none differs. Two temporary vectors per
    /// attribute were 9 % of a start-up's CPU (issue 17).
    pub(crate) fn push<S: AsRef<str>>(&mut self, kind: &'static AttributeType, values: impl IntoIterator<Item = S>) {
        let Some(attr) = type_index(kind) else {
            debug_assert!(false, "{} is not in the schema table", kind.name());
            return;
        };
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            return;
        }
        let o = self.open();
        let first = o.spans.len();
        for v in values {
            let span = o.span(v.as_ref());
            o.spans.push(span);
        }
        let count = o.spans.len() - first;
        let mut folded = false;
        for i in first..first + count {
            let raw = o.spans[i];
            let range = raw.start as usize..(raw.start + raw.len) as usize;
            let value = o.text.get(range).unwrap_or("");
            let normal = if kind.matching.is_normal(value) {
                None
            } else {
                kind.matching.normalise(value).filter(|n| n != value)
            };
            let span = match normal {
                Some(n) => {
                    folded = true;
                    o.span(&n)
                }
                None => raw,
            };
            o.spans.push(span);
        }
        if !folded {
            o.spans.truncate(first + count);
        }
        o.set_slot(Slot {
            attr,
            folded,
            first: offset(first),
            count: offset(count),
        });
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
        o.set_slot(Slot {
            attr,
            folded,
            first: offset(first),
            count: offset(count),
        });
    }

    pub(crate) fn find(&self, kind: &AttributeType) -> Option<Attribute<'_>> {
        let parts = self.parts();
        parts
            .slots()
            .find(|s| {
                ATTRIBUTE_TYPES
                    .get(usize::from(s.attr))
                    .is_some_and(|t| std::ptr::eq(t, kind))
            })
            .and_then(|s| parts.attribute(&s))
    }

    pub(crate) fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
        let parts = self.parts();
        parts.slots().filter_map(move |s| parts.attribute(&s))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.parts().tables.slot_count() == 0
    }

    /// The heap bytes the block holds (for the bench's byte budget).
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.0 {
            BlockRepr::Open(o) => {
                o.text.len() + std::mem::size_of_val(&o.spans[..]) + std::mem::size_of_val(&o.slots[..])
            }
            BlockRepr::Sealed { text, wide } => {
                text.len() + std::mem::size_of_val(&wide.spans[..]) + std::mem::size_of_val(&wide.slots[..])
            }
            BlockRepr::Narrow { text, table } => text.len() + std::mem::size_of_val(&table[..]),
        }
    }
}

impl<'a> Parts<'a> {
    fn slots(self) -> impl Iterator<Item = Slot> + 'a {
        (0..self.tables.slot_count()).filter_map(move |i| self.tables.slot(i))
    }

    fn attribute(self, slot: &Slot) -> Option<Attribute<'a>> {
        let kind = ATTRIBUTE_TYPES.get(usize::from(slot.attr))?;
        let first = slot.first as usize;
        let count = slot.count as usize;
        let spans = self.tables.spans();
        let raw = spans.sub(first, count)?;
        let normal = if slot.folded {
            spans.sub(first + count, count)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use piratenldap_core::schema;

    fn kind(name: &str) -> &'static AttributeType {
        schema::attribute(name).unwrap_or_else(|| unreachable!("{name} is in the schema"))
    }

    fn sealed(values: &[String]) -> Block {
        let mut b = Block::default();
        b.push(kind("cn"), values.iter().map(String::as_str));
        b.push(kind("uid"), ["Last"]);
        b.seal();
        b
    }

    fn read_back(b: &Block) -> (Vec<String>, Vec<String>, Vec<String>) {
        let cn = b.find(kind("cn")).unwrap_or_else(|| unreachable!("cn is there"));
        let uid = b.find(kind("uid")).unwrap_or_else(|| unreachable!("uid is there"));
        (
            cn.values.iter().map(str::to_string).collect(),
            cn.normalised().iter().map(str::to_string).collect(),
            uid.normalised().iter().map(str::to_string).collect(),
        )
    }

    #[test]
    fn a_person_sized_block_is_narrow_and_reads_back_its_values() {
        let values = vec!["Anna Berg".to_string(), "anna".to_string()];
        let b = sealed(&values);
        assert!(matches!(b.0, BlockRepr::Narrow { .. }));
        let (raw, normal, uid) = read_back(&b);
        assert_eq!(raw, values);
        assert_eq!(normal, ["anna berg", "anna"]);
        assert_eq!(uid, ["last"]);
        assert_eq!(b.heap_bytes(), b.parts().text.len() + 2 * (1 + 2 * 3 + 6 * 2));
    }

    #[test]
    fn blocks_past_the_narrow_limits_stay_wide_and_read_the_same() {
        // Text just under and just over 64 KiB, and more values than a narrow count holds.
        let under: Vec<String> = (0..2_000).map(|i| format!("v{i:05}xxxxxxxxxxxxx")).collect();
        let over: Vec<String> = (0..4_000).map(|i| format!("v{i:05}xxxxxxxxxxxxx")).collect();
        let many: Vec<String> = (0..40_000).map(|_| "a".to_string()).collect();
        for (values, narrow) in [(&under, true), (&over, false), (&many, false)] {
            let b = sealed(values);
            assert_eq!(
                matches!(b.0, BlockRepr::Narrow { .. }),
                narrow,
                "{} values",
                values.len()
            );
            let (raw, normal, uid) = read_back(&b);
            assert_eq!(&raw, values);
            assert_eq!(normal.len(), values.len());
            assert_eq!(
                normal.first().map(String::as_str),
                values.first().map(|v| v.to_lowercase()).as_deref()
            );
            assert_eq!(uid, ["last"]);
        }
    }

    #[test]
    fn a_narrow_block_reopened_keeps_its_values_and_takes_new_ones() {
        let mut b = sealed(&["Anna".to_string()]);
        b.push(kind("description"), ["Second"]);
        b.seal();
        assert!(matches!(b.0, BlockRepr::Narrow { .. }));
        assert_eq!(read_back(&b).0, ["Anna"]);
        let d = b
            .find(kind("description"))
            .unwrap_or_else(|| unreachable!("description is there"));
        assert_eq!(d.values.first(), Some("Second"));
    }
}
