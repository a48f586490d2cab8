//! Certificate requests, four eyes within the scope: `GET /admin/certificates` lists the
//! requests the admin may see and offers a new one, `POST /admin/certificates` requests a
//! client certificate for a holder, `POST /admin/certificates/{id}/approve` approves another
//! admin's request. A role is its chapter's when the group it requires (`[ca.roles]`) is owned
//! by a chapter; other roles are federal. Issuing (key and files for the holder) stays with
//! `piratenldap cert issue ID`, on the CA's machine.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use piratenldap_auth::admin_scope::{Action, Target};
use piratenldap_core::ids::{Name, StateCode, Uid};
use piratenldap_store::CertRequest;
use time::format_description::well_known::Rfc3339;

use super::Console;
use super::gate::{Admin, Caller, Need};
use super::groups::store_refusal;
use super::html;
use crate::portal::html::esc;

/// Requests the page lists.
const LISTED: u32 = 200;

/// Each role with its group and the chapter owning that group (`None`: federal).
async fn roles(admin: &Admin) -> Result<Vec<(String, Name, Option<StateCode>)>, Response> {
    let groups = admin
        .sso()
        .directory
        .store()
        .groups()
        .await
        .map_err(|e| admin.unavailable("reading groups", &e))?;
    Ok(admin
        .console()
        .settings
        .roles
        .iter()
        .map(|(role, group)| {
            let chapter = groups.iter().find(|g| g.name == *group).and_then(|g| g.chapter.clone());
            (role.clone(), group.clone(), chapter)
        })
        .collect())
}

fn request_target(req: &CertRequest, chapter: Option<StateCode>) -> Target {
    Target::CertificateRequest {
        chapter,
        requested_by: req.requested_by.clone(),
    }
}

/// `GET /admin/certificates`.
pub async fn list(State(console): State<Arc<Console>>, caller: Caller) -> Response {
    let admin = match caller.admin(&console, Need::Session).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let roles = match roles(&admin).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let requests = match admin.sso().directory.store().cert_requests(LISTED).await {
        Ok(r) => r,
        Err(e) => return admin.unavailable("reading certificate requests", &e),
    };
    let rows: Vec<Vec<String>> = requests
        .iter()
        .filter_map(|req| {
            let chapter = roles.iter().find(|(r, _, _)| *r == req.role)?.2.clone();
            admin
                .may(Action::RequestCertificate, &Target::Owned(chapter.clone()))
                .then_some((req, chapter))
        })
        .map(|(req, chapter)| {
            let state = match (&req.approved_by, &req.issued_serial) {
                (_, Some(serial)) => format!("{} ({serial})", w.issued),
                (Some(by), None) => format!("{} {by}", w.approved_by),
                (None, None) => w.pending.to_string(),
            };
            let action =
                if req.approved_by.is_none() && admin.may(Action::ApproveCertificate, &request_target(req, chapter)) {
                    let to = format!("/admin/certificates/{}/approve", req.id);
                    html::action_form(w, &to, &admin.csrf, &[], "", w.approve)
                } else {
                    String::new()
                };
            vec![
                req.id.to_string(),
                esc(req.uid.as_str()),
                esc(&req.role),
                esc(req.requested_by.as_str()),
                esc(&req.requested_at.format(&Rfc3339).unwrap_or_default()),
                esc(&state),
                action,
            ]
        })
        .collect();
    let mut body = if rows.is_empty() {
        format!("<p>{}</p>", esc(w.none_found))
    } else {
        html::table(&["#", w.holder, w.role, w.requested_by, w.when, w.status, ""], &rows)
    };
    let options: String = roles
        .iter()
        .filter(|(_, _, chapter)| admin.may(Action::RequestCertificate, &Target::Owned(chapter.clone())))
        .map(|(role, _, _)| format!(r#"<option value="{0}">{0}</option>"#, esc(role)))
        .collect();
    if !options.is_empty() {
        let inputs = format!(
            r#"<label for="holder">{}</label><input type="text" id="holder" name="holder" maxlength="64" required><label for="role">{}</label><select id="role" name="role">{options}</select>"#,
            esc(w.holder),
            esc(w.role)
        );
        body += &format!("<h2>{}</h2>", esc(w.new_request));
        body += &html::action_form(w, "/admin/certificates", &admin.csrf, &[], &inputs, w.request);
    }
    body += &format!(r#"<p class="hint">{}</p>"#, esc(w.issue_hint));
    admin.page(StatusCode::OK, w.certificates_title, &body)
}

/// `POST /admin/certificates`: `holder`, `role`, CSRF, confirmation.
pub async fn request(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin_for_form(&console, Need::Session, &form).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let roles = match roles(&admin).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let role = form.get("role").map_or("", |r| r.trim());
    let Some((role, group, chapter)) = roles.into_iter().find(|(r, _, _)| r == role) else {
        return admin.message(StatusCode::BAD_REQUEST, w.bad_form);
    };
    if let Err(page) = admin
        .check(Action::RequestCertificate, &Target::Owned(chapter), &role)
        .await
    {
        return page;
    }
    let holder = form.get("holder").map_or("", |h| h.trim());
    let Some((_, target)) = admin.target_person(holder) else {
        return admin.message(StatusCode::NOT_FOUND, w.no_such_member);
    };
    if let Err(page) = admin.check(Action::ReadMember, &target, holder).await {
        return page;
    }
    let Ok(holder) = Uid::parse(holder) else {
        return admin.message(StatusCode::NOT_FOUND, w.no_such_member);
    };
    match admin
        .sso()
        .directory
        .store()
        .create_cert_request(&holder, &role, &group, None, &admin.actor.uid, admin.now())
        .await
    {
        Ok(_) => Redirect::to("/admin/certificates").into_response(),
        Err(e) => store_refusal(&admin, "requesting a certificate", &e),
    }
}

/// `POST /admin/certificates/{id}/approve`: CSRF, confirmation; by an admin other than the
/// requester and the holder, of the same chapter or federal.
pub async fn approve(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin_for_form(&console, Need::Session, &form).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let store = admin.sso().directory.store();
    let req = match store.cert_request(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return admin.message(StatusCode::NOT_FOUND, w.no_such_request),
        Err(e) => return admin.unavailable("reading a certificate request", &e),
    };
    let roles = match roles(&admin).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let Some((_, group, chapter)) = roles.into_iter().find(|(r, _, _)| *r == req.role) else {
        return admin.message(StatusCode::CONFLICT, w.no_such_request);
    };
    let subject = format!("request {id}");
    if let Err(page) = admin
        .check(Action::ApproveCertificate, &request_target(&req, chapter), &subject)
        .await
    {
        return page;
    }
    match store
        .approve_cert_request(id, &group, &admin.actor.uid, admin.now())
        .await
    {
        Ok(_) => Redirect::to("/admin/certificates").into_response(),
        Err(e) => store_refusal(&admin, "approving a certificate request", &e),
    }
}
