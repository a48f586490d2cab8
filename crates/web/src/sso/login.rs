//! `GET|POST /login`: username, password and (where the account has one) the TOTP code,
//! checked by the `Authenticator` exactly as an LDAP bind with password and code, on the same
//! throttle and audit trail; app passwords and services never log in here. A success starts a
//! session (a random cookie, stored as its hash) and continues to the authorization request
//! that sent the member here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use piratenldap_core::ids::Uid;
use piratenldap_directory::Principal;
use piratenldap_oidc::secrets;
use piratenldap_store::oidc::NewSession;
use time::OffsetDateTime;

use super::{Sso, language, pages, safe_next, with_query};
use crate::client_address::client_address;

/// The login page with `next` kept for after it.
fn switch(next: Option<&str>, lang: crate::portal::texts::Lang) -> String {
    let other = if lang.code() == "de" { "en" } else { "de" };
    match next {
        Some(n) => with_query("/login", &[("next", n), ("lang", other)]),
        None => with_query("/login", &[("lang", other)]),
    }
}

/// `GET /login`.
pub async fn form(
    State(sso): State<Arc<Sso>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = language(q.get("lang").map(String::as_str), &headers);
    let next = safe_next(q.get("next").map(String::as_str));
    let w = pages::words(lang);
    // `reauth`: the client asked for a fresh login (prompt=login, max_age) despite a session.
    let reauth = q.get("reauth").is_some_and(|r| r == "1");
    if let Some(session) = sso.current_session(&headers, OffsetDateTime::now_utc()).await
        && !reauth
    {
        if let Some(next) = next {
            return Redirect::to(next).into_response();
        }
        return sso.page(
            StatusCode::OK,
            lang,
            None,
            w.login_title,
            &pages::logged_in(lang, session.uid.as_str()),
            None,
        );
    }
    let csrf = sso.csrf(&headers);
    let body = pages::login_form(lang, &csrf, next.unwrap_or(""), "", false);
    sso.page(
        StatusCode::OK,
        lang,
        Some(switch(next, lang)),
        w.login_title,
        &body,
        Some(&csrf),
    )
}

/// `POST /login`.
pub async fn submit(
    State(sso): State<Arc<Sso>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let lang = language(Some(field("lang")), &headers);
    let w = pages::words(lang);
    let next = safe_next(Some(field("next")));
    if !sso.csrf_ok(&headers, form.get("csrf")) {
        let csrf = crate::portal::new_csrf();
        let body = format!(
            "{}{}",
            pages::message(w.bad_form),
            pages::login_form(lang, &csrf, next.unwrap_or(""), "", false)
        );
        return sso.page(StatusCode::FORBIDDEN, lang, None, w.login_title, &body, Some(&csrf));
    }
    let csrf = field("csrf").to_string();
    let now = OffsetDateTime::now_utc();
    let username = field("username").trim().to_ascii_lowercase();
    let username = username.as_str();
    let from = client_address(peer.ip(), &headers, &sso.trusted_proxies);
    let view = sso.directory.view();
    let authenticated = match Uid::parse(username) {
        Ok(uid) => {
            let dn = view.layout.person_dn(uid.as_str());
            let found = sso
                .auth
                .web_login(&view, &dn, field("password"), field("code"), from, now)
                .await;
            found
                .filter(|a| matches!(a.principal, Principal::Member { .. } | Principal::Admin { .. }))
                .map(|a| (uid, a.method))
        }
        Err(_) => None,
    };
    let Some((uid, method)) = authenticated else {
        let body = pages::login_form(lang, &csrf, next.unwrap_or(""), username, true);
        return sso.page(StatusCode::UNAUTHORIZED, lang, None, w.login_title, &body, Some(&csrf));
    };
    // A login in a browser that holds another session ends that one first.
    if let Some(cookie) = crate::portal::cookie(&headers, sso.session_cookie()).filter(|c| secrets::plausible(c))
        && let Err(e) = sso.store().end_session(&secrets::hash("session", &cookie), now).await
    {
        tracing::error!(error = %e, "ending the previous session failed");
    }
    let id = secrets::random();
    let session = NewSession {
        id_hash: secrets::hash("session", &id),
        sid: secrets::random(),
        uid: uid.clone(),
        method: method.to_string(),
        created_at: now,
        expires_at: now + sso.session,
    };
    if let Err(e) = sso.store().create_session(&session).await {
        tracing::error!(error = %e, "storing a single sign-on session failed");
        return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable);
    }
    // The view may be a moment behind the store: a session of an account locked (or a member
    // suspended) since is not live, and the login fails as any other.
    match sso.store().session(&session.id_hash, now).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let body = pages::login_form(lang, &csrf, next.unwrap_or(""), username, true);
            return sso.page(StatusCode::UNAUTHORIZED, lang, None, w.login_title, &body, Some(&csrf));
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a new single sign-on session failed");
            return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable);
        }
    }
    sso.audit(
        now,
        uid.as_str(),
        "sso.session",
        uid.as_str(),
        format!("from {from} by {method}"),
    )
    .await;
    let mut res = match next {
        Some(next) => Redirect::to(next).into_response(),
        None => Redirect::to(&with_query("/login", &[("lang", lang.code())])).into_response(),
    };
    let max_age = sso.session.whole_seconds();
    sso.set_cookie(&mut res, sso.session_cookie(), &id, "SameSite=Lax", Some(max_age));
    res
}
