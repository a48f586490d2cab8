//! Issue 19: the server certificate is replaced without a restart. New LDAPS and StartTLS
//! clients (`openssl s_client`) get a replaced pair within seconds of the files changing, or at
//! once on SIGHUP, while an open connection keeps working; a broken replacement is refused with
//! one log line and the old certificate is still served. `init --tls-cert/--tls-key` references
//! an existing pair. A certificate of our CA that ends within 30 days is renewed by the server.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ldap3::{LdapConnSettings, Scope};
use piratenldap_tests::{PASSWORD, Server, client_tls, person, standard_server};

use crate::{connect_url, ok_stdout};

/// The base64 of the first certificate in PEM `text`, without line breaks.
fn first_cert(text: &str) -> String {
    let start = text.find("-----BEGIN CERTIFICATE-----").expect("a certificate") + 27;
    let end = start + text[start..].find("-----END CERTIFICATE-----").expect("its end");
    text[start..end].split_whitespace().collect()
}

/// The certificate a new client is served: over LDAPS, or over StartTLS on the plain port.
fn served(server: &Server, starttls: bool) -> String {
    let mut cmd = Command::new("timeout");
    cmd.args(["10", "openssl", "s_client", "-servername", "localhost", "-connect"]);
    if starttls {
        cmd.arg(format!("127.0.0.1:{}", server.ldap.port()))
            .args(["-starttls", "ldap"]);
    } else {
        cmd.arg(format!("127.0.0.1:{}", server.ldaps.port()));
    }
    let out = cmd.stdin(Stdio::null()).output().expect("openssl");
    first_cert(&String::from_utf8_lossy(&out.stdout))
}

/// `openssl req -x509 -newkey ec (P-256) -nodes` with `args` (subject, days, extensions…):
/// a new key in `key` and its certificate in `cert`.
pub(crate) fn openssl_x509(cert: &Path, key: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(args)
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A server certificate for localhost valid `days` and its key, signed by the CA in `ca_dir`
/// (else self-signed). Our CA's certificates ending within 30 days are renewed by the server.
fn openssl_pair(cert: &Path, key: &Path, subject: &str, days: &str, ca_dir: Option<&Path>) {
    let (ca_cert, ca_key) = ca_dir.map_or((String::new(), String::new()), |d| {
        (
            d.join("ca.pem").display().to_string(),
            d.join("ca.key").display().to_string(),
        )
    });
    let mut args = vec![
        "-subj",
        subject,
        "-days",
        days,
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ];
    if ca_dir.is_some() {
        args.extend(["-CA", &ca_cert, "-CAkey", &ca_key]);
    }
    openssl_x509(cert, key, &args);
}

/// A new pair signed by the installation's CA, written beside the data as `name`.pem/.key.
fn new_pair(server: &Server, name: &str) -> (PathBuf, PathBuf) {
    let dir = server.install.dir.path();
    let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    openssl_pair(
        &cert,
        &key,
        &format!("/CN=localhost/O={name}"),
        "90",
        Some(&dir.join("data/ca")),
    );
    (cert, key)
}

/// Puts a pair in place the way certbot does: each file written beside and renamed over.
fn install_pair(server: &Server, cert: &Path, key: &Path) {
    let tls = server.install.dir.path().join("data/tls");
    for (from, to) in [(key, "server.key"), (cert, "server.pem")] {
        let tmp = tls.join(format!("{to}.new"));
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, tls.join(to)).unwrap();
    }
}

