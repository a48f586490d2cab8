//! `GET /oauth2/authorize` (the authorization code flow with PKCE) and `POST /oauth2/consent`.
//!
//! An unknown client or a redirect URI that is not registered exactly gets an error page,
//! never a redirect; every later error goes back to the client with `error`, `state` and
//! `iss` (RFC 9207). Without a live session the member is sent to `/login`, which continues
//! here; a member outside the client's population gets a page that says so; a client
//! registered with `--consent` asks once for exactly the claims it will receive.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use piratenldap_core::ids::Name;
use piratenldap_directory::View;
use piratenldap_oidc::claims::{self, Refused};
use piratenldap_oidc::{pkce, secrets};
use piratenldap_store::oidc::{Code, LiveSession, OidcClient};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{
    CODE_SECONDS, MAX_QUERY_BYTES, MAX_STATE_CHARS, Sso, language, pages, param, query_pairs, safe_next, with_query,
};
use crate::portal::texts::Lang;

/// How recent a login must be to answer `prompt=login`.
const FRESH_LOGIN_SECONDS: i64 = 60;

/// The client named `id`, or the error page to show.
async fn client(sso: &Sso, id: Option<&str>, lang: Lang) -> Result<OidcClient, Response> {
    let w = pages::words(lang);
    let Some(name) = id.and_then(|id| Name::parse(id).ok()) else {
        return Err(sso.error_page(StatusCode::BAD_REQUEST, lang, w.bad_client));
    };
    match sso.store().oidc_client(&name).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(sso.error_page(StatusCode::BAD_REQUEST, lang, w.bad_client)),
        Err(e) => {
            tracing::error!(error = %e, "reading an OpenID Connect client failed");
            Err(sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable))
        }
    }
}

/// The claims `client` receives about the session's member, read through its service's view.
pub(super) fn client_claims(
    sso: &Sso,
    view: &View,
    client: &OidcClient,
    uid: &str,
    scopes: &[&str],
) -> Result<Map<String, Value>, Refused> {
    let name = client.profile.name.as_str();
    let pairwise = client.registration.pairwise.then_some(sso.pairwise_key.as_slice());
    claims::claims(
        view,
        name,
        &view.layout.service_dn(name),
        &view.layout.person_dn(uid),
        scopes,
        pairwise,
    )
}

/// Counts `claims` delivered to `client` in the audit trail's real-name reads when they carry
/// a real name (a client with `--real-names`).
pub(super) fn count_real_name_reads(sso: &Sso, client: &OidcClient, claims: &Map<String, Value>) {
    let named = piratenldap_auth::reads::REAL_NAME_CLAIMS
        .iter()
        .any(|c| claims.contains_key(*c));
    if client.profile.real_names && named {
        sso.auth
            .count_real_name_reads(client.profile.name.as_str(), 1, OffsetDateTime::now_utc());
    }
}

