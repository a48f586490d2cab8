//! A DN map: values by DN (the view's DN table, the bind credentials), in a persistent ordered
//! map keyed by the normalised DN's keyed 64-bit hash.
//!
//! Why not the `Dn` itself as key: every step of an insert or a lookup in an ordered map of DNs
//! compared two strings on the heap, 11 % of a start-up's CPU at 100 000 members (issue 17).
//! Inline integer keys keep the binary search inside the node. Each value is stored with its
//! `Dn` (shared with the entry, no copy), so DNs of one hash share a slot and a lookup compares
//! the one or two DNs there: answers are exact. The hash keys are the process's
//! (`key_table::hash`), so a client cannot choose DNs that collide.

use std::sync::Arc;

use piratenldap_core::Dn;

use crate::key_table::{ascending_into_map, hash};

/// Values by DN.
#[derive(Debug, Clone)]
pub(crate) struct DnMap<V: Clone> {
    by_hash: imbl::OrdMap<u64, Slot<V>>,
    /// The longest normalised DN stored: a longer one is not looked for. A client's search
    /// base of thousands of RDNs is looked up once per ancestor for its matchedDN, and hashing
    /// each whole would be quadratic in its length.
    longest: usize,
}

impl<V: Clone> Default for DnMap<V> {
    fn default() -> Self {
        DnMap {
            by_hash: imbl::OrdMap::new(),
            longest: 0,
        }
    }
}

/// The DNs of one hash with their values: nearly always one.
#[derive(Debug, Clone)]
enum Slot<V> {
    One(Dn, V),
    Many(Arc<Vec<(Dn, V)>>),
}

impl<V: Clone> DnMap<V> {
    /// The value stored under the DN whose normalised form is `normalised`.
    pub(crate) fn get(&self, normalised: &str) -> Option<&V> {
        if normalised.len() > self.longest {
            return None;
        }
        match self.by_hash.get(&hash(normalised))? {
            Slot::One(dn, v) => (dn.normalised() == normalised).then_some(v),
            Slot::Many(all) => all.iter().find(|(dn, _)| dn.normalised() == normalised).map(|(_, v)| v),
        }
    }

    /// Stores `v` under `dn`, in place of a value it had.
    pub(crate) fn insert(&mut self, dn: Dn, v: V) {
        let h = hash(dn.normalised());
        self.longest = self.longest.max(dn.normalised().len());
        let slot = match self.by_hash.get(&h) {
            None => Slot::One(dn, v),
            Some(Slot::One(old, _)) if *old == dn => Slot::One(dn, v),
            Some(other) => {
                let mut all: Vec<(Dn, V)> = match other {
                    Slot::One(d, w) => vec![(d.clone(), w.clone())],
                    Slot::Many(all) => all.as_ref().clone(),
                };
                all.retain(|(d, _)| *d != dn);
                all.push((dn, v));
                Slot::Many(Arc::new(all))
            }
        };
        self.by_hash.insert(h, slot);
    }

    /// The map of `pairs`, as if each were inserted in turn (a later value for a DN replaces an
    /// earlier one). Built in ascending hash order: each insert lands at the B-tree's right
    /// edge, where random order shifted half a node and missed the cache on every step (a
    /// view's DN table and credentials: 100 000 inserts each at start-up, issue 17).
    pub(crate) fn from_pairs(pairs: Vec<(Dn, V)>) -> Self {
        let mut hashed: Vec<(u64, Dn, V)> = pairs
            .into_iter()
            .map(|(dn, v)| (hash(dn.normalised()), dn, v))
            .collect();
        // Stable: values of one DN keep their order, so the last one wins as with `insert`.
        hashed.sort_by_key(|(h, ..)| *h);
        let mut longest = 0;
        let mut slots = Vec::with_capacity(hashed.len());
        let mut rest = hashed.into_iter().peekable();
        while let Some((h, dn, v)) = rest.next() {
            longest = longest.max(dn.normalised().len());
            if rest.peek().is_none_or(|(next, ..)| *next != h) {
                slots.push((h, Slot::One(dn, v)));
                continue;
            }
            let mut all = vec![(dn, v)];
            while let Some((_, dn, v)) = rest.next_if(|(next, ..)| *next == h) {
                longest = longest.max(dn.normalised().len());
                all.retain(|(d, _)| *d != dn);
                all.push((dn, v));
            }
            let slot = match <[_; 1]>::try_from(all) {
                Ok([(dn, v)]) => Slot::One(dn, v),
                Err(all) => Slot::Many(Arc::new(all)),
            };
            slots.push((h, slot));
        }
        DnMap {
            by_hash: ascending_into_map(slots),
            longest,
        }
    }

