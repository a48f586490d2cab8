//! Throttling of failed binds (kanidm's softlock and GLAuth's per-address block were the
//! models): a token bucket per account and one per source address. A failure takes a token from
//! both; tokens come back at a steady rate; a bind arriving at an empty bucket is answered
//! invalidCredentials at once, before any argon2 work. An attacker gets the burst and then a few
//! guesses a minute per account; the owner is never locked out for longer than one refill
//! interval after the guessing stops, and a successful bind refills the account's bucket.
//!
//! Per node, in memory: several nodes each allow the rate (issue 6 moves this into the store).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use piratenldap_core::config::ThrottleConfig;

/// Buckets kept before full ones are dropped.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The throttle shared by all connections.
#[derive(Debug)]
pub struct Throttle {
    policy: ThrottleConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
}

fn account_key(dn: &str) -> String {
    format!("a:{dn}")
}

fn address_key(ip: IpAddr) -> String {
    format!("i:{ip}")
}

impl Throttle {
    /// A throttle with the configured limits.
    pub fn new(policy: ThrottleConfig) -> Self {
        Throttle {
            policy,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn limits(&self, key: &str) -> (f64, f64) {
        if key.starts_with("a:") {
            (
                f64::from(self.policy.account_burst),
                f64::from(self.policy.account_per_minute) / 60.0,
            )
        } else {
            (
                f64::from(self.policy.address_burst),
                f64::from(self.policy.address_per_minute) / 60.0,
            )
        }
    }

    fn tokens(&self, buckets: &HashMap<String, Bucket>, key: &str, now: Instant) -> f64 {
        let (burst, rate) = self.limits(key);
        match buckets.get(key) {
            Some(b) => (b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate).min(burst),
            None => burst,
        }
    }

    /// Whether a bind for `dn` from `ip` may be checked now.
    pub fn allowed(&self, dn: &str, ip: IpAddr, now: Instant) -> bool {
        let Ok(buckets) = self.buckets.lock() else { return true };
        self.tokens(&buckets, &account_key(dn), now) >= 1.0 && self.tokens(&buckets, &address_key(ip), now) >= 1.0
    }

    /// Records a failed bind.
    pub fn failed(&self, dn: &str, ip: IpAddr, now: Instant) {
        let Ok(mut buckets) = self.buckets.lock() else { return };
        if buckets.len() > MAX_BUCKETS {
            let full: Vec<String> = buckets
                .keys()
                .filter(|k| self.tokens(&buckets, k, now) >= self.limits(k).0)
                .cloned()
                .collect();
            for k in full {
                buckets.remove(&k);
            }
        }
        for key in [account_key(dn), address_key(ip)] {
            let tokens = (self.tokens(&buckets, &key, now) - 1.0).max(0.0);
            buckets.insert(key, Bucket { tokens, updated: now });
        }
    }

    /// Records a successful bind: the account's bucket is full again.
    pub fn succeeded(&self, dn: &str) {
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.remove(&account_key(dn));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate_then_recovery() {
        let t = Throttle::new(ThrottleConfig {
            account_burst: 3,
            account_per_minute: 6,
            address_burst: 100,
            address_per_minute: 100,
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(t.allowed("uid=a", ip, t0));
            t.failed("uid=a", ip, t0);
        }
        assert!(!t.allowed("uid=a", ip, t0), "burst used up");
        assert!(t.allowed("uid=b", ip, t0), "other accounts are not affected");
        assert!(!t.allowed("uid=a", ip, t0 + Duration::from_secs(5)));
        assert!(
            t.allowed("uid=a", ip, t0 + Duration::from_secs(10)),
            "one token back after 10 s at 6/min"
        );
        t.succeeded("uid=a");
        assert!(t.allowed("uid=a", ip, t0));
    }

    #[test]
    fn addresses_are_limited_across_accounts() {
        let t = Throttle::new(ThrottleConfig {
            account_burst: 100,
            account_per_minute: 100,
            address_burst: 2,
            address_per_minute: 1,
        });
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let now = Instant::now();
        t.failed("uid=a", ip, now);
        t.failed("uid=b", ip, now);
        assert!(!t.allowed("uid=c", ip, now));
        assert!(t.allowed("uid=c", "192.0.2.10".parse().unwrap(), now));
    }
}
