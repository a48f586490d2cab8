//! The activation portal (`GET|POST /activate`): token → account → optional TOTP → done. The
//! same page takes a reset letter's token (issue 15): token → new password for the member's
//! account (uid shown, not chosen), optionally a new second factor → the same TOTP enrolment →
//! done. Every POST carries a CSRF value that must equal the portal's SameSite=Strict cookie; token
//! checks are rate-limited per address; the TOTP steps after activation are authorised by a
//! one-time ticket bound to the browser's cookie (`ticket.rs`). Nothing here logs form values.

pub(crate) mod html;
pub(crate) mod texts;
mod ticket;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use piratenldap_auth::HashPool;
use piratenldap_auth::activation::{ActivationError, ActivationInput, Field, Problem, activate, check_token};
use piratenldap_auth::reset::{ResetInput, reset};
use piratenldap_auth::second_factor;
use piratenldap_core::ids::Uid;
use piratenldap_core::metrics::Metrics;
use piratenldap_core::sealed::SealKey;
use piratenldap_core::totp;
use piratenldap_directory::Layout;
use piratenldap_store::{BucketPolicy, Conflict, SecondFactorReset, Store, StoreError, TokenKind, bucket_clock_ms};
use rand::RngCore;
use time::OffsetDateTime;

use crate::client_address::client_address;
use texts::{Lang, texts};
use ticket::{Step, Ticket};

/// Name of the CSRF cookie (also the cookie a TOTP ticket is bound to).
const CSRF_COOKIE: &str = "piratenldap_csrf";

/// What the portal needs.
pub struct Portal {
    /// The store.
    pub store: Arc<dyn Store>,
    /// HMAC key of tokens (also signs TOTP tickets).
    pub token_key: Vec<u8>,
    /// Seals TOTP secrets; without it the TOTP step is skipped.
    pub seal_key: Option<Arc<SealKey>>,
    /// The bounded argon2 pool (shared with the LDAP side).
    pub hasher: HashPool,
    /// The organisation's name (page header, TOTP issuer).
    pub organisation: String,
    /// Where accounts live.
    pub layout: Layout,
    /// Token attempts per minute and address.
    pub attempts_per_minute: u32,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Activations and throttle refusals are counted here.
    metrics: Arc<Metrics>,
}

impl Portal {
    /// A portal.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        token_key: Vec<u8>,
        seal_key: Option<Arc<SealKey>>,
        hasher: HashPool,
        organisation: String,
        layout: Layout,
        attempts_per_minute: u32,
        secure_cookies: bool,
        trusted_proxies: Vec<IpAddr>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Portal {
            metrics,
            store,
            token_key,
            seal_key,
            hasher,
            organisation,
            layout,
            attempts_per_minute,
            secure_cookies,
            trusted_proxies,
        }
    }

    /// Takes one attempt from the address's bucket, kept in the store so that every node
    /// counts the same attempts; false when it is empty. A store error lets the attempt
    /// through (and is logged): the token check right after it fails the same way anyway.
    async fn attempt(&self, ip: IpAddr, now: OffsetDateTime) -> bool {
        let policy = BucketPolicy {
            burst: self.attempts_per_minute,
            per_minute: self.attempts_per_minute,
        };
        match self
            .store
            .bucket_take(&format!("p:{ip}"), policy, bucket_clock_ms(now))
            .await
        {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!(error = %e, "portal rate limit unreadable; letting the attempt through");
                true
            }
        }
    }

    /// A ticket for `uid`'s `step`, bound to this browser's cookie.
    fn ticket(&self, uid: &Uid, step: Step, cookie: &str, now: OffsetDateTime) -> String {
        ticket::issue(&self.token_key, uid, step, cookie, now)
    }

    /// Uses a ticket: it must be signed for this cookie, open one of `steps`, be unexpired,
    /// and not used before (its nonce is taken now, so it never works twice).
    async fn use_ticket(&self, text: &str, cookie: &str, steps: &[Step], now: OffsetDateTime) -> Option<Ticket> {
        let t = ticket::check(&self.token_key, text, cookie, now).filter(|t| steps.contains(&t.step))?;
        match self.store.use_once(&t.nonce, t.expires, now).await {
            Ok(true) => Some(t),
            Ok(false) => None,
            Err(e) => {
                tracing::error!(error = %e, "recording a used TOTP ticket failed");
                None
            }
        }
    }
}

