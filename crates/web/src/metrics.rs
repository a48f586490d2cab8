//! `GET /metrics`: sets the gauges read at scrape time (the view, the database, certificate and
//! CA ends, the CRL, the last backup) and encodes every metric of the process
//! (`piratenldap_core::metrics`, OpenMetrics text).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::WebState;

/// Days before a client certificate's end that it counts as ending soon (issue 19).
pub const CERTIFICATE_WARN_DAYS: i64 = 30;

/// The audit trail is read for the last backup at most this often (a scrape every few seconds
/// must not scan the day's events each time).
const BACKUP_LOOK_EVERY: Duration = Duration::from_secs(300);

/// How far back the audit trail is read for the last backup.
const BACKUP_LOOK_BACK: time::Duration = time::Duration::days(8);

/// The last backup's time as last read, and when it was read.
pub type BackupSeen = Arc<Mutex<Option<(Instant, i64)>>>;

/// Sets the scrape gauges and returns the text of every metric.
pub async fn scrape(state: &WebState) -> String {
    let now = OffsetDateTime::now_utc();
    let gauges = &state.metrics.scrape;
    let view = state.directory.view();
    let store = state.directory.store();
    gauges
        .entries
        .set(i64::try_from(view.entries.len()).unwrap_or(i64::MAX));
    gauges.revision.set(view.revision);
    let store_up = store.revision().await.is_ok();
    gauges.store_up.set(i64::from(store_up));
    if !store_up {
        state.metrics.database_error("metrics");
    }
    let days = |t: OffsetDateTime| (t - now).as_seconds_f64() / 86_400.0;
    let (soon, first) = view.certificates_ending(now, time::Duration::days(CERTIFICATE_WARN_DAYS));
    gauges
        .certificates_ending_soon
        .set(i64::try_from(soon).unwrap_or(i64::MAX));
    gauges.certificate_next_end_days.set(first.map_or(-1.0, days));
    if let Ok(ca) = piratenldap_ca::describe(&state.ca_pem) {
        gauges.ca_end_days.set(days(ca.not_after));
    }
    if let Ok(Some(crl)) = store.latest_crl().await {
        gauges
            .crl_next_update_seconds
            .set((crl.next_update - now).as_seconds_f64());
    }
    gauges.backup_last_success.set(last_backup(state, now).await);
    state.metrics.render()
}

/// When the last backup was written (Unix seconds; 0: none in the last [`BACKUP_LOOK_BACK`]).
async fn last_backup(state: &WebState, now: OffsetDateTime) -> i64 {
    let cached = state.backup_seen.lock().ok().and_then(|c| *c);
    if let Some((read, at)) = cached
        && read.elapsed() < BACKUP_LOOK_EVERY
    {
        return at;
    }
    let events = state
        .directory
        .store()
        .audit_by_action("backup.written", now - BACKUP_LOOK_BACK)
        .await;
    let at = match events {
        Ok(events) => events.last().map_or(0, |e| e.at.unix_timestamp()),
        Err(_) => return cached.map_or(0, |(_, at)| at),
    };
    if let Ok(mut c) = state.backup_seen.lock() {
        *c = Some((Instant::now(), at));
    }
    at
}
