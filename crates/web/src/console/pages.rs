//! The console's HTML, in the portal's style (the frame is `sso::pages`), German by default
//! and English on request. Every value goes through `esc`.

use piratenldap_auth::admin_scope::{Actor, Role};

use crate::portal::html::esc;
use crate::portal::texts::Lang;

/// The console's words in one language.
pub struct Words {
    pub console_title: &'static str,
    pub members_title: &'static str,
    pub member_title: &'static str,
    pub refused_title: &'static str,
    pub federal: &'static str,
    pub chapter_admin: &'static str,
    pub search: &'static str,
    pub uid: &'static str,
    pub name: &'static str,
    pub real_name: &'static str,
    pub number: &'static str,
    pub chapter: &'static str,
    pub status: &'static str,
    pub account: &'static str,
    pub locked: &'static str,
    pub open: &'static str,
    pub groups: &'static str,
    pub lock: &'static str,
    pub unlock: &'static str,
    pub confirm: &'static str,
    pub no_such_member: &'static str,
    pub bad_form: &'static str,
    pub not_confirmed: &'static str,
    pub unavailable: &'static str,
    pub none_found: &'static str,
}

const DE: Words = Words {
    console_title: "Verwaltung",
    members_title: "Mitglieder",
    member_title: "Mitglied",
    refused_title: "Nicht erlaubt",
    federal: "Bundesadmin: alle Gliederungen",
    chapter_admin: "Admin der Gliederung",
    search: "Suchen",
    uid: "Benutzername",
    name: "Anzeigename",
    real_name: "Name",
    number: "Mitgliedsnummer",
    chapter: "Gliederung",
    status: "Status",
    account: "Konto",
    locked: "gesperrt",
    open: "offen",
    groups: "Gruppen",
    lock: "Konto sperren",
    unlock: "Konto entsperren",
    confirm: "Ja, ich bin sicher",
    no_such_member: "Dieses Mitglied gibt es nicht.",
    bad_form: "Das Formular ist abgelaufen. Bitte lade die Seite neu.",
    not_confirmed: "Bitte bestätige die Aktion.",
    unavailable: "Der Dienst ist gerade nicht erreichbar. Bitte versuche es gleich noch einmal.",
    none_found: "Keine Treffer in deinem Bereich.",
};

const EN: Words = Words {
    console_title: "Administration",
    members_title: "Members",
    member_title: "Member",
    refused_title: "Not allowed",
    federal: "Federal admin: every chapter",
    chapter_admin: "Admin of chapter",
    search: "Search",
    uid: "Username",
    name: "Display name",
    real_name: "Name",
    number: "Member number",
    chapter: "Chapter",
    status: "Status",
    account: "Account",
    locked: "locked",
    open: "open",
    groups: "Groups",
    lock: "Lock account",
    unlock: "Unlock account",
    confirm: "Yes, I am sure",
    no_such_member: "There is no such member.",
    bad_form: "This form has expired. Please reload the page.",
    not_confirmed: "Please confirm the action.",
    unavailable: "The service is unavailable right now. Please try again in a moment.",
    none_found: "No matches in your scope.",
};

/// The words of `lang`.
pub fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::De => &DE,
        Lang::En => &EN,
    }
}

/// A refusal: what may not be done, and why.
pub fn refusal(why: &str) -> String {
    format!(
        r#"<p class="error" role="alert">{}</p><p><a href="/admin/">←</a></p>"#,
        esc(why)
    )
}

/// The start page: the acting admin's role and the search form.
pub fn home(lang: Lang, actor: &Actor) -> String {
    let w = words(lang);
    let role = match &actor.role {
        Role::Federal => w.federal.to_string(),
        Role::Chapters(c) => format!(
            "{} {}",
            w.chapter_admin,
            c.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    format!(
        r#"<p><strong>{}</strong> · {}</p>{}"#,
        esc(actor.uid.as_str()),
        esc(&role),
        search_form(lang, "")
    )
}

fn search_form(lang: Lang, text: &str) -> String {
    let w = words(lang);
    format!(
        r#"<form method="get" action="/admin/members"><label for="q">{}</label><input type="text" id="q" name="q" value="{}" maxlength="64"><button type="submit">{}</button></form>"#,
        esc(w.members_title),
        esc(text),
        esc(w.search)
    )
}

/// One search result.
pub struct Row<'a> {
    pub uid: &'a str,
    pub display_name: &'a str,
    pub state: &'a str,
    pub status: &'a str,
    pub locked: bool,
    pub real_name: Option<&'a str>,
}

/// The search page.
pub fn search(lang: Lang, text: &str, rows: &[Row<'_>]) -> String {
    let w = words(lang);
    let items: String = rows
        .iter()
        .map(|r| {
            format!(
                r#"<li><a href="/admin/members/{uid}">{uid}</a> – {name}{real} · {state} · {status} · {account}</li>"#,
                uid = esc(r.uid),
                name = esc(r.display_name),
                real = r.real_name.map(|n| format!(" ({})", esc(n))).unwrap_or_default(),
                state = esc(r.state),
                status = esc(r.status),
                account = if r.locked { w.locked } else { w.open },
            )
        })
        .collect();
    let list = if rows.is_empty() {
        format!("<p>{}</p>", esc(w.none_found))
    } else {
        format!("<ul>{items}</ul>")
    };
    format!("{}{list}", search_form(lang, text))
}

/// A member as the detail page shows them.
pub struct Detail<'a> {
    pub uid: &'a str,
    pub display_name: &'a str,
    pub state: &'a str,
    pub status: &'a str,
    pub locked: bool,
    pub groups: &'a [String],
    pub real_name: Option<&'a str>,
    pub member_number: Option<&'a str>,
    pub may_lock: bool,
}

/// The detail page with the lock or unlock form (confirmed, CSRF-protected).
pub fn detail(lang: Lang, csrf: &str, d: &Detail<'_>) -> String {
    let w = words(lang);
    let row = |k: &str, v: &str| format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    let mut table = row(w.uid, d.uid) + &row(w.name, d.display_name);
    if let Some(n) = d.real_name {
        table += &row(w.real_name, n);
    }
    if let Some(n) = d.member_number {
        table += &row(w.number, n);
    }
    table += &row(w.chapter, d.state);
    table += &row(w.status, d.status);
    table += &row(w.account, if d.locked { w.locked } else { w.open });
    table += &row(w.groups, &d.groups.join(", "));
    let form = if d.may_lock {
        let (action, label) = if d.locked {
            ("unlock", w.unlock)
        } else {
            ("lock", w.lock)
        };
        format!(
            r#"<form method="post" action="/admin/members/{uid}/lock"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="action" value="{action}"><label><input type="checkbox" name="confirm" value="yes" required> {confirm}</label><button type="submit">{label}</button></form>"#,
            uid = esc(d.uid),
            csrf = esc(csrf),
            confirm = esc(w.confirm),
            label = esc(label),
        )
    } else {
        String::new()
    };
    format!("<table>{table}</table>{form}")
}
