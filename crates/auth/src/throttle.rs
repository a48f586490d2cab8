//! Throttling of failed binds (kanidm's softlock and GLAuth's per-address block were the
//! models): a token bucket per account and one per source address. A failure takes a token from
//! both; tokens come back at a steady rate; a bind arriving at an empty bucket is answered
//! invalidCredentials at once, before any argon2 work. An attacker gets the burst and then a few
//! guesses a minute per account; the owner is never locked out for longer than one refill
//! interval after the guessing stops, and a successful bind refills the account's bucket.
//!
//! The buckets live in the store, so every node of one directory counts the same failures. A
//! bind reads both buckets (one query); only failures, and successes after failures, write.
//! Nodes share wall-clock time for the refill, so their clocks must be synchronised (NTP).
//! If the database cannot be reached, the node counts in its own memory (same buckets, same
//! arithmetic, at most [`MAX_LOCAL_BUCKETS`]) and logs it: binds are checked against the
//! in-memory view and keep working, throttled, while the database fails over.
//!
//! Shared addresses (a web app, a NAT, the TLS proxy): an empty address bucket does not stop
//! an account that has bound successfully from that address before (remembered per node, up
//! to [`MAX_KNOWN_PAIRS`] pairs) and whose own bucket is not empty, so someone else's guesses
//! from the same address cannot lock out its regular users; unknown pairs still wait, which
//! keeps password spraying across accounts slow.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use piratenldap_core::config::ThrottleConfig;

use crate::store_health::StoreHealth;
use piratenldap_store::{BucketPolicy, Store, bucket_clock_ms};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Account–address pairs remembered after a successful bind; past this the memory is cleared.
pub const MAX_KNOWN_PAIRS: usize = 200_000;

/// Buckets a node keeps in memory while the store is down; past this the memory is cleared.
pub const MAX_LOCAL_BUCKETS: usize = 100_000;

/// Buckets in this node's memory, for when the store cannot be reached: key → (thousandths of a
/// token, Unix ms of the last change), the store's arithmetic.
#[derive(Default)]
struct LocalBuckets(Mutex<HashMap<String, (i64, i64)>>);

impl LocalBuckets {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, i64)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn level(&self, key: &str, policy: BucketPolicy, now_ms: i64) -> u32 {
        self.map()
            .get(key)
            .map_or(policy.burst, |(milli, at)| policy.tokens_at(*milli, *at, now_ms))
    }

    fn take(&self, key: &str, policy: BucketPolicy, now_ms: i64) -> bool {
        let mut map = self.map();
        let level = map
            .get(key)
            .map_or(policy.burst, |(milli, at)| policy.tokens_at(*milli, *at, now_ms));
        if level == 0 {
            return false;
        }
        if map.len() >= MAX_LOCAL_BUCKETS {
            map.clear();
        }
        map.insert(key.to_string(), ((i64::from(level) - 1) * 1000, now_ms));
        true
    }

    fn clear(&self, key: &str) {
        self.map().remove(key);
    }
}

/// The throttle shared by all connections of a node.
pub struct Throttle {
    store: Arc<dyn Store>,
    account: BucketPolicy,
    address: BucketPolicy,
    /// Used while the store cannot be reached.
    local: LocalBuckets,
    /// Whether the store answered lately (shared with the authenticator).
    pub(crate) health: Arc<StoreHealth>,
    /// (account key, address) pairs that bound successfully on this node.
    known: Mutex<HashSet<(String, IpAddr)>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("account", &self.account)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// What the throttle said about one bind.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// The bind may be checked.
    pub allowed: bool,
    /// The account's bucket is not full (a success should refill it).
    account_used: bool,
}

/// Longest account key stored as it is; longer ones (DNs nobody has) are stored as a hash, so
/// a client choosing the DN cannot choose how much the throttle table grows.
const MAX_KEY_BYTES: usize = 256;

