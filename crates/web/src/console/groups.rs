//! Groups (they list members: the admin's client certificate is required): `GET
//! /admin/groups` lists the manual groups the admin manages and offers a new one (owned by
//! one of their chapters; federal admins may also make federal ones), `GET
//! /admin/groups/{name}` shows the members, `POST /admin/groups/{name}/members` adds or
//! removes one. The store keeps the chapter rule (a chapter's group takes only that
//! chapter's members) in the same transaction.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use piratenldap_auth::admin_scope::{Action, Target};
use piratenldap_core::ids::{Name, StateCode, Uid};
use piratenldap_store::{Group, GroupKind, StoreError};

use super::Console;
use super::gate::{Admin, Caller, Need};
use super::html;
use crate::portal::html::esc;

/// Longest group description.
const MAX_DESCRIPTION: usize = 200;

fn target(g: &Group) -> Target {
    Target::Owned(g.chapter.clone())
}

/// The groups, or the page for a store failure.
async fn groups(admin: &Admin) -> Result<Vec<Group>, Response> {
    admin
        .sso()
        .directory
        .store()
        .groups()
        .await
        .map_err(|e| admin.unavailable("reading groups", &e))
}

/// A store refusal as a page: conflicts and refusals say why (409), the rest is logged.
pub fn store_refusal(admin: &Admin, what: &str, e: &StoreError) -> Response {
    match e {
        StoreError::Conflict(_) | StoreError::Refused(_) | StoreError::NotFound(_) => {
            admin.message(StatusCode::CONFLICT, &e.to_string())
        }
        _ => admin.unavailable(what, e),
    }
}

