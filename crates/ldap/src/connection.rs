//! One client connection: framing (ldap3_proto's codec), the request loop, the StartTLS
//! upgrade, idle timeout and shutdown. The operations themselves live in `ops`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Framed;

use crate::ops::{self, After};
use crate::session::{Context, Session};

/// Largest LDAP message accepted from a client.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// A connection with no request for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// A byte stream, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn codec() -> LdapCodec {
    LdapCodec::new(Some(MAX_MESSAGE_BYTES), None)
}

/// Serves one connection until the client unbinds or disconnects, it idles out, a PDU does not
/// decode, or the server shuts down.
pub async fn serve_connection(
    ctx: Arc<Context>,
    io: Box<dyn Io>,
    peer: SocketAddr,
    tls: bool,
    client_cert: Option<String>,
    acceptor: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut session = Session::new(peer, tls, client_cert);
    let mut framed = Framed::new(io, codec());
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(IDLE_TIMEOUT, framed.next()) => next,
            _ = shutdown.changed() => {
                let _ = framed.send(ops::notice_of_disconnection("the server is shutting down")).await;
                return;
            }
        };
        let msg = match next {
            Ok(Some(Ok(msg))) => msg,
            Ok(Some(Err(e))) => {
                tracing::debug!(%peer, error = %e, "closing connection: request does not decode");
                return;
            }
            Ok(None) => return,
            Err(_) => {
                tracing::debug!(%peer, "closing idle connection");
                return;
            }
        };
        // The one read of the clock for this request; everything below takes it as a value.
        let now = time::OffsetDateTime::now_utc();
        let outcome = ops::dispatch(&ctx, &mut session, msg, now).await;
        for m in outcome.messages {
            if framed.feed(m).await.is_err() {
                return;
            }
        }
        if framed.flush().await.is_err() {
            return;
        }
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
                match acceptor.accept(parts.io).await {
                    Ok(stream) => {
                        session.client_cert = crate::tls::client_fingerprint(stream.get_ref().1);
                        framed = Framed::new(Box::new(stream) as Box<dyn Io>, codec());
                        session.tls = true;
                    }
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "StartTLS handshake failed");
                        return;
                    }
                }
            }
        }
    }
}
