//! `GET|POST /oauth2/logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)
//! with front-channel logout of every client the session signed in to.
//!
//! With an `id_token_hint` this provider signed for the browser's session, the session ends at
//! once; otherwise the member is asked (a form with a CSRF value), so no other site can log a
//! member out. `post_logout_redirect_uri` is followed only for a known client, and only to one
//! of its redirect URIs or their origins.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use piratenldap_core::ids::Name;
use time::OffsetDateTime;

use super::{MAX_QUERY_BYTES, MAX_STATE_CHARS, Sso, language, pages, query_pairs, with_query};

/// `GET /oauth2/logout`.
pub async fn logout(State(sso): State<Arc<Sso>>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let query = query.unwrap_or_default();
    let pairs = query_pairs(&query)
        .filter(|_| query.len() <= MAX_QUERY_BYTES)
        .unwrap_or_default();
    let params: HashMap<String, String> = pairs.into_iter().collect();
    handle(&sso, &params, &headers, false).await
}

/// `POST /oauth2/logout`: the member's answer to the question (or a client's POST).
pub async fn confirm(
    State(sso): State<Arc<Sso>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let confirmed = sso.csrf_ok(&headers, form.get("csrf"));
    handle(&sso, &form, &headers, confirmed).await
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
fn origin(url: &str) -> Option<&str> {
    let rest = url.find("://")? + 3;
    let end = url[rest..].find(['/', '?', '#']).map_or(url.len(), |i| rest + i);
    Some(&url[..end])
}

async fn handle(sso: &Sso, params: &HashMap<String, String>, headers: &HeaderMap, confirmed: bool) -> Response {
    let p = |k: &str| params.get(k).map(String::as_str);
    let ui = p("ui_locales").and_then(|l| l.split(' ').next()).or(p("lang"));
    let lang = language(ui, headers);
    let w = pages::words(lang);
    let now = OffsetDateTime::now_utc();
    let hint = p("id_token_hint").and_then(|t| sso.keys.get().verify_own(t, &sso.issuer));
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.get("aud"))
        .and_then(|a| a.as_str())
        .map(str::to_string);
    // A client_id that contradicts the hint's audience names no client (no redirect).
    let contradicts = matches!((&hinted_client, p("client_id")), (Some(h), Some(c)) if h != c);
    let client_id = if contradicts {
        None
    } else {
        hinted_client.as_deref().or(p("client_id"))
    };
    let client = match client_id.and_then(|id| Name::parse(id).ok()) {
        Some(name) => sso.store().oidc_client(&name).await.ok().flatten(),
        None => None,
    };
    let next = p("post_logout_redirect_uri").filter(|uri| {
        client.as_ref().is_some_and(|c| {
            c.registration
                .redirect_uris
                .iter()
                .any(|r| r == uri || origin(r).is_some_and(|o| origin(uri) == Some(o)))
        })
    });
    let state = p("state").filter(|s| s.len() <= MAX_STATE_CHARS);
    let next = next.map(|n| match state {
        Some(s) => with_query(n, &[("state", s)]),
        None => n.to_string(),
    });
    let session = sso.current_session(headers, now).await;
    let hinted_sid = hint.as_ref().and_then(|c| c.get("sid")).and_then(|s| s.as_str());
    let Some(session) = session else {
        let mut res = sso.page(
            StatusCode::OK,
            lang,
            None,
            w.logout_title,
            &pages::logged_out(lang, &[], next.as_deref()),
            None,
        );
        sso.set_cookie(&mut res, sso.session_cookie(), "", "SameSite=Lax", Some(0));
        return res;
    };
    if !confirmed && hinted_sid != Some(session.sid.as_str()) {
        let csrf = sso.csrf(headers);
        let carry: Vec<(String, String)> = ["post_logout_redirect_uri", "state", "client_id", "id_token_hint"]
            .iter()
            .filter_map(|k| p(k).map(|v| ((*k).to_string(), v.to_string())))
            .chain(hinted_client.map(|c| ("client_id".to_string(), c)))
            .collect();
        let body = pages::logout_question(lang, &csrf, &carry);
        return sso.page(StatusCode::OK, lang, None, w.logout_title, &body, Some(&csrf));
    }
    let clients = match sso.store().end_session(&session.id_hash, now).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "ending a session failed");
            return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable);
        }
    };
    let everywhere = confirmed && p("everywhere") == Some("1");
    if everywhere && let Err(e) = sso.store().end_sessions_of(&session.uid, now).await {
        tracing::error!(error = %e, "ending every session of a member failed");
    }
    let mut frames = Vec::new();
    let mut origins = Vec::new();
    for name in &clients {
        if let Ok(Some(c)) = sso.store().oidc_client(name).await
            && let Some(uri) = &c.registration.logout_uri
        {
            frames.push(with_query(
                uri,
                &[("iss", sso.issuer.as_str()), ("sid", session.sid.as_str())],
            ));
            if let Some(o) = origin(uri) {
                origins.push(o.to_string());
            }
        }
    }
    let uid = session.uid.as_str();
    let detail = format!(
        "clients {}{}",
        clients.iter().map(Name::as_str).collect::<Vec<_>>().join(","),
        if everywhere { "; every device" } else { "" }
    );
    sso.audit(now, uid, "sso.logout", uid, detail).await;
    let frame = pages::Frame {
        lang,
        organisation: &sso.organisation,
        switch: None,
        frames: &origins,
    };
    let mut res = pages::respond(
        StatusCode::OK,
        &frame,
        w.logout_title,
        &pages::logged_out(lang, &frames, next.as_deref()),
    );
    sso.set_cookie(&mut res, sso.session_cookie(), "", "SameSite=Lax", Some(0));
    res
}
