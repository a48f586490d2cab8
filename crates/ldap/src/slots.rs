//! Connection slots: a cap in total and one per source address. When the total is reached, the
//! connection that has not bound and has been idle longest is told to close, so that a flood
//! of idle connections cannot lock out clients that want to work. Pure bookkeeping: the clock
//! is passed in and eviction is a `Notify` the connection task listens to.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

/// Why a new connection is not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its address holds `limits.connections_per_address` already.
    PerAddress,
    /// Every slot is taken by connections that have bound.
    Full,
}

struct Slot {
    ip: IpAddr,
    bound: bool,
    last_active: Instant,
    evict: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    slots: HashMap<u64, Slot>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Slot> {
        let slot = self.slots.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&slot.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&slot.ip);
            }
        }
        Some(slot)
    }
}

/// The slots of one server.
pub struct Slots {
    table: Mutex<Table>,
    total: usize,
    per_address: usize,
}

/// A connection's slot; dropping it frees the slot.
pub struct SlotGuard {
    slots: Arc<Slots>,
    id: u64,
    /// Notified when the server needs the slot back.
    pub evicted: Arc<Notify>,
}

impl Slots {
    /// Slots for `total` connections, at most `per_address` from one address.
    pub fn new(total: usize, per_address: usize) -> Arc<Slots> {
        Arc::new(Slots {
            table: Mutex::new(Table::default()),
            total: total.max(1),
            per_address: per_address.max(1),
        })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a connection from `ip` at `now`, evicting the longest-idle unbound connection if
    /// every slot is taken.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, now: Instant) -> Result<SlotGuard, Refused> {
        let mut t = self.table();
        if t.per_ip.get(&ip).copied().unwrap_or(0) >= self.per_address {
            return Err(Refused::PerAddress);
        }
        if t.slots.len() >= self.total {
            let victim = t
                .slots
                .iter()
                .filter(|(_, s)| !s.bound)
                .min_by_key(|(_, s)| s.last_active)
                .map(|(id, _)| *id)
                .ok_or(Refused::Full)?;
            if let Some(slot) = t.remove(victim) {
                slot.evict.notify_one();
            }
        }
        let id = t.next_id;
        t.next_id += 1;
        let evict = Arc::new(Notify::new());
        t.slots.insert(
            id,
            Slot {
                ip,
                bound: false,
                last_active: now,
                evict: Arc::clone(&evict),
            },
        );
        *t.per_ip.entry(ip).or_insert(0) += 1;
        Ok(SlotGuard {
            slots: Arc::clone(self),
            id,
            evicted: evict,
        })
    }

    /// Connections holding a slot.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.table().slots.len()
    }
}

impl SlotGuard {
    /// Records a request at `now` and whether the connection is bound after it.
    pub fn touch(&self, bound: bool, now: Instant) {
        if let Some(slot) = self.slots.table().slots.get_mut(&self.id) {
            slot.bound = bound;
            slot.last_active = now;
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.slots.table().remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let slots = Slots::new(10, 2);
        let now = Instant::now();
        let _a = slots.admit(ip(1), now).unwrap();
        let _b = slots.admit(ip(1), now).unwrap();
        assert_eq!(slots.admit(ip(1), now).err(), Some(Refused::PerAddress));
        assert!(slots.admit(ip(2), now).is_ok());
    }

    #[test]
    fn when_full_the_longest_idle_unbound_connection_makes_room() {
        let slots = Slots::new(3, 3);
        let t0 = Instant::now();
        let old = slots.admit(ip(1), t0).unwrap();
        let newer = slots.admit(ip(2), t0 + Duration::from_secs(1)).unwrap();
        let bound = slots.admit(ip(3), t0).unwrap();
        bound.touch(true, t0);
        let _new = slots.admit(ip(4), t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(slots.in_use(), 3);
        // `old` was told to go (a permit stored in the Notify); the others were not.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let wait = Duration::from_millis(10);
            assert!(tokio::time::timeout(wait, old.evicted.notified()).await.is_ok());
            assert!(tokio::time::timeout(wait, newer.evicted.notified()).await.is_err());
        });
        drop(old);
        assert_eq!(slots.in_use(), 3, "dropping an evicted guard frees nothing twice");
    }

    #[test]
    fn bound_connections_are_never_evicted() {
        let slots = Slots::new(1, 1);
        let now = Instant::now();
        let a = slots.admit(ip(1), now).unwrap();
        a.touch(true, now);
        assert_eq!(slots.admit(ip(2), now).err(), Some(Refused::Full));
        drop(a);
        assert!(slots.admit(ip(2), now).is_ok());
    }
}
