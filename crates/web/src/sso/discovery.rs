//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0) and `GET
//! /oauth2/jwks`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use piratenldap_oidc::claims::{CLAIMS, SCOPES};
use serde_json::json;

use super::Sso;

/// The provider's metadata: every endpoint and what it supports.
pub async fn configuration(State(sso): State<Arc<Sso>>) -> Response {
    let i = &sso.issuer;
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    cached(Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth2/authorize"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "userinfo_endpoint": format!("{i}/oauth2/userinfo"),
        "jwks_uri": format!("{i}/oauth2/jwks"),
        "revocation_endpoint": format!("{i}/oauth2/revoke"),
        "end_session_endpoint": format!("{i}/oauth2/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
        "claims_supported": CLAIMS,
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["de", "en"],
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })))
}

/// The public signing keys (the current one and those inside their overlap).
pub async fn jwks(State(sso): State<Arc<Sso>>) -> Response {
    cached(Json(sso.keys.get().jwks()))
}

/// Short public caching: clients re-read within minutes of a key rotation.
fn cached(body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}