    /// How many DNs.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_hash
            .values()
            .map(|s| match s {
                Slot::One(..) => 1,
                Slot::Many(all) => all.len(),
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_dn_is_found_by_its_normalised_form_and_replaced_in_place() {
        let mut m = DnMap::default();
        m.insert(dn("uid=Anna,ou=People,dc=example,dc=org"), 1);
        m.insert(dn("uid=bert,ou=people,dc=example,dc=org"), 2);
        assert_eq!(m.get("uid=anna,ou=people,dc=example,dc=org"), Some(&1));
        assert_eq!(m.get("uid=cleo,ou=people,dc=example,dc=org"), None);
        m.insert(dn("uid=anna,ou=people,dc=example,dc=org"), 3);
        assert_eq!(m.get("uid=anna,ou=people,dc=example,dc=org"), Some(&3));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn dns_of_one_hash_share_a_slot_and_stay_apart() {
        // Bert stored under Anna's hash, as a collision would put him.
        let (anna, bert) = (dn("uid=anna,dc=org"), dn("uid=bert,dc=org"));
        let mut m = DnMap::default();
        let h = hash(anna.normalised());
        m.by_hash.insert(h, Slot::One(bert.clone(), 2));
        m.longest = bert.normalised().len();
        assert_eq!(m.get(anna.normalised()), None, "bert's value is not anna's");
        m.insert(anna.clone(), 1);
        assert_eq!(m.get(anna.normalised()), Some(&1));
        m.insert(anna.clone(), 5);
        assert_eq!(m.get(anna.normalised()), Some(&5));
        let Some(Slot::Many(both)) = m.by_hash.get(&h) else {
            panic!("one slot with both");
        };
        let names: Vec<(&str, i32)> = both.iter().map(|(d, v)| (d.normalised(), *v)).collect();
        assert_eq!(names, [("uid=bert,dc=org", 2), ("uid=anna,dc=org", 5)]);
    }

    #[test]
    fn built_from_pairs_it_answers_as_inserted_one_by_one() {
        let pairs: Vec<(Dn, i32)> = (0..500)
            .map(|i| (dn(&format!("uid=u{},ou=people,dc=org", i % 400)), i))
            .collect();
        let mut inserted = DnMap::default();
        for (d, v) in pairs.clone() {
            inserted.insert(d, v);
        }
        let built = DnMap::from_pairs(pairs);
        assert_eq!(built.len(), 400);
        assert_eq!(built.longest, inserted.longest);
        for i in 0..400 {
            let key = format!("uid=u{i},ou=people,dc=org");
            assert_eq!(built.get(&key), inserted.get(&key), "{key}");
        }
        assert_eq!(built.get("uid=u1,ou=people,dc=org"), Some(&401), "the later value wins");
    }

    #[test]
    fn a_dn_longer_than_every_stored_one_is_not_looked_for() {
        let mut m = DnMap::default();
        m.insert(dn("ou=people,dc=example,dc=org"), 1);
        let deep = format!("{}ou=people,dc=example,dc=org", "cn=x,".repeat(10_000));
        assert_eq!(m.get(&deep), None);
        assert_eq!(m.longest, "ou=people,dc=example,dc=org".len());
    }

    #[test]
    fn a_copy_keeps_its_own_values() {
        let mut old = DnMap::default();
        old.insert(dn("dc=org"), 1);
        let mut new = old.clone();
        new.insert(dn("dc=org"), 2);
        assert_eq!(old.get("dc=org"), Some(&1));
        assert_eq!(new.get("dc=org"), Some(&2));
    }
}
