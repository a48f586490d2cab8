//! Whether the store answered lately. After a failure the authentication core stops asking it
//! for [`DOWN_FOR`] and works from the node's memory (throttle buckets, TOTP steps), so that
//! during an outage a bind costs no database timeouts; then it tries again.

use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// How long the store is left alone after it failed.
pub const DOWN_FOR_MS: i64 = 5_000;

/// The store's recent health, shared by the core's parts.
#[derive(Debug, Default)]
pub struct StoreHealth {
    /// Unix ms until which the store is not asked.
    down_until_ms: AtomicI64,
}

fn ms(now: OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl StoreHealth {
    /// Whether the store should be asked at `now`.
    pub fn up(&self, now: OffsetDateTime) -> bool {
        ms(now) >= self.down_until_ms.load(Ordering::Relaxed)
    }

    /// Records a failure at `now`.
    pub fn failed(&self, now: OffsetDateTime) {
        self.down_until_ms.store(ms(now) + DOWN_FOR_MS, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_rests_the_store_for_a_while() {
        let t0 = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let health = StoreHealth::default();
        assert!(health.up(t0));
        health.failed(t0);
        assert!(!health.up(t0 + time::Duration::seconds(1)));
        assert!(health.up(t0 + time::Duration::milliseconds(DOWN_FOR_MS)));
    }
}
