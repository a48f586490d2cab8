//! Who is at the console and what they have shown: every console handler starts with a
//! [`Caller`] (the request's headers, peer, TLS client certificate, language and time) and
//! turns it into an [`Admin`] through [`Caller::admin`], which checks the single sign-on
//! session (opened with TOTP), the admin role, and for membership-admin pages the client
//! certificate (the authentication core decides it). The `Admin` renders pages, checks forms
//! (CSRF, confirmation) and refuses with a reason, audited.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use piratenldap_auth::admin_scope::{Action, Actor, ChapterGrant, Refusal, Role, Target, decide};
use piratenldap_core::ids::{StateCode, Uid};
use piratenldap_directory::{Principal, View};
use time::OffsetDateTime;

use super::Console;
use super::html;
use super::words::{Words, words};
use crate::client_certificate::{PresentedCertificate, presented};
use crate::portal::texts::Lang;
use crate::sso::Sso;

/// The cookie that keeps the console's language once chosen with `?lang=`.
const LANG_COOKIE: &str = "piratenldap_console_lang";

/// What a page needs besides an admin's session with TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The session is enough (role, groups, services, certificate requests).
    Session,
    /// A page that shows or changes member records: also the admin's own client certificate.
    Certificate,
}

/// The request as the console sees it.
pub struct Caller {
    headers: HeaderMap,
    peer: IpAddr,
    own_certificate: Option<PresentedCertificate>,
    lang: Lang,
    chosen: bool,
    path: String,
    now: OffsetDateTime,
}

impl FromRequestParts<Arc<Console>> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Console>) -> Result<Self, Self::Rejection> {
        let query: HashMap<String, String> = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        let explicit = query.get("lang").map(String::as_str);
        let remembered = crate::portal::cookie(&parts.headers, LANG_COOKIE);
        let lang = crate::sso::language(explicit.or(remembered.as_deref()), &parts.headers);
        Ok(Caller {
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
            own_certificate: parts.extensions.get::<PresentedCertificate>().cloned(),
            lang,
            chosen: matches!(explicit, Some("de" | "en")),
            path: parts.uri.path().to_string(),
            headers: parts.headers.clone(),
            now: OffsetDateTime::now_utc(),
        })
    }
}

