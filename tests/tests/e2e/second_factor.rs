//! Issue 5: TOTP with codes from oathtool (an independent implementation), app passwords, the
//! failed-bind throttle measured by the server's own verification counter, the audit trail,
//! and no secret in logs, audit or database.

use std::process::Command;
use std::time::{Duration, Instant};

use piratenldap_tests::{PASSWORD, Server, person, standard_server, standard_server_with};

use crate::certs::field;
use crate::{connect, ok_stdout};

/// `oathtool --totp -b SECRET [-N WHEN]`.
fn oathtool(secret: &str, when: Option<&str>) -> String {
    let mut cmd = Command::new("oathtool");
    cmd.args(["--totp", "-b", secret]);
    if let Some(w) = when {
        cmd.args(["-N", w]);
    }
    ok_stdout(&cmd.output().expect("oathtool (apt-get install oathtool)"))
        .trim()
        .to_string()
}

/// Enrols TOTP for `uid` through the CLI, confirming with oathtool's current code.
fn enrol(server: &Server, uid: &str) -> String {
    let out = ok_stdout(&server.cli(&["account", "totp-enroll", uid]));
    let secret = field(&out, "secret: ");
    assert!(field(&out, "uri: ").starts_with("otpauth://totp/"));
    ok_stdout(&server.cli(&["account", "totp-enroll", uid, "--confirm", &oathtool(&secret, None)]));
    secret
}

async fn bind_rc(server: &Server, dn: &str, pw: &str) -> u32 {
    let mut ldap = connect(server).await;
    ldap.simple_bind(dn, pw).await.unwrap().rc
}

