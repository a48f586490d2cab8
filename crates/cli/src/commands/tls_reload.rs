//! The server certificate reloaded without a restart (issue 19): on SIGHUP, and when the
//! `[tls]` files change (looked at every [`CHECK_EVERY`]; a change is taken once the files held
//! still for one look, so a renewal that writes the certificate and the key one after the other
//! is not refused halfway). A pair that is refused is logged once, and the old one stays.
//! A certificate this installation's CA issued (`init`'s) is renewed here 30 days before it
//! ends, for the same names; one from elsewhere (certbot's) is left to its own tooling.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use piratenldap_ldap::{Reload, ServerCert};
use tokio::sync::watch;

/// How often the certificate and key files are looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Warned about at start and at each reload when the certificate in use ends within this.
const WARN_BEFORE: time::Duration = time::Duration::days(30);

/// A certificate issued by our CA is renewed when it ends within this.
const RENEW_BEFORE: time::Duration = time::Duration::days(30);

/// At most one renewal attempt per this (each failure is logged).
const RENEW_RETRY: Duration = Duration::from_secs(3600);

/// What renewing `init`'s certificate needs: the CA and where the pair lives.
pub struct Renewal {
    /// `[ca] dir` (ca.pem, ca.key).
    pub ca_dir: PathBuf,
    /// The organisation (the certificate's O).
    pub organisation: String,
    /// `[tls] cert`.
    pub cert: PathBuf,
    /// `[tls] key`.
    pub key: PathBuf,
}

/// Renews the certificate in use when it ends within [`RENEW_BEFORE`] and our CA issued it:
/// a new key and certificate for the same names, written in place (each file staged and
/// renamed) and taken at once. After a CA rollover the new CA renews what the old one issued. The new notAfter, or `None` when nothing was due.
fn renew_if_due(
    cert: &ServerCert,
    renewal: &Renewal,
    now: time::OffsetDateTime,
) -> Result<Option<time::OffsetDateTime>> {
    if cert.not_after() - now >= RENEW_BEFORE {
        return Ok(None);
    }
    let current = cert.end_entity_der().context("no certificate in use")?;
    let ca = super::ca_files::current(&renewal.ca_dir)?;
    let issuers = super::ca_files::subjects(&renewal.ca_dir)?;
    let Some(new) = piratenldap_ca::renew_server_cert(&ca, &issuers, &current, &renewal.organisation, now)? else {
        return Ok(None);
    };
    write_pair(renewal, &new, &ca)?;
    cert.reload(now, true)?;
    Ok(Some(cert.not_after()))
}

/// Writes a server certificate (with `ca`'s certificate as its chain) and its key in place of
/// `renewal`'s files, each staged and renamed (the key first). A running server takes the new
/// pair within [`CHECK_EVERY`].
pub fn write_pair(renewal: &Renewal, new: &piratenldap_ca::Issued, ca: &piratenldap_ca::Issued) -> Result<()> {
    for (path, text, mode) in [
        (&renewal.key, new.key_pem.clone(), 0o600),
        (&renewal.cert, format!("{}{}", new.cert_pem, ca.cert_pem), 0o644),
    ] {
        let mut staged = crate::files::Staged::replacing(path, mode)?;
        staged.write_synced(text.as_bytes())?;
        staged.publish()?;
    }
    Ok(())
}

/// Logs when the certificate in use expires within [`WARN_BEFORE`].
pub fn warn_if_expiring(cert: &ServerCert, now: time::OffsetDateTime) {
    let not_after = cert.not_after();
    if not_after - now < WARN_BEFORE {
        tracing::warn!(%not_after, "the server certificate ([tls] cert) expires within 30 days: replace it (the server picks up new files by itself)");
    }
}

/// Runs until shutdown.
pub async fn watch_files(cert: Arc<ServerCert>, renewal: Renewal, mut stop: watch::Receiver<bool>) {
    let renewal = Arc::new(renewal);
    let mut last_renewal: Option<Instant> = None;
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
        let renew = last_renewal.is_none_or(|at| at.elapsed() >= RENEW_RETRY);
        let cert = Arc::clone(&cert);
        let renewal = Arc::clone(&renewal);
        let previous = last;
        let done = tokio::task::spawn_blocking(move || {
            let now = super::now();
            let renewed = (renew && cert.not_after() - now < RENEW_BEFORE).then(|| renew_if_due(&cert, &renewal, now));
            let files = cert.files_digest();
            let settled = force || files.as_ref().ok() == previous.as_ref();
            let result = if settled { Some(cert.reload(now, force)) } else { None };
            if let Some(Ok(Reload::Replaced { .. })) = &result {
                warn_if_expiring(&cert, now);
            }
            (files.ok(), result, cert.not_after(), renewed)
        })
        .await;
        let Ok((files, result, in_use_until, renewed)) = done else {
            continue;
        };
        last = files;
        match renewed {
            None | Some(Ok(None)) => {}
            Some(Ok(Some(not_after))) => {
                last_renewal = Some(Instant::now());
                tracing::info!(%not_after, "renewed the server certificate the CA issued (it ended within 30 days)");
            }
            Some(Err(e)) => {
                last_renewal = Some(Instant::now());
                tracing::error!(error = %format!("{e:#}"), "RENEWING THE SERVER CERTIFICATE FAILED; retried in an hour");
            }
        }
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