/// `GET /oauth2/authorize`.
pub async fn authorize(State(sso): State<Arc<Sso>>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let query = query.unwrap_or_default();
    let fallback = language(None, &headers);
    let Some(pairs) = query_pairs(&query).filter(|_| query.len() <= MAX_QUERY_BYTES) else {
        return sso.error_page(StatusCode::BAD_REQUEST, fallback, pages::words(fallback).bad_client);
    };
    let p = |name: &str| param(&pairs, name);
    let ui = p("ui_locales").and_then(|l| l.split(' ').next()).or(p("lang"));
    let lang = language(ui, &headers);
    let w = pages::words(lang);
    let client = match client(&sso, p("client_id"), lang).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let Some(redirect_uri) = p("redirect_uri").filter(|r| client.registration.redirect_uris.iter().any(|u| u == r))
    else {
        return sso.error_page(StatusCode::BAD_REQUEST, lang, w.bad_redirect);
    };
    let state = p("state");
    let fail = |error: &str, description: &str| -> Response {
        let mut out = vec![("error", error), ("error_description", description)];
        if let Some(s) = state {
            out.push(("state", s));
        }
        out.push(("iss", sso.issuer.as_str()));
        Redirect::to(&with_query(redirect_uri, &out)).into_response()
    };
    if state.is_some_and(|s| s.len() > MAX_STATE_CHARS) || p("nonce").is_some_and(|n| n.len() > MAX_STATE_CHARS) {
        return fail("invalid_request", "state and nonce may have at most 512 characters");
    }
    if p("request").is_some() {
        return fail("request_not_supported", "request objects are not supported");
    }
    if p("request_uri").is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported");
    }
    if p("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code)",
        );
    }
    if p("response_mode").is_some_and(|m| m != "query") {
        return fail("invalid_request", "only response_mode=query");
    }
    let scopes = claims::granted(p("scope").unwrap_or(""));
    if !scopes.contains(&"openid") {
        return fail("invalid_scope", "the scope must include openid");
    }
    let public = client.registration.secret_hash.is_none();
    let challenge = match (p("code_challenge"), p("code_challenge_method")) {
        (None, None) if !public => None,
        (None, _) => {
            return fail(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method=S256",
            );
        }
        (Some(c), Some("S256")) if pkce::challenge_ok(c) => Some(c.to_string()),
        (Some(_), _) => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256 with a 43-character challenge",
            );
        }
    };
    if p("consent") == Some("denied") {
        return fail("access_denied", "the member did not agree");
    }
    let prompt: Vec<&str> = p("prompt").unwrap_or("").split(' ').filter(|s| !s.is_empty()).collect();
    if prompt.contains(&"none") && prompt.len() > 1 {
        return fail("invalid_request", "prompt=none cannot be combined with other values");
    }
    let now = OffsetDateTime::now_utc();
    let max_age = p("max_age").and_then(|m| m.parse::<i64>().ok());
    let fresh = |s: &LiveSession| {
        let age = (now - s.created_at).whole_seconds();
        (!prompt.contains(&"login") || age < FRESH_LOGIN_SECONDS) && max_age.is_none_or(|m| age <= m.max(0))
    };
    let session = match sso.current_session(&headers, now).await {
        Some(s) if fresh(&s) => s,
        _ if prompt.contains(&"none") => return fail("login_required", "the member is not logged in"),
        current => {
            // After the login the request continues without prompt and max_age: the new
            // session's auth_time answers them (else a short max_age would loop).
            let rest: Vec<(&str, &str)> = pairs
                .iter()
                .filter(|(k, _)| k != "prompt" && k != "max_age")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let next = with_query("/oauth2/authorize", &rest);
            let mut login = vec![("next", next.as_str()), ("lang", lang.code())];
            if current.is_some() {
                login.push(("reauth", "1"));
            }
            return Redirect::to(&with_query("/login", &login)).into_response();
        }
    };
    let view = sso.directory.view();
    let name = client.profile.name.as_str();
    let claims = match client_claims(&sso, &view, &client, session.uid.as_str(), &scopes) {
        Ok(c) => c,
        Err(Refused::NotInPopulation) if prompt.contains(&"none") => {
            return fail("access_denied", "this service is not open to the member");
        }
        Err(Refused::NotInPopulation) => {
            sso.audit(
                now,
                session.uid.as_str(),
                "sso.refused",
                name,
                "not in the client's population".into(),
            )
            .await;
            return sso.page(
                StatusCode::FORBIDDEN,
                lang,
                None,
                w.refused_title,
                &pages::message(w.refused),
                None,
            );
        }
        Err(Refused::UnknownClient) => return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable),
    };
    if client.registration.consent {
        let agreed = match sso.store().consent(&session.uid, &client.profile.name).await {
            Ok(a) => a.unwrap_or_default(),
            Err(e) => {
                tracing::error!(error = %e, "reading a consent failed");
                return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable);
            }
        };
        let items = consent_items(&claims, &scopes);
        if !items.iter().all(|(k, _)| agreed.contains(k)) {
            if prompt.contains(&"none") {
                return fail("consent_required", "the member has not agreed yet");
            }
            let csrf = sso.csrf(&headers);
            let next = format!("/oauth2/authorize?{query}");
            let body = pages::consent(lang, &csrf, &next, name, &items);
            return sso.page(StatusCode::OK, lang, None, w.consent_title, &body, Some(&csrf));
        }
    }
    let code = secrets::random();
    let stored = Code {
        code_hash: secrets::hash("code", &code),
        client: client.profile.name.clone(),
        session_hash: session.id_hash.clone(),
        redirect_uri: redirect_uri.to_string(),
        challenge,
        nonce: p("nonce").map(str::to_string),
        scope: scopes.join(" "),
        expires_at: now + time::Duration::seconds(CODE_SECONDS),
    };
    if let Err(e) = sso.store().create_code(&stored).await {
        tracing::error!(error = %e, "storing an authorization code failed");
        return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable);
    }
    sso.audit(
        now,
        session.uid.as_str(),
        "sso.code",
        name,
        format!("scope {}", stored.scope),
    )
    .await;
    let mut out = vec![("code", code.as_str())];
    if let Some(s) = state {
        out.push(("state", s));
    }
    out.push(("iss", sso.issuer.as_str()));
    Redirect::to(&with_query(redirect_uri, &out)).into_response()
}

