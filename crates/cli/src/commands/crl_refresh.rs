//! The server keeps the CRL fresh (issue 19): every few seconds the node holding the store's
//! lease `crl` re-signs the CRL when it is missing, half its lifetime (`[ca] crl_minutes`) has
//! passed, or a revocation is newer than it, through the commands' one signing path
//! (`cert::publish_crl_at`). One node at a time holds the lease, so a PostgreSQL deployment
//! signs once per period, not once per node.

use std::sync::Arc;

use piratenldap_store::{Certificate, Crl};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::context::Ctx;

/// The lease's name in the store.
const LEASE: &str = "crl";

/// How often the lease is renewed and the CRL looked at: a twentieth of its lifetime, between
/// 1 s and 60 s (a 7-day CRL is looked at every minute, a 1-minute one every 3 s).
pub fn check_every(lifetime: time::Duration) -> std::time::Duration {
    let secs = (lifetime.whole_seconds() / 20).clamp(1, 60);
    std::time::Duration::from_secs(secs.unsigned_abs())
}

/// Why the CRL must be signed now, or `None` while it is fresh.
pub fn due(
    latest: Option<&Crl>,
    certificates: &[Certificate],
    lifetime: time::Duration,
    now: OffsetDateTime,
) -> Option<&'static str> {
    let Some(crl) = latest else {
        return Some("no CRL has been published yet");
    };
    if now >= crl.this_update + lifetime / 2 || now >= crl.next_update {
        return Some("half of its lifetime has passed");
    }
    if certificates
        .iter()
        .filter_map(|c| c.revoked_at)
        .any(|at| at > crl.this_update)
    {
        return Some("a revocation is not on it yet");
    }
    None
}

/// This node's name in the lease: host, process and start time, so a restarted process is a
/// new holder and waits for its old lease like any other node.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "node".into());
    format!(
        "{}:{}:{}",
        host.trim(),
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    )
}

/// Runs until shutdown: takes or renews the lease (held for three checks, so another node takes
/// over within that when this one stops), then signs when [`due`] says so. A node without the
/// CA key does not take the lease, so it never keeps a node that can sign from signing.
pub async fn keep_fresh(ctx: Ctx, mut stop: watch::Receiver<bool>) {
    let lifetime = time::Duration::minutes(i64::from(ctx.config.crl_minutes));
    let every = check_every(lifetime);
    let lease = time::Duration::try_from(every * 3).unwrap_or(time::Duration::minutes(3));
    let me = holder();
    let store = Arc::clone(&ctx.store);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // One error line per failure streak, not one per check.
    let mut failing = false;
    while !*stop.borrow() {
        tokio::select! {
            _ = tick.tick() => {}
            changed = stop.changed() => if changed.is_err() { break } else { continue },
        }
        let now = super::now();
        let result = async {
            if super::cert::load_ca(&ctx).is_err() {
                anyhow::bail!("the CA files are not readable on this node (another node with them re-signs the CRL)");
            }
            if !store.try_lease(LEASE, &me, now, now + lease).await? {
                return Ok(None);
            }
            let latest = store.latest_crl().await?;
            let certificates = store.certificates().await?;
            match due(latest.as_ref(), &certificates, lifetime, now) {
                Some(why) => Ok(Some((why, super::cert::publish_crl_at(&ctx, now).await?))),
                None => Ok(None),
            }
        }
        .await;
        match result {
            Ok(Some((why, crl))) => {
                failing = false;
                tracing::info!(number = crl.number, next_update = %crl.next_update, why, "CRL re-signed");
            }
            Ok(None) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::error!(
                    error = %format!("{e:#}"),
                    "KEEPING THE CRL FRESH FAILED: retried every check; nginx refuses every client certificate once the published CRL's nextUpdate passes"
                );
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crl(this_update: OffsetDateTime, minutes: i64) -> Crl {
        Crl {
            number: 1,
            pem: String::new(),
            this_update,
            next_update: this_update + time::Duration::minutes(minutes),
        }
    }

    #[test]
    fn signed_when_missing_at_half_life_or_after_a_revocation() {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let life = time::Duration::minutes(10);
        let m = |n: i64| t + time::Duration::minutes(n);
        assert!(due(None, &[], life, t).is_some());
        assert_eq!(due(Some(&crl(t, 10)), &[], life, m(4)), None);
        assert!(due(Some(&crl(t, 10)), &[], life, m(5)).is_some());
        // A CRL signed with a longer lifetime before a config change is still renewed in time.
        assert!(due(Some(&crl(t, 100)), &[], life, m(6)).is_some());
        assert!(due(Some(&crl(t, 1)), &[], life, m(2)).is_some());
        assert_eq!(check_every(time::Duration::days(7)), std::time::Duration::from_secs(60));
        assert_eq!(
            check_every(time::Duration::minutes(1)),
            std::time::Duration::from_secs(3)
        );
        assert_eq!(
            check_every(time::Duration::seconds(5)),
            std::time::Duration::from_secs(1)
        );
    }
}
