//! Issue 3: the activation portal over HTTP with a real client, and the tokens behind it.

use std::time::{Duration, Instant};

use piratenldap_store::Store;
use piratenldap_tests::{Server, person};

use crate::certs::base32_decode;
use crate::portal_support::{GOOD_PASSWORD, portal_server};
use crate::{connect, ok_stdout};

/// A browser-like client: keeps cookies, reads the CSRF value of the last page.
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) last: String,
}

impl Client {
    pub(crate) fn new(server: &Server) -> Client {
        Client::with(server, reqwest::header::HeaderMap::new())
    }

    /// A client behind a proxy that says it forwards for `ip`.
    fn forwarded_for(server: &Server, ip: &str) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", ip.parse().unwrap());
        Client::with(server, headers)
    }

    fn with(server: &Server, headers: reqwest::header::HeaderMap) -> Client {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .build()
            .unwrap();
        Client {
            http,
            base: format!("http://{}", server.http),
            last: String::new(),
        }
    }

    pub(crate) async fn get(&mut self, path_and_query: &str) -> (u16, String) {
        let res = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .unwrap();
        self.keep(res).await
    }

    /// Keeps the page a response brings, for the next form; returns its status and text.
    pub(crate) async fn keep(&mut self, res: reqwest::Response) -> (u16, String) {
        let status = res.status().as_u16();
        self.last = res.text().await.unwrap();
        (status, self.last.clone())
    }

    pub(crate) fn hidden(&self, name: &str) -> String {
        let marker = format!(r#"name="{name}" value=""#);
        let start = self
            .last
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in page:\n{}", self.last))
            + marker.len();
        self.last[start..].split('"').next().unwrap().to_string()
    }

    pub(crate) async fn post(&mut self, fields: &[(&str, &str)]) -> (u16, String) {
        let csrf = self.hidden("csrf");
        let mut form: Vec<(&str, String)> = vec![("csrf", csrf)];
        form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
        let res = self
            .http
            .post(format!("{}/activate", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep(res).await
    }

    /// Token step then account step.
    pub(crate) async fn activate(&mut self, token: &str, uid: &str, name: &str, pw: &str, pw2: &str) -> (u16, String) {
        self.get("/activate").await;
        let (status, _) = self.post(&[("step", "token"), ("token", token)]).await;
        if status != 200 {
            return (status, self.last.clone());
        }
        self.post(&[
            ("step", "account"),
            ("token", token),
            ("uid", uid),
            ("display_name", name),
            ("password", pw),
            ("password_again", pw2),
        ])
        .await
    }
}

pub(crate) async fn binds(server: &Server, uid: &str, pw: &str) -> bool {
    let start = Instant::now();
    loop {
        let mut ldap = connect(server).await;
        if ldap.simple_bind(&person(uid), pw).await.unwrap().rc == 0 {
            return true;
        }
        if start.elapsed() > Duration::from_secs(1) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn activation_then_ldap_bind() {
    let (server, tokens) = portal_server(None).await;
    let mut c = Client::new(&server);
    let (status, page) = c.get("/activate").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Konto aktivieren") && page.contains(r#"lang="de""#),
        "German by default"
    );
    let (_, en) = c.get("/activate?lang=en").await;
    assert!(en.contains("Activate your account"));
    let accept = c
        .http
        .get(format!("{}/activate", c.base))
        .header("Accept-Language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(accept.contains("Activate your account"), "Accept-Language");
    // Typed sloppily: lower case, spaces instead of hyphens, O for 0.
    let sloppy = tokens["1"].to_lowercase().replace('-', " ").replace('0', "o");
    let (status, page) = c
        .activate(&sloppy, "anna", "Anna A.", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("TOTP"), "TOTP is offered: {page}");
    let (_, done) = c.post(&[("step", "totp-skip"), ("ticket", &c.hidden("ticket"))]).await;
    assert!(
        done.contains(&person("anna")) && done.contains(r#"id="done""#),
        "{done}"
    );
    assert!(
        binds(&server, "anna", GOOD_PASSWORD).await,
        "the new account does not bind within one second"
    );
    // Reused: one message for unknown, used, revoked, expired.
    let (status, page) = Client::new(&server)
        .activate(&tokens["1"], "anna2", "A", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("unbekannt, schon benutzt, widerrufen oder abgelaufen"),
        "{page}"
    );
    // The activation is in the audit trail; no token or password is in it or in the log.
    let audit = ok_stdout(&server.cli(&["audit", "--uid", "anna"]));
    assert!(audit.contains("account.activate"), "{audit}");
    let (_, logs) = server.stop();
    for secret in [tokens["1"].as_str(), sloppy.as_str(), GOOD_PASSWORD] {
        assert!(!logs.contains(secret) && !audit.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn every_kind_of_mistake_gets_its_message() {
    // Many attempts from one address: lift the rate limit, another test checks it.
    let (server, tokens) = portal_server(Some(("attempts_per_minute = 10", "attempts_per_minute = 1000"))).await;
    let mut c = Client::new(&server);
    c.activate(&tokens["1"], "anna", "Anna", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    let unusable = "unbekannt, schon benutzt, widerrufen oder abgelaufen";
    // A typo, caught by the check character.
    let t = &tokens["2"];
    let typo: String = t
        .chars()
        .enumerate()
        .map(|(i, ch)| if i == 2 { if ch == 'A' { 'B' } else { 'A' } } else { ch })
        .collect();
    let (status, page) = Client::new(&server).activate(&typo, "x", "x", "x", "x").await;
    assert_eq!(status, 422);
    assert!(page.contains("Tippfehler") && !page.contains(unusable), "{page}");
    // Revoked and expired tokens get the same message as used ones.
    ok_stdout(&server.cli(&["token", "revoke", "--member", "3"]));
    let (_, page) = Client::new(&server).activate(&tokens["3"], "x", "x", "x", "x").await;
    assert!(page.contains(unusable), "revoked: {page}");
    let pool = sqlx::SqlitePool::connect(&server.install.database_url()).await.unwrap();
    sqlx::query("UPDATE tokens SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE member_number = '4'")
        .execute(&pool)
        .await
        .unwrap();
    let (_, page) = Client::new(&server).activate(&tokens["4"], "x", "x", "x", "x").await;
    assert!(page.contains(unusable), "expired: {page}");
    // Field problems on a good token: taken, reserved, weak, mismatched; values kept, never the password.
    let cases = [
        ("anna", "Bea", GOOD_PASSWORD, GOOD_PASSWORD, "schon vergeben"),
        ("postmaster", "Bea", GOOD_PASSWORD, GOOD_PASSWORD, "reserviert"),
        ("Bea!", "Bea", GOOD_PASSWORD, GOOD_PASSWORD, "3 bis 32 Zeichen"),
        ("bea", "Bea", "password1", "password1", "zu schwach"),
        (
            "bea",
            "Bea",
            GOOD_PASSWORD,
            "purple elephants dance at nine",
            "stimmen nicht",
        ),
    ];
    for (uid, name, pw, pw2, message) in cases {
        let (status, page) = Client::new(&server).activate(&tokens["5"], uid, name, pw, pw2).await;
        assert_eq!(status, 422, "{uid}");
        assert!(page.contains(message), "{uid}: expected {message:?} in {page}");
        assert!(
            page.contains(&format!(r#"value="{}""#, uid)) && page.contains(r#"value="Bea""#),
            "values not kept"
        );
        assert!(!page.contains(pw), "the password is echoed back");
    }
    // The token is still good after those mistakes.
    let (status, _) = Client::new(&server)
        .activate(&tokens["5"], "bea", "Bea", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn two_concurrent_activations_make_one_account() {
    let (server, tokens) = portal_server(None).await;
    let (mut a, mut b) = (Client::new(&server), Client::new(&server));
    let token = tokens["2"].clone();
    for c in [&mut a, &mut b] {
        c.get("/activate").await;
        c.post(&[("step", "token"), ("token", &token)]).await;
    }
    let form_a = [
        ("step", "account"),
        ("token", token.as_str()),
        ("uid", "twin-a"),
        ("display_name", "A"),
        ("password", GOOD_PASSWORD),
        ("password_again", GOOD_PASSWORD),
    ];
    let form_b = [
        ("step", "account"),
        ("token", token.as_str()),
        ("uid", "twin-b"),
        ("display_name", "B"),
        ("password", GOOD_PASSWORD),
        ("password_again", GOOD_PASSWORD),
    ];
    let fa = a.post(&form_a);
    let fb = b.post(&form_b);
    let ((sa, _), (sb, _)) = tokio::join!(fa, fb);
    let mut statuses = [sa, sb];
    statuses.sort();
    assert_eq!(statuses, [200, 422], "exactly one activation wins");
    let list = ok_stdout(&server.cli(&["member", "list"]));
    let line = list.lines().find(|l| l.starts_with("2 ")).unwrap();
    assert!(line.ends_with("twin-a") || line.ends_with("twin-b"), "{line}");
}

#[tokio::test]
async fn token_attempts_are_rate_limited_per_address() {
    let (server, _) = portal_server(Some(("attempts_per_minute = 10", "attempts_per_minute = 3"))).await;
    let mut c = Client::new(&server);
    c.get("/activate").await;
    for _ in 0..3 {
        let (status, _) = c
            .post(&[("step", "token"), ("token", "AAAAA-AAAAA-AAAAA-AAAAA-A")])
            .await;
        assert_eq!(status, 422);
    }
    let (status, page) = c
        .post(&[("step", "token"), ("token", "AAAAA-AAAAA-AAAAA-AAAAA-A")])
        .await;
    assert_eq!(status, 429);
    assert!(page.contains("Zu viele Versuche"), "{page}");
}

/// Issue 13, finding 7: behind the TLS proxy every member shares its address. With the proxy
/// trusted, each client has its own budget; an untrusted peer's header changes nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let bad = [("step", "token"), ("token", "AAAAA-AAAAA-AAAAA-AAAAA-A")];
    for (trusted, other_status) in [(true, 422), (false, 429)] {
        let edit = trusted.then_some(("trusted_proxies = []", r#"trusted_proxies = ["127.0.0.1"]"#));
        let (server, _) = portal_server(edit).await;
        let mut guesser = Client::forwarded_for(&server, "198.51.100.1");
        guesser.get("/activate").await;
        for _ in 0..10 {
            assert_eq!(guesser.post(&bad).await.0, 422);
        }
        assert_eq!(guesser.post(&bad).await.0, 429);
        let mut member = Client::forwarded_for(&server, "198.51.100.2");
        member.get("/activate").await;
        assert_eq!(member.post(&bad).await.0, other_status, "trusted proxy: {trusted}");
    }
}

#[tokio::test]
async fn a_post_without_the_csrf_cookie_is_refused() {
    let (server, tokens) = portal_server(None).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/activate", server.http);
    let res = http
        .post(&url)
        .form(&[
            ("step", "token"),
            ("token", tokens["1"].as_str()),
            ("csrf", "0".repeat(48).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    // A matching cookie and field from another origin's guess do not help either: the cookie
    // is set by us only, so a forged field without it fails the same way.
    let res = http
        .post(&url)
        .header("Cookie", "piratenldap_csrf=abc")
        .form(&[("step", "token"), ("csrf", "abd")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

#[tokio::test]
async fn totp_enrolment_on_the_portal() {
    let (server, tokens) = portal_server(None).await;
    let mut c = Client::new(&server);
    c.activate(&tokens["1"], "tina", "Tina", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    let ticket = c.hidden("ticket");
    let (_, page) = c.post(&[("step", "totp-start"), ("ticket", &ticket)]).await;
    assert!(page.contains("<svg"), "no QR code");
    let secret = shown_secret(&page);
    // Each page carries a new one-time ticket for its step.
    let ticket = c.hidden("ticket");
    let (status, page) = c
        .post(&[("step", "totp-confirm"), ("ticket", &ticket), ("code", "000000")])
        .await;
    assert_eq!(status, 422, "a wrong code switches TOTP on: {page}");
    let ticket = c.hidden("ticket");
    let (status, page) = c
        .post(&[
            ("step", "totp-confirm"),
            ("ticket", &ticket),
            ("code", &piratenldap_tests::totp_now(&secret)),
        ])
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="done""#) && page.contains("TOTP"), "{page}");
    // The password alone no longer binds; password + a fresh code does.
    let next = piratenldap_core::totp::code_at(
        &secret,
        u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap() + 30,
    );
    assert!(binds(&server, "tina", &format!("{GOOD_PASSWORD}{next}")).await);
    let mut ldap = connect(&server).await;
    assert_eq!(ldap.simple_bind(&person("tina"), GOOD_PASSWORD).await.unwrap().rc, 49);
    // A forged ticket opens nothing.
    c.get("/activate").await;
    let (status, _) = c
        .post(&[("step", "totp-start"), ("ticket", "anna|99999999999|00")])
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn no_token_in_clear_in_the_database() {
    let (server, tokens) = portal_server(None).await;
    let dir = server.install.dir.path().join("data");
    // The database file and its write-ahead log, as they are on disk while serving.
    let mut bytes = std::fs::read(dir.join("piratenldap.db")).unwrap();
    bytes.extend(std::fs::read(dir.join("piratenldap.db-wal")).unwrap_or_default());
    for token in tokens.values() {
        for form in [token.clone(), token.replace('-', "")] {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                "token {token} in the database"
            );
        }
        // Nor its 20 data characters in any case.
        let digits: String = token.replace('-', "")[..20].to_string();
        assert!(!bytes.windows(20).any(|w| w.eq_ignore_ascii_case(digits.as_bytes())));
    }
}

/// The TOTP secret a setup page shows.
pub(crate) fn shown_secret(page: &str) -> Vec<u8> {
    let start = page.find(r#"<code id="secret">"#).unwrap() + r#"<code id="secret">"#.len();
    base32_decode(page[start..].split('<').next().unwrap())
}

/// Issue 12, finding 3: the ticket for TOTP enrolment works once, only in the browser it was
/// issued to, and never replaces an active second factor.
#[tokio::test]
async fn a_totp_ticket_works_once_and_only_in_its_browser() {
    let (server, tokens) = portal_server(None).await;
    let mut member = Client::new(&server);
    member
        .activate(&tokens["2"], "tom", "Tom", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    let offer = member.hidden("ticket");
    // Another browser (its own cookie and CSRF value) posts the ticket: refused.
    let mut attacker = Client::new(&server);
    attacker.get("/activate").await;
    let (status, _) = attacker.post(&[("step", "totp-start"), ("ticket", &offer)]).await;
    assert_eq!(status, 422, "a ticket from another browser");
    // The member enrols.
    let (_, page) = member.post(&[("step", "totp-start"), ("ticket", &offer)]).await;
    let secret = shown_secret(&page);
    let confirm = member.hidden("ticket");
    let (status, _) = member
        .post(&[
            ("step", "totp-confirm"),
            ("ticket", &confirm),
            ("code", &piratenldap_tests::totp_now(&secret)),
        ])
        .await;
    assert_eq!(status, 200);
    let store = server.install.store().await;
    let tom = piratenldap_core::ids::Uid::parse("tom").unwrap();
    let sealed = store.account(&tom).await.unwrap().unwrap().totp_secret;
    // Replays: the offer again (same browser), the confirm ticket again, from either browser.
    let replays = [
        (false, "totp-start", &offer),
        (true, "totp-start", &offer),
        (false, "totp-confirm", &confirm),
        (false, "totp-skip", &offer),
    ];
    for (from_attacker, step, ticket) in replays {
        let client = if from_attacker { &mut attacker } else { &mut member };
        client.get("/activate").await;
        let (status, page) = client
            .post(&[("step", step), ("ticket", ticket), ("code", "123456")])
            .await;
        assert_eq!(status, 422, "{step} replayed: {page}");
    }
    let account = store.account(&tom).await.unwrap().unwrap();
    assert!(account.totp_enabled);
    assert_eq!(account.totp_secret, sealed, "the active secret was replaced");
}
