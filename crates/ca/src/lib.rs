//! The internal certificate authority (rcgen, ECDSA P-256): the CA made at `init`, the
//! server certificate it signs for LDAPS/StartTLS, and client certificates with their CRL and
//! PKCS#12 bundles (`client.rs`).
//!
//! **Invariant: no file I/O here**; the caller stores the PEM strings (keys with mode 0600).

mod client;

pub use client::{
    ClientCert, ClientSpec, KeySource, Revoked, check_csr, fingerprint, issue_client_cert, make_crl, pkcs12,
};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// rcgen refused the parameters or the PEM (e.g. a CSR that does not parse).
    #[error("certificate error: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// Input that cannot be used.
    #[error("{0}")]
    Invalid(String),
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key, PKCS#8 PEM. Secret.
    pub key_pem: String,
}

/// How long the CA is valid.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// A CA that ends within this is warned about (`cert ca`, the serve log at start): a rollover
/// needs the time of the longest client certificate (`client_cert_days`) beside the old CA.
pub const CA_WARN_DAYS: i64 = 365;

/// What a certificate says about itself, for people.
#[derive(Debug, Clone)]
pub struct Described {
    /// Subject (RFC 4514 string).
    pub subject: String,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: String,
}

/// The DER of the first certificate of a PEM text (a chain file's end-entity certificate).
pub fn first_cert_der(pem: &str) -> Result<Vec<u8>, CaError> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|d| d.to_vec())
        .map_err(|e| CaError::Invalid(format!("not a PEM certificate: {e}")))
}

/// Reads the first certificate of a PEM text.
pub fn describe(cert_pem: &str) -> Result<Described, CaError> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| CaError::Invalid(format!("not a PEM certificate: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| CaError::Invalid(format!("not an X.509 certificate: {e}")))?;
    let validity = cert.validity();
    Ok(Described {
        subject: cert.subject().to_string(),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        fingerprint: fingerprint(der.as_ref()),
    })
}
/// How long a server certificate is valid.
pub const SERVER_VALIDITY_DAYS: i64 = 825;

/// 128 random bits for a serial: positive, and without a leading zero byte so that it keeps
/// its 16 bytes in DER.
fn random_serial_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    bytes
}

fn random_serial() -> SerialNumber {
    SerialNumber::from_slice(&random_serial_bytes())
}

/// Makes a new self-signed CA for the organisation (`init`).
pub fn create_ca(organisation: &str, now: OffsetDateTime) -> Result<Issued, CaError> {
    make_ca(format!("{organisation} piratenldap CA"), organisation, now)
}

/// Makes the CA that follows the current one (`cert ca rollover`): its name carries the date and
/// 32 random bits, so that it never shares a subject with a CA it is published beside, even
/// after two rollovers on one day (chain building and the CRL's issuer are matched by name).
pub fn create_successor_ca(organisation: &str, now: OffsetDateTime) -> Result<Issued, CaError> {
    let date = now.date();
    make_ca(
        format!(
            "{organisation} piratenldap CA {:04}-{:02}-{:02} {:08x}",
            date.year(),
            u8::from(date.month()),
            date.day(),
            rand::thread_rng().next_u32()
        ),
        organisation,
        now,
    )
}

