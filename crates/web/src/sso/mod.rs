//! Single sign-on: the OpenID Connect provider's endpoints (issuer `http.public_url`).
//! `discovery` (configuration, JWKS), `login` (the login page and the session cookie),
//! `authorize` (codes, consent, refusal of members outside a client's population), `token`
//! (code and refresh grants, revocation), `userinfo`, `logout` (RP-initiated, front-channel).
//! The protocol logic is `piratenldap-oidc`; the store keeps sessions, codes and tokens; every
//! password and code goes through the `Authenticator`, as an LDAP bind does.
//!
//! **Invariant: no secret is logged or kept in clear**: session cookies, codes, tokens and
//! client secrets are stored as SHA-256 hashes and never appear in a log line.

mod authorize;
mod client;
mod discovery;
pub mod keyring;
mod login;
mod logout;
mod pages;
mod token;
mod userinfo;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use piratenldap_auth::{AuditSink, Authenticator};
use piratenldap_directory::Directory;
use piratenldap_oidc::secrets;
use piratenldap_store::oidc::{LiveSession, OidcStore};
use time::OffsetDateTime;

use crate::portal::texts::Lang;
pub use keyring::KeyRing;

/// Largest request body of a single sign-on endpoint (forms and token requests are small).
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest query string of an authorization request.
const MAX_QUERY_BYTES: usize = 4096;
/// Longest `state` or `nonce`.
const MAX_STATE_CHARS: usize = 512;
/// Lifetime of an authorization code.
const CODE_SECONDS: i64 = 60;

/// What the endpoints share.
pub struct Sso {
    /// The live directory (claims are read from its view) and the store.
    pub directory: Arc<Directory>,
    /// The authentication core.
    pub auth: Arc<Authenticator>,
    /// The audit trail.
    pub audit: AuditSink,
    /// The signing keys.
    pub keys: KeyRing,
    /// The key of pairwise subjects.
    pub pairwise_key: Vec<u8>,
    /// The issuer: `http.public_url` without a trailing slash.
    pub issuer: String,
    /// The organisation's name (page header).
    pub organisation: String,
    /// How long a login lasts.
    pub session: time::Duration,
    /// Lifetime of access and ID tokens.
    pub access_lifetime: time::Duration,
    /// The public URL is https: cookies are `__Host-` and `Secure`.
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Sso {
    fn store(&self) -> &dyn OidcStore {
        self.directory.store().oidc()
    }

    /// The session cookie's name.
    fn session_cookie(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-piratenldap_sso"
        } else {
            "piratenldap_sso"
        }
    }

    /// The CSRF cookie's name.
    fn csrf_cookie(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-piratenldap_sso_csrf"
        } else {
            "piratenldap_sso_csrf"
        }
    }

    /// `Set-Cookie` attributes shared by both cookies.
    fn cookie_attributes(&self) -> &'static str {
        if self.secure_cookies {
            "Path=/; HttpOnly; Secure"
        } else {
            "Path=/; HttpOnly"
        }
    }

    /// The live session of the browser that sent `headers`.
    pub(crate) async fn current_session(&self, headers: &HeaderMap, now: OffsetDateTime) -> Option<LiveSession> {
        let value = crate::portal::cookie(headers, self.session_cookie()).filter(|v| secrets::plausible(v))?;
        match self.store().session(&secrets::hash("session", &value), now).await {
            Ok(session) => session,
            Err(e) => {
                tracing::error!(error = %e, "reading a single sign-on session failed");
                None
            }
        }
    }

    /// Records an audit event.
    pub(crate) async fn audit(&self, now: OffsetDateTime, actor: &str, action: &str, subject: &str, detail: String) {
        self.audit.record(now, actor, action, subject, detail).await;
    }
}

/// The routes of single sign-on.
pub fn router(sso: Arc<Sso>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::configuration))
        .route("/oauth2/jwks", get(discovery::jwks))
        .route("/oauth2/authorize", get(authorize::authorize))
        .route("/oauth2/consent", post(authorize::consent))
        .route("/login", get(login::form).post(login::submit))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/revoke", post(token::revoke))
        .route("/oauth2/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/oauth2/logout", get(logout::logout).post(logout::confirm))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(sso)
}

/// Headers of responses that must not be cached (tokens, pages with CSRF values).
fn no_store(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `url` with `params` appended to its query.
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
    if encoded.is_empty() {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{encoded}")
}

/// A query string as pairs; `None` when a parameter repeats (RFC 6749 3.1) or it does not
/// decode.
fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    (names.len() == before).then_some(pairs)
}

/// The value of `name` among `pairs`.
fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The language of a request: `lang` if given, else Accept-Language, else German.
pub(crate) fn language(explicit: Option<&str>, headers: &HeaderMap) -> Lang {
    Lang::choose(
        explicit,
        headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    )
}

impl Sso {
    /// The CSRF value of this browser, or a new one.
    pub(crate) fn csrf(&self, headers: &HeaderMap) -> String {
        crate::portal::cookie(headers, self.csrf_cookie())
            .filter(|c| c.len() == 48 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(crate::portal::new_csrf)
    }

    /// Whether a form's `csrf` field matches this browser's CSRF cookie.
    pub(crate) fn csrf_ok(&self, headers: &HeaderMap, field: Option<&String>) -> bool {
        let cookie = crate::portal::cookie(headers, self.csrf_cookie());
        matches!((cookie, field), (Some(c), Some(f)) if c.len() == 48 && secrets::equal(c.as_bytes(), f.as_bytes()))
    }

    /// A page; with `csrf`, the CSRF cookie is (re)set.
    pub(crate) fn page(
        &self,
        status: StatusCode,
        lang: Lang,
        switch: Option<String>,
        title: &str,
        body: &str,
        csrf: Option<&str>,
    ) -> Response {
        let frame = pages::Frame {
            lang,
            organisation: &self.organisation,
            switch,
            frames: &[],
        };
        let mut res = pages::respond(status, &frame, title, body);
        if let Some(csrf) = csrf {
            self.set_cookie(&mut res, self.csrf_cookie(), csrf, "SameSite=Strict", None);
        }
        res
    }

    /// An error page (no redirect: the client or its redirect URI is not to be trusted).
    pub(crate) fn error_page(&self, status: StatusCode, lang: Lang, text: &str) -> Response {
        let w = pages::words(lang);
        self.page(status, lang, None, w.error_title, &pages::message(text), None)
    }

    /// Adds a `Set-Cookie`; `max_age` `Some(0)` deletes the cookie.
    pub(crate) fn set_cookie(
        &self,
        res: &mut Response,
        name: &str,
        value: &str,
        same_site: &str,
        max_age: Option<i64>,
    ) {
        let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
        let attrs = self.cookie_attributes();
        if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}; {attrs}; {same_site}{age}")) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// `next` if it is an authorization request of ours (the only place a login or consent
/// continues to), so no form can send a browser elsewhere; visible ASCII only, so it always
/// makes a valid `Location`.
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with("/oauth2/authorize?")
            && n.len() <= MAX_QUERY_BYTES + 32
            && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
    })
}
