//! The admin console (`/admin/`, issue 15): federal and chapter admins look after members,
//! groups, services, letters and certificate requests within their scope. Login is the
//! single sign-on session, opened with the second factor; pages that show or change member
//! records also need the admin's own client certificate from the internal CA (our HTTPS
//! listener or a trusted proxy, `gate.rs`). Every permission comes from
//! `auth::admin_scope::decide`; every refusal says why and is audited; every change is a
//! confirmed, CSRF-protected POST audited as `console:<uid>`. Pages are never cached
//! (`no-store`, from `sso::pages`), German by default, English with `?lang=en`.

mod audit;
mod certificates;
mod gate;
mod groups;
mod html;
mod letters;
mod members;
mod services;
mod words;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use piratenldap_auth::admin_scope::Role;
use piratenldap_auth::letters::LetterSettings;
use piratenldap_core::ids::Name;

use crate::portal::Portal;
use crate::portal::html::esc;
use crate::sso::Sso;
use gate::{Caller, Need};

/// What the console needs from the configuration.
#[derive(Clone)]
pub struct Settings {
    /// Certificate roles and the group each requires (`[ca.roles]`); a role whose group a
    /// chapter owns is that chapter's, the others are federal.
    pub roles: BTreeMap<String, Name>,
    /// Where letters send members, and how long their tokens live.
    pub letters: LetterSettings,
}

/// The console's state.
pub struct Console {
    /// Session, CSRF, pages, store, audit, the authentication core.
    pub sso: Arc<Sso>,
    /// The portal (its token key signs letters); `None`: no letters.
    pub portal: Option<Arc<Portal>>,
    /// From the configuration.
    pub settings: Settings,
}

/// Longest body of a console form (a letter selection of 1 000 member numbers fits).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The console's routes.
pub fn router(console: Console) -> Router {
    Router::new()
        .route("/admin/", get(home))
        .route("/admin/members", get(members::search))
        .route("/admin/members/{uid}", get(members::detail))
        .route("/admin/members/{uid}/lock", post(members::lock))
        .route("/admin/letters", get(letters::form).post(letters::issue))
        .route("/admin/groups", get(groups::list).post(groups::create))
        .route("/admin/groups/{name}", get(groups::detail))
        .route("/admin/groups/{name}/members", post(groups::change_members))
        .route("/admin/services", get(services::list).post(services::register))
        .route("/admin/services/{name}/remove", post(services::remove))
        .route(
            "/admin/certificates",
            get(certificates::list).post(certificates::request),
        )
        .route("/admin/certificates/{id}/approve", post(certificates::approve))
        .route("/admin/audit", get(audit::audit))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(Arc::new(console))
}

/// `GET /admin/`: who is acting, with what role.
async fn home(State(console): State<Arc<Console>>, caller: Caller) -> Response {
    let admin = match caller.admin(&console, Need::Session).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let role = match &admin.actor.role {
        Role::Federal => w.federal.to_string(),
        Role::Chapters(c) => format!(
            "{} {}",
            w.chapter_admin,
            c.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    let body = format!(
        "<p><strong>{}</strong> · {}</p>{}",
        esc(admin.actor.uid.as_str()),
        esc(&role),
        members::search_form(&admin, "")
    );
    admin.page(StatusCode::OK, w.console_title, &body)
}
