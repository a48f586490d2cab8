//! Registering a service and renewing its credential: an LDAP bind account (a generated
//! password, hashed on the [`HashPool`]) or an OpenID Connect client (a random client secret,
//! stored as a hash, or none for a public client). The CLI's `service add|rotate-password` and
//! the admin console both call these, so the checks (attributes of the schema, redirect URIs)
//! and the credential shown once are the same whoever registers. Who may register what
//! (federal or chapter) is the caller's question (`admin_scope`); the store keeps the
//! chapter's rules (population, `members_of`).

use piratenldap_core::Dn;
use piratenldap_core::ids::Name;
use piratenldap_core::password::{PasswordError, generate_password};
use piratenldap_core::schema;
use piratenldap_directory::Layout;
use piratenldap_oidc::secrets;
use piratenldap_store::oidc::OidcRegistration;
use piratenldap_store::{ServiceProfile, Store, StoreError};
use time::OffsetDateTime;

use crate::HashPool;

/// Most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 16;
/// The longest redirect or logout URI.
pub const MAX_URI_CHARS: usize = 1024;

/// What kind of service to register.
#[derive(Debug, Clone)]
pub enum ServiceKind {
    /// An LDAP bind account.
    Ldap,
    /// An OpenID Connect client.
    Oidc(OidcRequest),
}

/// An OpenID Connect client's settings as an admin asks for them (checked on registration).
#[derive(Debug, Clone, Default)]
pub struct OidcRequest {
    /// Where the client receives codes (exact match; at least one).
    pub redirect_uris: Vec<String>,
    /// Front-channel logout URI.
    pub logout_uri: Option<String>,
    /// A public client: no secret, PKCE only.
    pub public: bool,
    /// A pairwise subject.
    pub pairwise: bool,
    /// Ask each member once before the client gets data.
    pub consent: bool,
}

/// A new service's credential: shown once, never stored in the clear.
#[derive(Clone, PartialEq, Eq)]
pub enum ServiceCredential {
    /// An LDAP bind account: its DN and generated password.
    Ldap {
        /// The bind DN.
        dn: Dn,
        /// The generated password.
        password: String,
    },
    /// An OpenID Connect client: its ID and, for a confidential client, its secret.
    Oidc {
        /// The client ID (the service's name).
        client_id: Name,
        /// The client secret; `None` for a public client.
        client_secret: Option<String>,
    },
}

/// Never prints the password or secret.
impl std::fmt::Debug for ServiceCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceCredential::Ldap { dn, .. } => write!(f, "Ldap {{ dn: {dn}, password: … }}"),
            ServiceCredential::Oidc {
                client_id,
                client_secret,
            } => write!(
                f,
                "Oidc {{ client_id: {client_id}, client_secret: {} }}",
                if client_secret.is_some() { "…" } else { "none" }
            ),
        }
    }
}

