//! A hit list: the positions of the entries one index key names (an objectClass, a group, a
//! parent's children), ascending, in chunks shared between views.
//!
//! The lists of a large directory name nearly every entry (`objectClass=inetOrgPerson`,
//! `memberOf=cn=members,…`). A change that adds one entry (an activation) or moves one between
//! groups copies the one chunk it touches and the list of chunk pointers, not the whole list:
//! at 1 000 000 members a whole copy was 8 MB per list and the p99 of a change 46 ms (issue 17).
//! Written by hand: `imbl::Vector` would share chunks too, but it cannot be read as slices
//! and costs more per element; this list is append-mostly and always sorted.

use std::sync::Arc;

/// Entries per chunk: a change copies at most about this many positions.
const CHUNK: usize = 4096;

/// Positions, ascending, without duplicates.
#[derive(Debug, Clone, Default)]
pub(crate) struct HitList {
    chunks: Vec<Arc<Vec<usize>>>,
    len: usize,
}

impl HitList {
    /// The list of `sorted` (ascending, no duplicates).
    pub(crate) fn from_sorted(sorted: Vec<usize>) -> HitList {
        let len = sorted.len();
        let chunks = sorted.chunks(CHUNK).map(|c| Arc::new(c.to_vec())).collect();
        HitList { chunks, len }
    }

    /// How many positions.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The positions, ascending.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = usize> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().copied())
    }

    /// The positions as one vector.
    pub(crate) fn to_vec(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.len);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out
    }

    /// The chunk that holds `i` or where it belongs (the first whose last element is ≥ `i`).
    fn chunk_of(&self, i: usize) -> usize {
        self.chunks
            .partition_point(|c| c.last().is_some_and(|last| *last < i))
            .min(self.chunks.len().saturating_sub(1))
    }

    /// Adds `i` (no-op if present). An appended position (the common case: a new entry comes
    /// last) touches only the last chunk.
    pub(crate) fn insert(&mut self, i: usize) {
        if self.chunks.is_empty() {
            self.chunks.push(Arc::new(vec![i]));
            self.len = 1;
            return;
        }
        let at = self.chunk_of(i);
        let chunk = Arc::make_mut(&mut self.chunks[at]);
        let Err(pos) = chunk.binary_search(&i) else {
            return;
        };
        chunk.insert(pos, i);
        self.len += 1;
        if chunk.len() >= 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.chunks.insert(at + 1, Arc::new(tail));
        }
    }

    /// Removes `i` (no-op if absent).
    pub(crate) fn remove(&mut self, i: usize) {
        if self.chunks.is_empty() {
            return;
        }
        let at = self.chunk_of(i);
        if self.chunks[at].binary_search(&i).is_err() {
            return;
        }
        let chunk = Arc::make_mut(&mut self.chunks[at]);
        if let Ok(pos) = chunk.binary_search(&i) {
            chunk.remove(pos);
            self.len -= 1;
        }
        if chunk.is_empty() {
            self.chunks.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_and_removes_keep_the_list_sorted_and_share_untouched_chunks() {
        let mut list = HitList::from_sorted((0..3 * CHUNK).map(|i| i * 2).collect());
        let before = list.clone();
        list.insert(6 * CHUNK + 1);
        list.insert(5);
        list.insert(5);
        list.remove(0);
        list.remove(1);
        let mut want: Vec<usize> = (1..3 * CHUNK).map(|i| i * 2).collect();
        want.push(5);
        want.push(6 * CHUNK + 1);
        want.sort_unstable();
        assert_eq!(list.to_vec(), want);
        assert_eq!(list.len(), want.len());
        assert_eq!(list.iter().next_back(), Some(6 * CHUNK + 1));
        // Only the first and the last chunk were copied.
        assert!(Arc::ptr_eq(&list.chunks[1], &before.chunks[1]));
        assert!(!Arc::ptr_eq(&list.chunks[0], &before.chunks[0]));
        assert_eq!(before.len(), 3 * CHUNK);
    }

    #[test]
    fn a_chunk_that_grows_past_twice_its_size_splits() {
        let mut list = HitList::default();
        for i in (0..5 * CHUNK).rev() {
            list.insert(i);
        }
        assert_eq!(list.to_vec(), (0..5 * CHUNK).collect::<Vec<_>>());
        assert!(list.chunks.iter().all(|c| c.len() < 2 * CHUNK));
        for i in 0..5 * CHUNK {
            list.remove(i);
        }
        assert!(list.len() == 0 && list.chunks.is_empty());
    }
}
