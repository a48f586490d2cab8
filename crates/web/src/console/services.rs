//! Services (a service's credential reads member data, so these pages need the admin's
//! client certificate like the member pages): `GET /admin/services` lists the services the
//! admin manages and offers a new one (an LDAP bind account or an OpenID Connect client) through `auth::services`, the same
//! registration the CLI uses; a chapter admin's service belongs to one of their chapters and
//! sees only its members (services that see everyone are federal). The credential is shown
//! once. `POST /admin/services/{name}/remove` removes one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use piratenldap_auth::admin_scope::{Action, Target};
use piratenldap_auth::services::{OidcRequest, ServiceCredential, ServiceError, ServiceKind, register_service};
use piratenldap_core::ids::{Name, StateCode};
use piratenldap_store::{Service, ServiceProfile};

use super::Console;
use super::gate::{Admin, Caller, Need};
use super::groups::{chapter_field, chapter_input, store_refusal};
use super::html;
use crate::portal::html::esc;

/// The services, or the page for a store failure.
async fn services(admin: &Admin) -> Result<Vec<Service>, Response> {
    admin
        .sso()
        .directory
        .store()
        .services()
        .await
        .map_err(|e| admin.unavailable("reading services", &e))
}

/// `GET /admin/services`.
pub async fn list(State(console): State<Arc<Console>>, caller: Caller) -> Response {
    let admin = match caller.admin(&console, Need::Certificate).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let all = match services(&admin).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let oidc: HashSet<Name> = match admin.sso().directory.store().oidc().oidc_clients().await {
        Ok(c) => c.into_iter().map(|(n, _)| n).collect(),
        Err(e) => return admin.unavailable("reading clients", &e),
    };
    let rows: Vec<Vec<String>> = all
        .iter()
        .filter(|s| admin.may(Action::ManageService, &Target::Owned(s.profile.chapter.clone())))
        .map(|s| {
            let p = &s.profile;
            let to = format!("/admin/services/{}/remove", p.name);
            vec![
                esc(p.name.as_str()),
                esc(if oidc.contains(&p.name) {
                    "OpenID Connect"
                } else {
                    "LDAP"
                }),
                esc(p.chapter.as_ref().map_or(w.federal_level, StateCode::as_str)),
                esc(&p.attrs.as_ref().map(|a| a.join(", ")).unwrap_or_default()),
                esc(p.members_of.as_ref().map_or("", Name::as_str)),
                esc(if p.real_names { w.yes } else { w.no }),
                html::action_form(w, &to, &admin.csrf, &[], "", w.remove),
            ]
        })
        .collect();
    let mut body = if rows.is_empty() {
        format!("<p>{}</p>", esc(w.none_found))
    } else {
        html::table(
            &[
                w.service,
                w.kind,
                w.chapter,
                w.attributes,
                w.members_of,
                w.real_names,
                "",
            ],
            &rows,
        )
    };
    body += &format!("<h2>{}</h2>", esc(w.new_service));
    body += &html::action_form(
        w,
        "/admin/services",
        &admin.csrf,
        &[],
        &register_inputs(&admin),
        w.create,
    );
    admin.page(StatusCode::OK, w.services_title, &body)
}

fn register_inputs(admin: &Admin) -> String {
    let w = admin.words();
    format!(
        r#"<label for="name">{name}</label><input type="text" id="name" name="name" maxlength="64" required>
<label for="kind">{kind}</label><select id="kind" name="kind"><option value="ldap">LDAP</option><option value="oidc">OpenID Connect</option></select>
<label for="redirect_uris">{uris}</label><p class="hint">{uris_hint}</p><textarea id="redirect_uris" name="redirect_uris" rows="2" cols="40"></textarea>
<label><input type="checkbox" name="public" value="yes"> {public}</label>
<label for="attrs">{attrs}</label><p class="hint">{attrs_hint}</p><input type="text" id="attrs" name="attrs" maxlength="512">
<label for="members_of">{members_of}</label><input type="text" id="members_of" name="members_of" maxlength="64">
<label><input type="checkbox" name="real_names" value="yes"> {real_names}</label>
<label><input type="checkbox" name="pseudonymous" value="yes"> {pseudonymous}</label>{chapter}"#,
        name = esc(w.service),
        kind = esc(w.kind),
        uris = esc(w.redirect_uris),
        uris_hint = esc(w.redirect_uris_hint),
        public = esc(w.public_client),
        attrs = esc(w.attributes),
        attrs_hint = esc(w.attributes_hint),
        members_of = esc(w.members_of),
        real_names = esc(w.real_names),
        pseudonymous = esc(w.pseudonymous),
        chapter = chapter_input(admin),
    )
}

