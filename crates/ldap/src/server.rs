//! The accept loop: plain LDAP and LDAPS listeners in one loop, connection slots (a cap in
//! total and per source address, `slots.rs`; a refused connection is closed at once), the LDAPS
//! handshake under `limits.handshake_seconds`, and a clean shutdown that tells clients and
//! waits for their connections to end.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::connection::{Connection, Io, serve_connection};
use crate::session::Context;
use crate::slots::{Refused, Slots};
/// Time connections get to finish after shutdown is signalled.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The sockets the server accepts on.
pub struct Listeners {
    /// Plain LDAP (StartTLS offered when TLS is configured).
    pub ldap: TcpListener,
    /// LDAPS (TLS from the first byte).
    pub ldaps: Option<TcpListener>,
}

async fn accept_on(l: Option<&TcpListener>) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves LDAP until `shutdown` turns true.
pub async fn serve(
    ctx: Arc<Context>,
    listeners: Listeners,
    tls: Option<TlsAcceptor>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = ctx.settings.limits;
    let slots = Slots::new(max_connections, limits.connections_per_address);
    let handshake = Duration::from_secs(limits.handshake_seconds);
    let mut connections = JoinSet::new();
    loop {
        let (accepted, implicit_tls) = tokio::select! {
            a = listeners.ldap.accept() => (a, false),
            a = accept_on(listeners.ldaps.as_ref()) => (a, true),
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Typically EMFILE: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match slots.admit(peer.ip(), std::time::Instant::now()) {
            Ok(slot) => slot,
            Err(why) => {
                tracing::debug!(%peer, ?why, "connection refused: no slot");
                drop(stream);
                if why == Refused::Full {
                    // Every slot is bound and busy: give the clients time to finish.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = Arc::clone(&ctx);
        let acceptor = tls.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut client_cert = None;
            let io: Box<dyn Io> = if implicit_tls {
                let Some(acceptor) = acceptor.clone() else {
                    return;
                };
                match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => {
                        client_cert = crate::tls::client_fingerprint(s.get_ref().1);
                        Box::new(s)
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "LDAPS handshake failed");
                        return;
                    }
                    Err(_) => return,
                }
            } else {
                Box::new(stream)
            };
            let conn = Connection {
                peer,
                tls: implicit_tls,
                client_cert,
                acceptor,
                slot,
            };
            serve_connection(ctx, io, conn, shutdown).await;
        });
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}