/// Waits until the server's view has caught up with the store (its revision in /metrics),
/// without binding: failed binds while waiting would feed the throttle.
async fn synced(server: &Server) {
    use piratenldap_store::Store;
    let want = server.install.store().await.revision().await.unwrap();
    let start = Instant::now();
    while metric(server, "piratenldap_directory_revision") < want as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the view did not follow the store within one second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After the view caught up, a bind gives `want`.
async fn eventually(server: &Server, dn: &str, pw: &str, want: u32) {
    synced(server).await;
    assert_eq!(bind_rc(server, dn, pw).await, want);
}

/// The value of `name` in the server's `/metrics`, which must be there.
pub fn metric(server: &Server, name: &str) -> u64 {
    server.metric(name).unwrap_or_else(|| panic!("{name} not in /metrics")) as u64
}

#[tokio::test]
async fn totp_codes_from_oathtool_bind_once() {
    let server = standard_server().await;
    let bob = person("bob");
    let secret = enrol(&server, "bob");
    // The confirmation used the current step; the next step's code is within the allowed drift.
    let next = oathtool(&secret, Some("now + 30 seconds"));
    eventually(&server, &bob, PASSWORD, 49).await; // the password alone no longer binds
    assert_eq!(
        bind_rc(&server, &bob, &format!("{PASSWORD}{next}")).await,
        0,
        "password+code"
    );
    assert_eq!(
        bind_rc(&server, &bob, &format!("{PASSWORD}{next}")).await,
        49,
        "a reused code"
    );
    let wrong = if next == "000000" { "111111" } else { "000000" };
    assert_eq!(
        bind_rc(&server, &bob, &format!("{PASSWORD}{wrong}")).await,
        49,
        "a wrong code"
    );
    assert_eq!(
        bind_rc(
            &server,
            &bob,
            &format!("wrong-password{}", oathtool(&secret, Some("now + 60 seconds")))
        )
        .await,
        49
    );
    // Admins must have TOTP: carol has none.
    let out = server.cli(&["group", "add", "admins", "carol"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must have TOTP"));
    ok_stdout(&server.cli(&["group", "add", "admins", "bob"]));
    let out = server.cli(&["account", "totp-disable", "bob"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("admins must have TOTP"),
        "an admin's TOTP was switched off"
    );
}

#[tokio::test]
async fn app_passwords_bind_without_a_code_until_revoked() {
    let server = standard_server().await;
    let bob = person("bob");
    enrol(&server, "bob");
    let out = ok_stdout(&server.cli(&["account", "app-password", "add", "bob", "--label", "Thunderbird"]));
    let app = field(&out, "password: ");
    eventually(&server, &bob, &app, 0).await;
    let list = ok_stdout(&server.cli(&["account", "app-password", "list", "bob"]));
    let line = list.lines().find(|l| l.starts_with("Thunderbird")).unwrap();
    assert!(!line.ends_with("never"), "last use not recorded: {line}");
    ok_stdout(&server.cli(&["account", "app-password", "revoke", "bob", "Thunderbird"]));
    eventually(&server, &bob, &app, 49).await;
}

#[tokio::test]
async fn guessing_is_throttled_without_argon2_work() {
    // One token per second after a burst of 3, so the test need not wait long.
    let server = standard_server_with(
        "account_burst = 5\naccount_per_minute = 5",
        "account_burst = 3\naccount_per_minute = 60",
    )
    .await;
    let victim = person("m0005");
    let before = metric(&server, "piratenldap_password_verifications_total");
    let start = Instant::now();
    let mut ldap = connect(&server).await;
    for i in 0..40 {
        let rc = ldap.simple_bind(&victim, &format!("guess-{i}")).await.unwrap().rc;
        assert_eq!(rc, 49, "the answer is invalidCredentials either way");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let used = metric(&server, "piratenldap_password_verifications_total") - before;
    let allowed = 3 + elapsed.ceil() as u64 + 1;
    assert!(
        used <= allowed,
        "{used} argon2 verifications for 40 guesses in {elapsed:.1}s (allowed {allowed})"
    );
    assert!(
        metric(
            &server,
            "piratenldap_binds_total{method=\"simple\",outcome=\"throttled\"}"
        ) >= 30
    );
    assert!(metric(&server, "piratenldap_throttle_refusals_total{place=\"bind\"}") >= 30);
    // Someone else is not affected, and after the back-off the owner gets in.
    assert_eq!(bind_rc(&server, &person("m0006"), PASSWORD).await, 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(bind_rc(&server, &victim, PASSWORD).await, 0);
}

#[tokio::test]
async fn audit_trail_records_events_and_no_secret_leaks() {
    let server = standard_server().await;
    let secret = enrol(&server, "bob");
    let code = oathtool(&secret, Some("now + 30 seconds"));
    let bob = person("bob");
    eventually(&server, &bob, PASSWORD, 49).await;
    assert_eq!(bind_rc(&server, &bob, &format!("{PASSWORD}{code}")).await, 0);
    let app = field(
        &ok_stdout(&server.cli(&["account", "app-password", "add", "bob", "--label", "mail"])),
        "password: ",
    );
    eventually(&server, &bob, &app, 0).await;
    assert_eq!(bind_rc(&server, &person("m0001"), "a-wrong-secret-guess").await, 49);
    ok_stdout(&server.cli(&["account", "lock", "m0002"]));
    let audit = || ok_stdout(&server.cli(&["audit"]));
    let start = Instant::now();
    let text = loop {
        let t = audit();
        // Bind events reach the store through a batched writer: wait for the last one.
        if t.contains("uid=m0001") || start.elapsed() > Duration::from_secs(2) {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for needle in [
        "by password+totp",
        "by app password \"mail\"",
        "bind.fail",
        "wrong password",
        "totp.enable",
        "app-password.add",
        "account.lock",
        "cli ",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} missing from the audit trail:\n{text}"
        );
    }
    assert!(text.contains("from 127.0.0.1"), "no source address:\n{text}");
    let db = std::fs::read(server.install.dir.path().join("data/piratenldap.db")).unwrap();
    let wal = std::fs::read(server.install.dir.path().join("data/piratenldap.db-wal")).unwrap_or_default();
    let (status, logs) = server.stop();
    assert!(status.success());
    for secret_text in [
        PASSWORD,
        code.as_str(),
        app.as_str(),
        "a-wrong-secret-guess",
        secret.as_str(),
    ] {
        assert!(!text.contains(secret_text), "{secret_text} in the audit trail");
        assert!(!logs.contains(secret_text), "{secret_text} in the server log");
        for (name, bytes) in [("database", &db), ("WAL", &wal)] {
            assert!(
                !bytes.windows(secret_text.len()).any(|w| w == secret_text.as_bytes()),
                "{secret_text} in the {name}"
            );
        }
    }
}
