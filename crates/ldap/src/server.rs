//! The accept loop: plain LDAP and LDAPS listeners in one loop, a cap on concurrent
//! connections (excess clients wait in the kernel's backlog), and a clean shutdown that tells
//! clients and waits for their connections to end.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::connection::{Io, serve_connection};
use crate::session::Context;

/// Time a TLS handshake on an LDAPS connection may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
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
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&slots).acquire_owned() => p,
            _ = shutdown.changed() => break,
        };
        let Ok(permit) = permit else { break };
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
        let _ = stream.set_nodelay(true);
        let ctx = Arc::clone(&ctx);
        let acceptor = tls.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut client_cert = None;
            let io: Box<dyn Io> = if implicit_tls {
                let Some(acceptor) = acceptor.clone() else {
                    return;
                };
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
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
            serve_connection(ctx, io, peer, implicit_tls, client_cert, acceptor, shutdown).await;
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
