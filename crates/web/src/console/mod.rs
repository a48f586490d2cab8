//! The admin console (`/admin/`, issue 15): federal and chapter admins look after members,
//! groups, services, letters and certificate requests within their scope. Login is the
//! single sign-on session, opened with the second factor; pages that show or change member
//! records also need the admin's own client certificate from the internal CA (our HTTPS
//! listener or a trusted proxy, `gate.rs`). Every permission comes from
//! `auth::admin_scope::decide`; every refusal says why and is audited; every change is a
//! confirmed, CSRF-protected POST audited as `console:<uid>`. Pages are never cached
//! (`no-store`, from `sso::pages`), German by default, English with `?lang=en`.

mod audit;
mod gate;
mod html;
mod members;
mod words;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use piratenldap_auth::admin_scope::Role;

use crate::portal::html::esc;
use crate::sso::Sso;
use gate::{Caller, Need};

/// The console's routes (on the single sign-on state: session, CSRF, pages).
pub fn router(sso: Arc<Sso>) -> Router {
    Router::new()
        .route("/admin/", get(home))
        .route("/admin/members", get(members::search))
        .route("/admin/members/{uid}", get(members::detail))
        .route("/admin/members/{uid}/lock", post(members::lock))
        .route("/admin/audit", get(audit::audit))
        .with_state(sso)
}

/// `GET /admin/`: who is acting, with what role.
async fn home(State(sso): State<Arc<Sso>>, caller: Caller) -> Response {
    let admin = match caller.admin(&sso, Need::Session).await {
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
