//! Client certificates (issue 4): the four-eyes procedure, certificate content checked with
//! openssl, PKCS#12, CSR signing, revocation and the CRL over HTTP, SASL EXTERNAL.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use piratenldap_tests::{Install, Server, person};

use crate::ok_stdout;

/// An installation with admins alice and bob, carol in membership-admins, dave a plain member.
pub fn cert_install() -> Install {
    cert_people(Install::new())
}

/// Adds the people of [`cert_install`] to a fresh installation.
pub fn cert_people(install: Install) -> Install {
    let csv = install.dir.path().join("m.csv");
    std::fs::write(
        &csv,
        "member_number,state,email\n1,BY,alice@example.org\n2,BY,bob@example.org\n3,NW,carol@example.org\n4,HH,\n",
    )
    .unwrap();
    ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    for (uid, n) in [("alice", "1"), ("bob", "2"), ("carol", "3"), ("dave", "4")] {
        ok_stdout(&install.cli_stdin(
            &["account", "create", uid, "--member", n, "--password-stdin"],
            "a-long-password\n",
        ));
    }
    // Admins must have TOTP: enrol alice and bob as an admin would, with codes from the secret.
    for uid in ["alice", "bob"] {
        let out = ok_stdout(&install.cli(&["account", "totp-enroll", uid]));
        let secret = base32_decode(&field(&out, "secret: "));
        ok_stdout(&install.cli(&[
            "account",
            "totp-enroll",
            uid,
            "--confirm",
            &piratenldap_tests::totp_now(&secret),
        ]));
    }
    for (group, uid) in [("admins", "alice"), ("admins", "bob"), ("membership-admins", "carol")] {
        ok_stdout(&install.cli(&["group", "add", group, uid]));
    }
    install
}

/// RFC 4648 base32 without padding, as `totp-enroll` prints secrets.
pub fn base32_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {s}"),
        };
        bits = (bits << 5) | u64::from(v);
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

pub fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .to_string()
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (apt-get install openssl)")
}

fn curl(url: &str, out: &Path) -> u16 {
    let o = Command::new("curl")
        .args(["-s", "-o"])
        .arg(out)
        .args(["-w", "%{http_code}", url])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&o.stdout).parse().unwrap_or(0)
}

/// alice asks for a membership-admin certificate for carol.
pub(crate) const CAROL_REQUEST: [&str; 7] = [
    "cert",
    "request",
    "carol",
    "--role",
    "membership-admin",
    "--by",
    "alice",
];

/// request → approve → issue for carol; returns the output directory and the issue output.
pub fn issue_for_carol(install: &Install, csr: Option<&Path>) -> (PathBuf, String) {
    let mut args = CAROL_REQUEST.to_vec();
    let csr_s;
    if let Some(p) = csr {
        csr_s = p.to_str().unwrap().to_string();
        args.extend(["--csr", &csr_s]);
    }
    let id = field(&ok_stdout(&install.cli(&args)), "request: ");
    ok_stdout(&install.cli(&["cert", "approve", &id, "--by", "bob"]));
    let out = install.dir.path().join(format!("issued-{id}"));
    let text = ok_stdout(&install.cli(&["cert", "issue", &id, "--out", out.to_str().unwrap()]));
    (out, text)
}

