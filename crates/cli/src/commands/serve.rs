//! `serve`: binds the listeners, loads the directory, follows the store, and serves LDAP until
//! Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use piratenldap_auth::{AuditSink, Authenticator, HashPool, Throttle};
use piratenldap_core::metrics::Metrics;
use piratenldap_core::sealed::SealKey;
use piratenldap_directory::Directory;
use piratenldap_ldap::{Listeners, Settings};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::context::{Ctx, open};

/// How often the store's revision is polled (one indexed single-row read): a change shows up
/// over LDAP within this time plus the few milliseconds of applying it to the view.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(50);

/// The addresses the server actually listens on (port 0 resolved).
pub struct Bound {
    /// LDAP.
    pub ldap: SocketAddr,
    /// LDAPS.
    pub ldaps: Option<SocketAddr>,
}

/// Runs `serve`.
pub async fn serve(config_path: &Path) -> Result<()> {
    let ctx = open(config_path).await?;
    run_server(ctx, |_| {}).await
}

/// Raises the soft limit of open files to what `max_connections` needs (up to the hard limit):
/// a shell's default of 1024 would otherwise refuse connections long before the cap.
fn raise_open_files(max_connections: usize) {
    // Listeners, the database, log and TLS files, and HTTP clients beside the LDAP connections.
    let wanted = max_connections as u64 + 1024;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => tracing::warn!(
            open_files = got,
            wanted,
            "the open-file limit (ulimit -n) is below ldap.max_connections; raise it (LimitNOFILE= in systemd)"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-file limit"),
    }
}

