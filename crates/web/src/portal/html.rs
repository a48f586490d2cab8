//! Server-rendered HTML of the portal: plain forms that work without JavaScript. Written by
//! hand (a few small pages do not need a template engine); every value goes through `esc`.

use super::texts::{Lang, Texts, problem, texts};
use piratenldap_auth::activation::{Field, Problem};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The style sheet of every page (portal, login, consent).
pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}\nh1{color:#f80;font-size:1.6rem} label{display:block;font-weight:600;margin-top:1rem}\ninput[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1.1rem;box-sizing:border-box}\n.hint{color:#555;font-size:.9rem;margin:.2rem 0} .error{color:#b00020;font-weight:600;margin:.3rem 0}\nbutton{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1.05rem;background:#f80;color:#fff;border:0;border-radius:4px}\nbutton.secondary{background:#777} code{font-size:1.1rem;word-break:break-all} nav{text-align:right}\ntable{border-collapse:collapse;display:block;overflow-x:auto;margin:.8rem 0} th,td{padding:.25rem .5rem;text-align:left;vertical-align:top;border-bottom:1px solid #ddd}\ntextarea,select{width:100%;padding:.4rem;font-size:1rem;box-sizing:border-box} .menu{font-size:.95rem} body:has(.menu){max-width:64rem}\n";

/// A whole page.
pub fn page(lang: Lang, organisation: &str, body: &str) -> String {
    let t = texts(lang);
    let other = if lang == Lang::De { "en" } else { "de" };
    format!(
        r#"<!DOCTYPE html>
<html lang="{code}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {org}</title>
<style>{STYLE}</style></head><body>
<nav><a href="/activate?lang={other}">{other_name}</a></nav>
<h1>{title}</h1>
<p class="org">{org}</p>
{body}
</body></html>"#,
        code = lang.code(),
        title = esc(t.title),
        org = esc(organisation),
        other_name = esc(t.other_lang),
    )
}

fn hidden(name: &str, value: &str) -> String {
    format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(name), esc(value))
}

