//! Issue 15 (first slice): the admin console's member pages and lock action through the real
//! HTTP endpoints, for a federal admin, a chapter admin of BY, a chapter admin without a
//! second factor and a plain member: every cross-chapter attempt refused with a reason and
//! audited.

use piratenldap_tests::{ALICE_TOTP_SECRET, Install, PASSWORD, standard_fixture, totp_now};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::ok_stdout;
use crate::sso::hidden;

/// RFC 4648 base32 without padding, as `account totp-enroll` prints secrets.
fn base32(text: &str) -> Vec<u8> {
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim().trim_end_matches('=').chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => panic!("not base32: {c}"),
        };
        value = (value << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// A browser logged in as `user` on the server at `base`.
async fn logged_in(base: &str, user: &str, code: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf");
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", PASSWORD),
            ("code", code),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{user} could not log in");
    client
}

/// Posts the lock form of `uid`'s page; the status.
async fn lock(client: &reqwest::Client, base: &str, uid: &str) -> (StatusCode, String) {
    let page = client.get(format!("{base}/admin/members/{uid}")).send().await.unwrap();
    let status = page.status();
    let text = page.text().await.unwrap();
    if status != StatusCode::OK || !text.contains("/lock") {
        return (status, text);
    }
    let res = client
        .post(format!("{base}/admin/members/{uid}/lock"))
        .form(&[
            ("csrf", hidden(&text, "csrf").as_str()),
            ("action", "lock"),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn the_console_acts_within_each_admins_scope() {
    let install = Install::new();
    standard_fixture(&install).await;
    let base = install.fixed_http_port();
    // bob (BY) becomes chapter admin of BY with a second factor; m0001 (BE) is a plain member.
    ok_stdout(&install.cli(&["admin", "grant", "bob", "--chapter", "BY"]));
    let out = ok_stdout(&install.cli(&["account", "totp-enroll", "bob"]));
    let secret = base32(out.lines().find_map(|l| l.strip_prefix("secret: ")).unwrap());
    ok_stdout(&install.cli(&["account", "totp-enroll", "bob", "--confirm", &totp_now(&secret)]));
    let server = install.serve();

    let alice = logged_in(&base, "alice", &totp_now(ALICE_TOTP_SECRET)).await;
    let home = alice
        .get(format!("{base}/admin/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Bundesadmin"), "{home}");
    // bob's code of this step is spent by the confirmation: wait for the next one.
    let step = |t: i64| t / 30;
    let start = step(time::OffsetDateTime::now_utc().unix_timestamp());
    while step(time::OffsetDateTime::now_utc().unix_timestamp()) == start {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let bob = logged_in(&base, "bob", &totp_now(&secret)).await;

    // One table: actor, target uid, may lock.
    let cases = [(&bob, "m0000", false), (&bob, "alice", false), (&alice, "m0000", true)];
    for (client, target, allowed) in cases {
        let (status, page) = lock(client, &base, target).await;
        if allowed {
            assert_eq!(status, StatusCode::SEE_OTHER, "{target}: {page}");
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{target}: {page}");
            assert!(
                page.contains("may not") || page.contains("only federal admins may"),
                "the refusal says why: {page}"
            );
        }
    }
    // Searches list only the admin's chapter; BY members for bob, everyone for alice.
    let list = bob
        .get(format!("{base}/admin/members?q="))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(">alice<") && !list.contains(">m0000<"), "{list}");
    let list = alice
        .get(format!("{base}/admin/members?q=m000"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(">m0000<"), "{list}");
    // alice's lock took effect (the view follows the store within a quarter second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let detail = alice.get(format!("{base}/admin/members/m0000")).send().await.unwrap();
        assert_eq!(detail.headers()["cache-control"], "no-store");
        if detail.text().await.unwrap().contains("gesperrt") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "alice's lock did not take effect");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A plain member and a login without the second factor get no console.
    let member = logged_in(&base, "m0001", "").await;
    let res = member.get(format!("{base}/admin/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    ok_stdout(&server.cli(&["admin", "grant", "m0001", "--chapter", "BE"]));
    let res = member.get(format!("{base}/admin/members/m0002")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("second factor"));
    // Refusals are audited with the acting admin.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let audit = ok_stdout(&server.cli(&["audit", "--uid", "bob"]));
        if audit.contains("console.refused") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no console.refused for bob:\n{audit}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