/// Why a service was not registered or its credential not renewed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The password could not be hashed.
    #[error(transparent)]
    Hash(#[from] PasswordError),
    /// The store refused or failed (name taken, unknown group, another chapter's group…).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registers a service with `profile` (its `chapter` limits the population to that chapter's
/// members; `pseudonymous` excludes real names and a pairwise subject, which it replaces) and
/// returns the credential to show once. The attribute list is checked against the
/// schema and made canonical; an OpenID Connect client needs 1–16 redirect URIs. One
/// transaction in the store: nothing is registered on any error.
pub async fn register_service(
    store: &dyn Store,
    pool: &HashPool,
    layout: &Layout,
    mut profile: ServiceProfile,
    kind: ServiceKind,
    now: OffsetDateTime,
) -> Result<ServiceCredential, ServiceError> {
    profile.attrs = profile.attrs.as_deref().map(canonical_attrs).transpose()?;
    if profile.pseudonymous && profile.real_names {
        return Err(ServiceError::Invalid(
            "a pseudonymous service cannot also read real names: choose one".into(),
        ));
    }
    if profile.pseudonymous && matches!(&kind, ServiceKind::Oidc(r) if r.pairwise) {
        return Err(ServiceError::Invalid(
            "--pseudonymous already gives the client its own subject per member: drop --pairwise".into(),
        ));
    }
    match kind {
        ServiceKind::Ldap => {
            let password = generate_password();
            let hash = pool.hash(&password).await?;
            store.add_service(&profile, &hash, now).await?;
            Ok(ServiceCredential::Ldap {
                dn: layout.service_dn(profile.name.as_str()),
                password,
            })
        }
        ServiceKind::Oidc(request) => {
            let redirect_uris = checked_uris(&request.redirect_uris, "redirect URI")?;
            if redirect_uris.is_empty() {
                return Err(ServiceError::Invalid(
                    "an OpenID Connect client needs at least one redirect URI".into(),
                ));
            }
            let logout_uri = match request.logout_uri {
                Some(u) => checked_uris(std::slice::from_ref(&u), "logout URI")?.pop(),
                None => None,
            };
            let secret = (!request.public).then(secrets::random);
            let registration = OidcRegistration {
                secret_hash: secret.as_deref().map(|s| secrets::hash("client", s)),
                redirect_uris,
                logout_uri,
                pairwise: request.pairwise,
                consent: request.consent,
            };
            store.oidc().add_oidc_client(&profile, &registration, now).await?;
            Ok(ServiceCredential::Oidc {
                client_id: profile.name,
                client_secret: secret,
            })
        }
    }
}

/// Gives a service a new credential (the old one stops working) and returns it to show once:
/// a new password for an LDAP bind account, a new secret for a confidential client. A public
/// client has no secret to renew.
pub async fn renew_service_credential(
    store: &dyn Store,
    pool: &HashPool,
    layout: &Layout,
    name: &Name,
    now: OffsetDateTime,
) -> Result<ServiceCredential, ServiceError> {
    if let Some(client) = store.oidc().oidc_client(name).await? {
        if client.registration.secret_hash.is_none() {
            return Err(ServiceError::Invalid(format!(
                "{name} is a public OpenID Connect client: it has no secret"
            )));
        }
        let secret = secrets::random();
        store
            .oidc()
            .set_oidc_secret(name, &secrets::hash("client", &secret), now)
            .await?;
        return Ok(ServiceCredential::Oidc {
            client_id: name.clone(),
            client_secret: Some(secret),
        });
    }
    let password = generate_password();
    let hash = pool.hash(&password).await?;
    store.set_service_password(name, &hash, now).await?;
    Ok(ServiceCredential::Ldap {
        dn: layout.service_dn(name.as_str()),
        password,
    })
}

/// Checks redirect and logout URIs (`what` names them in messages): at most
/// [`MAX_REDIRECT_URIS`], absolute https URLs (http only on this machine's loopback), without a
/// fragment or spaces, at most [`MAX_URI_CHARS`] characters.
pub fn checked_uris(uris: &[String], what: &str) -> Result<Vec<String>, ServiceError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(ServiceError::Invalid(format!("{what}: at most {MAX_REDIRECT_URIS}")));
    }
    for uri in uris {
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| {
                uri.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
            });
        let https = uri
            .strip_prefix("https://")
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        if !(https || loopback) {
            return Err(ServiceError::Invalid(format!(
                "{what} {uri}: must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1])"
            )));
        }
        if uri.contains('#') || uri.len() > MAX_URI_CHARS || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ServiceError::Invalid(format!(
                "{what} {uri}: no fragment, no spaces, at most {MAX_URI_CHARS} characters"
            )));
        }
    }
    Ok(uris.to_vec())
}

/// Checks attribute names against the schema and returns their canonical names, each once.
pub fn canonical_attrs(list: &[String]) -> Result<Vec<String>, ServiceError> {
    let mut out: Vec<String> = Vec::new();
    for a in list.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
        let Some(kind) = schema::attribute(a) else {
            return Err(ServiceError::Invalid(format!("attribute {a} is not in the schema")));
        };
        if kind.name() == "userPassword" {
            return Err(ServiceError::Invalid("userPassword is never readable".into()));
        }
        if !out.iter().any(|o| o == kind.name()) {
            out.push(kind.name().to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_checked_and_made_canonical() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            canonical_attrs(&list(&["mail", " UID ", "mail", ""])).unwrap_or_default(),
            list(&["mail", "uid"])
        );
        assert!(canonical_attrs(&list(&["nope"])).is_err());
        assert!(canonical_attrs(&list(&["userpassword"])).is_err());
    }

    #[test]
    fn redirect_uris_are_https_or_loopback() {
        let one = |u: &str| checked_uris(&[u.to_string()], "redirect URI");
        assert!(one("https://wiki.example.org/cb").is_ok());
        assert!(one("http://127.0.0.1:8080/cb").is_ok());
        assert!(one("http://localhost").is_ok());
        assert!(one("http://example.org/cb").is_err());
        assert!(one("http://localhost.evil.org/").is_err());
        assert!(one("https:///cb").is_err());
        assert!(one("https://a.example/cb#x").is_err());
        assert!(one(&format!("https://a.example/{}", "x".repeat(1100))).is_err());
        assert!(checked_uris(&vec!["https://a.example/".to_string(); 17], "redirect URI").is_err());
    }
}