/// The value of cookie `name`.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// A new CSRF value (48 hex digits).
pub(crate) fn new_csrf() -> String {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A page with the security headers every portal response carries.
fn respond(portal: &Portal, status: StatusCode, lang: Lang, csrf: &str, body: &str) -> Response {
    let mut res = (
        status,
        axum::response::Html(html::page(lang, &portal.organisation, body)),
    )
        .into_response();
    let h = res.headers_mut();
    let secure = if portal.secure_cookies { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={csrf}; Path=/activate; HttpOnly; SameSite=Strict{secure}"
    )) {
        h.insert(header::SET_COOKIE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

/// `GET /activate`: the token form.
pub async fn get_activate(
    State(portal): State<Arc<Portal>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(
        q.get("lang").map(String::as_str),
        headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    let csrf = cookie(&headers, CSRF_COOKIE)
        .filter(|c| c.len() == 48)
        .unwrap_or_else(new_csrf);
    respond(
        &portal,
        StatusCode::OK,
        lang,
        &csrf,
        &html::token_form(lang, &csrf, "", &[], None),
    )
}

/// `POST /activate`: every step.
pub async fn post_activate(
    State(portal): State<Arc<Portal>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let lang = Lang::choose(
        Some(field("lang")),
        headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    );
    let t = texts(lang);
    let Some(csrf) = cookie(&headers, CSRF_COOKIE).filter(|c| c.len() == 48 && c == field("csrf")) else {
        let fresh = new_csrf();
        return respond(&portal, StatusCode::FORBIDDEN, lang, &fresh, &html::message(t.bad_form));
    };
    let now = OffsetDateTime::now_utc();
    let ok = |body: String| respond(&portal, StatusCode::OK, lang, &csrf, &body);
    let unprocessable = |body: String| respond(&portal, StatusCode::UNPROCESSABLE_ENTITY, lang, &csrf, &body);
    match field("step") {
        "token" | "account" | "reset"
            if !portal
                .attempt(client_address(peer.ip(), &headers, &portal.trusted_proxies), now)
                .await =>
        {
            portal.metrics.throttled("portal");
            respond(
                &portal,
                StatusCode::TOO_MANY_REQUESTS,
                lang,
                &csrf,
                &html::message(t.too_many),
            )
        }
        "token" => match check_token(portal.store.as_ref(), &portal.token_key, field("token"), now).await {
            Ok(checked) => match (checked.live.kind, checked.live.uid) {
                (TokenKind::Reset, Some(uid)) => ok(html::reset_form(
                    lang,
                    &csrf,
                    field("token"),
                    uid.as_str(),
                    portal.seal_key.is_some(),
                    &[],
                )),
                _ => ok(html::account_form(lang, &csrf, field("token"), "", "", &[])),
            },
            Err(ActivationError::Invalid(p)) => unprocessable(html::token_form(lang, &csrf, field("token"), &p, None)),
            Err(e) => internal(&portal, lang, &csrf, &e),
        },
        "account" => {
            let input = ActivationInput {
                token: field("token").to_string(),
                uid: field("uid").to_string(),
                display_name: field("display_name").to_string(),
                password: field("password").to_string(),
                password_again: field("password_again").to_string(),
            };
            match activate(portal.store.as_ref(), &portal.token_key, &portal.hasher, &input, now).await {
                Ok(account) => {
                    portal.metrics.activation("activated");
                    tracing::info!(uid = %account.uid, "account activated on the portal");
                    if portal.seal_key.is_some() {
                        ok(html::totp_offer(
                            lang,
                            &csrf,
                            &portal.ticket(&account.uid, Step::Offer, &csrf, now),
                        ))
                    } else {
                        ok(html::done(
                            lang,
                            &portal.layout.person_dn(account.uid.as_str()).to_string(),
                            false,
                        ))
                    }
                }
                Err(ActivationError::Invalid(p)) if token_problem(&p) => {
                    portal.metrics.activation("bad_token");
                    unprocessable(html::token_form(lang, &csrf, "", &p, None))
                }
                Err(ActivationError::Invalid(p)) => {
                    portal.metrics.activation("invalid_input");
                    unprocessable(html::account_form(
                        lang,
                        &csrf,
                        field("token"),
                        field("uid"),
                        field("display_name"),
                        &p,
                    ))
                }
                Err(e) => internal(&portal, lang, &csrf, &e),
            }
        }
        "reset" => reset_step(&portal, lang, &csrf, &form, now).await,
        step @ ("totp-start" | "totp-confirm" | "totp-skip") => {
            let steps: &[Step] = match step {
                "totp-start" => &[Step::Offer],
                "totp-confirm" => &[Step::Confirm],
                _ => &[Step::Offer, Step::Confirm],
            };
            let Some(ticket) = portal.use_ticket(field("ticket"), &csrf, steps, now).await else {
                return expired(&portal, StatusCode::UNPROCESSABLE_ENTITY, lang, &csrf);
            };
            let uid = ticket.uid;
            let dn = portal.layout.person_dn(uid.as_str()).to_string();
            match step {
                "totp-skip" => ok(html::done(lang, &dn, false)),
                "totp-start" => totp_start(&portal, lang, &csrf, &uid, now).await,
                _ => totp_confirm(&portal, lang, &csrf, &uid, field("code"), now).await,
            }
        }
        _ => respond(
            &portal,
            StatusCode::BAD_REQUEST,
            lang,
            &csrf,
            &html::message(t.bad_form),
        ),
    }
}

/// Whether the problems are with the token itself (so the member starts again with the token).
fn token_problem(problems: &[Problem]) -> bool {
    problems.iter().any(|p| p.field() == Field::Token)
}

/// The reset form's POST: a new password, and with "new second factor" the old one removed and
/// the enrolment started at once (the same step activation's "Set up TOTP" opens).
async fn reset_step(
    portal: &Portal,
    lang: Lang,
    csrf: &str,
    form: &HashMap<String, String>,
    now: OffsetDateTime,
) -> Response {
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let new_factor = portal.seal_key.is_some() && field("new_second_factor") == "on";
    let input = ResetInput {
        token: field("token").to_string(),
        password: field("password").to_string(),
        password_again: field("password_again").to_string(),
        second_factor: if new_factor {
            SecondFactorReset::Remove
        } else {
            SecondFactorReset::Keep
        },
    };
    let problems = match reset(portal.store.as_ref(), &portal.token_key, &portal.hasher, &input, now).await {
        Ok(uid) => {
            tracing::info!(uid = %uid, second_factor = new_factor, "password reset on the portal");
            if new_factor {
                return totp_start(portal, lang, csrf, &uid, now).await;
            }
            let dn = portal.layout.person_dn(uid.as_str()).to_string();
            return respond(portal, StatusCode::OK, lang, csrf, &html::reset_done(lang, &dn));
        }
        Err(ActivationError::Invalid(p)) => p,
        Err(e) => return internal(portal, lang, csrf, &e),
    };
    let page = if token_problem(&problems) {
        html::token_form(lang, csrf, "", &problems, None)
    } else {
        // The token is still live (nothing changed): show its account's form again.
        match check_token(portal.store.as_ref(), &portal.token_key, field("token"), now).await {
            Ok(checked) => match checked.live.uid {
                Some(uid) => html::reset_form(
                    lang,
                    csrf,
                    field("token"),
                    uid.as_str(),
                    portal.seal_key.is_some(),
                    &problems,
                ),
                None => html::token_form(lang, csrf, "", &[Problem::TokenUnusable], None),
            },
            Err(ActivationError::Invalid(p)) => html::token_form(lang, csrf, "", &p, None),
            Err(e) => return internal(portal, lang, csrf, &e),
        }
    };
    respond(portal, StatusCode::UNPROCESSABLE_ENTITY, lang, csrf, &page)
}

fn internal(portal: &Portal, lang: Lang, csrf: &str, e: &ActivationError) -> Response {
    tracing::error!(error = %e, "activation failed");
    let msg = if lang == Lang::De {
        "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut."
    } else {
        "An internal error occurred. Please try again later."
    };
    respond(
        portal,
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        csrf,
        &html::message(msg),
    )
}

fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build(),
        Err(_) => String::new(),
    }
}

/// Makes and shows a new secret; never replaces an active second factor (the store refuses).
async fn totp_start(portal: &Portal, lang: Lang, csrf: &str, uid: &Uid, now: OffsetDateTime) -> Response {
    let Some(key) = &portal.seal_key else {
        return respond(
            portal,
            StatusCode::OK,
            lang,
            csrf,
            &html::done(lang, &portal.layout.person_dn(uid.as_str()).to_string(), false),
        );
    };
    let secret = totp::generate_secret();
    match portal
        .store
        .set_totp_secret(uid, &key.seal(&secret), uid.as_str(), now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(Conflict::TotpActive(_))) => {
            return expired(portal, StatusCode::CONFLICT, lang, csrf);
        }
        Err(e) => return internal(portal, lang, csrf, &ActivationError::Store(e)),
    }
    setup_page(portal, StatusCode::OK, lang, csrf, uid, &secret, now)
}

/// The page that shows a secret for confirmation, with a new one-time ticket for that step.
fn setup_page(
    portal: &Portal,
    status: StatusCode,
    lang: Lang,
    csrf: &str,
    uid: &Uid,
    secret: &[u8],
    now: OffsetDateTime,
) -> Response {
    let ticket = portal.ticket(uid, Step::Confirm, csrf, now);
    let uri = totp::otpauth_uri(secret, &portal.organisation, uid.as_str());
    let wrong_code = status != StatusCode::OK;
    let body = html::totp_setup(
        lang,
        csrf,
        &ticket,
        &qr_svg(&uri),
        &totp::secret_base32(secret),
        wrong_code,
    );
    respond(portal, status, lang, csrf, &body)
}

/// "This step has expired": a used, foreign or old ticket, or a step that no longer applies.
fn expired(portal: &Portal, status: StatusCode, lang: Lang, csrf: &str) -> Response {
    respond(portal, status, lang, csrf, &html::message(texts(lang).expired_step))
}

async fn totp_confirm(portal: &Portal, lang: Lang, csrf: &str, uid: &Uid, code: &str, now: OffsetDateTime) -> Response {
    let dn = portal.layout.person_dn(uid.as_str()).to_string();
    let Some(key) = &portal.seal_key else {
        return respond(portal, StatusCode::OK, lang, csrf, &html::done(lang, &dn, false));
    };
    let account = match portal.store.account(uid).await {
        Ok(a) => a,
        Err(e) => return internal(portal, lang, csrf, &ActivationError::Store(e)),
    };
    let pending = account.filter(|a| !a.totp_enabled).and_then(|a| a.totp_secret);
    let Some(secret) = pending.and_then(|s| key.open(&s).ok()) else {
        return expired(portal, StatusCode::UNPROCESSABLE_ENTITY, lang, csrf);
    };
    if let Err(e) = second_factor::accept_code(portal.store.as_ref(), uid, &secret, code, now).await {
        if !matches!(e, second_factor::CodeError::Rejected) {
            tracing::error!(error = %e, "checking a TOTP code failed");
        }
        return setup_page(portal, StatusCode::UNPROCESSABLE_ENTITY, lang, csrf, uid, &secret, now);
    }
    if let Err(e) = portal.store.set_totp_enabled(uid, true, uid.as_str(), now).await {
        return internal(portal, lang, csrf, &ActivationError::Store(e));
    }
    respond(portal, StatusCode::OK, lang, csrf, &html::done(lang, &dn, true))
}