/// Whether the private key of `ca` belongs to its certificate (a half-finished rollover or a
/// hand-copied file could pair them wrongly; signing with such a pair makes certificates and
/// CRLs no client verifies).
pub fn key_matches(ca: &Issued) -> Result<bool, CaError> {
    use rustls_pki_types::pem::PemObject;
    let key = KeyPair::from_pem(&ca.key_pem)?;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(ca.cert_pem.as_bytes())
        .map_err(|e| CaError::Invalid(format!("not a PEM certificate: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| CaError::Invalid(format!("not an X.509 certificate: {e}")))?;
    Ok(cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw())
}

fn make_ca(common_name: String, organisation: &str, now: OffsetDateTime) -> Result<Issued, CaError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, organisation);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(CA_VALIDITY_DAYS);
    params.serial_number = Some(random_serial());
    let cert = params.self_signed(&key)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Signs a TLS server certificate naming `hosts` (DNS names or IP addresses).
pub fn issue_server_cert(
    ca: &Issued,
    hosts: &[String],
    organisation: &str,
    now: OffsetDateTime,
) -> Result<Issued, CaError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem)?;
    let ca_cert = CertificateParams::from_ca_cert_pem(&ca.cert_pem)?.self_signed(&ca_key)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(hosts.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        hosts.first().cloned().unwrap_or_else(|| "localhost".into()),
    );
    dn.push(DnType::OrganizationName, organisation);
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(SERVER_VALIDITY_DAYS);
    params.serial_number = Some(random_serial());
    let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A new server certificate from `ca` for the names (subjectAltName) of `current` (DER) when
/// one of the installation's CAs issued it (its issuer is one of `issuers`, the subjects of the
/// current and retired CAs), as `init` made it; `None` for a certificate from elsewhere (e.g.
/// certbot's), which its own tooling renews.
pub fn renew_server_cert(
    ca: &Issued,
    issuers: &[String],
    current_der: &[u8],
    organisation: &str,
    now: OffsetDateTime,
) -> Result<Option<Issued>, CaError> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(current_der)
        .map_err(|e| CaError::Invalid(format!("not an X.509 certificate: {e}")))?;
    if !issuers.contains(&cert.issuer().to_string()) {
        return Ok(None);
    }
    let mut hosts = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => hosts.push((*d).to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => hosts.push(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()).to_string()),
                    16 => {
                        hosts.push(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()).to_string())
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    if hosts.is_empty() {
        return Err(CaError::Invalid(
            "the server certificate names no host to renew it for".into(),
        ));
    }
    issue_server_cert(ca, &hosts, organisation, now).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_cert_is_signed_by_the_ca() {
        let now = OffsetDateTime::now_utc();
        let ca = create_ca("Test Party", now).unwrap();
        let server = issue_server_cert(
            &ca,
            &["localhost".into(), "127.0.0.1".into(), "::1".into()],
            "Test Party",
            now,
        )
        .unwrap();
        assert!(server.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(server.key_pem.contains("PRIVATE KEY"));
        // The issuer of the server certificate is the CA's subject.
        let ca_params = CertificateParams::from_ca_cert_pem(&ca.cert_pem).unwrap();
        assert!(matches!(ca_params.is_ca, IsCa::Ca(_)));
        let described = describe(&ca.cert_pem).unwrap();
        assert_eq!(described.subject, "CN=Test Party piratenldap CA, O=Test Party");
        assert_eq!(
            described.not_after.unix_timestamp(),
            (now + Duration::days(CA_VALIDITY_DAYS)).unix_timestamp(),
            "{described:?}"
        );
        assert!(describe("garbage").is_err());

        // Renewed for the same names by the CA that issued it; another CA's is left alone.
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(server.cert_pem.as_bytes())
            .map(|d: rustls_pki_types::CertificateDer<'_>| d.to_vec())
            .unwrap();
        let ours = [described.subject.clone()];
        let renewed = renew_server_cert(&ca, &ours, &der, "Test Party", now).unwrap().unwrap();
        let names = |pem: &str| {
            let d: rustls_pki_types::CertificateDer<'_> =
                rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap();
            let (_, c) = x509_parser::parse_x509_certificate(d.as_ref()).unwrap();
            format!("{:?}", c.subject_alternative_name().unwrap().unwrap().value)
        };
        assert_eq!(names(&renewed.cert_pem), names(&server.cert_pem));
        assert_ne!(renewed.key_pem, server.key_pem);
        let other = create_ca("Other", now).unwrap();
        let theirs = [describe(&other.cert_pem).unwrap().subject];
        assert!(
            renew_server_cert(&other, &theirs, &der, "Test Party", now)
                .unwrap()
                .is_none()
        );
        // After a rollover the successor renews what the old CA issued.
        let next = create_successor_ca("Test Party", now).unwrap();
        assert_ne!(describe(&next.cert_pem).unwrap().subject, described.subject);
        let again = create_successor_ca("Test Party", now).unwrap();
        assert_ne!(
            describe(&again.cert_pem).unwrap().subject,
            describe(&next.cert_pem).unwrap().subject,
            "two rollovers on one day share a subject"
        );
        let both = [describe(&next.cert_pem).unwrap().subject, described.subject.clone()];
        assert!(
            renew_server_cert(&next, &both, &der, "Test Party", now)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_key_matches_only_its_own_certificate() {
        let now = OffsetDateTime::now_utc();
        let a = create_ca("Test Party", now).unwrap();
        let b = create_successor_ca("Test Party", now).unwrap();
        assert!(key_matches(&a).unwrap());
        assert!(key_matches(&b).unwrap());
        let crossed = Issued {
            cert_pem: a.cert_pem.clone(),
            key_pem: b.key_pem.clone(),
        };
        assert!(!key_matches(&crossed).unwrap());
    }
}
