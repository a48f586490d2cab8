//! The HTML of single sign-on, in the portal's style, German by default and English on
//! request: the login form, the consent page, the refusal and error pages, and the logout
//! pages. Every value goes through `esc`; every response carries the security headers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::portal::html::{STYLE, esc};
use crate::portal::texts::Lang;

/// The words of one language.
pub struct Words {
    pub login_title: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub code: &'static str,
    pub code_hint: &'static str,
    pub log_in: &'static str,
    pub wrong: &'static str,
    pub bad_form: &'static str,
    pub logged_in_as: &'static str,
    pub log_out: &'static str,
    pub consent_title: &'static str,
    pub consent_intro: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub refused_title: &'static str,
    pub refused: &'static str,
    pub error_title: &'static str,
    pub bad_client: &'static str,
    pub bad_redirect: &'static str,
    pub unavailable: &'static str,
    pub logout_title: &'static str,
    pub logout_question: &'static str,
    pub everywhere: &'static str,
    pub logged_out: &'static str,
    pub continue_to: &'static str,
    pub other_lang: &'static str,
}

const DE: Words = Words {
    login_title: "Anmelden",
    username: "Benutzername",
    password: "Passwort",
    code: "Code aus der Authenticator-App",
    code_hint: "Nur wenn du die Anmeldung in zwei Schritten (TOTP) nutzt; Admins immer.",
    log_in: "Anmelden",
    wrong: "Benutzername, Passwort oder Code stimmen nicht, oder es gab zu viele Versuche. App-Passwörter gelten hier nicht.",
    bad_form: "Das Formular ist abgelaufen. Bitte lade die Seite neu.",
    logged_in_as: "Du bist angemeldet als",
    log_out: "Abmelden",
    consent_title: "Daten weitergeben?",
    consent_intro: "Dieser Dienst möchte deine Anmeldung nutzen und erhält dabei genau diese Daten:",
    allow: "Erlauben",
    deny: "Ablehnen",
    refused_title: "Kein Zugang",
    refused: "Dieser Dienst steht dir nicht offen: Er ist nur für eine bestimmte Gruppe von Mitgliedern freigegeben. Wende dich an die Verantwortlichen des Dienstes, wenn du glaubst, dass das ein Fehler ist.",
    error_title: "Anmeldung nicht möglich",
    bad_client: "Dieser Dienst ist nicht für die Anmeldung registriert.",
    bad_redirect: "Die Rücksprungadresse dieses Dienstes ist nicht registriert. Aus Sicherheitsgründen geht es hier nicht weiter.",
    unavailable: "Der Dienst ist gerade nicht erreichbar. Bitte versuche es gleich noch einmal.",
    logout_title: "Abmelden",
    logout_question: "Möchtest du dich abmelden? Damit endet deine Anmeldung bei allen Diensten, die du in diesem Browser genutzt hast.",
    everywhere: "Auch auf allen anderen Geräten abmelden",
    logged_out: "Du bist abgemeldet.",
    continue_to: "Weiter",
    other_lang: "English",
};

const EN: Words = Words {
    login_title: "Log in",
    username: "Username",
    password: "Password",
    code: "Code from your authenticator app",
    code_hint: "Only if you use two-step login (TOTP); admins always do.",
    log_in: "Log in",
    wrong: "Username, password or code are wrong, or there were too many attempts. App passwords do not work here.",
    bad_form: "This form has expired. Please reload the page.",
    logged_in_as: "You are logged in as",
    log_out: "Log out",
    consent_title: "Share your data?",
    consent_intro: "This service wants to use your login and will receive exactly this data:",
    allow: "Allow",
    deny: "Deny",
    refused_title: "No access",
    refused: "This service is not open to you: it is limited to a group of members. Contact the people who run it if you think this is a mistake.",
    error_title: "Login not possible",
    bad_client: "This service is not registered for single sign-on.",
    bad_redirect: "This service's return address is not registered. For your safety, this is as far as it goes.",
    unavailable: "The service is unavailable right now. Please try again in a moment.",
    logout_title: "Log out",
    logout_question: "Do you want to log out? This ends your login at every service you used in this browser.",
    everywhere: "Also log out on all other devices",
    logged_out: "You are logged out.",
    continue_to: "Continue",
    other_lang: "Deutsch",
};

/// The words of `lang`.
pub fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::De => &DE,
        Lang::En => &EN,
    }
}

/// What a page is made of besides its body.
pub struct Frame<'a> {
    /// The page language.
    pub lang: Lang,
    /// The organisation (header).
    pub organisation: &'a str,
    /// The link to this page in the other language, if it has one.
    pub switch: Option<String>,
    /// Origins the page may frame (front-channel logout).
    pub frames: &'a [String],
}

