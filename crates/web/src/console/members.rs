//! Member pages (membership-admin work: the admin's client certificate is required):
//! `GET /admin/members?q=` finds members within the admin's scope, `GET /admin/members/{uid}`
//! shows one (member number, status, account, certificates, groups, last login; real names
//! only with the grant), `POST /admin/members/{uid}/lock` locks or unlocks the account.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use piratenldap_auth::admin_scope::{Action, Target};
use piratenldap_core::ids::{StateCode, Uid};
use piratenldap_directory::entry::EntryKind;
use piratenldap_directory::{Principal, View};
use time::format_description::well_known::Rfc3339;

use super::Console;
use super::gate::{Admin, Caller, Need};
use super::html;
use crate::portal::html::esc;

/// Longest search text.
const MAX_QUERY_CHARS: usize = 64;
/// Most members a search lists.
pub const MAX_RESULTS: usize = 50;

/// What the console knows about a person entry.
pub struct Person {
    pub uid: String,
    pub display_name: String,
    pub state: Option<StateCode>,
    pub status: String,
    pub locked: bool,
    pub member_number: String,
    pub real_name: String,
    pub groups: Vec<String>,
}

fn first(view: &View, i: usize, attr: &str) -> String {
    view.entries[i]
        .values(attr)
        .first()
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The person entry at `i`, if it is one.
pub fn person(view: &View, i: usize) -> Option<Person> {
    let EntryKind::Person { uid, locked, .. } = &view.entries[i].kind else {
        return None;
    };
    let groups = view.entries[i]
        .values("memberOf")
        .iter()
        .filter_map(|dn| {
            piratenldap_core::Dn::parse(dn)
                .ok()?
                .rdn()?
                .value_of("cn")
                .map(str::to_string)
        })
        .collect();
    Some(Person {
        uid: uid.clone(),
        display_name: first(view, i, "displayName"),
        state: StateCode::parse(&first(view, i, "pirateStateAssociation")).ok(),
        status: first(view, i, "pirateMembershipStatus"),
        locked: *locked,
        member_number: first(view, i, "pirateMemberNumber"),
        real_name: format!("{} {}", first(view, i, "givenName"), first(view, i, "sn"))
            .trim()
            .to_string(),
        groups,
    })
}

/// The target a person is for an admin: their chapter, or the federal level for any admin's
/// account (a federal admin, or a chapter admin of any chapter), so no chapter admin can
/// lock, reset or regroup another admin.
pub fn person_target(view: &View, i: usize, state: Option<StateCode>, chapter_admins: &HashSet<Uid>) -> Option<Target> {
    let EntryKind::Person { uid, .. } = &view.entries[i].kind else {
        return None;
    };
    let federal = matches!(
        view.credential(&view.entries[i].dn).map(|c| &c.principal),
        Some(Principal::Admin { .. })
    );
    let admin = federal || Uid::parse(uid).is_ok_and(|u| chapter_admins.contains(&u));
    if admin {
        Some(Target::Owned(None))
    } else {
        state.map(Target::Member)
    }
}

/// The person `uid` and the target it is for an admin ([`person_target`]).
pub fn target_person(view: &View, uid: &str, chapter_admins: &HashSet<Uid>) -> Option<(Person, Target)> {
    let uid = Uid::parse(uid).ok()?;
    let dn = view.layout.person_dn(uid.as_str());
    let i = view.entry_index(&dn)?;
    let p = person(view, i)?;
    let target = person_target(view, i, p.state.clone(), chapter_admins)?;
    Some((p, target))
}

/// The person `uid` if the admin may do `action` on them; else the page to show (404, or
/// 403 with the reason, audited).
pub async fn permitted(admin: &Admin, uid: &str, action: Action) -> Result<(Person, Target), Response> {
    let Some((p, target)) = admin.target_person(uid) else {
        return Err(admin.message(StatusCode::NOT_FOUND, admin.words().no_such_member));
    };
    admin.check(action, &target, &p.uid).await?;
    Ok((p, target))
}

/// Members of the admin's scope matching `text` (member number, uid or display name; with
/// real names, the name too), at most [`MAX_RESULTS`], each with whether real names show.
/// Walks the whole view: runs on a blocking thread.
fn find(
    admin_may: impl Fn(Action, &Target) -> bool,
    view: &View,
    chapter_admins: &HashSet<Uid>,
    text: &str,
) -> Vec<(Person, bool)> {
    let mut found = Vec::new();
    for i in 0..view.entries.len() {
        let Some(p) = person(view, i) else { continue };
        let Some(target) = person_target(view, i, p.state.clone(), chapter_admins) else {
            continue;
        };
        if !admin_may(Action::ReadMember, &target) {
            continue;
        }
        let names = admin_may(Action::ReadRealNames, &target);
        let hit = text.is_empty()
            || p.uid.contains(text)
            || p.display_name.to_lowercase().contains(text)
            || p.member_number == text
            || (names && p.real_name.to_lowercase().contains(text));
        if hit {
            found.push((p, names));
            if found.len() >= MAX_RESULTS {
                break;
            }
        }
    }
    found
}

/// `GET /admin/members?q=`.
pub async fn search(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin(&console, Need::Certificate).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let text: String = q
        .get("q")
        .map(|t| t.trim().to_lowercase())
        .unwrap_or_default()
        .chars()
        .take(MAX_QUERY_CHARS)
        .collect();
    let (actor, view, needle) = (admin.actor.clone(), Arc::clone(&admin.view), text.clone());
    let chapter_admins = admin.chapter_admins.clone();
    let found = tokio::task::spawn_blocking(move || {
        find(
            |a, t| piratenldap_auth::admin_scope::decide(&actor, a, t).is_ok(),
            &view,
            &chapter_admins,
            &needle,
        )
    })
    .await
    .unwrap_or_default();
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|(p, names)| {
            vec![
                esc(&p.member_number),
                format!(r#"<a href="/admin/members/{0}">{0}</a>"#, esc(&p.uid)),
                esc(&p.display_name),
                if *names { esc(&p.real_name) } else { String::new() },
                esc(p.state.as_ref().map(StateCode::as_str).unwrap_or("")),
                esc(&p.status),
                esc(if p.locked { w.locked } else { w.open }),
            ]
        })
        .collect();
    let list = if rows.is_empty() {
        format!("<p>{}</p>", esc(w.none_found))
    } else {
        html::table(
            &[w.number, w.uid, w.name, w.real_name, w.chapter, w.status, w.account],
            &rows,
        )
    };
    let body = format!("{}{list}", search_form(&admin, &text));
    admin.page(StatusCode::OK, w.members_title, &body)
}

/// The member search form.
pub fn search_form(admin: &Admin, text: &str) -> String {
    let w = admin.words();
    format!(
        r#"<form method="get" action="/admin/members"><label for="q">{}</label><input type="text" id="q" name="q" value="{}" maxlength="{MAX_QUERY_CHARS}"><button type="submit">{}</button></form>"#,
        esc(w.members_title),
        esc(text),
        esc(w.search)
    )
}

/// `GET /admin/members/{uid}`.
pub async fn detail(State(console): State<Arc<Console>>, caller: Caller, Path(uid): Path<String>) -> Response {
    let admin = match caller.admin(&console, Need::Certificate).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let (p, target) = match permitted(&admin, &uid, Action::ReadMember).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let store = admin.sso().directory.store();
    let Ok(account) = Uid::parse(&p.uid) else {
        return admin.message(StatusCode::NOT_FOUND, w.no_such_member);
    };
    let last_login = match store.last_login(&account).await {
        Ok(t) => t
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| w.never.to_string()),
        Err(e) => return admin.unavailable("reading the last login", &e),
    };
    let certificates = match store.certificates().await {
        Ok(all) => all
            .into_iter()
            .filter(|c| c.uid == account)
            .map(|c| {
                let state = if c.revoked_at.is_some() {
                    w.revoked.to_string()
                } else {
                    format!("{} {}", w.valid_until, c.not_after.format(&Rfc3339).unwrap_or_default())
                };
                format!("{} ({}, {state})", c.serial, c.role)
            })
            .collect::<Vec<_>>(),
        Err(e) => return admin.unavailable("reading certificates", &e),
    };
    let token = match piratenldap_core::ids::MemberNumber::parse(&p.member_number) {
        Ok(number) => match store.member_token(&number, admin.now()).await {
            Ok(Some((kind, until))) => format!(
                "{} ({} {})",
                kind.as_str(),
                w.valid_until,
                until.format(&Rfc3339).unwrap_or_default()
            ),
            Ok(None) => w.none.to_string(),
            Err(e) => return admin.unavailable("reading the live token", &e),
        },
        Err(_) => w.none.to_string(),
    };
    let names = admin.may(Action::ReadRealNames, &target);
    let mut rows = vec![
        (w.number, p.member_number.clone()),
        (w.uid, p.uid.clone()),
        (w.name, p.display_name.clone()),
    ];
    if names {
        rows.push((w.real_name, p.real_name.clone()));
    }
    rows.extend([
        (
            w.chapter,
            p.state.as_ref().map(StateCode::as_str).unwrap_or("").to_string(),
        ),
        (w.status, p.status.clone()),
        (w.account, (if p.locked { w.locked } else { w.open }).to_string()),
        (w.groups, p.groups.join(", ")),
        (w.last_login, last_login),
        (w.token, token),
        (
            w.certificates,
            if certificates.is_empty() {
                w.none.to_string()
            } else {
                certificates.join("; ")
            },
        ),
    ]);
    let mut body = html::pairs(&rows);
    if admin.may(Action::LockAccount, &target) {
        let (action, label) = if p.locked {
            ("unlock", w.unlock)
        } else {
            ("lock", w.lock)
        };
        let to = format!("/admin/members/{}/lock", p.uid);
        body += &html::action_form(w, &to, &admin.csrf, &[("action", action)], "", label);
    }
    if admin.may(Action::IssueLetter, &target) {
        body += &format!(
            r#"<p><a href="/admin/letters?members={}&amp;kind=reset">{}</a></p>"#,
            esc(&p.uid),
            esc(w.reset_letter_button)
        );
    }
    admin.page(StatusCode::OK, w.member_title, &body)
}

/// `POST /admin/members/{uid}/lock`: `action=lock|unlock`, `confirm=yes`, CSRF.
pub async fn lock(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Path(uid): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin_for_form(&console, Need::Certificate, &form).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let locking = match form.get("action").map(String::as_str) {
        Some("lock") => true,
        Some("unlock") => false,
        _ => return admin.message(StatusCode::BAD_REQUEST, w.bad_form),
    };
    let (p, _) = match permitted(&admin, &uid, Action::LockAccount).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Ok(account) = Uid::parse(&p.uid) else {
        return admin.message(StatusCode::NOT_FOUND, w.no_such_member);
    };
    match admin
        .sso()
        .directory
        .store()
        .set_account_locked(&account, locking, &admin.audit_actor(), admin.now())
        .await
    {
        Ok(_) => {
            admin.after_change().await;
            Redirect::to(&format!("/admin/members/{}", p.uid)).into_response()
        }
        Err(e) => admin.unavailable("locking", &e),
    }
}