fn errors(lang: Lang, problems: &[Problem], field: Field) -> String {
    problems
        .iter()
        .filter(|p| p.field() == field)
        .map(|p| format!(r#"<p class="error" role="alert">{}</p>"#, esc(problem(lang, p))))
        .collect()
}

fn form_start(lang: Lang, csrf: &str, step: &str) -> String {
    format!(
        r#"<form method="post" action="/activate">{}{}{}"#,
        hidden("csrf", csrf),
        hidden("lang", lang.code()),
        hidden("step", step)
    )
}

/// Step 1: the token.
pub fn token_form(lang: Lang, csrf: &str, typed: &str, problems: &[Problem], notice: Option<&str>) -> String {
    let t: &Texts = texts(lang);
    format!(
        r#"<p>{intro}</p>{notice}{form}
<label for="token">{label}</label>
<input type="text" id="token" name="token" value="{typed}" autocomplete="off" autocapitalize="characters" spellcheck="false" placeholder="XXXXX-XXXXX-XXXXX-XXXXX-X" required>
{errors}
<button type="submit">{next}</button></form>"#,
        intro = esc(t.token_intro),
        notice = notice
            .map(|n| format!(r#"<p class="error" role="alert">{}</p>"#, esc(n)))
            .unwrap_or_default(),
        form = form_start(lang, csrf, "token"),
        label = esc(t.token_label),
        typed = esc(typed),
        errors = errors(lang, problems, Field::Token),
        next = esc(t.next),
    )
}

/// Step 2: uid, display name, password twice. Entered values are kept, never the password.
pub fn account_form(lang: Lang, csrf: &str, token: &str, uid: &str, name: &str, problems: &[Problem]) -> String {
    let t = texts(lang);
    format!(
        r#"<p>{intro}</p>{form}{token}
<label for="uid">{uid_label}</label><p class="hint">{uid_hint}</p>
<input type="text" id="uid" name="uid" value="{uid}" autocomplete="username" autocapitalize="none" spellcheck="false" required>
{uid_errors}
<label for="display_name">{name_label}</label><p class="hint">{name_hint}</p>
<input type="text" id="display_name" name="display_name" value="{name}" autocomplete="nickname" required>
{name_errors}
<label for="password">{pw_label}</label><p class="hint">{pw_hint}</p>
<input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="password_again">{pw2_label}</label>
<input type="password" id="password_again" name="password_again" autocomplete="new-password" required>
{pw_errors}
<button type="submit">{create}</button></form>"#,
        intro = esc(t.account_intro),
        form = form_start(lang, csrf, "account"),
        token = hidden("token", token),
        uid_label = esc(t.uid_label),
        uid_hint = esc(t.uid_hint),
        uid = esc(uid),
        uid_errors = errors(lang, problems, Field::Uid),
        name_label = esc(t.name_label),
        name_hint = esc(t.name_hint),
        name = esc(name),
        name_errors = errors(lang, problems, Field::DisplayName),
        pw_label = esc(t.password_label),
        pw_hint = esc(t.password_hint),
        pw2_label = esc(t.password_again_label),
        pw_errors = errors(lang, problems, Field::Password),
        create = esc(t.create),
    )
}

/// Step 2 of a reset letter: the account (shown, not chosen), the new password twice, and, when
/// the portal can enrol TOTP, the choice of a new second factor.
pub fn reset_form(lang: Lang, csrf: &str, token: &str, uid: &str, offer_totp: bool, problems: &[Problem]) -> String {
    let t = texts(lang);
    let totp = if offer_totp {
        format!(
            r#"<label><input type="checkbox" id="new_second_factor" name="new_second_factor" value="on"> {label}</label><p class="hint">{hint}</p>{errors}"#,
            label = esc(t.reset_second_factor),
            hint = esc(t.reset_second_factor_hint),
            errors = errors(lang, problems, Field::SecondFactor),
        )
    } else {
        String::new()
    };
    format!(
        r#"<p>{intro}</p>{form}{token}
<p>{uid_label}: <code id="uid">{uid}</code></p>
<label for="password">{pw_label}</label><p class="hint">{pw_hint}</p>
<input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="password_again">{pw2_label}</label>
<input type="password" id="password_again" name="password_again" autocomplete="new-password" required>
{pw_errors}{totp}
<button type="submit">{submit}</button></form>"#,
        intro = esc(t.reset_intro),
        form = form_start(lang, csrf, "reset"),
        token = hidden("token", token),
        uid_label = esc(t.uid_label),
        uid = esc(uid),
        pw_label = esc(t.password_label),
        pw_hint = esc(t.password_hint),
        pw2_label = esc(t.password_again_label),
        pw_errors = errors(lang, problems, Field::Password),
        submit = esc(t.reset_submit),
    )
}

/// The end of a reset without a new second factor.
pub fn reset_done(lang: Lang, dn: &str) -> String {
    let t = texts(lang);
    format!(
        r#"<h2 id="done">{title}</h2><p>{dn_label}: <code id="dn">{dn}</code></p><p>{what}</p>"#,
        title = esc(t.done_title),
        dn_label = esc(t.done_dn),
        dn = esc(dn),
        what = esc(t.reset_done_what),
    )
}

/// Step 3a: offer TOTP.
pub fn totp_offer(lang: Lang, csrf: &str, ticket: &str) -> String {
    let t = texts(lang);
    format!(
        r#"<p>{offer}</p>{form_yes}{ticket}<button type="submit">{yes}</button></form>
{form_skip}{ticket}<button type="submit" class="secondary">{skip}</button></form>"#,
        offer = esc(t.totp_offer),
        form_yes = form_start(lang, csrf, "totp-start"),
        form_skip = form_start(lang, csrf, "totp-skip"),
        ticket = hidden("ticket", ticket),
        yes = esc(t.totp_yes),
        skip = esc(t.totp_skip),
    )
}

/// Step 3b: the QR code, the secret as text, a code field.
pub fn totp_setup(lang: Lang, csrf: &str, ticket: &str, qr_svg: &str, secret: &str, wrong: bool) -> String {
    let t = texts(lang);
    format!(
        r#"<p>{scan}</p><div class="qr">{qr}</div>
<p>{secret_label}: <code id="secret">{secret}</code></p>{form}{ticket}
<label for="code">{code_label}</label>
<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" required>
{wrong}
<button type="submit">{confirm}</button></form>
{form_skip}{ticket}<button type="submit" class="secondary">{skip}</button></form>"#,
        scan = esc(t.totp_scan),
        qr = qr_svg,
        secret_label = esc(t.totp_secret),
        secret = esc(secret),
        form = form_start(lang, csrf, "totp-confirm"),
        form_skip = form_start(lang, csrf, "totp-skip"),
        ticket = hidden("ticket", ticket),
        code_label = esc(t.totp_code_label),
        wrong = if wrong {
            format!(r#"<p class="error" role="alert">{}</p>"#, esc(t.totp_wrong))
        } else {
            String::new()
        },
        confirm = esc(t.totp_confirm),
        skip = esc(t.totp_skip),
    )
}

/// Step 4: done.
pub fn done(lang: Lang, dn: &str, totp: bool) -> String {
    let t = texts(lang);
    format!(
        r#"<h2 id="done">{title}</h2><p>{dn_label}: <code id="dn">{dn}</code></p><p>{what}</p>{totp}"#,
        title = esc(t.done_title),
        dn_label = esc(t.done_dn),
        dn = esc(dn),
        what = esc(t.done_what),
        totp = if totp {
            format!("<p>{}</p>", esc(t.done_totp))
        } else {
            String::new()
        },
    )
}

/// A page with one message.
pub fn message(text: &str) -> String {
    format!(
        r#"<p class="error" role="alert">{}</p><p><a href="/activate">↺</a></p>"#,
        esc(text)
    )
}