/// A whole page.
pub fn respond(status: StatusCode, frame: &Frame<'_>, title: &str, body: &str) -> Response {
    let lang = frame.lang;
    let w = words(lang);
    let nav = frame
        .switch
        .as_deref()
        .map(|href| format!(r#"<nav><a href="{}">{}</a></nav>"#, esc(href), esc(w.other_lang)))
        .unwrap_or_default();
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="{code}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {org}</title>
<style>{STYLE}</style></head><body>
{nav}
<h1>{title}</h1>
<p class="org">{org}</p>
{body}
</body></html>"#,
        code = lang.code(),
        title = esc(title),
        org = esc(frame.organisation),
    );
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // No form-action: a login form's answer redirects on to the client, which form-action
    // would block. Frames only for the logout page's front-channel requests.
    let frame_src = if frame.frames.is_empty() {
        "'none'".to_string()
    } else {
        frame.frames.join(" ")
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src {frame_src}; frame-ancestors 'none'"
    )) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

fn hidden(name: &str, value: &str) -> String {
    format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(name), esc(value))
}

/// The login form.
pub fn login_form(lang: Lang, csrf: &str, next: &str, username: &str, failed: bool) -> String {
    let w = words(lang);
    let error = if failed {
        format!(r#"<p class="error" role="alert">{}</p>"#, esc(w.wrong))
    } else {
        String::new()
    };
    format!(
        r#"{error}<form method="post" action="/login">{csrf}{next}{lang}
<label for="username">{username_label}</label><input type="text" id="username" name="username" value="{username}" autocomplete="username" autocapitalize="none" required maxlength="64">
<label for="password">{password_label}</label><input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024">
<label for="code">{code_label}</label><p class="hint">{code_hint}</p><input type="text" id="code" name="code" autocomplete="one-time-code" inputmode="numeric" maxlength="16">
<button type="submit">{log_in}</button></form>"#,
        csrf = hidden("csrf", csrf),
        next = hidden("next", next),
        lang = hidden("lang", lang.code()),
        username_label = esc(w.username),
        username = esc(username),
        password_label = esc(w.password),
        code_label = esc(w.code),
        code_hint = esc(w.code_hint),
        log_in = esc(w.log_in),
    )
}

/// "You are logged in as …" with a logout button.
pub fn logged_in(lang: Lang, uid: &str) -> String {
    let w = words(lang);
    format!(
        r#"<p>{} <strong>{}</strong>.</p><p><a href="/oauth2/logout?lang={}">{}</a></p>"#,
        esc(w.logged_in_as),
        esc(uid),
        lang.code(),
        esc(w.log_out)
    )
}

/// The consent page: the client and exactly the claims it will receive.
pub fn consent(lang: Lang, csrf: &str, next: &str, client: &str, claims: &[(String, String)]) -> String {
    let w = words(lang);
    let rows: String = claims
        .iter()
        .map(|(k, v)| format!("<li><code>{}</code>: {}</li>", esc(k), esc(v)))
        .collect();
    format!(
        r#"<p><strong>{client}</strong></p><p>{intro}</p><ul>{rows}</ul>
<form method="post" action="/oauth2/consent">{csrf}{next}{lang}
<button type="submit" name="answer" value="allow">{allow}</button> <button type="submit" name="answer" value="deny" class="secondary">{deny}</button></form>"#,
        client = esc(client),
        intro = esc(w.consent_intro),
        csrf = hidden("csrf", csrf),
        next = hidden("next", next),
        lang = hidden("lang", lang.code()),
        allow = esc(w.allow),
        deny = esc(w.deny),
    )
}

/// The logout question (when the request did not prove it comes from the member's client).
pub fn logout_question(lang: Lang, csrf: &str, carry: &[(String, String)]) -> String {
    let w = words(lang);
    let carried: String = carry.iter().map(|(k, v)| hidden(k, v)).collect();
    format!(
        r#"<p>{question}</p><form method="post" action="/oauth2/logout">{csrf}{carried}{lang}
<label><input type="checkbox" name="everywhere" value="1"> {everywhere}</label>
<button type="submit">{log_out}</button></form>"#,
        question = esc(w.logout_question),
        csrf = hidden("csrf", csrf),
        lang = hidden("lang", lang.code()),
        everywhere = esc(w.everywhere),
        log_out = esc(w.log_out),
    )
}

/// "You are logged out", the front-channel frames, and where to go on.
pub fn logged_out(lang: Lang, frames: &[String], next: Option<&str>) -> String {
    let w = words(lang);
    let frames: String = frames
        .iter()
        .map(|src| {
            format!(
                r#"<iframe src="{}" style="display:none" title="logout"></iframe>"#,
                esc(src)
            )
        })
        .collect();
    let next = next
        .map(|n| {
            format!(
                r#"<meta http-equiv="refresh" content="2;url={n}"><p><a href="{n}">{}</a></p>"#,
                esc(w.continue_to),
                n = esc(n)
            )
        })
        .unwrap_or_default();
    format!(r#"<p>{}</p>{frames}{next}"#, esc(w.logged_out))
}

/// A paragraph of text.
pub fn message(text: &str) -> String {
    format!("<p>{}</p>", esc(text))
}
