//! Who read real names (issue 16): every entry with a real name or member number that a
//! service with `--real-names` receives (an LDAP search result, or OpenID Connect claims) is
//! counted per service and hour in memory, and the counts go to the audit trail as
//! `read.real_names` events (`detail`: `hour=… entries=N`) every minute and at shutdown, so
//! `piratenldap audit --reads` answers "who looked at real names, how often". A crash loses
//! at most the last minute's counts; counting one entry is a map update under a short lock.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::audit::AuditSink;

/// The attributes whose reading is counted (LDAP names and OpenID Connect claims).
pub const REAL_NAME_ATTRIBUTES: [&str; 3] = ["givenName", "sn", "pirateMemberNumber"];
/// OpenID Connect claims carrying real names (`name` is the display name, not a real name).
pub const REAL_NAME_CLAIMS: [&str; 2] = ["given_name", "family_name"];

/// Counts of entries read per service and hour.
#[derive(Default)]
pub struct RealNameReads {
    counts: Mutex<BTreeMap<(String, i64), u64>>,
}

/// The start of the hour of `t`, in Unix seconds.
fn hour(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(3600) * 3600
}

impl RealNameReads {
    /// Counts `entries` entries with real names read by `service` at `now`.
    pub fn count(&self, service: &str, entries: u64, now: OffsetDateTime) {
        if entries == 0 {
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry((service.to_string(), hour(now))).or_default() += entries;
    }

    /// Writes the counts so far to the audit trail and starts again.
    pub async fn flush(&self, audit: &AuditSink, now: OffsetDateTime) {
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner));
        for ((service, start), n) in counts {
            let at = OffsetDateTime::from_unix_timestamp(start).unwrap_or(now);
            let stamp = at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            audit
                .record(
                    now,
                    &service,
                    "read.real_names",
                    &service,
                    format!("hour={stamp} entries={n}"),
                )
                .await;
        }
    }
}

/// The hour and count of a `read.real_names` event's detail.
pub fn parse_detail(detail: &str) -> Option<(&str, u64)> {
    let mut hour = None;
    let mut entries = None;
    for part in detail.split_whitespace() {
        if let Some(h) = part.strip_prefix("hour=") {
            hour = Some(h);
        } else if let Some(n) = part.strip_prefix("entries=") {
            entries = n.parse().ok();
        }
    }
    Some((hour?, entries?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_kept_per_service_and_hour() {
        let reads = RealNameReads::default();
        let t = OffsetDateTime::from_unix_timestamp(1_764_626_400).unwrap_or(OffsetDateTime::UNIX_EPOCH); // 22:00
        reads.count("hr", 3, t);
        reads.count("hr", 2, t + time::Duration::minutes(59));
        reads.count("hr", 1, t + time::Duration::minutes(60));
        reads.count("vote", 0, t);
        let counts = reads.counts.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let t0 = 1_764_626_400;
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            vec![(("hr".to_string(), t0), 5), (("hr".to_string(), t0 + 3600), 1)]
        );
        assert_eq!(
            parse_detail("hour=2026-12-01T22:00:00Z entries=5"),
            Some(("2026-12-01T22:00:00Z", 5))
        );
        assert_eq!(parse_detail("entries=5"), None);
    }
}