fn account_key(dn: &str) -> String {
    if dn.len() <= MAX_KEY_BYTES {
        return format!("a:{dn}");
    }
    let digest = Sha256::digest(dn.as_bytes());
    format!("a#{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn address_key(ip: IpAddr) -> String {
    format!("i:{ip}")
}

impl Throttle {
    /// A throttle with the configured limits, keeping its buckets in `store`.
    pub fn new(policy: ThrottleConfig, store: Arc<dyn Store>) -> Self {
        Throttle {
            store,
            account: BucketPolicy {
                burst: policy.account_burst,
                per_minute: policy.account_per_minute,
            },
            address: BucketPolicy {
                burst: policy.address_burst,
                per_minute: policy.address_per_minute,
            },
            known: Mutex::new(HashSet::new()),
            local: LocalBuckets::default(),
            health: Arc::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashSet<(String, IpAddr)>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a credential for `account` (a normalised DN) from `ip` may be checked at `now`.
    pub async fn check(&self, account: &str, ip: IpAddr, now: OffsetDateTime) -> Admission {
        let (account, address) = (account_key(account), address_key(ip));
        let keys = [(account.as_str(), self.account), (address.as_str(), self.address)];
        let now_ms = bucket_clock_ms(now);
        let from_store = if self.health.up(now) {
            match self.store.bucket_levels(&keys, now_ms).await {
                Ok(levels) => Some(levels),
                Err(e) => {
                    tracing::warn!(error = %e, "throttle buckets unreadable; counting in this node's memory");
                    self.health.failed(now);
                    None
                }
            }
        } else {
            None
        };
        let levels = from_store.unwrap_or_else(|| keys.iter().map(|(k, p)| self.local.level(k, *p, now_ms)).collect());
        let account_ok = levels.first().is_some_and(|l| *l >= 1);
        let address_ok = levels.get(1).is_some_and(|l| *l >= 1);
        let known = !address_ok && account_ok && self.known().contains(&(account.clone(), ip));
        Admission {
            allowed: account_ok && (address_ok || known),
            account_used: levels.first().is_some_and(|l| *l < self.account.burst),
        }
    }

    /// Records a failed check: one token from the account's and the address's bucket.
    pub async fn failed(&self, account: &str, ip: IpAddr, now: OffsetDateTime) {
        let now_ms = bucket_clock_ms(now);
        for (key, policy) in [(account_key(account), self.account), (address_key(ip), self.address)] {
            if !self.health.up(now) {
                self.local.take(&key, policy, now_ms);
            } else if let Err(e) = self.store.bucket_take(&key, policy, now_ms).await {
                tracing::warn!(error = %e, "recording a failed bind in the store failed; counting in memory");
                self.health.failed(now);
                self.local.take(&key, policy, now_ms);
            }
        }
    }

    /// Remembers that `account` authenticated from `ip` (see the module doc).
    pub fn remember(&self, account: &str, ip: IpAddr) {
        let mut known = self.known();
        if known.len() >= MAX_KNOWN_PAIRS {
            known.clear();
        }
        known.insert((account_key(account), ip));
    }

    /// Records a successful check of the account's password: its bucket is full again.
    pub async fn succeeded(&self, account: &str, admission: Admission, now: OffsetDateTime) {
        let key = account_key(account);
        self.local.clear(&key);
        if admission.account_used
            && self.health.up(now)
            && let Err(e) = self.store.bucket_clear(&key).await
        {
            tracing::warn!(error = %e, "refilling a throttle bucket failed");
            self.health.failed(now);
        }
    }

    /// Takes one of the account's password changes (burst 3, then one a minute): each change
    /// rebuilds the directory view on every node, so one member must not be able to loop it.
    /// While the store cannot be reached, the node counts in its memory.
    pub async fn take_change(&self, account: &str, now: OffsetDateTime) -> bool {
        let policy = BucketPolicy {
            burst: 3,
            per_minute: 1,
        };
        let key = format!("w{}", &account_key(account)[1..]);
        let now_ms = bucket_clock_ms(now);
        if !self.health.up(now) {
            return self.local.take(&key, policy, now_ms);
        }
        match self.store.bucket_take(&key, policy, now_ms).await {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!(error = %e, "password-change rate unreadable; counting in memory");
                self.health.failed(now);
                self.local.take(&key, policy, now_ms)
            }
        }
    }

    /// How long an empty bucket takes to refill: buckets unchanged for longer are full and
    /// can be deleted.
    pub fn refill_ms(&self) -> i64 {
        self.account.refill_ms().max(self.address.refill_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_whatever_the_dn() {
        assert_eq!(
            account_key("uid=bob,ou=people,dc=example,dc=org"),
            "a:uid=bob,ou=people,dc=example,dc=org"
        );
        let long = format!("uid={},dc=x", "a".repeat(250_000));
        let key = account_key(&long);
        assert!(key.len() <= 2 + 64, "{}", key.len());
        assert_ne!(key, account_key(&format!("{long}y")));
    }
}
