//! The client certificate a browser presented, for the console's membership-admin pages
//! (DESIGN.md "Chapters"): either to our own HTTPS listener (the acceptor below records its
//! fingerprint per connection) or to a trusted reverse proxy that forwards it URL-encoded in
//! `X-SSL-Client-Cert` (nginx: `$ssl_client_escaped_cert`, see `ops/nginx/console.conf`).
//! The header is believed only from an address in `http.trusted_proxies`; whether the
//! certificate is ours, valid, unrevoked and held by the logged-in admin is the
//! authentication core's decision (`Authenticator::console_certificate`).

use std::io;
use std::net::IpAddr;

use axum::Extension;
use axum::http::HeaderMap;
use axum::middleware::AddExtension;
use axum_server::accept::Accept;
use axum_server::tls_rustls::RustlsAcceptor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tower::Layer;

/// Longest forwarded certificate header read (a PEM certificate of our CA is about 1 KiB).
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The SHA-256 fingerprint (lower-case hex) of the certificate presented on this TLS
/// connection, if any: a request extension set by [`CertificateAcceptor`].
#[derive(Debug, Clone, Default)]
pub struct PresentedCertificate(pub Option<String>);

/// The fingerprint of the certificate behind this request: from our own TLS handshake, or
/// from `X-SSL-Client-Cert` when the peer is a trusted proxy (and `X-SSL-Client-Verify`, if
/// sent, says `SUCCESS`).
pub fn presented(
    own: Option<&PresentedCertificate>,
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<String> {
    if let Some(PresentedCertificate(Some(fp))) = own {
        return Some(fp.clone());
    }
    if !trusted.contains(&peer) {
        return None;
    }
    if let Some(verify) = headers.get("x-ssl-client-verify")
        && verify.as_bytes() != b"SUCCESS"
    {
        return None;
    }
    let value = headers.get("x-ssl-client-cert")?.as_bytes();
    if value.is_empty() || value.len() > MAX_HEADER_BYTES {
        return None;
    }
    let pem: Vec<u8> = percent_encoding::percent_decode(value).collect();
    let der = CertificateDer::from_pem_slice(&pem).ok()?;
    Some(piratenldap_ca::fingerprint(der.as_ref()))
}

/// axum-server's rustls acceptor plus the [`PresentedCertificate`] of each connection.
#[derive(Clone)]
pub struct CertificateAcceptor {
    inner: RustlsAcceptor,
}

impl CertificateAcceptor {
    /// Wraps `inner`.
    pub fn new(inner: RustlsAcceptor) -> Self {
        Self { inner }
    }
}

impl<I, S> Accept<I, S> for CertificateAcceptor
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Send + 'static,
{
    type Stream = TlsStream<I>;
    type Service = AddExtension<S, PresentedCertificate>;
    type Future = std::pin::Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let acceptor = self.inner.clone();
        Box::pin(async move {
            let (stream, service) = acceptor.accept(stream, service).await?;
            let fingerprint = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| piratenldap_ca::fingerprint(cert.as_ref()));
            Ok((stream, Extension(PresentedCertificate(fingerprint)).layer(service)))
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";

    fn headers(cert: &str, verify: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        let escaped = percent_encoding::utf8_percent_encode(cert, percent_encoding::NON_ALPHANUMERIC).to_string();
        h.insert("x-ssl-client-cert", HeaderValue::from_str(&escaped).unwrap());
        if let Some(v) = verify {
            h.insert("x-ssl-client-verify", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        let want = piratenldap_ca::fingerprint(&[0x30, 0x03, 0x02, 0x01, 0x00]);
        let h = headers(PEM, None);
        assert_eq!(presented(None, proxy, &h, &[proxy]), Some(want.clone()));
        assert_eq!(presented(None, other, &h, &[proxy]), None);
        assert_eq!(
            presented(None, proxy, &headers(PEM, Some("SUCCESS")), &[proxy]),
            Some(want)
        );
        assert_eq!(
            presented(None, proxy, &headers(PEM, Some("FAILED:expired")), &[proxy]),
            None
        );
        assert_eq!(presented(None, proxy, &headers("garbage", None), &[proxy]), None);
        let huge = "A".repeat(MAX_HEADER_BYTES + 1);
        assert_eq!(presented(None, proxy, &headers(&huge, None), &[proxy]), None);
        // The own listener's certificate wins over any header.
        let own = PresentedCertificate(Some("ab".into()));
        assert_eq!(presented(Some(&own), other, &h, &[]), Some("ab".into()));
    }
}
