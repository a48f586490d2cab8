//! `GET|POST /oauth2/userinfo`: the claims of the access token's member for its client, read
//! now through the client's view (a lock, a suspension or a changed profile shows at once).
//! The token comes in the `Authorization: Bearer` header only.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use piratenldap_oidc::secrets;
use time::OffsetDateTime;

use super::authorize::client_claims;
use super::{Sso, no_store};

fn refused(error: &'static str) -> Response {
    let mut res = StatusCode::UNAUTHORIZED.into_response();
    let value = format!("Bearer realm=\"piratenldap\", error=\"{error}\"");
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// The member's claims, or 401 with `WWW-Authenticate`.
pub async fn userinfo(State(sso): State<Arc<Sso>>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return refused("invalid_request");
    };
    if !secrets::plausible(token) {
        return refused("invalid_token");
    }
    let now = OffsetDateTime::now_utc();
    let live = match sso.store().access_token(&secrets::hash("access", token), now).await {
        Ok(Some(t)) => t,
        Ok(None) => return refused("invalid_token"),
        Err(e) => {
            tracing::error!(error = %e, "reading an access token failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let client = match sso.store().oidc_client(&live.client).await {
        Ok(Some(c)) => c,
        Ok(None) => return refused("invalid_token"),
        Err(e) => {
            tracing::error!(error = %e, "reading an OpenID Connect client failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let scopes: Vec<&str> = live.scope.split(' ').collect();
    let view = sso.directory.view();
    match client_claims(&sso, &view, &client, live.session.uid.as_str(), &scopes) {
        Ok(claims) => {
            super::authorize::count_real_name_reads(&sso, &client, &claims);
            let mut res = Json(claims).into_response();
            no_store(&mut res);
            res
        }
        Err(_) => refused("invalid_token"),
    }
}