/// `GET /admin/groups`.
pub async fn list(State(console): State<Arc<Console>>, caller: Caller) -> Response {
    let admin = match caller.admin(&console, Need::Certificate).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let all = match groups(&admin).await {
        Ok(g) => g,
        Err(page) => return page,
    };
    let rows: Vec<Vec<String>> = all
        .iter()
        .filter(|g| g.kind == GroupKind::Manual && admin.may(Action::ManageGroup, &target(g)))
        .map(|g| {
            vec![
                format!(r#"<a href="/admin/groups/{0}">{0}</a>"#, esc(g.name.as_str())),
                esc(g.chapter.as_ref().map_or(w.federal_level, StateCode::as_str)),
                esc(g.description.as_deref().unwrap_or("")),
                g.manual_members.len().to_string(),
            ]
        })
        .collect();
    let mut body = if rows.is_empty() {
        format!("<p>{}</p>", esc(w.none_found))
    } else {
        html::table(&[w.group, w.chapter, w.description, w.member_count], &rows)
    };
    let inputs = format!(
        r#"<label for="name">{}</label><input type="text" id="name" name="name" maxlength="64" required><label for="description">{}</label><input type="text" id="description" name="description" maxlength="{MAX_DESCRIPTION}">{}"#,
        esc(w.group),
        esc(w.description),
        chapter_input(&admin),
    );
    body += &format!("<h2>{}</h2>", esc(w.new_group));
    body += &html::action_form(w, "/admin/groups", &admin.csrf, &[], &inputs, w.create);
    admin.page(StatusCode::OK, w.groups_title, &body)
}

/// The chapter field of a new group or service: a chapter admin picks one of theirs; a
/// federal admin may name any chapter or leave it empty (federal).
pub fn chapter_input(admin: &Admin) -> String {
    let w = admin.words();
    match admin.chapters() {
        Some(chapters) => {
            let options: String = chapters
                .iter()
                .map(|c| format!(r#"<option value="{0}">{0}</option>"#, esc(c.as_str())))
                .collect();
            format!(
                r#"<label for="chapter">{}</label><select id="chapter" name="chapter">{options}</select>"#,
                esc(w.chapter)
            )
        }
        None => format!(
            r#"<label for="chapter">{}</label><p class="hint">{}</p><input type="text" id="chapter" name="chapter" maxlength="8">"#,
            esc(w.chapter),
            esc(w.chapter_hint)
        ),
    }
}

/// The chapter a form names (`None`: federal); `Err` for a code that is not a state.
pub fn chapter_field(form: &HashMap<String, String>) -> Result<Option<StateCode>, String> {
    match form.get("chapter").map(|c| c.trim()).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(code) => StateCode::parse(code).map(Some).map_err(|e| e.to_string()),
    }
}

/// `POST /admin/groups`: `name`, `description`, `chapter`, CSRF, confirmation.
pub async fn create(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin_for_form(&console, Need::Certificate, &form).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let name = match Name::parse(form.get("name").map_or("", |n| n.trim())) {
        Ok(n) => n,
        Err(e) => return admin.message(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let chapter = match chapter_field(&form) {
        Ok(c) => c,
        Err(why) => return admin.message(StatusCode::BAD_REQUEST, &why),
    };
    // A group a certificate role requires decides whether the role is a chapter's: only
    // federal admins create those (else a chapter admin could claim a federal role).
    if let Some((role, _)) = admin.console().settings.roles.iter().find(|(_, g)| **g == name) {
        let why = piratenldap_auth::admin_scope::Refusal(format!(
            "the group {name} is required by the certificate role {role}; only federal admins may create it"
        ));
        if !matches!(admin.actor.role, piratenldap_auth::admin_scope::Role::Federal) {
            return admin.refuse(name.as_str(), &why).await;
        }
    }
    let description = form
        .get("description")
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .map(|d| d.chars().take(MAX_DESCRIPTION).collect::<String>());
    if let Err(page) = admin
        .check(Action::ManageGroup, &Target::Owned(chapter.clone()), name.as_str())
        .await
    {
        return page;
    }
    let store = admin.sso().directory.store();
    match store
        .create_group(&name, description.as_deref(), chapter.as_ref(), admin.now())
        .await
    {
        Ok(_) => {
            let owner = chapter.as_ref().map_or("federal", StateCode::as_str);
            admin
                .sso()
                .audit(
                    admin.now(),
                    &admin.audit_actor(),
                    "group.create",
                    name.as_str(),
                    format!("owner {owner}"),
                )
                .await;
            admin.after_change().await;
            Redirect::to(&format!("/admin/groups/{name}")).into_response()
        }
        Err(e) => store_refusal(&admin, "creating a group", &e),
    }
}

/// The manual group `name` if the admin manages it; else the page to show.
async fn managed(admin: &Admin, name: &str) -> Result<Group, Response> {
    let w = admin.words();
    let all = groups(admin).await?;
    let Some(group) = all.into_iter().find(|g| g.name.as_str() == name) else {
        return Err(admin.message(StatusCode::NOT_FOUND, w.no_such_group));
    };
    if group.kind != GroupKind::Manual {
        return Err(admin.message(StatusCode::CONFLICT, w.automatic_group));
    }
    admin
        .check(Action::ManageGroup, &target(&group), group.name.as_str())
        .await?;
    Ok(group)
}

/// `GET /admin/groups/{name}`.
pub async fn detail(State(console): State<Arc<Console>>, caller: Caller, Path(name): Path<String>) -> Response {
    let admin = match caller.admin(&console, Need::Certificate).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let group = match managed(&admin, &name).await {
        Ok(g) => g,
        Err(page) => return page,
    };
    let to = format!("/admin/groups/{}/members", group.name);
    let rows: Vec<Vec<String>> = group
        .manual_members
        .iter()
        .map(|uid| {
            vec![
                esc(uid.as_str()),
                html::action_form(
                    w,
                    &to,
                    &admin.csrf,
                    &[("op", "remove"), ("uid", uid.as_str())],
                    "",
                    w.remove,
                ),
            ]
        })
        .collect();
    let mut body = html::pairs(&[
        (w.group, group.name.to_string()),
        (
            w.chapter,
            group
                .chapter
                .as_ref()
                .map_or(w.federal_level, StateCode::as_str)
                .to_string(),
        ),
        (w.description, group.description.clone().unwrap_or_default()),
    ]);
    body += &html::table(&[w.uid, ""], &rows);
    let inputs = format!(
        r#"<label for="uid">{}</label><input type="text" id="uid" name="uid" maxlength="64" required>"#,
        esc(w.uid)
    );
    body += &html::action_form(w, &to, &admin.csrf, &[("op", "add")], &inputs, w.add);
    admin.page(StatusCode::OK, w.groups_title, &body)
}

/// `POST /admin/groups/{name}/members`: `op=add|remove`, `uid`, CSRF, confirmation. The
/// member must be one the admin may see (their chapter; never a federal admin's account for
/// a chapter admin).
pub async fn change_members(
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
    let adding = match form.get("op").map(String::as_str) {
        Some("add") => true,
        Some("remove") => false,
        _ => return admin.message(StatusCode::BAD_REQUEST, w.bad_form),
    };
    let group = match managed(&admin, &name).await {
        Ok(g) => g,
        Err(page) => return page,
    };
    let typed = form.get("uid").map_or("", |u| u.trim());
    let Ok(uid) = Uid::parse(typed) else {
        return admin.message(StatusCode::NOT_FOUND, w.no_such_member);
    };
    // Removing someone who has left the scope (or the directory) is allowed; adding is not.
    if adding || group.manual_members.contains(&uid) {
        match admin.target_person(uid.as_str()) {
            Some((_, t)) => {
                if let Err(page) = admin.check(Action::ReadMember, &t, uid.as_str()).await {
                    return page;
                }
            }
            None if adding => return admin.message(StatusCode::NOT_FOUND, w.no_such_member),
            None => {}
        }
    }
    let store = admin.sso().directory.store();
    let actor = admin.audit_actor();
    let done = if adding {
        let added = store.add_group_member(&group.name, &uid, admin.now()).await;
        if added.is_ok() {
            admin
                .sso()
                .audit(admin.now(), &actor, "group.add", uid.as_str(), group.name.to_string())
                .await;
        }
        added
    } else {
        let roles: Vec<String> = admin
            .console()
            .settings
            .roles
            .iter()
            .filter(|(_, g)| **g == group.name)
            .map(|(r, _)| r.clone())
            .collect();
        store
            .remove_group_member(&group.name, &uid, &roles, &actor, admin.now())
            .await
            .map(|_| ())
    };
    match done {
        Ok(()) => {
            admin.after_change().await;
            Redirect::to(&format!("/admin/groups/{}", group.name)).into_response()
        }
        Err(e) => store_refusal(&admin, "changing a group", &e),
    }
}
