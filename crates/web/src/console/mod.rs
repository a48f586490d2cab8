//! The admin console (`/admin/`, issue 15), first slice: members found, shown and locked or
//! unlocked by federal and chapter admins within their scope. Login is the single sign-on
//! session, which must have been opened with the second factor; every permission comes from
//! `auth::admin_scope::decide`, every refusal says why and is audited, every change is a
//! confirmed, CSRF-protected POST audited with the acting admin. Pages are never cached
//! (`no-store`, from `sso::pages`).
//!
//! Not yet: the client-certificate requirement for membership-admin pages, letters, groups,
//! services, certificate requests and the audit page.

mod pages;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use piratenldap_auth::admin_scope::{Action, Actor, ChapterGrant, Refusal, Role, Target, decide};
use piratenldap_core::ids::{StateCode, Uid};
use piratenldap_directory::View;
use piratenldap_directory::entry::EntryKind;
use time::OffsetDateTime;

use crate::sso::Sso;

/// Longest search text.
const MAX_QUERY_CHARS: usize = 64;
/// Most members a search lists.
const MAX_RESULTS: usize = 50;

/// The console's routes (on the single sign-on state: session, CSRF, pages).
pub fn router(sso: Arc<Sso>) -> Router {
    Router::new()
        .route("/admin/", get(home))
        .route("/admin/members", get(search))
        .route("/admin/members/{uid}", get(detail))
        .route("/admin/members/{uid}/lock", post(lock))
        .with_state(sso)
}

/// What the console knows about a person entry.
struct Person {
    uid: String,
    display_name: String,
    state: Option<StateCode>,
    status: String,
    locked: bool,
    member_number: String,
    real_name: String,
    groups: Vec<String>,
}

fn first(view: &View, i: usize, attr: &str) -> String {
    view.entries[i].values(attr).first().cloned().unwrap_or_default()
}

fn person(view: &View, i: usize) -> Option<Person> {
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

/// The acting admin of this browser: a live session opened with password and TOTP, whose
/// account is a federal or chapter admin; otherwise the page to show instead.
async fn actor(sso: &Sso, headers: &HeaderMap, now: OffsetDateTime) -> Result<(Actor, Arc<View>), Response> {
    let lang = crate::sso::language(None, headers);
    let Some(session) = sso.current_session(headers, now).await else {
        return Err(Redirect::to("/login").into_response());
    };
    let view = sso.directory.view();
    let dn = view.layout.person_dn(session.uid.as_str());
    let federal = matches!(
        view.credential(&dn).map(|c| &c.principal),
        Some(piratenldap_directory::Principal::Admin { .. })
    );
    let role = if federal {
        Role::Federal
    } else {
        let grants = match sso.directory.store().chapter_admins().await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "reading chapter admins failed");
                return Err(sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, pages::words(lang).unavailable));
            }
        };
        let mine: BTreeMap<StateCode, ChapterGrant> = grants
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
            .collect();
        Role::Chapters(mine)
    };
    let actor = Actor {
        uid: session.uid.clone(),
        role,
    };
    if matches!(&actor.role, Role::Chapters(c) if c.is_empty()) {
        return Err(refused(sso, lang, &Refusal(format!("{} is no admin", actor.uid))));
    }
    if session.method != "password+totp" {
        let why = Refusal(
            "the console needs a login with the second factor (TOTP); log out and in again with your code".into(),
        );
        return Err(refused(sso, lang, &why));
    }
    Ok((actor, view))
}

fn refused(sso: &Sso, lang: crate::portal::texts::Lang, why: &Refusal) -> Response {
    let w = pages::words(lang);
    sso.page(
        StatusCode::FORBIDDEN,
        lang,
        None,
        w.refused_title,
        &pages::refusal(&why.0),
        None,
    )
}

/// `GET /admin/`: who is acting, with what role.
async fn home(State(sso): State<Arc<Sso>>, headers: HeaderMap) -> Response {
    let lang = crate::sso::language(None, &headers);
    let (actor, _) = match actor(&sso, &headers, OffsetDateTime::now_utc()).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = pages::words(lang);
    sso.page(
        StatusCode::OK,
        lang,
        None,
        w.console_title,
        &pages::home(lang, &actor),
        None,
    )
}

/// `GET /admin/members?q=`: members of the admin's scope whose uid or display name (or, with
/// real names, member number) contains the text.
async fn search(State(sso): State<Arc<Sso>>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    let lang = crate::sso::language(q.get("lang").map(String::as_str), &headers);
    let (actor, view) = match actor(&sso, &headers, OffsetDateTime::now_utc()).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let text: String = q.get("q").map(|t| t.trim().to_lowercase()).unwrap_or_default();
    let text: String = text.chars().take(MAX_QUERY_CHARS).collect();
    let mut found = Vec::new();
    for i in 0..view.entries.len() {
        let Some(p) = person(&view, i) else { continue };
        let Some(state) = p.state.clone() else { continue };
        if decide(&actor, Action::ReadMember, &Target::Member(state.clone())).is_err() {
            continue;
        }
        let names = decide(&actor, Action::ReadRealNames, &Target::Member(state)).is_ok();
        let hit = text.is_empty()
            || p.uid.contains(&text)
            || p.display_name.to_lowercase().contains(&text)
            || (names && (p.member_number == text || p.real_name.to_lowercase().contains(&text)));
        if hit {
            found.push((p, names));
            if found.len() >= MAX_RESULTS {
                break;
            }
        }
    }
    let w = pages::words(lang);
    let rows: Vec<pages::Row> = found
        .iter()
        .map(|(p, names)| pages::Row {
            uid: &p.uid,
            display_name: &p.display_name,
            state: p.state.as_ref().map(StateCode::as_str).unwrap_or(""),
            status: &p.status,
            locked: p.locked,
            real_name: names.then_some(p.real_name.as_str()),
        })
        .collect();
    sso.page(
        StatusCode::OK,
        lang,
        None,
        w.members_title,
        &pages::search(lang, &text, &rows),
        None,
    )
}

