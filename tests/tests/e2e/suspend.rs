//! Issue 16, the one switch: `member suspend` (and a status change to suspended at `member
//! import`) disables a member everywhere within a second: LDAP binds with the password and
//! with an app password, the single sign-on session and its refresh token, SASL EXTERNAL with
//! the client certificate (revoked, in the CRL served over HTTP), and a letter token on the
//! portal; on two nodes too. `member reinstate` gives back what it can and names the rest.

use std::path::PathBuf;

use openidconnect::RefreshToken;
use piratenldap_store::Store;
use piratenldap_tests::{Install, Server, person};

use crate::certs::{cert_people, field, issue_for_carol, whoami_external};
use crate::portal::Client as Portal;
use crate::sso::{Browser, Client, Sso, auth_request, location_of, sign_in, sso_on};
use crate::{connect, ok_stdout, within_one_second};

/// The password `cert_people` gives everyone.
const PW: &str = "a-long-password";
/// What the portal says about an unusable token.
const UNUSABLE: &str = "unbekannt, schon benutzt, widerrufen oder abgelaufen";

/// carol (member 3) with a password, an app password, a client certificate and a single
/// sign-on session with a refresh token at client `portal`; member 5 without an account and
/// with a live activation letter.
struct World {
    sso: Sso,
    client: Client,
    browser: Browser,
    refresh: RefreshToken,
    app_password: String,
    cert_dir: PathBuf,
    serial: String,
    letter: String,
}

