//! The HTTP side of piratenldap (axum): the activation portal (`GET|POST /activate`, in
//! `portal/`), `GET /ca/cert.pem`, `GET /ca/crl.pem`, `GET /healthz`, `GET /metrics`. The
//! activation flow and every credential check live in `piratenldap-auth`.
//!
//! **Invariant: the portal writes the store only through the activation flow and TOTP
//! enrolment of the account it just created.**

pub mod account;
pub mod client_address;
pub mod client_certificate;
pub mod console;
mod metrics;
pub use metrics::CERTIFICATE_WARN_DAYS;
pub mod portal;
pub mod sso;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use piratenldap_core::metrics::Metrics;
use piratenldap_directory::Directory;
use tokio::net::TcpListener;

use crate::client_certificate::CertificateAcceptor;
use tokio::sync::watch;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    /// The live directory (and through it, the store).
    pub directory: Arc<Directory>,
    /// The CA certificate, PEM.
    pub ca_pem: Arc<str>,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// When the last backup was written, read from the audit trail at most every few minutes.
    pub backup_seen: metrics::BackupSeen,
    /// The activation portal; `None` without a token key (then `/activate` is not served).
    pub portal: Option<Arc<portal::Portal>>,
    /// Single sign-on; `None` without signing keys (then no OpenID Connect endpoint is served).
    pub sso: Option<Arc<sso::Sso>>,
    /// The admin console's settings (served with single sign-on).
    pub console: console::Settings,
}

/// The routes.
pub fn router(state: WebState) -> Router {
    let portal = match &state.portal {
        Some(p) => Router::new()
            .route("/activate", get(portal::get_activate).post(portal::post_activate))
            .with_state(Arc::clone(p)),
        None => Router::new(),
    };
    let sso = state
        .sso
        .clone()
        .map(|s| {
            sso::router(Arc::clone(&s))
                .merge(account::router(Arc::clone(&s)))
                .merge(console::router(console::Console {
                    sso: s,
                    portal: state.portal.clone(),
                    settings: state.console.clone(),
                }))
        })
        .unwrap_or_default();
    Router::new()
        .route("/ca/cert.pem", get(ca_cert))
        .route("/ca/crl.pem", get(ca_crl))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(portal)
        .merge(sso)
}

/// Time a client has to send a request's headers (slowloris).
const HEADER_SECONDS: u64 = 10;
/// Time a request may take, its body included, before it is answered 408.
const REQUEST_SECONDS: u64 = 30;

/// Answers 408 when a request (reading its body included) takes longer than
/// [`REQUEST_SECONDS`].
async fn request_deadline(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(std::time::Duration::from_secs(REQUEST_SECONDS), next.run(req)).await {
        Ok(res) => res,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// Serves HTTP on `listener` until `shutdown` turns true; with `tls`, HTTPS (axum-server's
/// rustls acceptor, which also bounds the handshake's time, recording each connection's
/// client certificate for the console). Headers must arrive within
/// [`HEADER_SECONDS`], a whole request within [`REQUEST_SECONDS`].
pub async fn serve(
    listener: TcpListener,
    state: WebState,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    let app = router(state)
        .layer(axum::middleware::from_fn(request_deadline))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let std = match listener.into_std() {
        Ok(std) => std,
        Err(e) => {
            tracing::error!(error = %e, "HTTP server failed");
            return;
        }
    };
    let served = match tls {
        None => match axum_server::from_tcp(std) {
            Ok(mut server) => {
                limit_headers(server.http_builder());
                server.handle(handle).serve(app).await
            }
            Err(e) => Err(e),
        },
        Some(tls) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
            let acceptor = CertificateAcceptor::new(axum_server::tls_rustls::RustlsAcceptor::new(config));
            match axum_server::from_tcp(std).map(|s| s.acceptor(acceptor)) {
                Ok(mut server) => {
                    limit_headers(server.http_builder());
                    server.handle(handle).serve(app).await
                }
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = served {
        tracing::error!(error = %e, "HTTP server failed");
    }
}

fn limit_headers(builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(HEADER_SECONDS));
}

fn pem(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn ca_cert(State(state): State<WebState>) -> Response {
    pem(state.ca_pem.to_string())
}

/// The latest CRL from the store, so every node serves the same one; never an expired one
/// (503 instead, so a fetcher keeps its copy and monitoring sees it): the server re-signs it
/// at half its lifetime (`cli/src/commands/crl_refresh.rs`).
async fn ca_crl(State(state): State<WebState>) -> Response {
    match state.directory.store().latest_crl().await {
        Ok(Some(crl)) if crl.next_update <= time::OffsetDateTime::now_utc() => {
            tracing::error!(number = crl.number, next_update = %crl.next_update, "the latest CRL has expired and is not served: is a server with the CA files running?");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the CRL has expired and no server re-signed it (`piratenldap cert crl`)\n",
            )
                .into_response()
        }
        Ok(Some(crl)) => pem(crl.pem),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "no CRL has been published yet (`piratenldap cert crl`)\n",
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading the CRL failed");
            (StatusCode::SERVICE_UNAVAILABLE, "the CRL cannot be read right now\n").into_response()
        }
    }
}

/// 200 `ok`, or 503 `degraded` while the database cannot be reached (the node still answers
/// binds and searches from its last view; throttle, TOTP steps and audit wait in memory).
async fn healthz(State(state): State<WebState>) -> Response {
    match state.directory.store().revision().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "degraded: the database cannot be reached; serving the last view\n",
            )
                .into_response()
        }
    }
}

/// Prometheus / OpenMetrics text (`metrics.rs`).
async fn metrics(State(state): State<WebState>) -> Response {
    let body = metrics::scrape(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
