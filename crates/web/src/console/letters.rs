//! Letters (membership-admin work: the admin's client certificate is required):
//! `GET /admin/letters` is the form, `POST /admin/letters` issues activation or reset letters
//! for a selection of members (uids or member numbers) within the admin's scope, all or
//! nothing through `auth::letters`, and answers the mail-merge CSV as a download.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use piratenldap_auth::admin_scope::{Action, Target};
use piratenldap_auth::letters::issue_letters;
use piratenldap_core::ids::MemberNumber;
use piratenldap_directory::View;
use piratenldap_store::TokenKind;

use super::Console;
use super::gate::{Admin, Caller, Need};
use super::html;
use crate::portal::html::esc;

/// Most members one form names.
const MAX_SELECTION: usize = 1_000;

/// `GET /admin/letters?members=…&kind=…` (prefilled from a member's page).
pub async fn form(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin(&console, Need::Certificate).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let body = letter_form(
        &admin,
        q.get("members").map_or("", String::as_str),
        q.get("kind").map(String::as_str),
    );
    admin.page(StatusCode::OK, admin.words().letters_title, &body)
}

/// The selection form.
pub fn letter_form(admin: &Admin, members: &str, kind: Option<&str>) -> String {
    let w = admin.words();
    let option = |value: &str, label: &str| {
        let selected = if kind == Some(value) { " selected" } else { "" };
        format!(r#"<option value="{value}"{selected}>{}</option>"#, esc(label))
    };
    let inputs = format!(
        r#"<label for="members">{}</label><p class="hint">{}</p><textarea id="members" name="members" rows="6" cols="30" required>{}</textarea><label for="kind">{}</label><select id="kind" name="kind">{}{}</select>"#,
        esc(w.letter_members),
        esc(w.letter_members_hint),
        esc(members),
        esc(w.letter_kind),
        option("activation", w.activation_letter),
        option("reset", w.reset_letter),
    );
    html::action_form(w, "/admin/letters", &admin.csrf, &[], &inputs, w.issue_letters)
}

/// Who a selection entry is: the member number and the target (a member's chapter, or the
/// federal level for a federal admin's account).
fn resolve(admin: &Admin, entry: &str, by_number: &HashMap<String, usize>) -> Option<(MemberNumber, Target)> {
    let view = &admin.view;
    if let Some((p, target)) = admin.target_person(entry) {
        return Some((MemberNumber::parse(&p.member_number).ok()?, target));
    }
    let number = MemberNumber::parse(entry).ok()?;
    let &i = by_number.get(number.as_str())?;
    let uid = match &view.entries[i].kind {
        piratenldap_directory::entry::EntryKind::Person { uid, .. } => uid.clone(),
        _ => return None,
    };
    admin.target_person(&uid).map(|(_, t)| (number, t))
}

/// `POST /admin/letters`: `members` (uids or numbers, separated by lines, commas or spaces),
/// `kind=activation|reset`, CSRF, confirmation.
pub async fn issue(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin_for_form(&console, Need::Certificate, &form).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let kind = match form.get("kind").map(String::as_str) {
        Some("activation") => TokenKind::Activation,
        Some("reset") => TokenKind::Reset,
        _ => return admin.message(StatusCode::BAD_REQUEST, w.bad_form),
    };
    let Some(portal) = admin.console().portal.clone() else {
        return admin.message(StatusCode::SERVICE_UNAVAILABLE, w.no_letters);
    };
    let text = form.get("members").map_or("", String::as_str);
    let entries: Vec<String> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect();
    if entries.is_empty() || entries.len() > MAX_SELECTION {
        return admin.message(StatusCode::BAD_REQUEST, w.letter_selection_size);
    }
    // Members without an account (activation letters) are not in the view: they are read
    // from the store, their chapter from their record.
    let view = Arc::clone(&admin.view);
    let wanted = entries.clone();
    let by_number = tokio::task::spawn_blocking(move || numbers_of_people(&view, &wanted))
        .await
        .unwrap_or_default();
    let mut numbers = Vec::with_capacity(entries.len());
    let mut seen = HashSet::new();
    for entry in &entries {
        let found = match resolve(&admin, entry, &by_number) {
            Some(found) => Some(found),
            None => match without_account(&admin, entry).await {
                Ok(found) => found,
                Err(page) => return page,
            },
        };
        let Some((number, target)) = found else {
            return admin.message(StatusCode::NOT_FOUND, &format!("{}: {entry}", w.no_such_member));
        };
        if let Err(page) = admin.check(Action::IssueLetter, &target, number.as_str()).await {
            return page;
        }
        if seen.insert(number.as_str().to_string()) {
            numbers.push(number);
        }
    }
    let store = admin.sso().directory.store();
    let settings = &admin.console().settings.letters;
    match issue_letters(
        store.as_ref(),
        &portal.token_key,
        settings,
        &numbers,
        kind,
        &admin.audit_actor(),
        admin.now(),
    )
    .await
    {
        Ok(batch) => {
            let name = format!("attachment; filename=\"{}-letters.csv\"", kind.as_str());
            let mut res = (StatusCode::OK, batch.csv()).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            if let Ok(v) = HeaderValue::from_str(&name) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(piratenldap_auth::letters::LetterError::Store(e)) => admin.unavailable("issuing letters", &e),
        Err(e) => {
            let body = format!(
                "{}{}",
                html::refusal(&e.to_string()),
                letter_form(&admin, text, Some(kind.as_str()))
            );
            admin.page(StatusCode::UNPROCESSABLE_ENTITY, w.letters_title, &body)
        }
    }
}

/// Entry index of each person whose member number is among `entries`.
fn numbers_of_people(view: &View, entries: &[String]) -> HashMap<String, usize> {
    let wanted: HashSet<&str> = entries.iter().map(String::as_str).collect();
    (0..view.entries.len())
        .filter_map(|i| {
            let n = view.entries[i].values("pirateMemberNumber").first()?.to_string();
            wanted.contains(n.as_str()).then_some((n, i))
        })
        .collect()
}

/// A member without an account, by number: their number and chapter.
async fn without_account(admin: &Admin, entry: &str) -> Result<Option<(MemberNumber, Target)>, Response> {
    let Ok(number) = MemberNumber::parse(entry) else {
        return Ok(None);
    };
    match admin.sso().directory.store().member(&number).await {
        Ok(Some(m)) => Ok(Some((number, Target::Member(m.state)))),
        Ok(None) => Ok(None),
        Err(e) => Err(admin.unavailable("reading a member", &e)),
    }
}
