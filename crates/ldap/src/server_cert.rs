//! The server's certificate and key as one swappable pair (issue 19): rustls asks
//! [`ServerCert`] at every handshake, so LDAPS, StartTLS and HTTPS (which share the one
//! `ServerConfig`) hand the next client a replaced certificate while open connections keep the
//! one they began with. A new pair is taken only whole and sound: both files parse, the key is
//! the certificate's, and the certificate is valid now; otherwise the old pair stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::tls::TlsError;

/// SHA-256 over both files' bytes: what tells a changed pair from the one in use.
type Digest32 = [u8; 32];

/// What [`ServerCert::reload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The files hold the pair in use.
    Unchanged,
    /// The files hold the pair refused last time (not logged again).
    StillRefused,
    /// The new pair is in use; its subject and end of validity.
    Replaced {
        /// The end-entity certificate's subject.
        subject: String,
        /// Its notAfter.
        not_after: OffsetDateTime,
    },
}

/// A loaded pair: the key rustls signs with, what it came from, its certificate's summary.
struct Loaded {
    key: Arc<CertifiedKey>,
    digest: Digest32,
    subject: String,
    not_after: OffsetDateTime,
}

/// The certificate chain and key files, and the pair in use.
#[derive(Debug)]
pub struct ServerCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// Digest of the pair in use and of the last refused one.
    seen: Mutex<(Digest32, Option<Digest32>)>,
    not_after: RwLock<OffsetDateTime>,
}

impl ServerCert {
    /// Loads the pair at start; a bad pair is an error (the server does not start without one).
    pub fn load(cert: &Path, key: &Path, now: OffsetDateTime) -> Result<Arc<ServerCert>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let loaded = read_pair(cert, key, &provider, now)?;
        Ok(Arc::new(ServerCert {
            cert_path: cert.to_path_buf(),
            key_path: key.to_path_buf(),
            provider,
            current: RwLock::new(loaded.key),
            seen: Mutex::new((loaded.digest, None)),
            not_after: RwLock::new(loaded.not_after),
        }))
    }

    /// The crypto provider the pair was loaded with (the `ServerConfig` must use the same).
    pub fn provider(&self) -> Arc<CryptoProvider> {
        Arc::clone(&self.provider)
    }

    /// The certificate in use (DER).
    pub fn end_entity_der(&self) -> Option<Vec<u8>> {
        let key = self.current.read().ok()?;
        key.end_entity_cert().ok().map(|c| c.to_vec())
    }

    /// The notAfter of the certificate in use.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after.read().map_or(OffsetDateTime::UNIX_EPOCH, |t| *t)
    }

    /// The digest of the files as they are now (for a caller that waits for them to settle).
    pub fn files_digest(&self) -> Result<[u8; 32], TlsError> {
        let (cert, key) = (read(&self.cert_path)?, read(&self.key_path)?);
        Ok(digest(&cert, &key))
    }

    /// Reads the files and swaps in their pair if it changed and is sound. With `force` (SIGHUP)
    /// a refused pair is refused again with its error, else only the first time.
    pub fn reload(&self, now: OffsetDateTime, force: bool) -> Result<Reload, TlsError> {
        let files = self.files_digest()?;
        {
            let seen = self.seen.lock().map_err(|_| poisoned())?;
            if seen.0 == files {
                return Ok(Reload::Unchanged);
            }
            if seen.1 == Some(files) && !force {
                return Ok(Reload::StillRefused);
            }
        }
        match read_pair(&self.cert_path, &self.key_path, &self.provider, now) {
            Ok(loaded) => {
                *self.current.write().map_err(|_| poisoned())? = loaded.key;
                *self.not_after.write().map_err(|_| poisoned())? = loaded.not_after;
                *self.seen.lock().map_err(|_| poisoned())? = (loaded.digest, None);
                Ok(Reload::Replaced {
                    subject: loaded.subject,
                    not_after: loaded.not_after,
                })
            }
            Err(e) => {
                self.seen.lock().map_err(|_| poisoned())?.1 = Some(files);
                Err(e)
            }
        }
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|k| Arc::clone(&k))
    }
}

fn poisoned() -> TlsError {
    TlsError::Refused("the server certificate's lock was poisoned".into())
}

