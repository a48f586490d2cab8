//! The console's shared HTML pieces, in the portal's style (the frame is `sso::pages`):
//! the menu, refusals, tables and the confirmed, CSRF-protected action form. Every value goes
//! through `esc`.

use super::words::Words;
use crate::portal::html::esc;

/// The menu above every console page.
pub fn menu(w: &Words) -> String {
    format!(
        r#"<p class="menu"><a href="/admin/">{}</a> · <a href="/admin/members">{}</a> · <a href="/admin/letters">{}</a> · <a href="/admin/groups">{}</a> · <a href="/admin/services">{}</a> · <a href="/admin/certificates">{}</a> · <a href="/admin/audit">{}</a></p>"#,
        esc(w.console_title),
        esc(w.members_title),
        esc(w.letters_title),
        esc(w.groups_title),
        esc(w.services_title),
        esc(w.certificates_title),
        esc(w.audit_title),
    )
}

/// A refusal or short message.
pub fn refusal(why: &str) -> String {
    format!(r#"<p class="error" role="alert">{}</p>"#, esc(why))
}

/// A table of label/value rows.
pub fn pairs(rows: &[(&str, String)]) -> String {
    let body: String = rows
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v)))
        .collect();
    format!("<table>{body}</table>")
}

/// A table with a header row; cells are already HTML.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let head: String = head.iter().map(|h| format!("<th>{}</th>", esc(h))).collect();
    let rows: String = rows
        .iter()
        .map(|r| {
            format!(
                "<tr>{}</tr>",
                r.iter().map(|c| format!("<td>{c}</td>")).collect::<String>()
            )
        })
        .collect();
    format!(r#"<table class="list"><tr>{head}</tr>{rows}</table>"#)
}

/// A POST form to `action` with the CSRF value, hidden `fields`, extra `inputs` (HTML), a
/// required confirmation box and a submit button.
pub fn action_form(w: &Words, action: &str, csrf: &str, fields: &[(&str, &str)], inputs: &str, button: &str) -> String {
    let hidden: String = fields
        .iter()
        .map(|(k, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(k), esc(v)))
        .collect();
    format!(
        r#"<form method="post" action="{action}"><input type="hidden" name="csrf" value="{csrf}">{hidden}{inputs}<label><input type="checkbox" name="confirm" value="yes" required> {confirm}</label><button type="submit">{button}</button></form>"#,
        action = esc(action),
        csrf = esc(csrf),
        confirm = esc(w.confirm),
        button = esc(button),
    )
}
