//! Issue 15: reset letters. `token issue --reset` by the real CLI, the reset on the portal's
//! `/activate` form over HTTP, and what follows: the old password fails and the new one binds,
//! single sign-on sessions and refresh tokens end, the token works once, the second factor is
//! replaced when asked, and neither kind of token does the other's work.

use std::time::{Duration, Instant};

use ldap3::LdapConnSettings;
use openidconnect::OAuth2TokenResponse;
use piratenldap_core::ids::Uid;
use piratenldap_store::Store;
use piratenldap_tests::{PASSWORD, Server, person, totp_now};
use reqwest::StatusCode;

use crate::portal::{Client, binds, shown_secret};
use crate::portal_support::{GOOD_PASSWORD, portal_server};
use crate::sso::{Browser, auth_request, location_of, sign_in, sso_server, userinfo};
use crate::{connect_url, ok_stdout};

const NEW_PASSWORD: &str = "seven quiet owls read maps";
const UNUSABLE: &str = "unbekannt, schon benutzt, widerrufen oder abgelaufen";

/// Issues letters by the CLI and returns the CSV rows (fields) after checking the header.
fn issue(server: &Server, args: &[&str]) -> Vec<Vec<String>> {
    let out = server
        .install
        .dir
        .path()
        .join(format!("letters-{}.csv", args.join("-")));
    let mut all = vec!["token", "issue"];
    all.extend(args);
    all.extend(["--out", out.to_str().unwrap()]);
    ok_stdout(&server.cli(&all));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("member_number,token,activation_url,expires_at,letter")
    );
    lines.map(|l| l.split(',').map(str::to_string).collect()).collect()
}

/// A reset letter's token for `member`.
fn reset_token(server: &Server, member: &str) -> String {
    let rows = issue(server, &["--reset", "--member", member]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], member);
    assert!(rows[0][2].ends_with("/activate"), "{:?}", rows[0]);
    assert_eq!(rows[0][4], "reset", "the template is told it is a reset letter");
    rows[0][1].clone()
}

/// Whether a simple bind as `uid` with `password` succeeds, now.
async fn bind_now(server: &Server, uid: &str, password: &str) -> bool {
    let mut ldap = connect_url(&server.ldap_url(), LdapConnSettings::new()).await;
    ldap.simple_bind(&person(uid), password).await.unwrap().rc == 0
}

