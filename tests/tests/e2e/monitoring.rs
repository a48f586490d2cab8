//! Issue 18: watching the server. `/metrics` of a real server after real binds and searches
//! (OpenLDAP's tools), read by Prometheus' own `promtool check metrics`; the alert rules of
//! ops/monitoring checked and unit-tested by `promtool`; every metric the Grafana dashboard
//! asks for is one the server exports; `PIRATENLDAP_LOG_FORMAT=json` logs JSON lines.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use piratenldap_tests::{PASSWORD, SERVICE_PASSWORD, Server, metric_value as value, standard_server};

use crate::ok_stdout;

fn monitoring_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/monitoring")
}

fn promtool(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(monitoring_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    if let Some(text) = stdin {
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn scrape(server: &Server) -> String {
    server.http_get("/metrics")
}

fn whoami(server: &Server, dn: &str, password: &str) -> std::process::Output {
    server.openldap(
        "ldapwhoami",
        &["-x", "-H", &server.ldap_url(), "-D", dn, "-w", password],
    )
}

#[tokio::test]
async fn metrics_count_what_happened_and_prometheus_reads_them() {
    let server = standard_server().await;
    let bob = "uid=bob,ou=people,dc=example,dc=org";
    let wiki = "cn=wiki,ou=services,dc=example,dc=org";
    assert!(whoami(&server, bob, PASSWORD).status.success());
    assert!(!whoami(&server, bob, "wrong-password").status.success());
    let found = server.openldap(
        "ldapsearch",
        &[
            "-x",
            "-H",
            &server.ldap_url(),
            "-D",
            wiki,
            "-w",
            SERVICE_PASSWORD,
            "-b",
            "ou=people,dc=example,dc=org",
            "(uid=alice)",
            "uid",
        ],
    );
    assert!(ok_stdout(&found).contains("uid: alice"));
    let text = scrape(&server);

    // What happened, counted with fixed labels.
    let at_least = |series: &str, n: f64| {
        let v = value(&text, series).unwrap_or_else(|| panic!("{series} missing from:\n{text}"));
        assert!(v >= n, "{series} is {v}, expected at least {n}");
    };
    at_least("piratenldap_binds_total{method=\"simple\",outcome=\"ok\"}", 2.0);
    at_least("piratenldap_binds_total{method=\"simple\",outcome=\"failed\"}", 1.0);
    at_least(
        "piratenldap_searches_total{principal=\"service\",outcome=\"success\"}",
        1.0,
    );
    at_least(
        "piratenldap_operation_duration_seconds_count{operation=\"search\"}",
        1.0,
    );
    at_least("piratenldap_operation_duration_seconds_count{operation=\"bind\"}", 3.0);
    at_least("piratenldap_password_verifications_total", 3.0);
    at_least("piratenldap_password_hash_wait_seconds_count", 3.0);
    at_least("piratenldap_directory_refresh_seconds_count{how=\"rebuild\"}", 1.0);
    assert_eq!(value(&text, "piratenldap_store_up"), Some(1.0));
    assert!(value(&text, "piratenldap_ca_end_days").is_some_and(|d| d > 3000.0));
    assert!(value(&text, "piratenldap_crl_next_update_seconds").is_some_and(|s| s > 0.0));
    assert_eq!(value(&text, "piratenldap_client_certificate_next_end_days"), Some(-1.0));
    // All connections above are closed; the revision is the store's.
    assert_eq!(value(&text, "piratenldap_password_hash_queue"), Some(0.0));
    assert!(value(&text, "piratenldap_directory_revision").is_some_and(|r| r > 0.0));
    // No uid, DN or address ever becomes a label.
    for secret in ["bob", "alice", "127.0.0.1", "wiki"] {
        assert!(
            !text.lines().filter(|l| !l.starts_with('#')).any(|l| l.contains(secret)),
            "{secret} appears in /metrics"
        );
    }

    // An open connection is counted by its listener while it lives.
    let open = std::net::TcpStream::connect(server.ldap).unwrap();
    let start = Instant::now();
    loop {
        let v = value(&scrape(&server), "piratenldap_open_connections{listener=\"ldap\"}");
        if v == Some(1.0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "open connection not counted: {v:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(open);

    // Prometheus' own linter reads the exposition. Two findings are expected and nothing else:
    // it reads the classic format, where a counter's HELP names the sample (`…_total`), while
    // OpenMetrics (what prometheus-client writes, and Prometheus scrapes) names the family; and
    // the certificate gauges count days, as issue 19 asked, not seconds.
    let checked = promtool(&["check", "metrics"], Some(&text));
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let counters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    for finding in findings.lines().filter(|l| !l.trim().is_empty()) {
        let expected = counters.iter().any(|c| finding == format!("{c}_total no help text"))
            || finding.ends_with("_days use base unit \"seconds\" instead of \"days\"");
        assert!(expected, "promtool check metrics: {finding}");
    }

    // Every metric the dashboard asks for exists.
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(monitoring_dir().join("grafana-dashboard.json")).unwrap())
            .unwrap();
    let mut asked = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("piratenldap_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                asked.push(name);
            }
        }
    }
    assert!(asked.len() > 15, "the dashboard asks for {asked:?}");
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    for name in asked {
        let family = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name);
        assert!(
            families.contains(&family),
            "the dashboard asks for {name}, which /metrics lacks"
        );
    }
}

#[tokio::test]
async fn the_last_backup_shows_in_metrics() {
    let server = standard_server().await;
    let before = value(&scrape(&server), "piratenldap_backup_last_success_timestamp_seconds");
    assert_eq!(before, Some(0.0), "a backup before any was written");
    let file = server.install.dir.path().join("b.backup");
    ok_stdout(&server.cli(&["backup", file.to_str().unwrap()]));
    // A fresh server reads the audit trail at once (the running one looks every 5 minutes).
    let mut server = server;
    server.kill_and_restart();
    let at = value(&scrape(&server), "piratenldap_backup_last_success_timestamp_seconds").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    assert!((now - at).abs() < 120.0, "last backup at {at}, now {now}");
}

#[test]
fn the_alert_rules_are_valid_and_fire_as_their_tests_say() {
    let checked = promtool(&["check", "rules", "alerts.yml"], None);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let tested = promtool(&["test", "rules", "alerts.test.yml"], None);
    assert!(
        tested.status.success(),
        "{}{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );
    let rules = std::fs::read_to_string(monitoring_dir().join("alerts.yml")).unwrap();
    for alert in [
        "PiratenldapDown",
        "PiratenldapDatabaseUnreachable",
        "PiratenldapBindsFailing",
        "PiratenldapCrlNearExpiry",
        "PiratenldapCaNearExpiry",
        "PiratenldapBackupStale",
    ] {
        assert!(rules.contains(&format!("alert: {alert}")), "{alert} missing");
    }
}

#[tokio::test]
async fn json_logs_on_request() {
    let mut server = standard_server().await;
    let config = server.install.config.clone();
    server.terminate();
    let mut child = Command::new(piratenldap_tests::binary())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("PIRATENLDAP_LOG_FORMAT", "json")
        .env("PIRATENLDAP_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = None;
    for line in BufReader::new(stderr).lines().take(50) {
        let line = line.unwrap();
        let parsed: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if parsed["fields"]["message"] == "directory view built" {
            seen = Some(parsed);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let seen = seen.expect("no JSON line for the directory view");
    assert_eq!(seen["level"], "INFO");
    assert!(seen["timestamp"].is_string());
    assert!(seen["fields"]["entries"].as_u64().is_some_and(|n| n > 0));
}