/// What a member agrees to: every claim with its value, and `offline_access` (access while
/// the member is away) when the client asks for it.
fn consent_items(claims: &Map<String, Value>, scopes: &[&str]) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = claims.iter().map(|(k, v)| (k.clone(), shown(v))).collect();
    if scopes.contains(&"offline_access") {
        items.push(("offline_access".into(), "✓".into()));
    }
    items
}

/// A claim's value as the consent page shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// `POST /oauth2/consent`: allow (recorded, then the authorization request again) or deny.
pub async fn consent(
    State(sso): State<Arc<Sso>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let lang = language(Some(field("lang")), &headers);
    let w = pages::words(lang);
    let Some(next) = safe_next(Some(field("next"))) else {
        return sso.error_page(StatusCode::BAD_REQUEST, lang, w.bad_form);
    };
    if !sso.csrf_ok(&headers, form.get("csrf")) {
        return sso.error_page(StatusCode::FORBIDDEN, lang, w.bad_form);
    }
    if field("answer") != "allow" {
        return Redirect::to(&with_query(next, &[("consent", "denied")])).into_response();
    }
    let now = OffsetDateTime::now_utc();
    let Some(session) = sso.current_session(&headers, now).await else {
        return Redirect::to(&with_query("/login", &[("next", next), ("lang", lang.code())])).into_response();
    };
    let query = next.trim_start_matches("/oauth2/authorize?");
    let Some(pairs) = query_pairs(query) else {
        return sso.error_page(StatusCode::BAD_REQUEST, lang, w.bad_form);
    };
    let client = match client(&sso, param(&pairs, "client_id"), lang).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let scopes = claims::granted(param(&pairs, "scope").unwrap_or(""));
    let view = sso.directory.view();
    let Ok(claims) = client_claims(&sso, &view, &client, session.uid.as_str(), &scopes) else {
        // The authorization request shows why (refusal page).
        return Redirect::to(next).into_response();
    };
    let names: Vec<String> = consent_items(&claims, &scopes).into_iter().map(|(k, _)| k).collect();
    if let Err(e) = sso
        .store()
        .grant_consent(&session.uid, &client.profile.name, &names, now)
        .await
    {
        tracing::error!(error = %e, "storing a consent failed");
        return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable);
    }
    sso.audit(
        now,
        session.uid.as_str(),
        "sso.consent",
        client.profile.name.as_str(),
        format!("claims {}", names.join(",")),
    )
    .await;
    Redirect::to(next).into_response()
}