/// Polls until a bind with `password` fails (the view follows the store within 250 ms).
async fn stops_binding(server: &Server, uid: &str, password: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if !bind_now(server, uid, password).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_reset_letter_sets_a_new_password_once_and_ends_every_session() {
    let sso = sso_server().await;
    let server = &sso.server;
    // bob (member 2) is logged in to single sign-on and holds tokens of a client.
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let (tokens, _) = sign_in(&sso, &browser, &client, &[], Some(("bob", PASSWORD, ""))).await;
    assert_eq!(userinfo(&sso, tokens.access_token().secret()).await.0, StatusCode::OK);
    let refresh = tokens.refresh_token().unwrap().clone();

    let token = reset_token(server, "2");
    let mut c = Client::new(server);
    c.get("/activate").await;
    let (status, page) = c.post(&[("step", "token"), ("token", &token)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"<code id="uid">bob</code>"#),
        "the uid is shown: {page}"
    );
    assert!(
        page.contains(r#"name="step" value="reset""#) && !page.contains(r#"name="uid""#),
        "{page}"
    );
    assert!(page.contains("new_second_factor"), "a new second factor is offered");

    // A weak password is refused and nothing changes: old password, sessions, token.
    let (status, page) = c
        .post(&[
            ("step", "reset"),
            ("token", &token),
            ("password", "password1"),
            ("password_again", "password1"),
        ])
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("zu schwach") && page.contains(r#"<code id="uid">bob</code>"#),
        "{page}"
    );
    assert!(bind_now(server, "bob", PASSWORD).await);
    assert_eq!(userinfo(&sso, tokens.access_token().secret()).await.0, StatusCode::OK);

    // The reset itself, in English this time.
    let (status, page) = c
        .post(&[
            ("step", "reset"),
            ("lang", "en"),
            ("token", &token),
            ("password", NEW_PASSWORD),
            ("password_again", NEW_PASSWORD),
        ])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"id="done""#) && page.contains("Every earlier login has ended"),
        "{page}"
    );
    assert!(binds(server, "bob", NEW_PASSWORD).await, "the new password binds");
    assert!(!bind_now(server, "bob", PASSWORD).await, "the old password fails");

    // Every single sign-on session and refresh token of bob's has ended.
    assert_eq!(
        userinfo(&sso, tokens.access_token().secret()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&sso.http)
            .await
            .is_err()
    );
    let (url, ..) = auth_request(&client, &[]);
    assert!(
        location_of(&browser.get(&url).await).starts_with("/login"),
        "the session has ended"
    );

    // The token is used up: a replay is refused and changes nothing.
    let mut again = Client::new(server);
    again.get("/activate").await;
    let (status, page) = again.post(&[("step", "token"), ("token", &token)]).await;
    assert_eq!(status, 422);
    assert!(page.contains(UNUSABLE), "{page}");
    let (status, page) = again
        .post(&[
            ("step", "reset"),
            ("token", &token),
            ("password", GOOD_PASSWORD),
            ("password_again", GOOD_PASSWORD),
        ])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains(UNUSABLE), "{page}");
    assert!(bind_now(server, "bob", NEW_PASSWORD).await);

    // Audited with bob's uid; no token or password in the trail.
    let audit = ok_stdout(&server.cli(&["audit", "--uid", "bob"]));
    assert!(audit.contains("account.reset"), "{audit}");
    for secret in [token.as_str(), NEW_PASSWORD] {
        assert!(!audit.contains(secret), "{secret} in the audit trail");
    }
}

#[tokio::test]
async fn a_reset_with_a_new_second_factor_replaces_the_lost_one() {
    let sso = sso_server().await;
    let server = &sso.server;
    // bob has TOTP with a secret the test knows (as if on the phone he lost).
    let old_secret = b"lost-phone-secret-01";
    let store = server.install.store().await;
    let key_text = std::fs::read_to_string(server.install.dir.path().join("data/secret.key")).unwrap();
    let key = piratenldap_core::sealed::SealKey::from_hex(&key_text).unwrap();
    let bob = Uid::parse("bob").unwrap();
    let now = time::OffsetDateTime::now_utc();
    store
        .set_totp_secret(&bob, &key.seal(old_secret), "test", now)
        .await
        .unwrap();
    store.set_totp_enabled(&bob, true, "test", now).await.unwrap();
    assert!(stops_binding(server, "bob", PASSWORD).await, "TOTP is on");

    let token = reset_token(server, "2");
    let mut c = Client::new(server);
    c.get("/activate").await;
    c.post(&[("step", "token"), ("token", &token)]).await;
    let (status, page) = c
        .post(&[
            ("step", "reset"),
            ("token", &token),
            ("password", NEW_PASSWORD),
            ("password_again", NEW_PASSWORD),
            ("new_second_factor", "on"),
        ])
        .await;
    assert_eq!(status, 200, "{page}");
    let new_secret = shown_secret(&page);
    assert_ne!(new_secret, old_secret.to_vec());
    // The old second factor stopped working with the reset.
    let account = store.account(&bob).await.unwrap().unwrap();
    assert!(!account.totp_enabled, "TOTP is off until the new secret is confirmed");
    let old_code = totp_now(old_secret);
    assert!(!bind_now(server, "bob", &format!("{NEW_PASSWORD}{old_code}")).await);
    // The same enrolment as after an activation: a wrong code, then the right one.
    let ticket = c.hidden("ticket");
    let (status, _) = c
        .post(&[("step", "totp-confirm"), ("ticket", &ticket), ("code", "000000")])
        .await;
    assert_eq!(status, 422);
    let ticket = c.hidden("ticket");
    let (status, page) = c
        .post(&[
            ("step", "totp-confirm"),
            ("ticket", &ticket),
            ("code", &totp_now(&new_secret)),
        ])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(r#"id="done""#), "{page}");
    assert!(store.account(&bob).await.unwrap().unwrap().totp_enabled);
    assert!(
        stops_binding(server, "bob", NEW_PASSWORD).await,
        "the new TOTP is required"
    );
    assert!(!bind_now(server, "bob", &format!("{NEW_PASSWORD}{old_code}")).await);
    let audit = ok_stdout(&server.cli(&["audit", "--uid", "bob"]));
    assert!(
        audit.contains("TOTP removed") && audit.contains("totp.enable"),
        "{audit}"
    );

    // An admin's second factor is not removed by letter: refused, nothing changes.
    let token = reset_token(server, "1");
    let mut c = Client::new(server);
    c.get("/activate").await;
    c.post(&[("step", "token"), ("token", &token)]).await;
    let (status, page) = c
        .post(&[
            ("step", "reset"),
            ("token", &token),
            ("password", NEW_PASSWORD),
            ("password_again", NEW_PASSWORD),
            ("new_second_factor", "on"),
        ])
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Administratoren"), "{page}");
    let alice = store.account(&Uid::parse("alice").unwrap()).await.unwrap().unwrap();
    assert!(alice.totp_enabled && alice.totp_secret.is_some());
    assert!(!bind_now(server, "alice", NEW_PASSWORD).await);
}

#[tokio::test]
async fn neither_kind_of_letter_does_the_others_work() {
    let (server, tokens) = portal_server(None).await;
    // Member 1 has no account: no reset letter, and the store is unchanged.
    let out = server.install.dir.path().join("r.csv");
    let refused = server.cli(&[
        "token",
        "issue",
        "--reset",
        "--member",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("1: has no account"), "{err}");
    assert!(!out.exists());

    // A reset token never creates an account: member 1 activates, then gets a reset letter.
    let mut c = Client::new(&server);
    let (status, page) = c
        .activate(&tokens["1"], "anna", "Anna A.", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(binds(&server, "anna", GOOD_PASSWORD).await);
    let again = server.cli(&["token", "issue", "--member", "1", "--out", out.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "an activation letter for a member with an account"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--reset"));
    let reset = reset_token(&server, "1");
    let mut c = Client::new(&server);
    c.get("/activate").await;
    let (status, page) = c
        .post(&[
            ("step", "account"),
            ("token", &reset),
            ("uid", "anna2"),
            ("display_name", "Anna"),
            ("password", NEW_PASSWORD),
            ("password_again", NEW_PASSWORD),
        ])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("Brief zum Zurücksetzen"), "{page}");
    let cli = server.install.cli_stdin(
        &["activate", "--token", &reset, "--uid", "anna3", "--password-stdin"],
        NEW_PASSWORD,
    );
    assert!(!cli.status.success());
    assert!(String::from_utf8_lossy(&cli.stderr).contains("reset letter"), "{cli:?}");
    let store = server.install.store().await;
    for uid in ["anna2", "anna3"] {
        assert!(store.account(&Uid::parse(uid).unwrap()).await.unwrap().is_none());
    }

    // An activation token never resets: member 2's, posted to the reset step.
    let (status, page) = c
        .post(&[
            ("step", "reset"),
            ("token", &tokens["2"]),
            ("password", NEW_PASSWORD),
            ("password_again", NEW_PASSWORD),
        ])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("Aktivierungsbrief"), "{page}");
    // Both tokens are still live and do their own work.
    let (status, page) = Client::new(&server)
        .activate(&tokens["2"], "bert", "Bert", GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert_eq!(status, 200, "{page}");
    let mut c = Client::new(&server);
    c.get("/activate").await;
    let (_, page) = c.post(&[("step", "token"), ("token", &reset)]).await;
    assert!(page.contains(r#"<code id="uid">anna</code>"#), "{page}");
    let (status, page) = c
        .post(&[
            ("step", "reset"),
            ("token", &reset),
            ("password", NEW_PASSWORD),
            ("password_again", NEW_PASSWORD),
        ])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(binds(&server, "anna", NEW_PASSWORD).await);
}
