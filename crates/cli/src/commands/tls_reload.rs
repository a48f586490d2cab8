//! The server certificate reloaded without a restart (issue 19): on SIGHUP, and when the
//! `[tls]` files change (looked at every [`CHECK_EVERY`]; a change is taken once the files held
//! still for one look, so a renewal that writes the certificate and the key one after the other
//! is not refused halfway). A pair that is refused is logged once, and the old one stays.

use std::sync::Arc;
use std::time::Duration;

use piratenldap_ldap::{Reload, ServerCert};
use tokio::sync::watch;

/// How often the certificate and key files are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Warned about at start and at each reload when the certificate in use ends within this.
const WARN_BEFORE: time::Duration = time::Duration::days(30);

/// Logs when the certificate in use expires within [`WARN_BEFORE`].
pub fn warn_if_expiring(cert: &ServerCert, now: time::OffsetDateTime) {
    let not_after = cert.not_after();
    if not_after - now < WARN_BEFORE {
        tracing::warn!(%not_after, "the server certificate ([tls] cert) expires within 30 days: replace it (the server picks up new files by itself)");
    }
}

/// Runs until shutdown.
pub async fn watch_files(cert: Arc<ServerCert>, mut stop: watch::Receiver<bool>) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler: the server certificate is reloaded only when its files change");
            None
        }
    };
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The files' digest at the last look, to take a change only once it held still.
    let mut last = cert.files_digest().ok();
    while !*stop.borrow() {
        let force = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
            changed = stop.changed() => if changed.is_err() { break } else { continue },
        };
        let cert = Arc::clone(&cert);
        let previous = last;
        let done = tokio::task::spawn_blocking(move || {
            let now = super::now();
            let files = cert.files_digest();
            let settled = force || files.as_ref().ok() == previous.as_ref();
            let result = if settled { Some(cert.reload(now, force)) } else { None };
            if let Some(Ok(Reload::Replaced { .. })) = &result {
                warn_if_expiring(&cert, now);
            }
            (files.ok(), result, cert.not_after())
        })
        .await;
        let Ok((files, result, in_use_until)) = done else {
            continue;
        };
        last = files;
        match result {
            None | Some(Ok(Reload::Unchanged | Reload::StillRefused)) => {}
            Some(Ok(Reload::Replaced { subject, not_after })) => tracing::info!(
                %subject,
                %not_after,
                by = if force { "SIGHUP" } else { "the files changing" },
                "server certificate replaced: new LDAPS, StartTLS and HTTPS handshakes use it, open connections keep theirs"
            ),
            Some(Err(e)) => tracing::error!(
                error = %e,
                still_in_use_until = %in_use_until,
                "the new server certificate is REFUSED; the old one stays in use"
            ),
        }
    }
}
