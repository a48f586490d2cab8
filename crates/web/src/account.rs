//! A member's own pages (`/account/`, DESIGN.md "HTTP"), on the single sign-on session:
//! `GET /account/` offers the member's own data, `GET /account/export` downloads it as JSON
//! (GDPR art. 15, the same document as `piratenldap member export`, from `auth::export`).
//! Without a session both send the browser to the login page.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use time::OffsetDateTime;

use crate::portal::html::esc;
use crate::portal::texts::Lang;
use crate::sso::Sso;

/// The routes of a member's own pages.
pub fn router(sso: Arc<Sso>) -> Router {
    Router::new()
        .route("/account/", get(home))
        .route("/account/export", get(export))
        .with_state(sso)
}

/// `GET /account/`.
async fn home(State(sso): State<Arc<Sso>>, headers: HeaderMap) -> Response {
    let lang = crate::sso::language(None, &headers);
    let Some(session) = sso.current_session(&headers, OffsetDateTime::now_utc()).await else {
        return Redirect::to("/login").into_response();
    };
    let (title, intro, link) = match lang {
        Lang::De => (
            "Mein Konto",
            "Hier kannst du alles herunterladen, was über dich gespeichert ist (Auskunft nach Art. 15 DSGVO): Mitgliedsdaten, Konto, Gruppen, Briefe, Zertifikate, zweiter Faktor und App-Passwörter (ohne Geheimnisse), das Protokoll und welche Dienste welche deiner Angaben sehen.",
            "Meine Daten herunterladen (JSON)",
        ),
        Lang::En => (
            "My account",
            "Download everything stored about you (GDPR art. 15): membership record, account, groups, letters, certificates, second factor and app passwords (without secrets), the audit trail, and which services see which of your data.",
            "Download my data (JSON)",
        ),
    };
    let body = format!(
        r#"<p><strong>{}</strong></p><p>{}</p><p><a href="/account/export">{}</a></p>"#,
        esc(session.uid.as_str()),
        esc(intro),
        esc(link)
    );
    sso.page(StatusCode::OK, lang, None, title, &body, None)
}

fn unavailable(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "Der Dienst ist gerade nicht erreichbar. Bitte versuche es gleich noch einmal.",
        Lang::En => "The service is unavailable right now. Please try again in a moment.",
    }
}

/// `GET /account/export`: the JSON document as a download, never cached.
async fn export(State(sso): State<Arc<Sso>>, headers: HeaderMap) -> Response {
    let lang = crate::sso::language(None, &headers);
    let now = OffsetDateTime::now_utc();
    let Some(session) = sso.current_session(&headers, now).await else {
        return Redirect::to("/login").into_response();
    };
    let store = sso.directory.store();
    let account = match store.account(&session.uid).await {
        Ok(Some(a)) => a,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading an account for its export failed");
            return sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, unavailable(lang));
        }
    };
    let view = sso.directory.view();
    match piratenldap_auth::export::member_export(store.as_ref(), &view, &account.member_number, now).await {
        Ok(doc) => {
            sso.audit(
                now,
                session.uid.as_str(),
                "member.export",
                session.uid.as_str(),
                "web".into(),
            )
            .await;
            let body = serde_json::to_string_pretty(&doc).unwrap_or_default();
            let mut res = (StatusCode::OK, body).into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"meine-daten.json\""),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "exporting a member's data failed");
            sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, unavailable(lang))
        }
    }
}
