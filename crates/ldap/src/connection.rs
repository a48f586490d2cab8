//! One client connection: framing (ldap3_proto's codec), the request loop, the StartTLS
//! upgrade, idle timeouts and shutdown. The operations themselves live in `ops`.
//!
//! Limits that apply here: a message may be [`MAX_MESSAGE_BYTES_UNBOUND`] before a bind and
//! [`MAX_MESSAGE_BYTES`] after; a connection that has not bound is closed after
//! `limits.unbound_idle_seconds` without a request, a bound one after `limits.idle_seconds`;
//! the StartTLS handshake gets `limits.handshake_seconds`; every write must progress within
//! `limits.write_seconds`; requests run one at a time, so a connection has at most one
//! operation outstanding, and search results are rendered as the socket takes them.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, SinkExt, StreamExt};
use piratenldap_core::limits::Limits;
use piratenldap_directory::Principal;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::{Framed, FramedParts};

use crate::codec::StrictCodec;
use crate::ops::{self, After};
use crate::session::{Context, Session};
use crate::slots::SlotGuard;

/// Largest LDAP message accepted from a bound client.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Largest LDAP message accepted before a bind (a bind, StartTLS or a root DSE read).
pub const MAX_MESSAGE_BYTES_UNBOUND: usize = 64 * 1024;

/// A byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) fn codec(bound: bool) -> StrictCodec {
    let max = if bound {
        MAX_MESSAGE_BYTES
    } else {
        MAX_MESSAGE_BYTES_UNBOUND
    };
    StrictCodec::new(max)
}

/// The same stream with the message limit for `bound`, keeping any bytes already read.
fn reframe(framed: Framed<Box<dyn Io>, StrictCodec>, bound: bool) -> Framed<Box<dyn Io>, StrictCodec> {
    let old = framed.into_parts();
    let mut parts = FramedParts::new(old.io, codec(bound));
    parts.read_buf = old.read_buf;
    parts.write_buf = old.write_buf;
    Framed::from_parts(parts)
}

/// How long a connection may wait for its next request: `limits.idle_seconds` once bound,
/// `limits.unbound_idle_seconds` before.
fn idle_limit(limits: &Limits, bound: bool) -> Duration {
    Duration::from_secs(if bound {
        limits.idle_seconds
    } else {
        limits.unbound_idle_seconds
    })
}

/// `fut`'s output, or `None` when it is still pending after `limit`. A write that completes at
/// once (nearly every one) reads no clock and arms no timer.
async fn within<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    tokio::pin!(fut);
    if let Some(out) = (&mut fut).now_or_never() {
        return Some(out);
    }
    tokio::time::timeout(limit, fut).await.ok()
}

/// What a connection owns besides its socket.
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the socket is TLS from the first byte (LDAPS).
    pub tls: bool,
    /// SHA-256 fingerprint of the client certificate of an LDAPS connection.
    pub client_cert: Option<String>,
    /// For StartTLS.
    pub acceptor: Option<TlsAcceptor>,
    /// The connection's slot; the server may ask for it back.
    pub slot: SlotGuard,
}

/// Serves one connection until the client unbinds or disconnects, it idles out, a PDU does not
/// decode, the server needs its slot, or the server shuts down.
pub async fn serve_connection(
    ctx: Arc<Context>,
    io: Box<dyn Io>,
    conn: Connection,
    mut shutdown: watch::Receiver<bool>,
) {
    let Connection {
        peer,
        tls,
        client_cert,
        acceptor,
        slot,
    } = conn;
    let limits = ctx.settings.limits;
    let _open = ctx.metrics.connection(if tls { "ldaps" } else { "ldap" });
    let mut session = Session::new(peer, tls, client_cert);
    let mut bound = false;
    let mut framed = Framed::new(io, codec(bound));
    // Made once and polled again at every request: creating them per request registered a
    // waiter and a timer and took them back each time, about 5 % of a uid search's CPU.
    let evicted = slot.evicted.notified();
    let shutting_down = shutdown.changed();
    let idle = tokio::time::sleep(idle_limit(&limits, bound));
    tokio::pin!(evicted, shutting_down, idle);
    loop {
        let next = tokio::select! {
            biased;
            next = framed.next() => next,
            _ = &mut evicted => {
                let _ = framed.send(ops::notice_of_disconnection("the server needs this idle connection's slot")).await;
                return;
            }
            _ = &mut shutting_down => {
                let _ = framed.send(ops::notice_of_disconnection("the server is shutting down")).await;
                return;
            }
            _ = &mut idle => {
                tracing::debug!(%peer, "closing idle connection");
                return;
            }
        };
        let msg = match next {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => {
                // RFC 4511 4.4.1: a PDU that does not parse ends the session with a notice.
                tracing::debug!(%peer, error = %e, "closing connection: request does not decode");
                let _ = framed
                    .send(ops::notice_of_disconnection("the request does not decode"))
                    .await;
                return;
            }
            None => return,
        };
        // The one read of the clock for this request; everything below takes it as a value.
        let now = time::OffsetDateTime::now_utc();
        let (started, operation) = (Instant::now(), crate::observe::operation(&msg.op));
        let mut outcome = ops::dispatch(&ctx, &mut session, msg, now).await;
        // Every write must make progress within limits.write_seconds: a client that stops
        // reading is closed, and a streamed result is rendered only as fast as it is read.
        let stall = Duration::from_secs(limits.write_seconds);
        let messages = outcome
            .messages
            .drain(..)
            .chain(outcome.stream.take().into_iter().flatten());
        for m in messages {
            if let Some(result) = crate::observe::search_result(&m.op) {
                ctx.metrics
                    .search(crate::observe::principal(&session.principal), result);
            }
            if !matches!(within(stall, framed.feed(m)).await, Some(Ok(()))) {
                tracing::debug!(%peer, "closing connection: the client does not read");
                return;
            }
        }
        if !matches!(within(stall, framed.flush()).await, Some(Ok(()))) {
            return;
        }
        let finished = Instant::now();
        ctx.metrics
            .operation(operation, finished.duration_since(started).as_secs_f64());
        let now_bound = !matches!(session.principal, Principal::Anonymous);
        // Only unbound connections are ever evicted, by how long they have been idle: a bound
        // connection's activity need not be recorded (the table's lock is shared by all).
        if !now_bound || now_bound != bound {
            slot.touch(now_bound, finished);
        }
        if now_bound != bound {
            bound = now_bound;
            framed = reframe(framed, bound);
        }
        idle.as_mut()
            .reset(tokio::time::Instant::from_std(finished) + idle_limit(&limits, bound));
        match outcome.after {
            After::Continue => {}
            After::Close => return,
            After::StartTls => {
                let Some(acceptor) = acceptor.clone() else {
                    return;
                };
                let parts = framed.into_parts();
                if !parts.read_buf.is_empty() {
                    tracing::debug!(%peer, "closing connection: data sent before the TLS handshake");
                    return;
                }
                let handshake = Duration::from_secs(limits.handshake_seconds);
                match tokio::time::timeout(handshake, acceptor.accept(parts.io)).await {
                    Ok(Ok(stream)) => {
                        session.client_cert = crate::tls::client_fingerprint(stream.get_ref().1);
                        framed = Framed::new(Box::new(stream) as Box<dyn Io>, codec(bound));
                        session.tls = true;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "StartTLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "StartTLS handshake timed out");
                        return;
                    }
                }
            }
        }
    }
}
