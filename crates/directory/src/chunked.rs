//! A persistent vector in fixed-size chunks shared between views: the view's entries and each
//! service's population flags. Reading position `i` is two loads (the chunk, then the slot); a
//! change copies the one chunk it touches (at most [`CHUNK`] slots) and the list of chunk
//! pointers, and shares every other chunk with the view it came from.
//!
//! Written by hand: `imbl::Vector` shares chunks too, but reading a position walks its tree of
//! 64-slot nodes, which was 6 % of a uid search's CPU (issue 17); this vector is only ever
//! read by position, set in place or grown at the end, so a flat list of chunks is enough.

use std::ops::Index;
use std::sync::Arc;

/// Bits of a position that pick the slot within its chunk.
const SHIFT: u32 = 9;
/// Slots per chunk: what a change of one slot copies. At 1 000 000 entries the list of chunk
/// pointers is 1 954 long.
pub(crate) const CHUNK: usize = 1 << SHIFT;
const SLOT: usize = CHUNK - 1;

/// A vector whose chunks are shared between its clones; every chunk but the last is full.
#[derive(Clone)]
pub struct Chunked<T> {
    chunks: Vec<Arc<[T]>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Chunked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> Chunked<T> {
    /// How many values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value at `i`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i >> SHIFT)?.get(i & SLOT)
    }

    /// The values in order.
    pub fn iter(&self) -> Iter<'_, T> {
        self.chunks.iter().flat_map(chunk_values as fn(&Arc<[T]>) -> &[T])
    }
}

impl<T: Clone> Chunked<T> {
    /// Puts `value` at `i` and answers the value it replaces; `None`, and nothing changes, when
    /// `i` is past the end. Copies the chunk if another vector shares it.
    pub fn set(&mut self, i: usize, value: T) -> Option<T> {
        let slot = Arc::make_mut(self.chunks.get_mut(i >> SHIFT)?).get_mut(i & SLOT)?;
        Some(std::mem::replace(slot, value))
    }

    /// Appends `value`.
    pub fn push_back(&mut self, value: T) {
        self.extend_to(self.len + 1, || value.clone());
    }

    /// Appends copies of `value` until the vector is `len` long (no-op if it is already).
    pub fn resize_to(&mut self, len: usize, value: T) {
        self.extend_to(len, || value.clone());
    }

    fn extend_to(&mut self, len: usize, mut value: impl FnMut() -> T) {
        while self.len < len {
            let room = match self.chunks.last() {
                Some(last) if last.len() < CHUNK => CHUNK - last.len(),
                _ => {
                    self.chunks.push(Arc::from(Vec::new()));
                    CHUNK
                }
            };
            let add = room.min(len - self.len);
            if let Some(last) = self.chunks.last_mut() {
                let mut grown: Vec<T> = Vec::with_capacity(last.len() + add);
                grown.extend_from_slice(last);
                grown.extend(std::iter::repeat_with(&mut value).take(add));
                *last = Arc::from(grown);
            }
            self.len += add;
        }
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;

    /// Panics past the end, like a slice: positions come from the view's own indexes.
    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> SHIFT][i & SLOT]
    }
}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut chunks = Vec::new();
        let mut len = 0;
        let mut iter = iter.into_iter().peekable();
        while iter.peek().is_some() {
            let chunk: Vec<T> = iter.by_ref().take(CHUNK).collect();
            len += chunk.len();
            chunks.push(Arc::from(chunk));
        }
        Chunked { chunks, len }
    }
}

/// The values of a [`Chunked`] in order.
pub type Iter<'a, T> = std::iter::FlatMap<std::slice::Iter<'a, Arc<[T]>>, &'a [T], fn(&'a Arc<[T]>) -> &'a [T]>;

fn chunk_values<T>(chunk: &Arc<[T]>) -> &[T] {
    chunk
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: usize) -> Chunked<usize> {
        (0..n).collect()
    }

    #[test]
    fn reads_every_position_across_chunk_boundaries() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let v = numbers(n);
            assert_eq!(v.len(), n);
            assert!((0..n).all(|i| v[i] == i && v.get(i) == Some(&i)));
            assert_eq!(v.get(n), None);
            assert_eq!(v.iter().copied().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
            assert_eq!(v.iter().rev().next(), n.checked_sub(1).as_ref());
        }
    }

    #[test]
    fn a_set_copies_only_its_chunk_and_leaves_the_clone_alone() {
        let old = numbers(3 * CHUNK);
        let mut new = old.clone();
        assert_eq!(new.set(CHUNK + 5, 99), Some(CHUNK + 5));
        assert_eq!((old[CHUNK + 5], new[CHUNK + 5]), (CHUNK + 5, 99));
        let shared: Vec<bool> = (0..3).map(|c| Arc::ptr_eq(&old.chunks[c], &new.chunks[c])).collect();
        assert_eq!(shared, [true, false, true]);
    }

    #[test]
    fn a_set_past_the_end_changes_nothing() {
        let mut v = numbers(CHUNK + 1);
        assert_eq!(v.set(CHUNK + 1, 7), None);
        assert_eq!(v.set(usize::MAX, 7), None);
        assert_eq!(v.len(), CHUNK + 1);
    }

    #[test]
    fn growing_fills_the_last_chunk_before_starting_another() {
        let mut v = numbers(CHUNK - 2);
        let before = v.clone();
        v.push_back(1000);
        v.resize_to(2 * CHUNK + 3, 7);
        v.resize_to(5, 8);
        assert_eq!(v.len(), 2 * CHUNK + 3);
        assert_eq!(v.chunks.iter().map(|c| c.len()).collect::<Vec<_>>(), [CHUNK, CHUNK, 3]);
        assert_eq!((v[CHUNK - 2], v[CHUNK - 1], v[2 * CHUNK + 2]), (1000, 7, 7));
        assert_eq!(before.len(), CHUNK - 2, "the clone keeps its length");
        assert!(before.get(CHUNK - 2).is_none());
    }
}
