//! Client certificates for membership-administration access: issuing (key generated here or
//! taken from the holder's CSR), the CRL, and the PKCS#12 bundle browsers import.

use p12_keystore::{Certificate as P12Cert, KeyStore, KeyStoreEntry, LocalKeyId, PrivateKey, PrivateKeyChain};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, RevokedCertParams,
    SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::{CaError, Issued, random_serial_bytes};

/// Checks that a PEM CSR parses and its signature is valid.
pub fn check_csr(pem: &str) -> Result<(), CaError> {
    CertificateSigningRequestParams::from_pem(pem)?;
    Ok(())
}

/// What goes into a client certificate.
#[derive(Debug, Clone)]
pub struct ClientSpec<'a> {
    /// The account (CN).
    pub uid: &'a str,
    /// The role (OU).
    pub role: &'a str,
    /// The organisation (O).
    pub organisation: &'a str,
    /// E-mail address for the SAN, when known.
    pub email: Option<&'a str>,
    /// Validity in days.
    pub days: u32,
}

/// Where the holder's key comes from.
#[derive(Debug, Clone, Copy)]
pub enum KeySource<'a> {
    /// Generate a P-256 key here (the holder gets it in a PKCS#12 bundle).
    Generate,
    /// Use the public key of the holder's CSR (PEM); the CSR's subject and extensions are
    /// ignored: ours are set from the spec.
    Csr(&'a str),
}

/// An issued client certificate.
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Certificate, DER.
    pub cert_der: Vec<u8>,
    /// Private key, PKCS#8 PEM, when generated here. Secret.
    pub key_pem: Option<String>,
    /// Private key, PKCS#8 DER, when generated here. Secret.
    pub key_der: Option<Vec<u8>>,
    /// Serial, lower-case hex (32 digits).
    pub serial: String,
    /// SHA-256 fingerprint of the DER, lower-case hex.
    pub fingerprint: String,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
}

/// SHA-256 fingerprint of a DER certificate, lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn ca_parts(ca: &Issued) -> Result<(rcgen::Certificate, KeyPair), CaError> {
    let key = KeyPair::from_pem(&ca.key_pem)?;
    let cert = CertificateParams::from_ca_cert_pem(&ca.cert_pem)?.self_signed(&key)?;
    Ok((cert, key))
}

/// Issues a client certificate: EKU clientAuth, subject CN=uid/OU=role/O=organisation, SAN
/// email when known, 128-bit random serial, AKI/SKI.
pub fn issue_client_cert(
    ca: &Issued,
    spec: &ClientSpec<'_>,
    key: KeySource<'_>,
    now: OffsetDateTime,
) -> Result<ClientCert, CaError> {
    let (ca_cert, ca_key) = ca_parts(ca)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, spec.uid);
    dn.push(DnType::OrganizationalUnitName, spec.role);
    dn.push(DnType::OrganizationName, spec.organisation);
    params.distinguished_name = dn;
    if let Some(email) = spec.email {
        params.subject_alt_names = vec![SanType::Rfc822Name(email.try_into()?)];
    }
    params.is_ca = IsCa::ExplicitNoCa; // writes basicConstraints CA:FALSE and the SKI
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    // Whole seconds: certificates carry no fractions, and the store should match them exactly.
    let now = now.replace_nanosecond(0).unwrap_or(now);
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(i64::from(spec.days));
    let serial_bytes = random_serial_bytes();
    params.serial_number = Some(SerialNumber::from_slice(&serial_bytes));
    let (not_before, not_after) = (params.not_before, params.not_after);
    let (cert, key_pem, key_der) = match key {
        KeySource::Generate => {
            let holder = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
            let cert = params.signed_by(&holder, &ca_cert, &ca_key)?;
            (cert, Some(holder.serialize_pem()), Some(holder.serialize_der()))
        }
        KeySource::Csr(pem) => {
            let csr = CertificateSigningRequestParams::from_pem(pem)?;
            let cert = params.signed_by(&csr.public_key, &ca_cert, &ca_key)?;
            (cert, None, None)
        }
    };
    let cert_der = cert.der().to_vec();
    Ok(ClientCert {
        cert_pem: cert.pem(),
        fingerprint: fingerprint(&cert_der),
        cert_der,
        key_pem,
        key_der,
        serial: hex::encode(serial_bytes),
        not_before,
        not_after,
    })
}

/// One revoked certificate for the CRL.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// Serial, hex.
    pub serial: String,
    /// When it was revoked.
    pub at: OffsetDateTime,
}

/// Signs a CRL listing `revoked`, valid from `now` until `next_update`.
pub fn make_crl(
    ca: &Issued,
    revoked: &[Revoked],
    number: u64,
    now: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Result<String, CaError> {
    let (ca_cert, ca_key) = ca_parts(ca)?;
    let revoked_certs = revoked
        .iter()
        .map(|r| {
            let bytes =
                hex::decode(&r.serial).map_err(|_| CaError::Invalid(format!("serial {} is not hex", r.serial)))?;
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: r.at,
                reason_code: None,
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, CaError>>()?;
    let params = CertificateRevocationListParams {
        this_update: now,
        next_update,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    Ok(params.signed_by(&ca_cert, &ca_key)?.pem()?)
}

/// A passphrase-protected PKCS#12 bundle (AES-256, HMAC-SHA256) of the key, the certificate
/// and the CA, as openssl and browsers import it.
pub fn pkcs12(cert: &ClientCert, ca: &Issued, alias: &str, passphrase: &str) -> Result<Vec<u8>, CaError> {
    let key_der = cert
        .key_der
        .as_deref()
        .ok_or_else(|| CaError::Invalid("no private key to bundle (the holder made it)".into()))?;
    let ca_der = CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).map_err(|e| CaError::Invalid(e.to_string()))?;
    let p12 = |e: p12_keystore::error::Error| CaError::Invalid(format!("PKCS#12: {e}"));
    let chain = PrivateKeyChain::new(
        LocalKeyId(cert.fingerprint.as_bytes()[..20].to_vec()),
        PrivateKey::from_der(key_der).map_err(p12)?,
        [
            P12Cert::from_der(&cert.cert_der).map_err(p12)?,
            P12Cert::from_der(&ca_der).map_err(p12)?,
        ],
    );
    let mut store = KeyStore::new();
    store.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(passphrase).write().map_err(p12)
}