#[test]
fn four_eyes_failures_are_clear_and_change_nothing() {
    let install = cert_install();
    let fails = |args: &[&str], why: &str| {
        let out = install.cli(args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{args:?} succeeded");
        assert!(err.contains(why), "{args:?}: {err}");
    };
    fails(
        &["cert", "request", "dave", "--role", "membership-admin", "--by", "alice"],
        "not a member of the group membership-admins",
    );
    fails(
        &["cert", "request", "carol", "--role", "membership-admin", "--by", "dave"],
        "not an admin",
    );
    fails(
        &["cert", "request", "carol", "--role", "treasurer", "--by", "alice"],
        "unknown role",
    );
    let id = field(&ok_stdout(&install.cli(&CAROL_REQUEST)), "request: ");
    let out = install.dir.path().join("never");
    fails(&["cert", "issue", &id, "--out", out.to_str().unwrap()], "not approved");
    fails(&["cert", "approve", &id, "--by", "alice"], "four eyes");
    fails(&["cert", "approve", &id, "--by", "dave"], "not an admin");
    fails(&["cert", "approve", &id, "--by", "carol"], "themselves");
    assert!(!out.exists(), "a refused issue wrote files");
    let list = ok_stdout(&install.cli(&["cert", "list"]));
    assert_eq!(list.lines().count(), 1, "a certificate exists after refusals: {list}");
    // Each step that succeeded is in the audit trail with who did it.
    ok_stdout(&install.cli(&["cert", "approve", &id, "--by", "bob"]));
    let audit = ok_stdout(&install.cli(&["audit", "--uid", "carol"]));
    assert!(
        audit.lines().any(|l| l.contains("alice") && l.contains("cert.request")),
        "{audit}"
    );
    assert!(
        audit.lines().any(|l| l.contains("bob") && l.contains("cert.approve")),
        "{audit}"
    );
}

#[test]
fn issued_certificate_verifies_bundles_and_is_revoked_in_the_crl() {
    let install = cert_install();
    let (out, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    let passphrase = field(&text, "passphrase: ");
    let ca = install.ca_pem();
    let cert = out.join("cert.pem");
    assert!(
        ok_stdout(&openssl(&[
            "verify",
            "-CAfile",
            ca.to_str().unwrap(),
            cert.to_str().unwrap()
        ]))
        .contains(": OK")
    );
    let shown = ok_stdout(&openssl(&[
        "x509",
        "-in",
        cert.to_str().unwrap(),
        "-noout",
        "-subject",
        "-serial",
        "-ext",
        "extendedKeyUsage,subjectAltName,authorityKeyIdentifier,subjectKeyIdentifier",
    ]));
    assert!(
        shown.contains("CN = carol, OU = membership-admin, O = Example Party"),
        "{shown}"
    );
    assert!(
        shown.contains("TLS Web Client Authentication") && shown.contains("email:carol@example.org"),
        "{shown}"
    );
    assert!(
        shown.contains("Authority Key Identifier") && shown.contains("Subject Key Identifier"),
        "{shown}"
    );
    assert_eq!(serial.len(), 32, "128-bit serial");
    assert!(shown.to_lowercase().contains(&format!("serial={serial}")), "{shown}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(out.join("key.pem")).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // openssl opens the PKCS#12 bundle with the passphrase, and not without it.
    let p12 = out.join("bundle.p12");
    let opened = openssl(&[
        "pkcs12",
        "-in",
        p12.to_str().unwrap(),
        "-passin",
        &format!("pass:{passphrase}"),
        "-nokeys",
    ]);
    assert!(ok_stdout(&opened).contains("CN = carol"));
    assert!(
        !openssl(&[
            "pkcs12",
            "-in",
            p12.to_str().unwrap(),
            "-passin",
            "pass:wrong",
            "-nokeys"
        ])
        .status
        .success()
    );

    let server = install.serve();
    let crl = server.install.dir.path().join("crl.pem");
    let base = format!("http://{}", server.http);
    assert_eq!(
        curl(
            &format!("{base}/ca/cert.pem"),
            &server.install.dir.path().join("ca-http.pem")
        ),
        200
    );
    assert_eq!(
        std::fs::read_to_string(server.install.dir.path().join("ca-http.pem")).unwrap(),
        std::fs::read_to_string(&ca).unwrap()
    );
    let crl_check = |crl: &Path| {
        openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            ca.to_str().unwrap(),
            "-CRLfile",
            crl.to_str().unwrap(),
            cert.to_str().unwrap(),
        ])
    };
    assert_eq!(curl(&format!("{base}/ca/crl.pem"), &crl), 200);
    assert!(
        crl_check(&crl).status.success(),
        "valid certificate fails the CRL check"
    );
    ok_stdout(&server.cli(&["cert", "revoke", &serial, "--reason", "laptop stolen"]));
    assert_eq!(curl(&format!("{base}/ca/crl.pem"), &crl), 200);
    let checked = crl_check(&crl);
    assert!(!checked.status.success());
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains("revoked")
            || String::from_utf8_lossy(&checked.stderr).contains("revoked")
    );
}