/// Serves until a stop signal; `announce` is called once the listeners are bound.
pub async fn run_server(ctx: Ctx, announce: impl FnOnce(&Bound)) -> Result<()> {
    let config = ctx.config;
    let server_cert = piratenldap_ldap::ServerCert::load(&config.tls_cert, &config.tls_key, super::now())
        .context("loading the server certificate")?;
    super::tls_reload::warn_if_expiring(&server_cert, super::now());
    match super::cert::describe_ca(&config) {
        Ok(ca) => match super::cert::ca_warning(&ca, super::now()) {
            Some(warning) => tracing::warn!(subject = %ca.subject, "{warning}"),
            None => tracing::info!(subject = %ca.subject, not_after = %ca.not_after, "CA"),
        },
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot read the CA certificate"),
    }
    // Every CA whose certificates count (the current one and those a rollover retired): the
    // names LDAPS and HTTPS ask clients for, and `/ca/cert.pem`.
    let trusted =
        super::ca_files::write_trusted(&config.ca_dir, super::now()).context("writing the CA trust bundle")?;
    let tls = piratenldap_ldap::server_config(
        Arc::clone(&server_cert),
        Some(&config.ca_dir.join(super::ca_files::TRUSTED)),
    )
    .context("loading the server certificate")?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls));
    raise_open_files(config.ldap.max_connections);
    let ldap = TcpListener::bind(config.ldap.listen)
        .await
        .with_context(|| format!("listening on {}", config.ldap.listen))?;
    let ldaps = match config.ldap.ldaps_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr}"))?,
        ),
        None => None,
    };
    let http = TcpListener::bind(config.http_listen)
        .await
        .with_context(|| format!("listening on {}", config.http_listen))?;
    let bound = Bound {
        ldap: ldap.local_addr()?,
        ldaps: ldaps.as_ref().map(TcpListener::local_addr).transpose()?,
    };

    let layout = crate::context::layout(&config)?;
    let metrics = Arc::new(Metrics::default());
    // 4 KiB pages for the build's first touch of its memory (see `SmallPages`).
    let small_pages = piratenldap_allocator::SmallPages::now();
    let directory = Directory::load(ctx.store, layout, Arc::clone(&metrics))
        .await
        .context("loading the directory")?;
    drop(small_pages);
    if directory.layout().pseudonym_key.is_none() && has_pseudonymous_service(&directory.view()) {
        tracing::warn!(
            file = %config.pseudonym_key_file.display(),
            "the pseudonym key is missing: pseudonymous services see no people until it is there (copy it from the node that made it, then restart)"
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let follower = tokio::spawn(Arc::clone(&directory).follow(FOLLOW_INTERVAL, stop_rx.clone()));
    let seal_key = load_seal_key(&config.secret_key_file)?;
    let (audit, audit_writer) = AuditSink::start(Arc::clone(directory.store()));
    let throttle = Throttle::new(config.throttle, Arc::clone(directory.store()));
    let eraser = Ctx {
        config: config.clone(),
        store: Arc::clone(directory.store()),
    };
    let signer = Ctx {
        config: config.clone(),
        store: Arc::clone(directory.store()),
    };
    let crl_keeper = tokio::spawn(super::crl_refresh::keep_fresh(signer, stop_rx.clone()));
    let renewal = super::tls_reload::Renewal {
        ca_dir: config.ca_dir.clone(),
        organisation: config.organisation.clone(),
        cert: config.tls_cert.clone(),
        key: config.tls_key.clone(),
    };
    let tls_watcher = tokio::spawn(super::tls_reload::watch_files(server_cert, renewal, stop_rx.clone()));
    let pruner = tokio::spawn(prune_daily(
        eraser,
        audit.clone(),
        config.audit_retention_days,
        throttle.refill_ms().max(portal_refill_ms(&config)),
        stop_rx.clone(),
    ));
    let hasher = HashPool::new(config.password_workers, config.passwords, Arc::clone(&metrics));
    let auth = Arc::new(Authenticator::new(
        Arc::clone(directory.store()),
        hasher.clone(),
        throttle,
        audit.clone(),
        seal_key.clone(),
        Arc::clone(&metrics),
    ));
    let context = Arc::new(piratenldap_ldap::Context {
        directory,
        auth,
        metrics: Arc::clone(&metrics),
        cursor_bytes: Default::default(),
        settings: Settings {
            plaintext_bind: config.ldap.plaintext_bind,
            anonymous: config.ldap.anonymous,
            size_limit: config.ldap.size_limit,
            starttls: true,
            limits: config.limits,
        },
    });
    // Machine-readable lines (tests and scripts read the resolved ports from here).
    println!("ldap: {}", bound.ldap);
    if let Some(a) = bound.ldaps {
        println!("ldaps: {a}");
    }
    println!("http: {}", http.local_addr()?);
    announce(&bound);
    let _ = std::io::stdout().flush();
    let portal = match crate::context::read_hex_key(&config.token_key_file) {
        Ok(token_key) => Some(Arc::new(piratenldap_web::portal::Portal::new(
            Arc::clone(context.directory.store()),
            token_key,
            seal_key,
            hasher,
            config.organisation.clone(),
            context.directory.layout().clone(),
            config.token_attempts_per_minute,
            config.public_url.starts_with("https://"),
            config.trusted_proxies.clone(),
            Arc::clone(&metrics),
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "the activation portal is off");
            None
        }
    };
    let reads = tokio::spawn(flush_real_name_reads(Arc::clone(&context.auth), stop_rx.clone()));
    let sso = single_sign_on(&config, &context, audit);
    if let Some(sso) = &sso {
        tokio::spawn(refresh_keys(Arc::clone(sso), stop_rx.clone()));
    }
    let web_state = piratenldap_web::WebState {
        directory: Arc::clone(&context.directory),
        ca_pem: trusted.into(),
        metrics,
        backup_seen: Default::default(),
        portal,
        sso,
        console: piratenldap_web::console::Settings {
            roles: config.roles.clone(),
            letters: piratenldap_auth::letters::LetterSettings {
                public_url: config.public_url.clone(),
                lifetime_days: config.token_lifetime_days,
            },
        },
    };
    // The HTTP listener shares the LDAPS certificate (and asks for an optional client
    // certificate, as LDAPS does).
    let http_tls = config.http_tls.then(|| Arc::clone(&tls));
    let web = tokio::spawn(piratenldap_web::serve(http, web_state, http_tls, stop_rx.clone()));
    let server = tokio::spawn(piratenldap_ldap::serve(
        context,
        Listeners { ldap, ldaps },
        Some(acceptor),
        config.ldap.max_connections,
        stop_rx,
    ));

    stop_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    let _ = server.await;
    let _ = web.await;
    let _ = follower.await;
    let _ = pruner.await;
    let _ = crl_keeper.await;
    let _ = tls_watcher.await;
    let _ = reads.await;
    // The server's tasks are done, so the last audit sink is dropped: the writer flushes and ends.
    let _ = tokio::time::timeout(Duration::from_secs(5), audit_writer).await;
    tracing::info!("stopped");
    Ok(())
}

/// Single sign-on, when its keys are there (made by `init`; `oidc rotate-key` makes them for an
/// installation from before single sign-on).
fn single_sign_on(
    config: &piratenldap_core::config::Config,
    context: &piratenldap_ldap::Context,
    audit: AuditSink,
) -> Option<Arc<piratenldap_web::sso::Sso>> {
    let overlap = time::Duration::days(i64::from(config.oidc.key_overlap_days));
    let keys = piratenldap_web::sso::KeyRing::load(config.oidc.keys_dir.clone(), overlap, super::now());
    let (keys, pairwise_key) = match (keys, super::oidc::pairwise_key(config)) {
        (Ok(k), Ok(p)) => (k, p),
        (Err(e), _) => {
            tracing::warn!(error = %e, "single sign-on is off");
            return None;
        }
        (_, Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "single sign-on is off");
            return None;
        }
    };
    Some(Arc::new(piratenldap_web::sso::Sso {
        directory: Arc::clone(&context.directory),
        auth: Arc::clone(&context.auth),
        audit,
        keys,
        pairwise_key,
        issuer: config.public_url.trim_end_matches('/').to_string(),
        organisation: config.organisation.clone(),
        session: time::Duration::hours(i64::from(config.oidc.session_hours)),
        access_lifetime: time::Duration::minutes(i64::from(config.oidc.access_token_minutes)),
        secure_cookies: config.public_url.starts_with("https://"),
        trusted_proxies: config.trusted_proxies.clone(),
    }))
}

/// The key that seals TOTP secrets; without it TOTP binds fail (logged), everything else works.
fn load_seal_key(path: &std::path::Path) -> Result<Option<Arc<SealKey>>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(Arc::new(
            SealKey::from_hex(&text).with_context(|| format!("{}", path.display()))?,
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), "secrets.key_file is missing: TOTP binds will fail");
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// How long the portal's per-address bucket takes to refill.
fn portal_refill_ms(config: &piratenldap_core::config::Config) -> i64 {
    let per_minute = config.token_attempts_per_minute;
    piratenldap_store::BucketPolicy {
        burst: per_minute,
        per_minute,
    }
    .refill_ms()
}

/// At start and then daily: erases members `left` for longer than `[privacy]
/// erase_after_days` (logged as counts, never identities), deletes audit events older than the
/// retention, and throttle buckets unchanged for longer than `refill_ms` (full again, so they
/// carry no information). Every node runs it; erasure is safe when two do at once.
async fn prune_daily(ctx: Ctx, audit: AuditSink, days: u32, refill_ms: i64, mut stop: watch::Receiver<bool>) {
    let store = Arc::clone(&ctx.store);
    let mut tick = tokio::time::interval(Duration::from_secs(24 * 3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = time::OffsetDateTime::now_utc();
                match super::erase::erase_due(&ctx, ctx.config.erase_after_days, now).await {
                    Ok(run) if run.erased + run.already == 0 => {}
                    Ok(run) => {
                        if let Some(e) = &run.crl_failed {
                            tracing::error!(
                                error = %e,
                                revoked = run.revoked,
                                "SIGNING THE CRL FAILED after the daily erasure: the certificates are revoked in the directory, but the published CRL lags; fix the CA files and run `piratenldap cert crl --out FILE`"
                            );
                        }
                        tracing::info!(
                        erased = run.erased,
                        by_another_node = run.already,
                        certificates_revoked = run.revoked,
                        "erased members who left more than privacy.erase_after_days ago"
                    );
                    }
                    Err(e) => tracing::error!(
                        error = %format!("{e:#}"),
                        "ERASURE FAILED: members due for erasure (privacy.erase_after_days) may still be stored; retried tomorrow, or run `piratenldap member erase NUMBER`"
                    ),
                }
                let before = now - time::Duration::days(i64::from(days));
                match store.prune_audit(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "pruned old audit events"),
                    Err(e) => tracing::error!(error = %e, "pruning the audit trail failed"),
                }
                let before = piratenldap_store::bucket_clock_ms(now) - refill_ms;
                if let Err(e) = store.bucket_prune(before).await {
                    tracing::error!(error = %e, "pruning throttle buckets failed");
                }
                if let Err(e) = store.oidc().prune_oidc(now).await {
                    tracing::error!(error = %e, "pruning expired single sign-on sessions and tokens failed");
                }
                audit_certificates_ending(store.as_ref(), &audit, now).await;
            }
            _ = stop.changed() => return,
        }
    }
}

