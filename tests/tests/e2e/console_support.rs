//! The console's test site: the standard directory plus chapter admins bob (BY) and nora (NW,
//! with real names), federal admins alice, fred and fritz, plain members bert (BY) and nils
//! (NW); client certificates (role membership-admin) for alice, bob and nora; the server on
//! HTTPS (`https://localhost:PORT`), trusting 127.0.0.2 as a reverse proxy. Browsers log in
//! with password and TOTP and present their certificate (or not).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use piratenldap_store::Store;

use piratenldap_core::ids::MembershipStatus;
use piratenldap_tests::{ALICE_TOTP_SECRET, Install, PASSWORD, Server, record, standard_fixture, totp_now};
use reqwest::StatusCode;
use reqwest::cookie::Jar;
use reqwest::redirect::Policy;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::certs::{base32_decode, field};
use crate::ok_stdout;
use crate::sso::hidden;

/// The running site.
pub struct Site {
    pub server: Server,
    /// `https://localhost:PORT`.
    pub base: String,
    pub ca: PathBuf,
    /// TOTP secrets by uid.
    pub totp: HashMap<&'static str, Vec<u8>>,
    /// Issued certificate directories by uid: what `cert issue` writes (cert.pem, ca.pem,
    /// key.pem, bundle.p12), plus `passphrase`, the bundle's passphrase from its output.
    pub certs: HashMap<&'static str, PathBuf>,
}

/// A logged-in browser: `with` presents the holder's certificate, `without` shares its
/// cookies but presents none.
pub struct Browser {
    pub with: reqwest::Client,
    pub without: reqwest::Client,
    pub jar: Arc<Jar>,
}

/// People added to the standard directory: (number, state, uid).
const PEOPLE: [(&str, &str, &str); 5] = [
    ("100", "NW", "nora"),
    ("101", "BY", "bert"),
    ("102", "NW", "nils"),
    ("103", "HH", "fred"),
    ("104", "HH", "fritz"),
];

fn enrol(install: &Install, uid: &str) -> Vec<u8> {
    let out = ok_stdout(&install.cli(&["account", "totp-enroll", uid]));
    let secret = base32_decode(&field(&out, "secret: "));
    ok_stdout(&install.cli(&["account", "totp-enroll", uid, "--confirm", &totp_now(&secret)]));
    secret
}

fn issue(install: &Install, holder: &str, by: &str, approver: &str) -> PathBuf {
    ok_stdout(&install.cli(&["group", "add", "membership-admins", holder]));
    let out = ok_stdout(&install.cli(&["cert", "request", holder, "--role", "membership-admin", "--by", by]));
    let id = field(&out, "request: ");
    ok_stdout(&install.cli(&["cert", "approve", &id, "--by", approver]));
    let dir = install.dir.path().join(format!("cert-{holder}"));
    let out = ok_stdout(&install.cli(&["cert", "issue", &id, "--out", dir.to_str().unwrap()]));
    std::fs::write(dir.join("passphrase"), field(&out, "passphrase: ")).unwrap();
    dir
}

/// Builds and starts the site; `config` may change the configuration text first.
pub async fn site(config: impl FnOnce(String) -> String) -> Site {
    let install = Install::new();
    standard_fixture(&install).await;
    let recs: Vec<_> = PEOPLE
        .iter()
        .map(|(n, state, uid)| record(n, state, MembershipStatus::Active, true, uid, "Test", None))
        .collect();
    install
        .store()
        .await
        .import_members(&recs, false, false, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    for (n, _, uid) in PEOPLE {
        ok_stdout(&install.cli_stdin(
            &["account", "create", uid, "--member", n, "--password-stdin"],
            &format!("{PASSWORD}\n"),
        ));
    }
    let mut totp = HashMap::from([("alice", ALICE_TOTP_SECRET.to_vec())]);
    for uid in ["bob", "nora", "fred", "fritz"] {
        totp.insert(uid, enrol(&install, uid));
    }
    for uid in ["fred", "fritz"] {
        ok_stdout(&install.cli(&["group", "add", "admins", uid]));
    }
    ok_stdout(&install.cli(&["admin", "grant", "bob", "--chapter", "BY"]));
    ok_stdout(&install.cli(&["admin", "grant", "nora", "--chapter", "NW", "--real-names"]));
    let certs = HashMap::from([
        ("alice", issue(&install, "alice", "fred", "fritz")),
        ("bob", issue(&install, "bob", "alice", "fred")),
        ("nora", issue(&install, "nora", "alice", "fred")),
    ]);

    let base = install.fixed_https_port();
    let text = std::fs::read_to_string(&install.config).unwrap();
    let text = text.replace("trusted_proxies = []", "trusted_proxies = [\"127.0.0.2\"]");
    assert!(text.contains("127.0.0.2"), "the generated [http] section changed");
    std::fs::write(&install.config, config(text)).unwrap();
    let ca = install.ca_pem();
    let server = install.serve();
    // The confirmations above spent this step's codes.
    let step = || time::OffsetDateTime::now_utc().unix_timestamp() / 30;
    let start = step();
    while step() == start {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Site {
        server,
        base,
        ca,
        totp,
        certs,
    }
}

/// A reqwest client trusting the site's CA, presenting `cert` (a directory with cert.pem and
/// key.pem) if given, from `local` if given, with the cookies of `jar`.
pub fn client(ca: &Path, cert: Option<&Path>, jar: &Arc<Jar>, local: Option<&str>) -> reqwest::Client {
    let base = piratenldap_tests::client_tls(ca);
    let tls = match cert {
        None => (*base).clone(),
        Some(dir) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
                .unwrap()
        }
    };
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .cookie_provider(Arc::clone(jar))
        .redirect(Policy::none());
    if let Some(ip) = local {
        b = b.local_address(ip.parse::<std::net::IpAddr>().unwrap());
    }
    b.build().unwrap()
}

impl Site {
    /// `uid` logged in with password and (if enrolled) TOTP.
    pub async fn browser(&self, uid: &str) -> Browser {
        let jar = Arc::new(Jar::default());
        let with = client(&self.ca, self.certs.get(uid).map(PathBuf::as_path), &jar, None);
        let without = client(&self.ca, None, &jar, None);
        let page = with
            .get(format!("{}/login", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let code = self.totp.get(uid).map(|s| totp_now(s)).unwrap_or_default();
        let res = with
            .post(format!("{}/login", self.base))
            .form(&[
                ("csrf", hidden(&page, "csrf").as_str()),
                ("username", uid),
                ("password", PASSWORD),
                ("code", code.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{uid} could not log in");
        Browser { with, without, jar }
    }
}

impl Browser {
    /// GET `url`: status and body (for a redirect, its `Location`).
    pub async fn get(&self, url: &str) -> (StatusCode, String) {
        answer(self.with.get(url).send().await.unwrap()).await
    }

    /// Reads the form on `page_url` and posts `fields` plus its CSRF value and the
    /// confirmation to `action_url`: status and body.
    pub async fn post(&self, page_url: &str, action_url: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let page = self.with.get(page_url).send().await.unwrap().text().await.unwrap();
        let csrf = if page.contains(r#"name="csrf" value=""#) {
            hidden(&page, "csrf")
        } else {
            String::new()
        };
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str()), ("confirm", "yes")];
        form.extend_from_slice(fields);
        answer(self.with.post(action_url).form(&form).send().await.unwrap()).await
    }
}

/// Status and body, or for a redirect its `Location`.
async fn answer(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    if status.is_redirection() {
        let to = res.headers()["location"].to_str().unwrap().to_string();
        return (status, to);
    }
    (status, res.text().await.unwrap())
}