/// `POST /admin/services`: `name`, `kind=ldap|oidc`, `redirect_uris`, `public`, `attrs`,
/// `members_of`, `real_names`, `pseudonymous`, `chapter`, CSRF, confirmation.
pub async fn register(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin_for_form(&console, Need::Certificate, &form).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let field = |k: &str| form.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let yes = |k: &str| field(k) == Some("yes");
    let name = match Name::parse(field("name").unwrap_or("")) {
        Ok(n) => n,
        Err(e) => return admin.message(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let chapter = match chapter_field(&form) {
        Ok(c) => c,
        Err(why) => return admin.message(StatusCode::BAD_REQUEST, &why),
    };
    // A service without a chapter sees every member: federal only.
    if let Err(page) = admin
        .check(Action::ManageService, &Target::Owned(chapter.clone()), name.as_str())
        .await
    {
        return page;
    }
    let real_names = yes("real_names");
    if real_names {
        let target = chapter.clone().map_or(Target::Installation, Target::Member);
        if let Err(page) = admin.check(Action::ReadRealNames, &target, name.as_str()).await {
            return page;
        }
    }
    let members_of = match field("members_of").map(Name::parse).transpose() {
        Ok(g) => g,
        Err(e) => return admin.message(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let kind = match field("kind") {
        Some("ldap") => ServiceKind::Ldap,
        Some("oidc") => ServiceKind::Oidc(OidcRequest {
            redirect_uris: field("redirect_uris")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            public: yes("public"),
            ..OidcRequest::default()
        }),
        _ => return admin.message(StatusCode::BAD_REQUEST, w.bad_form),
    };
    let profile = ServiceProfile {
        name: name.clone(),
        attrs: field("attrs").map(|a| a.split(',').map(|x| x.trim().to_string()).collect()),
        members_of,
        real_names,
        include_inactive: false,
        pseudonymous: yes("pseudonymous"),
        chapter: chapter.clone(),
    };
    let sso = admin.sso();
    if profile.pseudonymous && sso.directory.layout().pseudonym_key.is_none() {
        return admin.message(StatusCode::CONFLICT, w.pseudonym_key_missing);
    }
    let registered = register_service(
        sso.directory.store().as_ref(),
        sso.auth.hash_pool(),
        sso.directory.layout(),
        profile,
        kind,
        admin.now(),
    )
    .await;
    let credential = match registered {
        Ok(c) => c,
        Err(ServiceError::Store(e)) => return store_refusal(&admin, "registering a service", &e),
        Err(ServiceError::Invalid(why)) => return admin.message(StatusCode::BAD_REQUEST, &why),
        Err(e) => return admin.unavailable("registering a service", &e),
    };
    let owner = chapter.as_ref().map_or("federal", StateCode::as_str);
    sso.audit(
        admin.now(),
        &admin.audit_actor(),
        "service.add",
        name.as_str(),
        format!("owner {owner}"),
    )
    .await;
    admin.after_change().await;
    let rows = match &credential {
        ServiceCredential::Ldap { dn, password } => vec![("dn", dn.to_string()), ("password", password.clone())],
        ServiceCredential::Oidc {
            client_id,
            client_secret,
        } => {
            let mut r = vec![("client_id", client_id.to_string())];
            if let Some(s) = client_secret {
                r.push(("client_secret", s.clone()));
            }
            r
        }
    };
    let body = format!(
        r#"<p class="error" role="alert">{}</p>{}<p><a href="/admin/services">←</a></p>"#,
        esc(w.shown_once),
        html::pairs(&rows)
    );
    admin.page(StatusCode::CREATED, w.services_title, &body)
}

/// `POST /admin/services/{name}/remove`: CSRF, confirmation.
pub async fn remove(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Path(name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin_for_form(&console, Need::Certificate, &form).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let all = match services(&admin).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(service) = all.into_iter().find(|s| s.profile.name.as_str() == name) else {
        return admin.message(StatusCode::NOT_FOUND, w.no_such_service);
    };
    let p = service.profile;
    if let Err(page) = admin
        .check(
            Action::ManageService,
            &Target::Owned(p.chapter.clone()),
            p.name.as_str(),
        )
        .await
    {
        return page;
    }
    match admin.sso().directory.store().remove_service(&p.name).await {
        Ok(()) => {
            admin
                .sso()
                .audit(
                    admin.now(),
                    &admin.audit_actor(),
                    "service.remove",
                    p.name.as_str(),
                    String::new(),
                )
                .await;
            admin.after_change().await;
            Redirect::to("/admin/services").into_response()
        }
        Err(e) => store_refusal(&admin, "removing a service", &e),
    }
}