/// Waits until new LDAPS and StartTLS clients are served `want`; returns how long it took.
fn until_served(server: &Server, want: &str, within: Duration) -> Duration {
    let start = Instant::now();
    while served(server, false) != want {
        assert!(
            start.elapsed() < within,
            "the replaced certificate is not served after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = start.elapsed();
    assert_eq!(
        served(server, true),
        want,
        "StartTLS serves the replaced certificate too"
    );
    took
}

async fn bob_over_ldaps(server: &Server) -> ldap3::Ldap {
    let settings = LdapConnSettings::new().set_config(client_tls(&server.install.ca_pem()));
    let mut ldap = connect_url(&server.ldaps_url(), settings).await;
    assert_eq!(ldap.simple_bind(&person("bob"), PASSWORD).await.unwrap().rc, 0);
    ldap
}

async fn reads_own_entry(ldap: &mut ldap3::Ldap) -> bool {
    let dn = person("bob");
    match ldap.search(&dn, Scope::Base, "(objectClass=*)", vec!["uid"]).await {
        Ok(result) => result.success().is_ok_and(|(entries, _)| entries.len() == 1),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_replaced_certificate_reaches_new_clients_and_a_broken_one_is_refused() {
    let server = standard_server().await;
    let original = first_cert(&std::fs::read_to_string(server.install.dir.path().join("data/tls/server.pem")).unwrap());
    assert_eq!(served(&server, false), original);
    assert_eq!(served(&server, true), original);
    let mut open = bob_over_ldaps(&server).await;

    // Renewed in place: picked up by polling the files, without SIGHUP.
    let (cert, key) = new_pair(&server, "renewed");
    install_pair(&server, &cert, &key);
    let renewed = first_cert(&std::fs::read_to_string(&cert).unwrap());
    let took = until_served(&server, &renewed, Duration::from_secs(10));
    eprintln!("the renewed certificate was served after {took:?}");
    assert!(reads_own_entry(&mut open).await, "the open connection was dropped");
    assert!(
        reads_own_entry(&mut bob_over_ldaps(&server).await).await,
        "a new client verifies it"
    );

    // SIGHUP takes it at once (polling waits for the files to hold still for one look, 2 s).
    let (cert, key) = new_pair(&server, "hangup");
    install_pair(&server, &cert, &key);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let hangup = first_cert(&std::fs::read_to_string(&cert).unwrap());
    let took = until_served(&server, &hangup, Duration::from_millis(1500));
    eprintln!("SIGHUP: served after {took:?}");

    // Broken replacements: not PEM, then another certificate's key. Each is refused and the
    // certificate in use stays.
    let tls = server.install.dir.path().join("data/tls");
    std::fs::write(tls.join("server.pem"), "not a certificate\n").unwrap();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        served(&server, false),
        hangup,
        "a broken certificate file replaced the good one"
    );
    let (other_cert, _) = new_pair(&server, "mismatch");
    std::fs::copy(&other_cert, tls.join("server.pem")).unwrap();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        served(&server, false),
        hangup,
        "a certificate without its key replaced the good one"
    );
    assert_eq!(served(&server, true), hangup);
    assert!(reads_own_entry(&mut open).await, "the open connection was dropped");

    let (_, log) = server.stop();
    let refused: Vec<&str> = log.lines().filter(|l| l.contains("REFUSED")).collect();
    assert_eq!(refused.len(), 2, "one line per broken pair: {log}");
    assert!(refused[0].contains("server.pem"), "{}", refused[0]);
    assert!(refused[1].contains("do not make a pair"), "{}", refused[1]);
    assert_eq!(log.matches("server certificate replaced").count(), 2, "{log}");
}

#[test]
fn init_references_an_existing_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("fullchain.pem"), dir.path().join("privkey.pem"));
    openssl_pair(&cert, &key, "/CN=localhost", "90", None);
    let init = |config: &Path, cert: &Path, key: &Path| {
        Command::new(piratenldap_tests::binary())
            .arg("--config")
            .arg(config)
            .args(["init", "--ldap-listen", "127.0.0.1:0", "--ldaps-listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0", "--tls-cert"])
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap()
    };
    // A key that is not the certificate's is refused before anything is written.
    let other = dir.path().join("other.pem");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success());
    let bad = dir.path().join("bad/p.toml");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    let out = init(&bad, &cert, &other);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("do not make a pair"), "{err}");
    assert!(!bad.exists(), "a config was written");

    let node = tempfile::tempdir().unwrap();
    let config = node.path().join("piratenldap.toml");
    ok_stdout(&init(&config, &cert, &key));
    let text = std::fs::read_to_string(&config).unwrap();
    let absolute = std::fs::canonicalize(&cert).unwrap();
    assert!(text.contains(&format!("cert = \"{}\"", absolute.display())), "{text}");
    assert!(
        !node.path().join("data/tls/server.pem").exists(),
        "init made its own pair too"
    );
    let install = piratenldap_tests::Install::adopt(node, None);
    let server = install.serve();
    assert_eq!(
        served(&server, false),
        first_cert(&std::fs::read_to_string(&cert).unwrap())
    );
}

#[test]
fn the_server_renews_the_certificate_its_ca_issued_before_it_ends() {
    let install = piratenldap_tests::Install::new();
    let dir = install.dir.path().to_path_buf();
    // init's pair replaced by one of the same CA that ends in 30 days (renewal is due).
    let (cert, key) = (dir.join("data/tls/server.pem"), dir.join("data/tls/server.key"));
    openssl_pair(&cert, &key, "/CN=localhost", "30", Some(&dir.join("data/ca")));
    let ending = first_cert(&std::fs::read_to_string(&cert).unwrap());
    let server = install.serve();
    let start = Instant::now();
    let renewed = loop {
        let now = served(&server, false);
        if now != ending {
            break now;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "not renewed");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        renewed,
        first_cert(&std::fs::read_to_string(&cert).unwrap()),
        "written in place"
    );
    assert_eq!(served(&server, true), renewed);
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-checkend", &(800 * 86400).to_string(), "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "the renewed certificate ends within 800 days");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let (_, log) = server.stop();
    assert_eq!(log.matches("renewed the server certificate").count(), 1, "{log}");
}
