//! Client authentication at the token and revocation endpoints (RFC 6749 2.3.1):
//! `client_secret_basic` (HTTP Basic, both parts form-encoded), `client_secret_post`, or, for
//! a public client, its `client_id` alone (its codes are bound by PKCE). A secret is compared
//! as a hash in constant time; it is 256 random bits, so guessing it needs no throttle.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use piratenldap_core::ids::Name;
use piratenldap_oidc::secrets;
use piratenldap_store::oidc::OidcClient;

use super::Sso;

/// Why a client did not authenticate (answered `invalid_client`).
#[derive(Debug)]
pub enum ClientError {
    /// No such client, a wrong or missing secret, or two methods at once.
    Invalid {
        /// HTTP Basic was used (the answer then carries `WWW-Authenticate`).
        basic: bool,
    },
    /// The store could not be read.
    Unavailable,
}

/// The client that sent the request.
pub async fn authenticate(
    sso: &Sso,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<OidcClient, ClientError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let invalid = ClientError::Invalid { basic: basic.is_some() };
    let (id, secret) = match basic {
        Some(b64) => {
            if form.contains_key("client_secret") {
                return Err(invalid);
            }
            let decoded = STANDARD
                .decode(b64.trim())
                .map_err(|_| ClientError::Invalid { basic: true })?;
            let text = String::from_utf8(decoded).map_err(|_| ClientError::Invalid { basic: true })?;
            let (id, secret) = text.split_once(':').ok_or(ClientError::Invalid { basic: true })?;
            let (id, secret) = (form_decoded(id), form_decoded(secret));
            let (Some(id), Some(secret)) = (id, secret) else {
                return Err(ClientError::Invalid { basic: true });
            };
            if form.get("client_id").is_some_and(|f| *f != id) {
                return Err(ClientError::Invalid { basic: true });
            }
            (id, Some(secret))
        }
        None => (
            form.get("client_id")
                .cloned()
                .ok_or(ClientError::Invalid { basic: false })?,
            form.get("client_secret").cloned(),
        ),
    };
    let name = Name::parse(&id).map_err(|_| ClientError::Invalid { basic: basic.is_some() })?;
    let client = match sso.store().oidc_client(&name).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(ClientError::Invalid { basic: basic.is_some() }),
        Err(e) => {
            tracing::error!(error = %e, "reading an OpenID Connect client failed");
            return Err(ClientError::Unavailable);
        }
    };
    let ok = match (&client.registration.secret_hash, secret) {
        (Some(stored), Some(given)) => {
            secrets::plausible(&given) && secrets::equal(secrets::hash("client", &given).as_bytes(), stored.as_bytes())
        }
        (None, None) => true,
        _ => false,
    };
    if ok {
        Ok(client)
    } else {
        Err(ClientError::Invalid { basic: basic.is_some() })
    }
}

/// One part of a Basic credential, form-decoded.
fn form_decoded(part: &str) -> Option<String> {
    if part.contains(['&', '=']) {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}
