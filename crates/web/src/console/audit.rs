//! `GET /admin/audit?before=ID`: the audit trail, newest first, 100 events a page; a
//! chapter admin sees the events about their chapters' members, a federal admin all. It
//! names members, so it needs the admin's client certificate.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use piratenldap_auth::admin_scope::{Action, Target};
use time::format_description::well_known::Rfc3339;

use super::Console;
use super::gate::{Caller, Need};
use super::html;
use crate::portal::html::esc;

/// Events on one page.
const PAGE: u32 = 100;

/// `GET /admin/audit`.
pub async fn audit(
    State(console): State<Arc<Console>>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let admin = match caller.admin(&console, Need::Certificate).await {
        Ok(a) => a,
        Err(page) => return page,
    };
    let w = admin.words();
    let chapters = admin.chapters();
    let target = match chapters.as_deref() {
        Some([first, ..]) => Target::Chapter(first.clone()),
        _ => Target::Installation,
    };
    if let Err(page) = admin.check(Action::ReadAudit, &target, "audit").await {
        return page;
    }
    let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
    let events = match admin
        .sso()
        .directory
        .store()
        .audit_page(chapters.as_deref(), before, PAGE)
        .await
    {
        Ok(e) => e,
        Err(e) => return admin.unavailable("reading the audit trail", &e),
    };
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|(_, e)| {
            vec![
                esc(&e.at.format(&Rfc3339).unwrap_or_default()),
                esc(&e.actor),
                esc(&e.action),
                esc(&e.subject),
                esc(&e.detail),
            ]
        })
        .collect();
    let mut body = html::table(&[w.when, w.actor, w.action, w.subject, w.detail], &rows);
    if events.len() == PAGE as usize
        && let Some((oldest, _)) = events.last()
    {
        body += &format!(r#"<p><a href="/admin/audit?before={oldest}">{}</a></p>"#, esc(w.older));
    }
    admin.page(StatusCode::OK, w.audit_title, &body)
}
