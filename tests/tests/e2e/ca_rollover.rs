//! Issue 19: the CA rollover drill of docs/admin-guide.md ("CA wechseln"), step by step with a
//! real nginx and OpenLDAP's tools: a new CA beside the old one, both trusted and each signing
//! its own CRL, until no valid certificate of the old one is left and `cert ca retire` removes it.

use std::path::Path;
use std::process::Command;

use crate::certs::{cert_install, field, issue_for_carol, whoami_external_trusting};
use crate::nginx::{membership_admin_nginx, status};
use crate::ok_stdout;

/// The issuers of the CRLs in `pem`, as openssl prints them.
fn crl_issuers(dir: &Path, pem: &str) -> Vec<String> {
    pem.split_inclusive("-----END X509 CRL-----\n")
        .filter(|p| p.contains("BEGIN X509 CRL"))
        .enumerate()
        .map(|(i, one)| {
            let file = dir.join(format!("crl-{i}.pem"));
            std::fs::write(&file, one).unwrap();
            let out = Command::new("openssl")
                .args(["crl", "-noout", "-issuer", "-in"])
                .arg(&file)
                .output()
                .unwrap();
            ok_stdout(&out).trim().to_string()
        })
        .collect()
}

/// Whether openssl verifies the client certificate in `cert_dir` against the CA file `ca`.
fn verifies(ca: &Path, cert_dir: &Path) -> bool {
    Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .arg(cert_dir.join("cert.pem"))
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn the_ca_rollover_drill() {
    let install = cert_install();
    let data = install.dir.path().join("data");
    let old_ca = std::fs::read_to_string(data.join("ca/ca.pem")).unwrap();
    let (before, text) = issue_for_carol(&install, None);
    let before_serial = field(&text, "serial: ");
    let mut server = install.serve();
    let dir = server.install.dir.path().to_path_buf();

    // 1. The rollover: a new CA, the old one retired beside it; a CRL signed by both.
    let out = ok_stdout(&server.cli(&["cert", "ca", "rollover"]));
    assert!(out.contains("new CA: ") && out.contains("retired: "), "{out}");
    let new_ca = std::fs::read_to_string(data.join("ca/ca.pem")).unwrap();
    assert_ne!(new_ca, old_ca, "ca.pem is still the old CA");
    let trusted = data.join("ca/trusted.pem");
    let bundle = std::fs::read_to_string(&trusted).unwrap();
    assert!(
        bundle.contains(&new_ca) && bundle.contains(&old_ca),
        "trusted.pem lacks a CA"
    );
    let shown = ok_stdout(&server.cli(&["cert", "ca"]));
    assert!(
        shown.contains("needed by 1 valid certificates") && shown.contains(&before_serial),
        "cert ca does not say which certificate needs the old CA: {shown}"
    );
    let trail = ok_stdout(&server.cli(&["audit"]));
    assert!(trail.contains("ca.rollover"), "the rollover is not audited: {trail}");
    let backup = dir.join("after-rollover.backup");
    ok_stdout(&server.cli(&["backup", backup.to_str().unwrap()]));
    let saved = std::fs::read_to_string(&backup).unwrap();
    assert!(
        saved.contains("ca-retired/ca-") && saved.contains(&serde_escape(&old_ca)),
        "the backup lacks the retired CA"
    );

    // 2. Every node restarts (here: one): it serves both CAs and both CRLs.
    server.kill_and_restart();
    assert_eq!(
        server.http_get("/ca/cert.pem"),
        bundle,
        "/ca/cert.pem is not the bundle"
    );
    let issuers = crl_issuers(&dir, &server.http_get("/ca/crl.pem"));
    assert_eq!(issuers.len(), 2, "one CRL per CA: {issuers:?}");
    assert_ne!(issuers[0], issuers[1], "both CRLs from one CA: {issuers:?}");

    // 3. New certificates come from the new CA; the old one's still verify with the bundle.
    let (after, _) = issue_for_carol(&server.install, None);
    assert!(verifies(&data.join("ca/ca.pem"), &after), "not issued by the new CA");
    assert!(
        !verifies(&data.join("ca/ca.pem"), &before),
        "the old certificate verified with the new CA alone"
    );
    assert!(
        verifies(&trusted, &before) && verifies(&trusted, &after),
        "the bundle does not verify both"
    );

    // 4. nginx with the bundle and both CRLs admits both; SASL EXTERNAL takes both.
    let crl = dir.join("nginx-crl.pem");
    std::fs::write(&crl, server.http_get("/ca/crl.pem")).unwrap();
    let (nginx, port) = membership_admin_nginx(&server, &crl);
    assert_eq!(
        status(port, &trusted, Some(&before)),
        200,
        "old CA's certificate refused"
    );
    assert_eq!(
        status(port, &trusted, Some(&after)),
        200,
        "new CA's certificate refused"
    );
    let ldaps = server.ldaps_url();
    for (cert, which) in [(&before, "old"), (&after, "new")] {
        let o = whoami_external_trusting(&trusted, &ldaps, cert, false);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("uid=carol"),
            "SASL EXTERNAL with the {which} CA's certificate: {} {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    // 5. Retiring too early is refused and changes nothing.
    let early = server.cli(&["cert", "ca", "retire"]);
    assert!(!early.status.success(), "retired while a certificate needs the old CA");
    let why = String::from_utf8_lossy(&early.stderr);
    assert!(
        why.contains(&before_serial) && why.contains("nothing was removed"),
        "{why}"
    );
    assert_eq!(std::fs::read_to_string(&trusted).unwrap(), bundle);

    // 6. The old certificate is replaced (renewed by the new CA) and revoked; nginx refuses it
    //    through the old CA's CRL, while the new ones get in.
    let renew = ok_stdout(&server.cli(&["cert", "renew", &before_serial, "--by", "alice"]));
    let id = field(&renew, "request: ");
    let replaced = dir.join("replaced");
    ok_stdout(&server.cli(&["cert", "issue", &id, "--out", replaced.to_str().unwrap()]));
    assert!(
        verifies(&data.join("ca/ca.pem"), &replaced),
        "the renewal is not the new CA's"
    );
    ok_stdout(&server.cli(&["cert", "revoke", &before_serial, "--reason", "replaced by the new CA's"]));
    std::fs::write(&crl, server.http_get("/ca/crl.pem")).unwrap();
    nginx.reload();
    settles(
        || status(port, &trusted, Some(&before)) == 400,
        "revoked old certificate admitted",
    );
    assert_eq!(status(port, &trusted, Some(&replaced)), 200);

    // 7. Nothing needs the old CA: it is removed, and after the restart it counts nowhere.
    let out = ok_stdout(&server.cli(&["cert", "ca", "retire"]));
    assert!(out.contains("removed the retired CA"), "{out}");
    assert_eq!(std::fs::read_to_string(&trusted).unwrap(), new_ca);
    assert!(ok_stdout(&server.cli(&["audit"])).contains("ca.retire"));
    server.kill_and_restart();
    assert_eq!(server.http_get("/ca/cert.pem"), new_ca);
    let served_crl = server.http_get("/ca/crl.pem");
    assert_eq!(
        crl_issuers(&dir, &served_crl).len(),
        1,
        "the retired CA still signs a CRL"
    );
    std::fs::write(&crl, served_crl).unwrap();
    drop(nginx);
    let (_nginx, port) = membership_admin_nginx(&server, &crl);
    assert_eq!(status(port, &trusted, Some(&after)), 200);
    assert_eq!(status(port, &trusted, Some(&replaced)), 200);
    assert_eq!(
        status(port, &trusted, Some(&before)),
        400,
        "the retired CA's certificate admitted"
    );
}

/// `text` as it appears inside a JSON string (the backup is JSON lines).
fn serde_escape(text: &str) -> String {
    text.replace('\n', "\\n")
}

/// Waits up to 10 s for `check` (an nginx reload takes effect when its new workers run).
fn settles(check: impl Fn() -> bool, what: &str) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "{what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