/// The person `uid` and the target it is for an admin.
/// A federal admin's account belongs to the federal level, whatever their chapter.
fn target_person(view: &View, uid: &str) -> Option<(Person, Target)> {
    let uid = Uid::parse(uid).ok()?;
    let dn = view.layout.person_dn(uid.as_str());
    let i = view.entry_index(&dn)?;
    let p = person(view, i)?;
    let admin = matches!(
        view.credential(&dn).map(|c| &c.principal),
        Some(piratenldap_directory::Principal::Admin { .. })
    );
    let target = if admin {
        Target::Owned(None)
    } else {
        Target::Member(p.state.clone()?)
    };
    Some((p, target))
}

/// The person `uid` if `actor` may do `action` on them; else the page to show (404, or 403
/// with the reason, audited).
async fn permitted(
    sso: &Sso,
    actor: &Actor,
    view: &View,
    uid: &str,
    action: Action,
    lang: crate::portal::texts::Lang,
    now: OffsetDateTime,
) -> Result<(Person, Target), Response> {
    let w = pages::words(lang);
    let Some((p, target)) = target_person(view, uid) else {
        return Err(sso.page(
            StatusCode::NOT_FOUND,
            lang,
            None,
            w.members_title,
            &pages::refusal(w.no_such_member),
            None,
        ));
    };
    if let Err(why) = decide(actor, action, &target) {
        sso.audit(now, actor.uid.as_str(), "console.refused", &p.uid, why.0.clone())
            .await;
        return Err(refused(sso, lang, &why));
    }
    Ok((p, target))
}

/// `GET /admin/members/{uid}`.
async fn detail(State(sso): State<Arc<Sso>>, Path(uid): Path<String>, headers: HeaderMap) -> Response {
    let lang = crate::sso::language(None, &headers);
    let now = OffsetDateTime::now_utc();
    let (actor, view) = match actor(&sso, &headers, now).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = pages::words(lang);
    let (p, target) = match permitted(&sso, &actor, &view, &uid, Action::ReadMember, lang, now).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let names = decide(&actor, Action::ReadRealNames, &target).is_ok();
    let csrf = sso.csrf(&headers);
    let detail = pages::Detail {
        uid: &p.uid,
        display_name: &p.display_name,
        state: p.state.as_ref().map(StateCode::as_str).unwrap_or(""),
        status: &p.status,
        locked: p.locked,
        groups: &p.groups,
        real_name: names.then_some(p.real_name.as_str()),
        member_number: names.then_some(p.member_number.as_str()),
        may_lock: decide(&actor, Action::LockAccount, &target).is_ok(),
    };
    sso.page(
        StatusCode::OK,
        lang,
        None,
        w.member_title,
        &pages::detail(lang, &csrf, &detail),
        Some(&csrf),
    )
}

/// `POST /admin/members/{uid}/lock`: `action=lock|unlock`, `confirm=yes`, CSRF.
async fn lock(
    State(sso): State<Arc<Sso>>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = crate::sso::language(None, &headers);
    let now = OffsetDateTime::now_utc();
    let (actor, view) = match actor(&sso, &headers, now).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = pages::words(lang);
    if !sso.csrf_ok(&headers, form.get("csrf")) {
        return sso.page(
            StatusCode::FORBIDDEN,
            lang,
            None,
            w.refused_title,
            &pages::refusal(w.bad_form),
            None,
        );
    }
    let locking = match form.get("action").map(String::as_str) {
        Some("lock") => true,
        Some("unlock") => false,
        _ => {
            return sso.page(
                StatusCode::BAD_REQUEST,
                lang,
                None,
                w.refused_title,
                &pages::refusal(w.bad_form),
                None,
            );
        }
    };
    if form.get("confirm").map(String::as_str) != Some("yes") {
        return sso.page(
            StatusCode::BAD_REQUEST,
            lang,
            None,
            w.refused_title,
            &pages::refusal(w.not_confirmed),
            None,
        );
    }
    let (p, _) = match permitted(&sso, &actor, &view, &uid, Action::LockAccount, lang, now).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Ok(account) = Uid::parse(&p.uid) else {
        return sso.page(
            StatusCode::NOT_FOUND,
            lang,
            None,
            w.members_title,
            &pages::refusal(w.no_such_member),
            None,
        );
    };
    let by = format!("console:{}", actor.uid);
    match sso
        .directory
        .store()
        .set_account_locked(&account, locking, &by, now)
        .await
    {
        Ok(_) => Redirect::to(&format!("/admin/members/{}", p.uid)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "locking from the console failed");
            sso.error_page(StatusCode::SERVICE_UNAVAILABLE, lang, w.unavailable)
        }
    }
}