#[test]
fn csr_is_signed_and_keeps_its_public_key() {
    let install = cert_install();
    let dir = install.dir.path();
    let (key, csr) = (dir.join("holder.key"), dir.join("holder.csr"));
    ok_stdout(&openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
        "-subj",
        "/CN=someone-else/O=Evil",
    ]));
    let (out, text) = issue_for_carol(&install, Some(&csr));
    assert!(!text.contains("passphrase:"), "no bundle without our key");
    assert!(!out.join("key.pem").exists());
    let cert_key = ok_stdout(&openssl(&[
        "x509",
        "-in",
        out.join("cert.pem").to_str().unwrap(),
        "-noout",
        "-pubkey",
    ]));
    let own_key = ok_stdout(&openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout"]));
    assert_eq!(cert_key, own_key);
    let subject = ok_stdout(&openssl(&[
        "x509",
        "-in",
        out.join("cert.pem").to_str().unwrap(),
        "-noout",
        "-subject",
    ]));
    assert!(subject.contains("CN = carol") && !subject.contains("Evil"), "{subject}");
    let bad = dir.join("bad.csr");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE REQUEST-----\nnonsense\n-----END CERTIFICATE REQUEST-----\n",
    )
    .unwrap();
    let out = install.cli(&[&CAROL_REQUEST[..], &["--csr", bad.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(1));
}

pub fn whoami_external(server: &Server, url: &str, out: &Path, starttls: bool) -> std::process::Output {
    whoami_external_trusting(&server.install.ca_pem(), url, out, starttls)
}

/// `ldapwhoami -Y EXTERNAL` with the certificate in `out`, trusting the CA file `ca` for the
/// server's certificate.
pub fn whoami_external_trusting(ca: &Path, url: &str, out: &Path, starttls: bool) -> std::process::Output {
    let mut args = vec!["-Y", "EXTERNAL", "-H", url];
    if starttls {
        args.push("-ZZ");
    }
    Command::new("ldapwhoami")
        .args(&args)
        .env("LDAPTLS_CACERT", ca)
        .env("LDAPTLS_CERT", out.join("cert.pem"))
        .env("LDAPTLS_KEY", out.join("key.pem"))
        .env("LDAPCONF", "/dev/null")
        .env("LDAPRC", "/dev/null")
        .output()
        .unwrap()
}

#[test]
fn sasl_external_binds_with_the_certificate_until_revoked() {
    let install = cert_install();
    let (out, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    // A certificate valid for zero days: expired a moment after it is issued.
    let config = std::fs::read_to_string(&install.config).unwrap();
    std::fs::write(
        &install.config,
        config.replace("client_cert_days = 365", "client_cert_days = 0"),
    )
    .unwrap();
    let (expired, _) = issue_for_carol(&install, None);
    std::fs::write(&install.config, config).unwrap();
    // A certificate from another installation's CA.
    let other = cert_install();
    let (foreign, _) = issue_for_carol(&other, None);
    let server = install.serve();
    let ldaps = server.ldaps_url();
    let starttls = format!("ldap://localhost:{}", server.ldap.port());
    assert_eq!(
        ok_stdout(&whoami_external(&server, &ldaps, &out, false)).trim(),
        format!("dn:{}", person("carol"))
    );
    assert_eq!(
        ok_stdout(&whoami_external(&server, &starttls, &out, true)).trim(),
        format!("dn:{}", person("carol"))
    );
    assert_eq!(
        whoami_external(&server, &ldaps, &foreign, false).status.code(),
        Some(49),
        "foreign certificate"
    );
    assert_eq!(
        whoami_external(&server, &ldaps, &expired, false).status.code(),
        Some(49),
        "expired certificate"
    );
    let rootdse = server.openldap(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &server.ldap_url(),
            "-b",
            "",
            "-s",
            "base",
            "supportedSASLMechanisms",
        ],
    );
    assert!(ok_stdout(&rootdse).contains("supportedSASLMechanisms: EXTERNAL"));
    ok_stdout(&server.cli(&["cert", "revoke", &serial, "--reason", "left the office"]));
    let start = Instant::now();
    loop {
        let o = whoami_external(&server, &ldaps, &out, false);
        if o.status.code() == Some(49) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "revoked certificate still binds: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn locking_or_leaving_the_group_revokes_certificates() {
    let install = cert_install();
    let (_, first) = issue_for_carol(&install, None);
    let (_, second) = issue_for_carol(&install, None);
    let out = ok_stdout(&install.cli(&["group", "remove", "membership-admins", "carol"]));
    assert!(out.contains("2 client certificate(s) of carol revoked"), "{out}");
    let list = ok_stdout(&install.cli(&["cert", "list"]));
    for text in [&first, &second] {
        let serial = field(text, "serial: ");
        assert!(
            list.lines().any(|l| l.starts_with(&serial) && l.ends_with("revoked")),
            "{list}"
        );
    }
    // Locking revokes too.
    ok_stdout(&install.cli(&["group", "add", "membership-admins", "carol"]));
    let (_, third) = issue_for_carol(&install, None);
    let out = ok_stdout(&install.cli(&["account", "lock", "carol"]));
    assert!(out.contains("1 client certificate(s) of carol revoked"), "{out}");
    let crl = install.dir.path().join("now.crl");
    ok_stdout(&install.cli(&["cert", "crl", "--out", crl.to_str().unwrap()]));
    let text = ok_stdout(&openssl(&["crl", "-in", crl.to_str().unwrap(), "-noout", "-text"]));
    assert!(text.to_lowercase().contains(&field(&third, "serial: ")), "{text}");
}

#[test]
fn cert_ca_and_expiring_certificates_are_shown_and_a_near_ca_end_warned() {
    let install = cert_install();
    let (_, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    let listed = |days: &str| ok_stdout(&install.cli(&["cert", "list", "--expiring", days]));
    assert!(
        !listed("30").contains(&serial),
        "a 365-day certificate expires within 30 days"
    );
    assert!(listed("400").contains(&serial));

    let out = install.cli(&["cert", "ca"]);
    let shown = ok_stdout(&out);
    assert!(shown.contains("subject: CN=Example Party piratenldap CA"), "{shown}");
    assert!(field(&shown, "not after: ").starts_with("20"), "{shown}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "a new CA is warned about"
    );

    // A CA that ends in 100 days: `cert ca` and the server's start say so.
    let ca = install.dir.path().join("data/ca");
    crate::tls_reload::openssl_x509(
        &ca.join("ca.pem"),
        &ca.join("ca.key"),
        &["-days", "100", "-subj", "/CN=Short CA"],
    );
    let out = install.cli(&["cert", "ca"]);
    assert!(ok_stdout(&out).contains("subject: CN=Short CA"));
    let warned = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(warned.contains("warning: the CA expires in 99 days"), "{warned}");
    let (_, log) = install.serve().stop();
    assert!(log.contains("the CA expires in 99 days"), "{log}");
}

#[test]
fn a_renewal_after_an_old_approval_is_a_new_request_with_four_eyes() {
    let install = cert_install();
    // Every approval counts as old.
    let config = std::fs::read_to_string(&install.config).unwrap();
    assert!(
        config.contains("renew_approval_days = 30"),
        "the template lost renew_approval_days"
    );
    std::fs::write(
        &install.config,
        config.replace("renew_approval_days = 30", "renew_approval_days = 0"),
    )
    .unwrap();
    let (_, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    let out = ok_stdout(&install.cli(&["cert", "renew", &serial, "--by", "alice"]));
    let id = field(&out, "request: ");
    assert!(out.contains("for carol as membership-admin"), "{out}");
    assert!(!out.contains("approved at once"), "{out}");
    let dir = install.dir.path().join("too-early");
    let early = install.cli(&["cert", "issue", &id, "--out", dir.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("not approved yet"),
        "an unapproved renewal was issued"
    );
    // alice asked, so alice cannot approve (four eyes); bob can.
    assert!(!install.cli(&["cert", "approve", &id, "--by", "alice"]).status.success());
    ok_stdout(&install.cli(&["cert", "approve", &id, "--by", "bob"]));
    let dir = install.dir.path().join("renewed");
    let issued = ok_stdout(&install.cli(&["cert", "issue", &id, "--out", dir.to_str().unwrap()]));
    let renewed = field(&issued, "serial: ");
    assert_ne!(renewed, serial);
    let listed = ok_stdout(&install.cli(&["cert", "list"]));
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.contains("carol") && l.ends_with("valid"))
            .count(),
        2,
        "{listed}"
    );
    // A revoked certificate is not renewed.
    ok_stdout(&install.cli(&["cert", "revoke", &serial, "--reason", "lost"]));
    let out = install.cli(&["cert", "renew", &serial, "--by", "alice"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is revoked"));
}

#[test]
fn a_renewal_soon_after_the_approval_is_approved_at_once() {
    let install = cert_install();
    let (_, text) = issue_for_carol(&install, None);
    let serial = field(&text, "serial: ");
    // The holder cannot shorten their own renewal (carol is no admin anyway: refused).
    let own = install.cli(&["cert", "renew", &serial, "--by", "carol"]);
    assert!(!own.status.success(), "the holder renewed alone");
    // alice asks; bob approved the original minutes ago: no second approval needed.
    let out = ok_stdout(&install.cli(&["cert", "renew", &serial, "--by", "alice"]));
    assert!(out.contains("approved at once"), "{out}");
    assert!(out.contains("approved by bob"), "{out}");
    let id = field(&out, "request: ");
    let dir = install.dir.path().join("renewed");
    let issued = ok_stdout(&install.cli(&["cert", "issue", &id, "--out", dir.to_str().unwrap()]));
    assert_ne!(field(&issued, "serial: "), serial);
    let trail = ok_stdout(&install.cli(&["audit", "--uid", "carol"]));
    assert!(
        trail.contains("cert.renew") && trail.contains("approved by bob"),
        "the shortened renewal is not in the audit trail: {trail}"
    );
    // One shortened renewal per approval: renewing the same certificate again, or the renewal,
    // needs a new approval.
    for again in [serial.clone(), field(&issued, "serial: ")] {
        let out = ok_stdout(&install.cli(&["cert", "renew", &again, "--by", "alice"]));
        assert!(
            !out.contains("approved at once"),
            "one approval carried two renewals: {out}"
        );
        let id = field(&out, "request: ");
        let dir = install.dir.path().join(format!("again-{id}"));
        let early = install.cli(&["cert", "issue", &id, "--out", dir.to_str().unwrap()]);
        assert!(
            !early.status.success(),
            "a second renewal was issued without a new approval"
        );
    }
    // Once bob is no admin, his (fresh) approval no longer carries a renewal: refused, nothing
    // recorded.
    let (_, fresh) = issue_for_carol(&install, None);
    let fresh = field(&fresh, "serial: ");
    ok_stdout(&install.cli(&["group", "remove", "admins", "bob"]));
    let before = ok_stdout(&install.cli(&["audit", "--uid", "carol"])).lines().count();
    let refused = install.cli(&["cert", "renew", &fresh, "--by", "alice"]);
    assert!(!refused.status.success(), "renewed on the approval of an ex-admin");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("bob is not an admin"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        ok_stdout(&install.cli(&["audit", "--uid", "carol"])).lines().count(),
        before,
        "a refused renewal changed the audit trail"
    );
}

#[test]
fn certificates_ending_within_30_days_show_in_metrics_and_the_audit_trail() {
    let install = cert_install();
    let text = std::fs::read_to_string(&install.config).unwrap();
    std::fs::write(
        &install.config,
        text.replace("client_cert_days = 365", "client_cert_days = 10"),
    )
    .unwrap();
    // Before any certificate: nothing ends soon, and there is no "first end".
    let mut server = install.serve();
    assert_eq!(server.metric("piratenldap_client_certificates_ending_soon"), Some(0.0));
    assert_eq!(
        server.metric("piratenldap_client_certificate_next_end_days"),
        Some(-1.0)
    );
    let ca_days = server.metric("piratenldap_ca_end_days").unwrap();
    assert!(ca_days > 3000.0, "a new CA ends in {ca_days} days");

    let (_, issued) = issue_for_carol(&server.install, None);
    let serial = field(&issued, "serial: ");
    let mut soon = None;
    for _ in 0..50 {
        soon = server.metric("piratenldap_client_certificates_ending_soon");
        if soon == Some(1.0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(soon, Some(1.0), "carol's 10-day certificate ends soon");
    let next = server.metric("piratenldap_client_certificate_next_end_days").unwrap();
    assert!((9.0..=10.01).contains(&next), "{next}");
    // The daily check runs when the server starts: carol's certificate is audited.
    server.kill_and_restart();
    let mut audited = String::new();
    for _ in 0..50 {
        audited = ok_stdout(&server.cli(&["audit", "--uid", "carol"]));
        if audited.contains("cert.expiring") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        audited.contains("cert.expiring") && audited.contains(&serial),
        "{audited}"
    );
    assert!(audited.contains("cert renew"), "the event says how to renew: {audited}");
}