/// The largest certificate or key file read: a chain of a few certificates is a few KiB; the
/// files are polled every few seconds, so a mistaken huge file must not be read whole each time.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read;
    let err = |why: String| TlsError::Pem {
        path: path.display().to_string(),
        why,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| err(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(err(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    Ok(bytes)
}

fn digest(cert: &[u8], key: &[u8]) -> Digest32 {
    let mut h = Sha256::new();
    h.update((cert.len() as u64).to_be_bytes());
    h.update(cert);
    h.update(key);
    h.finalize().into()
}

/// Reads and checks a pair: a chain of at least one certificate, a key rustls can sign with that
/// belongs to the first certificate, which is valid at `now`.
fn read_pair(cert: &Path, key: &Path, provider: &CryptoProvider, now: OffsetDateTime) -> Result<Loaded, TlsError> {
    let (cert_bytes, key_bytes) = (read(cert)?, read(key)?);
    let pem_err = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Pem {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err(cert, e))?;
    let Some(end_entity) = chain.first() else {
        return Err(TlsError::Pem {
            path: cert.display().to_string(),
            why: "no certificate in the file".into(),
        });
    };
    let (subject, not_before, not_after) = validity(end_entity).map_err(|why| TlsError::Pem {
        path: cert.display().to_string(),
        why,
    })?;
    if now < not_before || now > not_after {
        return Err(TlsError::Refused(format!(
            "{} is valid from {not_before} to {not_after}, not now",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| pem_err(key, e))?;
    let certified = CertifiedKey::from_der(chain, private, provider).map_err(|e| {
        TlsError::Refused(format!(
            "{} and {} do not make a pair: {e}",
            cert.display(),
            key.display()
        ))
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        digest: digest(&cert_bytes, &key_bytes),
        subject,
        not_after,
    })
}

/// Subject, notBefore and notAfter of a DER certificate.
fn validity(der: &CertificateDer<'_>) -> Result<(String, OffsetDateTime, OffsetDateTime), String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
    let v = cert.validity();
    Ok((
        cert.subject().to_string(),
        v.not_before.to_datetime(),
        v.not_after.to_datetime(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed pair for `name`: (certificate PEM, key PEM).
    fn pair(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn served(cert: &ServerCert) -> Vec<u8> {
        cert.current.read().unwrap().end_entity_cert().unwrap().to_vec()
    }

    #[test]
    fn a_new_pair_is_taken_whole_and_a_bad_one_refused_once() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let write = |(cert, key): &(String, String)| {
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
        };
        let now = OffsetDateTime::now_utc();
        let first = pair("one.example");
        write(&first);
        let cert = ServerCert::load(&c, &k, now).unwrap();
        let old = served(&cert);
        assert_eq!(cert.reload(now, false).unwrap(), Reload::Unchanged);

        // The key of another certificate: refused with a clear reason, once; the old pair stays.
        let second = pair("two.example");
        std::fs::write(&c, &second.0).unwrap();
        let err = cert.reload(now, false).unwrap_err().to_string();
        assert!(err.contains("do not make a pair"), "{err}");
        assert_eq!(cert.reload(now, false).unwrap(), Reload::StillRefused);
        assert!(cert.reload(now, true).is_err(), "SIGHUP says it again");
        assert_eq!(served(&cert), old);

        // Too large to be a certificate: refused without reading it whole.
        std::fs::write(&c, vec![b'A'; 2 * 1024 * 1024]).unwrap();
        assert!(cert.reload(now, false).unwrap_err().to_string().contains("larger than"));
        assert_eq!(served(&cert), old);

        // Not PEM at all.
        std::fs::write(&c, "garbage").unwrap();
        assert!(cert.reload(now, false).is_err());
        assert_eq!(served(&cert), old);

        // A sound pair, but not valid at the time asked (after its notAfter): refused, and
        // retried by polling only when the files change, by SIGHUP at once.
        write(&second);
        let far = now.replace_year(4200).unwrap();
        assert!(cert.reload(far, false).unwrap_err().to_string().contains("not now"));
        assert_eq!(cert.reload(now, false).unwrap(), Reload::StillRefused);
        assert_eq!(served(&cert), old);
        assert!(matches!(cert.reload(now, true).unwrap(), Reload::Replaced { .. }));
        assert_ne!(served(&cert), old);
        assert_eq!(cert.reload(now, false).unwrap(), Reload::Unchanged);
    }
}
