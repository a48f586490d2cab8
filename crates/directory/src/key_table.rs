//! A key table: the positions of the entries that have a key (a case-folded uid, login or
//! mail), in a persistent ordered map keyed by the key's keyed 64-bit hash.
//!
//! Why not the string itself: a lookup in an ordered map of strings compares against a key on
//! the heap at every step of every node's binary search, a cache miss each at 50 000 members,
//! and the uid lookup of a bare `(uid=…)` search was 9 % of its CPU (issue 17). Inline integer
//! keys keep the binary search inside the node, and the table holds no copy of the strings.
//! A position stands under its key's hash: two keys of one hash share a slot, so a lookup
//! names a superset and the caller checks the entry (a search's filter does that anyway).
//! The hash is SipHash with keys drawn once per process, so a client cannot choose values
//! that collide.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock};

/// The process's hash keys: one for every table (`DnMap`'s too), so views derived from one
/// another agree.
static HASH_KEYS: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// Positions by key hash.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyTable(imbl::OrdMap<u64, Slot>);

/// The positions under one hash: nearly always one.
#[derive(Debug, Clone)]
enum Slot {
    One(usize),
    /// Ascending, without duplicates.
    Many(Arc<Vec<usize>>),
}

impl Slot {
    fn as_slice(&self) -> &[usize] {
        match self {
            Slot::One(i) => std::slice::from_ref(i),
            Slot::Many(v) => v,
        }
    }
}

/// `key`'s hash under the process's keys.
pub(crate) fn hash(key: &str) -> u64 {
    HASH_KEYS.hash_one(key)
}

/// The map of `pairs`, given in ascending key order without duplicates. Inserted every other
/// pair first, then the pairs between: imbl's B-tree splits a full leaf in halves, so keys in
/// ascending order leave every leaf half full, and a leaf's 64 slots are allocated whether
/// used or not. The second round fills each leaf's other half without a split (at 100 000
/// members about 10 MB less for the DN, credential, uid and mail tables; issue 17). Were the
/// split ever different, the map would be the same, only less full.
pub(crate) fn ascending_into_map<V: Clone>(pairs: Vec<(u64, V)>) -> imbl::OrdMap<u64, V> {
    let mut map = imbl::OrdMap::new();
    let mut between = Vec::with_capacity(pairs.len() / 2);
    for (n, (k, v)) in pairs.into_iter().enumerate() {
        if n % 2 == 0 {
            map.insert(k, v);
        } else {
            between.push((k, v));
        }
    }
    for (k, v) in between {
        map.insert(k, v);
    }
    map
}

impl KeyTable {
    /// The positions listed under `key`, ascending: every entry with that key, and perhaps one
    /// whose key has the same hash.
    pub(crate) fn get(&self, key: &str) -> &[usize] {
        self.0.get(&hash(key)).map_or(&[], Slot::as_slice)
    }

    /// The table of `(key, position)` pairs, as if each were inserted in turn. Built in
    /// ascending hash order, so each insert lands at the B-tree's right edge (see
    /// `DnMap::from_pairs`).
    pub(crate) fn from_keys<K: AsRef<str>>(keys: impl IntoIterator<Item = (K, usize)>) -> KeyTable {
        let mut hashed: Vec<(u64, usize)> = keys.into_iter().map(|(k, i)| (hash(k.as_ref()), i)).collect();
        hashed.sort_unstable();
        hashed.dedup();
        let mut slots = Vec::with_capacity(hashed.len());
        let mut rest = hashed.into_iter().peekable();
        while let Some((h, i)) = rest.next() {
            let slot = if rest.peek().is_some_and(|(next, _)| *next == h) {
                let mut all = vec![i];
                while let Some((_, j)) = rest.next_if(|(next, _)| *next == h) {
                    all.push(j);
                }
                Slot::Many(Arc::new(all))
            } else {
                Slot::One(i)
            };
            slots.push((h, slot));
        }
        KeyTable(ascending_into_map(slots))
    }

    /// Lists position `i` under `key` (once).
    pub(crate) fn insert(&mut self, key: &str, i: usize) {
        let h = hash(key);
        let merged = match self.0.get(&h) {
            None => Slot::One(i),
            Some(slot) => {
                let mut all = slot.as_slice().to_vec();
                if let Err(at) = all.binary_search(&i) {
                    all.insert(at, i);
                }
                Slot::Many(Arc::new(all))
            }
        };
        self.0.insert(h, merged);
    }

    /// Takes position `i` off `key`'s list.
    pub(crate) fn remove(&mut self, key: &str, i: usize) {
        let h = hash(key);
        let Some(slot) = self.0.get(&h) else {
            return;
        };
        let rest: Vec<usize> = slot.as_slice().iter().copied().filter(|j| *j != i).collect();
        match rest.as_slice() {
            [] => {
                self.0.remove(&h);
            }
            [one] => {
                self.0.insert(h, Slot::One(*one));
            }
            _ => {
                self.0.insert(h, Slot::Many(Arc::new(rest)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_positions_ascending_once_each() {
        let mut t = KeyTable::default();
        t.insert("anna@example.org", 7);
        t.insert("anna@example.org", 3);
        t.insert("anna@example.org", 7);
        t.insert("bert@example.org", 5);
        assert_eq!(t.get("anna@example.org"), &[3, 7]);
        assert_eq!(t.get("bert@example.org"), &[5]);
        assert!(t.get("cleo@example.org").is_empty());
    }

    #[test]
    fn built_from_keys_it_answers_as_inserted_one_by_one() {
        let keys: Vec<(String, usize)> = (0..1000)
            .map(|i| (format!("u{}", i % 700), (i * 7919) % 1000))
            .collect();
        let mut inserted = KeyTable::default();
        for (k, i) in &keys {
            inserted.insert(k, *i);
        }
        let built = KeyTable::from_keys(keys.iter().map(|(k, i)| (k.as_str(), *i)));
        for n in 0..700 {
            let k = format!("u{n}");
            assert_eq!(built.get(&k), inserted.get(&k), "{k}");
        }
        assert_eq!(built.get("u3").len(), 2, "a key given twice names both positions");
        assert_eq!(built.0.len(), inserted.0.len());
    }

    #[test]
    fn ascending_pairs_make_the_map_of_those_pairs() {
        for n in [0usize, 1, 2, 63, 64, 65, 1000, 4097] {
            let pairs: Vec<(u64, usize)> = (0..n).map(|i| (i as u64 * 3, i)).collect();
            let map = ascending_into_map(pairs.clone());
            let got: Vec<(u64, usize)> = map.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(got, pairs, "{n} pairs");
        }
    }

    #[test]
    fn removing_the_last_position_removes_the_key() {
        let mut t = KeyTable::default();
        t.insert("anna", 1);
        t.insert("anna", 2);
        t.remove("anna", 1);
        assert_eq!(t.get("anna"), &[2]);
        t.remove("anna", 9);
        assert_eq!(t.get("anna"), &[2]);
        t.remove("anna", 2);
        assert!(t.get("anna").is_empty());
        assert!(t.0.is_empty());
    }

    #[test]
    fn a_copy_keeps_its_own_positions() {
        let mut old = KeyTable::default();
        old.insert("anna", 1);
        let mut new = old.clone();
        new.insert("anna", 2);
        new.remove("anna", 1);
        assert_eq!(old.get("anna"), &[1]);
        assert_eq!(new.get("anna"), &[2]);
    }
}
