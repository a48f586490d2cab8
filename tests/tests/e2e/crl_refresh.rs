//! Issue 19: the running server keeps the CRL fresh. With `[ca] crl_minutes = 1` a CRL lives
//! 60 s and is re-signed at 30 s: `/ca/crl.pem` never serves an expired one, a real nginx keeps
//! admitting a valid certificate past the first CRL's nextUpdate (and refusing a revoked one),
//! and two nodes on PostgreSQL sign once per period, the lease moving when its holder stops.

use std::process::Command;
use std::time::{Duration, Instant};

use piratenldap_tests::{Install, Server};
use time::OffsetDateTime;

use crate::certs::{cert_install, field, issue_for_carol};
use crate::nginx::{membership_admin_nginx, status};
use crate::ok_stdout;

/// Half of the 1-minute lifetime, when the server re-signs.
const HALF_LIFE: Duration = Duration::from_secs(30);

/// CRLs live one minute in `install` (the option tests use instead of `crl_days`).
pub(crate) fn one_minute_crls(install: &Install) {
    let text = std::fs::read_to_string(&install.config).unwrap();
    assert!(
        text.contains("# crl_minutes = 2"),
        "the config template lost crl_minutes"
    );
    std::fs::write(&install.config, text.replace("# crl_minutes = 2", "crl_minutes = 1")).unwrap();
}

/// A CRL as `/ca/crl.pem` serves it, read by openssl.
struct Published {
    pem: String,
    number: u64,
    next_update: OffsetDateTime,
    text: String,
}

/// GET `/ca/crl.pem`, which must answer 200 with a CRL openssl reads.
fn published(server: &Server) -> Published {
    let pem = server.http_get("/ca/crl.pem");
    let file = server.install.dir.path().join("served-crl.pem");
    std::fs::write(&file, &pem).unwrap();
    let text = ok_stdout(
        &Command::new("openssl")
            .args(["crl", "-noout", "-text", "-in"])
            .arg(&file)
            .output()
            .unwrap(),
    );
    let number_line = text
        .lines()
        .skip_while(|l| !l.contains("X509v3 CRL Number"))
        .nth(1)
        .unwrap_or_else(|| panic!("no CRL number in {text}"));
    let number = u64::from_str_radix(number_line.trim().trim_start_matches("0x"), 16)
        .or_else(|_| number_line.trim().parse())
        .unwrap_or_else(|_| panic!("CRL number {number_line:?}"));
    let next = field(&text, "        Next Update: ");
    let format =
        time::macros::format_description!("[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT");
    let next_update = time::PrimitiveDateTime::parse(next.trim(), &format)
        .unwrap_or_else(|e| panic!("nextUpdate {next:?}: {e}"))
        .assume_utc();
    Published {
        pem,
        number,
        next_update,
        text,
    }
}

/// Asserts the CRL served now has not expired.
fn fresh(server: &Server) -> Published {
    let crl = published(server);
    assert!(
        crl.next_update > OffsetDateTime::now_utc(),
        "/ca/crl.pem served an expired CRL (number {}, nextUpdate {})",
        crl.number,
        crl.next_update
    );
    crl
}

