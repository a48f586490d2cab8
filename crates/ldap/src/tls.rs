//! The server's TLS configuration (rustls): the certificate from [`ServerCert`] (swapped when
//! its files change) and the optional client certificate that SASL EXTERNAL maps.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::server_cert::ServerCert;
use sha2::{Digest, Sha256};

/// Why the TLS configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing or unreadable.
    #[error("cannot read {path}: {why}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// rustls refused the certificate or key.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// A certificate and key that cannot be used (not a pair, not valid now).
    #[error("{0}")]
    Refused(String),
}

/// Asks clients for a certificate without requiring one, and accepts any certificate at the TLS
/// layer while still checking that the client holds its key (the handshake signature is
/// verified by rustls' WebPKI verifier, which this wraps). Which certificate is valid for what
/// is decided at bind time: SASL EXTERNAL maps the certificate's fingerprint to the account it
/// was issued for and refuses revoked, expired and foreign ones with invalidCredentials. Written
/// by hand because rustls' verifiers either require a trusted chain (a foreign or expired
/// certificate would then fail the handshake, not the bind) or ask for no certificate at all.
#[derive(Debug)]
struct AskForClientCert {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for AskForClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The SHA-256 fingerprint (lower-case hex) of the client's certificate, if it sent one.
pub fn client_fingerprint(conn: &rustls::ServerConnection) -> Option<String> {
    let cert = conn.peer_certificates()?.first()?;
    Some(hex::encode(Sha256::digest(cert.as_ref())))
}

/// A rustls server configuration serving `cert`'s current pair; with `client_ca`, clients are
/// asked for a certificate issued by that CA (for SASL EXTERNAL).
pub fn server_config(cert: Arc<ServerCert>, client_ca: Option<&Path>) -> Result<Arc<ServerConfig>, TlsError> {
    let pem_err = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Pem {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let provider = cert.provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions()?;
    let config = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| pem_err(ca, e))? {
                roots.add(c.map_err(|e| pem_err(ca, e))?)?;
            }
            let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Pem {
                    path: ca.display().to_string(),
                    why: e.to_string(),
                })?;
            builder
                .with_client_cert_verifier(Arc::new(AskForClientCert { inner }))
                .with_cert_resolver(cert)
        }
        None => builder.with_no_client_auth().with_cert_resolver(cert),
    };
    Ok(Arc::new(config))
}