async fn world() -> World {
    let install = cert_people(Install::new());
    let csv = install.dir.path().join("five.csv");
    std::fs::write(&csv, "member_number,state\n5,HH\n").unwrap();
    ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    let letters = install.dir.path().join("letters.csv");
    ok_stdout(&install.cli(&["token", "issue", "--member", "5", "--out", letters.to_str().unwrap()]));
    let letters = std::fs::read_to_string(&letters).unwrap();
    let letter = letters.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
    let (cert_dir, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    let out = ok_stdout(&install.cli(&["account", "app-password", "add", "carol", "--label", "mail"]));
    let app_password = field(&out, "password: ");
    let sso = sso_on(install);
    let client = sso.client("portal").await;
    let browser = Browser::new();
    let (tokens, _) = sign_in(&sso, &browser, &client, &[], Some(("carol", PW, ""))).await;
    let refresh = openidconnect::OAuth2TokenResponse::refresh_token(&tokens)
        .expect("a refresh token")
        .clone();
    let world = World {
        sso,
        client,
        browser,
        refresh,
        app_password,
        cert_dir,
        serial,
        letter,
    };
    let server = &world.sso.server;
    assert_eq!(bind_rc(server, "carol", PW).await, 0);
    assert_eq!(bind_rc(server, "carol", &world.app_password).await, 0);
    assert!(
        whoami_external(server, &server.ldaps_url(), &world.cert_dir, false)
            .status
            .success()
    );
    assert!(!in_crl(server, &world.serial).await);
    assert_eq!(letter_status(server, &world.letter).await.0, 200);
    world
}

async fn bind_rc(server: &Server, uid: &str, pw: &str) -> u32 {
    connect(server).await.simple_bind(&person(uid), pw).await.unwrap().rc
}

/// Waits until `server`'s view has the store's revision: watched through `/metrics`, since
/// failed binds would feed the throttle.
async fn caught_up(what: &str, store_of: &Server, server: &Server) {
    let want = store_of.install.store().await.revision().await.unwrap();
    within_one_second(what, || async {
        crate::second_factor::metric(server, "piratenldap_directory_revision") >= want as u64
    })
    .await;
}

/// Whether the CRL `server` publishes lists `serial`.
pub(crate) async fn in_crl(server: &Server, serial: &str) -> bool {
    let pem = reqwest::get(format!("http://{}/ca/crl.pem", server.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let file = server.install.dir.path().join("served.crl");
    std::fs::write(&file, pem).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in", file.to_str().unwrap()])
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout)
        .to_lowercase()
        .contains(&serial.to_lowercase())
}

/// The portal's answer to the token step for `letter` (without using it up).
async fn letter_status(server: &Server, letter: &str) -> (u16, String) {
    let mut portal = Portal::new(server);
    portal.get("/activate").await;
    portal.post(&[("step", "token"), ("token", letter)]).await
}

/// Everything of carol and member 5's letter refused, within a second of the change.
async fn assert_disabled(w: &World) {
    let server = &w.sso.server;
    caught_up("the suspension", server, server).await;
    assert_eq!(bind_rc(server, "carol", PW).await, 49, "password bind");
    assert_eq!(bind_rc(server, "carol", &w.app_password).await, 49, "app password bind");
    assert!(
        w.client
            .exchange_refresh_token(&w.refresh)
            .unwrap()
            .request_async(&w.sso.http)
            .await
            .is_err(),
        "the refresh token still works"
    );
    let (url, ..) = auth_request(&w.client, &[]);
    let res = w.browser.get(&url).await;
    assert!(
        location_of(&res).starts_with("/login"),
        "the session cookie still opens /oauth2/authorize"
    );
    assert_eq!(
        whoami_external(server, &server.ldaps_url(), &w.cert_dir, false)
            .status
            .code(),
        Some(49),
        "SASL EXTERNAL"
    );
    assert!(in_crl(server, &w.serial).await, "the CRL lacks {}", w.serial);
    let (status, page) = letter_status(server, &w.letter).await;
    assert_ne!(status, 200);
    assert!(page.contains(UNUSABLE), "{page}");
}

#[tokio::test]
async fn suspend_disables_everywhere_and_reinstate_says_what_it_could_not_restore() {
    let w = world().await;
    let server = &w.sso.server;
    let too_long = "x".repeat(201);
    let refused = server.cli(&["member", "suspend", "3", "--reason", &too_long]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("200"));

    let out = ok_stdout(&server.cli(&["member", "suspend", "3", "--reason", "fees unpaid"]));
    assert!(out.contains("Member 3 (account carol) is suspended"), "{out}");
    assert!(out.contains(&format!("serial: {}", w.serial)), "{out}");
    assert!(
        out.contains("sessions ended (with their refresh and access tokens): 1"),
        "{out}"
    );
    assert!(out.contains("CRL") && out.contains("published"), "{out}");
    let out = ok_stdout(&server.cli(&["member", "suspend", "5", "--reason", "fees unpaid"]));
    assert!(out.contains("letter token revoked: yes"), "{out}");
    assert_disabled(&w).await;
    // No new letter for a suspended member.
    let out_file = server.install.dir.path().join("suspended-letter.csv");
    let letter = server.cli(&["token", "issue", "--member", "5", "--out", out_file.to_str().unwrap()]);
    assert_eq!(letter.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&letter.stderr).contains("is suspended"));
    let audit = ok_stdout(&server.cli(&["audit"]));
    assert!(audit.contains("member.suspend"), "{audit}");

    let out = ok_stdout(&server.cli(&["member", "reinstate", "3"]));
    assert!(out.contains("status: active"), "{out}");
    assert!(
        out.contains(&format!("client certificate {} stays revoked", w.serial)),
        "{out}"
    );
    assert!(
        out.contains("1 single sign-on session(s) ended: the member logs in again"),
        "{out}"
    );
    caught_up("the reinstatement", server, server).await;
    assert_eq!(bind_rc(server, "carol", PW).await, 0, "the password binds again");
    assert_eq!(
        bind_rc(server, "carol", &w.app_password).await,
        0,
        "the app password binds again"
    );
    assert_eq!(
        whoami_external(server, &server.ldaps_url(), &w.cert_dir, false)
            .status
            .code(),
        Some(49),
        "a revoked certificate stays revoked"
    );
    let out = ok_stdout(&server.cli(&["member", "reinstate", "5"]));
    assert!(
        out.contains("the letter token was revoked: a new letter is needed"),
        "{out}"
    );
    let again = server.cli(&["member", "reinstate", "3"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not suspended"));
}

#[tokio::test]
async fn an_import_that_suspends_disables_everywhere_too() {
    let w = world().await;
    let server = &w.sso.server;
    let csv = server.install.dir.path().join("suspend.csv");
    std::fs::write(&csv, "member_number,state,status\n3,NW,suspended\n5,HH,suspended\n").unwrap();
    let out = ok_stdout(&server.cli(&["member", "import", csv.to_str().unwrap()]));
    assert!(
        out.contains("Member 3 (carol) disabled: status no longer active"),
        "{out}"
    );
    assert!(out.contains(&format!("serial: {}", w.serial)), "{out}");
    assert!(out.contains("letter token revoked: yes"), "{out}");
    assert!(out.contains("published"), "{out}");
    assert_disabled(&w).await;
}

#[test]
fn a_crl_that_cannot_be_signed_fails_loudly_but_the_suspension_holds() {
    let install = cert_people(Install::new());
    let _ = issue_for_carol(&install, None);
    let key = install.dir.path().join("data/ca/ca.key");
    std::fs::rename(&key, key.with_extension("away")).unwrap();
    let out = install.cli(&["member", "suspend", "3", "--reason", "fees unpaid"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FAILED") && err.contains("in force"), "{err}");
    let shown = ok_stdout(&install.cli(&["member", "show", "3"]));
    assert!(shown.contains("status: suspended"), "{shown}");
}

#[tokio::test]
async fn a_suspension_on_one_node_stops_binds_on_the_other_within_a_second() {
    let a = cert_people(Install::on_postgres().await);
    let out = ok_stdout(&a.cli(&["account", "app-password", "add", "carol", "--label", "mail"]));
    let app_password = field(&out, "password: ");
    let b = a.second_node();
    let (a, b) = (a.serve(), b.serve());
    assert_eq!(bind_rc(&b, "carol", PW).await, 0);
    ok_stdout(&a.cli(&["member", "suspend", "3", "--reason", "fees unpaid"]));
    caught_up("the suspension on node B", &a, &b).await;
    assert_eq!(bind_rc(&b, "carol", PW).await, 49);
    assert_eq!(bind_rc(&b, "carol", &app_password).await, 49);
    ok_stdout(&a.cli(&["member", "reinstate", "3"]));
    caught_up("the reinstatement on node B", &a, &b).await;
    assert_eq!(bind_rc(&b, "carol", PW).await, 0);
}