impl Caller {
    /// The acting admin: a live session opened with password and TOTP whose account is a
    /// federal or chapter admin, with the admin's own valid client certificate when `need`
    /// says so; otherwise the page to show instead (login, or 403 with the reason).
    pub async fn admin(self, console: &Arc<Console>, need: Need) -> Result<Admin, Response> {
        let sso = &console.sso;
        let Some(session) = sso.current_session(&self.headers, self.now).await else {
            return Err(Redirect::to("/login").into_response());
        };
        let view = sso.directory.view();
        let dn = view.layout.person_dn(session.uid.as_str());
        let federal = matches!(
            view.credential(&dn).map(|c| &c.principal),
            Some(Principal::Admin { .. })
        );
        let grants = match sso.directory.store().chapter_admins().await {
            Ok(grants) => grants,
            Err(e) => {
                tracing::error!(error = %e, "reading chapter admins failed");
                let text = words(self.lang).unavailable;
                return Err(sso.error_page(StatusCode::SERVICE_UNAVAILABLE, self.lang, text));
            }
        };
        let chapter_admins: HashSet<Uid> = grants.iter().map(|g| g.uid.clone()).collect();
        let role = if federal {
            Role::Federal
        } else {
            Role::Chapters(
                grants
                    .into_iter()
                    .filter(|g| g.uid == session.uid)
                    .map(|g| {
                        (
                            g.chapter,
                            ChapterGrant {
                                real_names: g.real_names,
                            },
                        )
                    })
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let admin = Admin {
            chapter_admins,
            actor: Actor {
                uid: session.uid.clone(),
                role,
            },
            csrf: sso.csrf(&self.headers),
            view,
            console: Arc::clone(console),
            caller: self,
        };
        let w = admin.words();
        if matches!(&admin.actor.role, Role::Chapters(c) if c.is_empty()) {
            let why = Refusal(format!("{} {}", admin.actor.uid, w.no_admin));
            return Err(admin.refused_page(&why));
        }
        if session.method != "password+totp" {
            return Err(admin.refused_page(&Refusal(w.needs_totp.into())));
        }
        if need == Need::Certificate {
            let c = &admin.caller;
            let fingerprint = presented(c.own_certificate.as_ref(), c.peer, &c.headers, &sso.trusted_proxies);
            let Some(fingerprint) = fingerprint else {
                return Err(admin.refused_page(&Refusal(w.needs_certificate.into())));
            };
            if let Err(why) = sso
                .auth
                .console_certificate(&admin.view, &fingerprint, &dn, c.peer, c.now)
                .await
            {
                return Err(admin.refused_page(&Refusal(format!("{} ({why})", w.bad_certificate))));
            }
        }
        Ok(admin)
    }
}

impl Caller {
    /// [`Caller::admin`] for a posted form, which must also carry this browser's CSRF value
    /// and the confirmation.
    pub async fn admin_for_form(
        self,
        console: &Arc<Console>,
        need: Need,
        form: &HashMap<String, String>,
    ) -> Result<Admin, Response> {
        let admin = self.admin(console, need).await?;
        admin.form_ok(form)?;
        Ok(admin)
    }
}

/// An admin at the console, for one request.
pub struct Admin {
    /// Who acts, with what role.
    pub actor: Actor,
    /// The view of this request.
    pub view: Arc<View>,
    /// This browser's CSRF value.
    pub csrf: String,
    /// Every chapter admin's account: like federal admins, they belong to the federal level
    /// (no chapter admin locks, resets or regroups another admin).
    pub chapter_admins: HashSet<Uid>,
    console: Arc<Console>,
    caller: Caller,
}

impl Admin {
    /// The page language.
    pub fn lang(&self) -> Lang {
        self.caller.lang
    }

    /// The console's words in the page language.
    pub fn words(&self) -> &'static Words {
        words(self.caller.lang)
    }

    /// The time of the request.
    pub fn now(&self) -> OffsetDateTime {
        self.caller.now
    }

    /// The single sign-on state (store, audit, authentication core).
    pub fn sso(&self) -> &Sso {
        &self.console.sso
    }

    /// The console's state.
    pub fn console(&self) -> &Console {
        &self.console
    }

    /// Whether the admin may do `action` on `target`.
    pub fn may(&self, action: Action, target: &Target) -> bool {
        decide(&self.actor, action, target).is_ok()
    }

    /// `Ok` if the admin may do `action` on `target`; else the refusal page, the refusal
    /// audited as `console.refused` about `subject`.
    pub async fn check(&self, action: Action, target: &Target, subject: &str) -> Result<(), Response> {
        match decide(&self.actor, action, target) {
            Ok(()) => Ok(()),
            Err(why) => Err(self.refuse(subject, &why).await),
        }
    }

    /// The refusal page for `why`, audited as `console.refused` about `subject`.
    pub async fn refuse(&self, subject: &str, why: &Refusal) -> Response {
        self.sso()
            .audit(
                self.now(),
                self.actor.uid.as_str(),
                "console.refused",
                subject,
                why.0.clone(),
            )
            .await;
        self.refused_page(why)
    }

    fn refused_page(&self, why: &Refusal) -> Response {
        self.page(
            StatusCode::FORBIDDEN,
            self.words().refused_title,
            &html::refusal(&why.0),
        )
    }

    /// A console page (never cached; the CSRF cookie set; a link to the other language).
    pub fn page(&self, status: StatusCode, title: &str, body: &str) -> Response {
        let other = match self.lang() {
            Lang::De => "en",
            Lang::En => "de",
        };
        let switch = Some(format!("{}?lang={other}", self.caller.path));
        let body = format!("{}{body}", html::menu(self.words()));
        let mut res = self
            .sso()
            .page(status, self.lang(), switch, title, &body, Some(&self.csrf));
        if self.caller.chosen {
            self.sso().set_cookie(
                &mut res,
                LANG_COOKIE,
                self.lang().code(),
                "SameSite=Lax",
                Some(365 * 86_400),
            );
        }
        res
    }

    /// A short message page (not found, bad form, unavailable).
    pub fn message(&self, status: StatusCode, text: &str) -> Response {
        let title = if status == StatusCode::NOT_FOUND {
            self.words().not_found_title
        } else {
            self.words().refused_title
        };
        self.page(status, title, &html::refusal(text))
    }

    /// The page for a store failure (logged, never shown).
    pub fn unavailable(&self, what: &str, e: &dyn std::fmt::Display) -> Response {
        tracing::error!(error = %e, "console: {what} failed");
        self.message(StatusCode::SERVICE_UNAVAILABLE, self.words().unavailable)
    }

    /// `Ok` if a posted form carries this browser's CSRF value and `confirm=yes`.
    #[allow(clippy::result_large_err, reason = "the error is the page a handler returns at once")]
    pub fn form_ok(&self, form: &HashMap<String, String>) -> Result<(), Response> {
        let w = self.words();
        if !self.sso().csrf_ok(&self.caller.headers, form.get("csrf")) {
            return Err(self.message(StatusCode::FORBIDDEN, w.bad_form));
        }
        if form.get("confirm").map(String::as_str) != Some("yes") {
            return Err(self.message(StatusCode::BAD_REQUEST, w.not_confirmed));
        }
        Ok(())
    }

    /// The chapters the admin acts for (`None`: all, a federal admin).
    pub fn chapters(&self) -> Option<Vec<StateCode>> {
        match &self.actor.role {
            Role::Federal => None,
            Role::Chapters(c) => Some(c.keys().cloned().collect()),
        }
    }

    /// After a change: brings this node's view up to the store, so the page the admin is
    /// sent to next already shows it (read your own writes; other nodes follow within their
    /// polling interval). A failure leaves it to the follower.
    pub async fn after_change(&self) {
        if let Err(e) = self.sso().directory.refresh().await {
            tracing::warn!(error = %e, "console: refreshing the view after a change failed");
        }
    }

    /// The person `uid` and the target it is for this admin (see [`super::members::target_person`]).
    pub fn target_person(&self, uid: &str) -> Option<(super::members::Person, Target)> {
        super::members::target_person(&self.view, uid, &self.chapter_admins)
    }

    /// The audit actor of console changes: `console:<uid>`.
    pub fn audit_actor(&self) -> String {
        format!("console:{}", self.actor.uid)
    }
}