#[test]
fn the_server_re_signs_the_crl_at_half_its_lifetime() {
    let install = cert_install();
    one_minute_crls(&install);
    let (_, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    ok_stdout(&install.cli(&["cert", "revoke", &serial, "--reason", "stolen"]));
    let server = install.serve();
    let first = fresh(&server);
    let start = Instant::now();
    let renewed = loop {
        let now = fresh(&server);
        if now.number > first.number {
            break now;
        }
        assert!(
            start.elapsed() < HALF_LIFE + Duration::from_secs(15),
            "no new CRL after half its lifetime: still number {}",
            now.number
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!(
        "CRL {} replaced by {} after {:?}",
        first.number,
        renewed.number,
        start.elapsed()
    );
    assert_eq!(renewed.number, first.number + 1, "signed once");
    assert!(renewed.next_update > first.next_update, "nextUpdate moved forward");
    assert!(
        renewed.text.to_uppercase().contains(&serial.to_uppercase()),
        "the revoked certificate stays on the re-signed CRL: {}",
        renewed.text
    );
    assert_ne!(renewed.pem, first.pem);
    // Signed once per half-life: the next few seconds serve the same CRL.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(fresh(&server).number, renewed.number, "re-signed again too soon");
}

#[test]
fn nginx_keeps_admitting_valid_certificates_past_the_first_crls_next_update() {
    let install = cert_install();
    one_minute_crls(&install);
    let (valid, _) = issue_for_carol(&install, None);
    let (revoked, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    ok_stdout(&install.cli(&["cert", "revoke", &serial, "--reason", "stolen"]));
    let data = install.dir.path().join("data");
    let server = install.serve();
    let dir = server.install.dir.path().to_path_buf();
    let crl_file = dir.join("nginx-crl.pem");
    // What ops/nginx/piratenldap-crl.service does every minute: fetch, replace when changed,
    // reload nginx.
    let first = fresh(&server);
    std::fs::write(&crl_file, &first.pem).unwrap();
    let (nginx, port) = membership_admin_nginx(&server, &crl_file);
    let ca = data.join("ca/ca.pem");
    let check = |when: &str| {
        assert_eq!(status(port, &ca, Some(&valid)), 200, "valid certificate refused {when}");
        assert_eq!(
            status(port, &ca, Some(&revoked)),
            400,
            "revoked certificate admitted {when}"
        );
    };
    check("at the start");
    let mut current = first.pem.clone();
    let end = first.next_update + time::Duration::seconds(5);
    let mut reloads = 0;
    while OffsetDateTime::now_utc() < end {
        std::thread::sleep(Duration::from_secs(2));
        let served = fresh(&server);
        if served.pem != current {
            std::fs::write(&crl_file, &served.pem).unwrap();
            nginx.reload();
            reloads += 1;
            current = served.pem;
        }
        check(&format!("with {reloads} CRL reloads"));
    }
    assert!(reloads >= 1, "the CRL was never re-signed");
    check("past the first CRL's nextUpdate");
}

/// Each CRL number the store held, with when it was first seen, for `total`.
async fn watch_crls(store: &piratenldap_store::SqlStore, total: Duration, seen: &mut Vec<(i64, OffsetDateTime)>) {
    use piratenldap_store::Store;
    let start = Instant::now();
    while start.elapsed() < total {
        if let Some(crl) = store.latest_crl().await.unwrap()
            && seen.last().is_none_or(|(n, _)| *n != crl.number)
        {
            assert!(
                crl.next_update > OffsetDateTime::now_utc(),
                "expired CRL {}",
                crl.number
            );
            seen.push((crl.number, crl.this_update));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn signed_here(log: &str) -> usize {
    log.lines().filter(|l| l.contains("CRL re-signed")).count()
}

#[tokio::test]
async fn two_nodes_sign_the_crl_once_per_period_and_hand_the_lease_over() {
    let a = Install::on_postgres().await;
    one_minute_crls(&a);
    let b = a.second_node();
    let store = a.store().await;
    let (a, b) = (a.serve(), b.serve());
    let mut seen = Vec::new();
    // Two re-signings while both run (at 30 and 60 s after init's CRL).
    watch_crls(&store, HALF_LIFE * 2 + Duration::from_secs(8), &mut seen).await;
    let (status_a, log_a) = a.stop();
    assert!(status_a.success());
    let signed_by_a = signed_here(&log_a);
    // The other node takes the lease over (within three checks) and signs the next one.
    watch_crls(&store, HALF_LIFE + Duration::from_secs(10), &mut seen).await;
    let (_, log_b) = b.stop();
    let signed_by_b = signed_here(&log_b);
    eprintln!("CRLs seen: {seen:?}; signed by A {signed_by_a}, by B {signed_by_b}");
    for log in [&log_a, &log_b] {
        assert!(!log.contains("KEEPING THE CRL FRESH FAILED"), "{log}");
    }
    // Consecutive numbers, each signed by exactly one node, at least a half-life apart.
    let numbers: Vec<i64> = seen.iter().map(|(n, _)| *n).collect();
    let expected: Vec<i64> = (numbers[0]..numbers[0] + numbers.len() as i64).collect();
    assert_eq!(numbers, expected, "a CRL was signed and replaced unseen");
    for pair in seen.windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(
            gap >= time::Duration::seconds(27),
            "two CRLs within {gap} (once per period): {seen:?}"
        );
    }
    assert!(seen.len() >= 4, "init's CRL and three re-signed: {seen:?}");
    assert_eq!(
        signed_by_a + signed_by_b,
        seen.len() - 1,
        "every signature is one node's"
    );
    assert!(
        (signed_by_a >= 2 && signed_by_b >= 1) || (signed_by_a == 0 && signed_by_b >= 3),
        "one node signed while both ran, the other after the first stopped (A {signed_by_a}, B {signed_by_b})"
    );
}