/// Once a day: an audit event `cert.expiring` for each valid client certificate that ends
/// within 30 days (`piratenldap_web::CERTIFICATE_WARN_DAYS`), naming its holder, serial, role,
/// end and how to renew it.
async fn audit_certificates_ending(store: &dyn piratenldap_store::Store, audit: &AuditSink, now: time::OffsetDateTime) {
    let horizon = now + time::Duration::days(piratenldap_web::CERTIFICATE_WARN_DAYS);
    let certificates = match store.certificates().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "reading certificates for the expiry check failed");
            return;
        }
    };
    for c in certificates
        .iter()
        .filter(|c| c.revoked_at.is_none() && c.not_after > now && c.not_after <= horizon)
    {
        let end = c.not_after.date();
        let detail = format!(
            "certificate {} (role {}) ends on {end}; renew it with `piratenldap cert renew {} --by UID`",
            c.serial, c.role, c.serial
        );
        audit
            .record(now, "server", "cert.expiring", c.uid.as_str(), detail)
            .await;
    }
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Looks at the signing keys' directory every few seconds on a blocking thread (a rotation
/// on this machine, the end of a replaced key's overlap) until shutdown.
async fn refresh_keys(sso: Arc<piratenldap_web::sso::Sso>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(piratenldap_web::sso::keyring::CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = tick.tick() => {
                let sso = Arc::clone(&sso);
                let _ = tokio::task::spawn_blocking(move || sso.keys.refresh(super::now())).await;
            }
            changed = stop.changed() => if changed.is_err() { break },
        }
    }
}

/// Writes the real-name read counts (`auth::reads`) to the audit trail every minute and
/// once more at shutdown.
async fn flush_real_name_reads(
    auth: Arc<piratenldap_auth::Authenticator>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = tick.tick() => auth.flush_real_name_reads(super::now()).await,
            changed = stop.changed() => if changed.is_err() { break },
        }
    }
    auth.flush_real_name_reads(super::now()).await;
}

/// Whether a pseudonymous service is registered (it needs the pseudonym key).
fn has_pseudonymous_service(view: &piratenldap_directory::View) -> bool {
    view.entries.iter().any(|e| {
        matches!(&e.kind, piratenldap_directory::entry::EntryKind::Service { .. })
            && view.credential(&e.dn).is_some_and(|c| {
                matches!(&c.principal, piratenldap_directory::Principal::Service { access, .. } if access.profile.pseudonymous)
            })
    })
}
