//! Issue 15: headless Chromium (Debian's, through chromedriver and fantoccini) drives the
//! admin console on the server's own HTTPS listener through its main flows: bob (admin of BY)
//! logs in with password and TOTP, finds bert, locks him, is refused a reset letter for the
//! locked account, unlocks him and downloads the reset letter's mail-merge CSV, adds bert to
//! BY's treasurer group, registers a service (credential shown once) and requests a
//! treasurer certificate for bert; alice (federal), in a second browser, approves it as the
//! second admin; fred, an admin without a certificate, is refused member pages. Each step is
//! checked on the page and in the store, and photographed into target/admin-guide/
//! (docs/admin-guide/ holds a committed set, shown in docs/admin-guide.md).
//!
//! The client certificate is the real thing: Chromium presents it in the TLS handshake
//! (approach "a" of the issue's brief; no proxy, no injected header — the browser connects
//! from 127.0.0.1, and the site trusts only 127.0.0.2 as a proxy). Each admin's Chromium has a
//! `$HOME` of its own (set on its chromedriver) and a profile of its own, so nothing reaches
//! the machine's profile: its NSS database (`$HOME/.pki/nssdb`, made with certutil and
//! pk12util from Debian's libnss3-tools) trusts the site's CA and holds the admin's
//! `bundle.p12` exactly as `cert issue` wrote it, imported with its passphrase. Chromium sends
//! a client certificate without asking only under the managed policy
//! `AutoSelectCertificateForUrls`; [`AutoSelectPolicy`] writes one for this test's
//! `https://localhost:PORT` only (a file name of its own in /etc/chromium/policies/managed/,
//! the tests run as root) and removes it on drop, also when the test fails. Without that
//! policy headless Chromium presents no certificate (tried by hand: no dialog, no
//! certificate), which is what fred's browser, with an empty database, shows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use piratenldap_tests::{PASSWORD, totp_now};

use crate::browser::{Driver, click, fill, headless_chromium_with, start_chromedriver_at};
use crate::console_support::{Site, site};
use crate::ok_stdout;

/// Where Debian's Chromium reads managed policies.
const POLICY_DIR: &str = "/etc/chromium/policies/managed";

/// Longest wait for a page element or a download.
const WAIT: Duration = Duration::from_secs(30);

/// A managed Chromium policy that picks the internal CA's client certificate for one origin
/// without a dialog; the file is removed on drop.
struct AutoSelectPolicy(PathBuf);

impl AutoSelectPolicy {
    fn install(origin: &str, issuer_cn: &str) -> Self {
        std::fs::create_dir_all(POLICY_DIR).unwrap();
        let port = origin.rsplit(':').next().unwrap();
        let path = Path::new(POLICY_DIR).join(format!("piratenldap-test-console-{port}.json"));
        let rule = serde_json::json!({ "pattern": origin, "filter": { "ISSUER": { "CN": issuer_cn } } });
        let policy = serde_json::json!({ "AutoSelectCertificateForUrls": [rule.to_string()] });
        std::fs::write(&path, policy.to_string()).unwrap();
        AutoSelectPolicy(path)
    }
}

impl Drop for AutoSelectPolicy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The common name of the CA certificate in `ca`.
fn issuer_cn(ca: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
        .arg(ca)
        .output()
        .unwrap();
    let subject = ok_stdout(&out);
    subject
        .trim()
        .trim_start_matches("subject=")
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN="))
        .unwrap_or_else(|| panic!("no CN in {subject}"))
        .to_string()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One admin's Chromium: its own `$HOME` (NSS database) and profile, its downloads.
struct AdminBrowser {
    browser: Client,
    downloads: PathBuf,
    _driver: Driver,
    _home: tempfile::TempDir,
}

/// A Chromium for `uid`, whose NSS database trusts the site's CA and, if `uid` has one,
/// holds their certificate bundle (imported the way an admin imports it: bundle.p12 and its
/// passphrase).
async fn admin_browser(site: &Site, uid: &str) -> AdminBrowser {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db_arg = format!("sql:{}", db.display());
    run(Command::new("certutil").args(["-N", "--empty-password", "-d", &db_arg]));
    run(Command::new("certutil")
        .args(["-A", "-n", "piratenldap-ca", "-t", "C,,", "-d", &db_arg, "-i"])
        .arg(&site.ca));
    if let Some(dir) = site.certs.get(uid) {
        let passphrase = std::fs::read_to_string(dir.join("passphrase")).unwrap();
        run(Command::new("pk12util")
            .args(["-d", &db_arg, "-W", passphrase.trim(), "-i"])
            .arg(dir.join("bundle.p12")));
        let listed = Command::new("certutil").args(["-L", "-d", &db_arg]).output().unwrap();
        assert!(ok_stdout(&listed).contains("u,u,u"), "{uid}'s key is in the database");
    }
    let downloads = home.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let (driver, port) = start_chromedriver_at(Some(home.path()));
    let prefs = serde_json::json!({
        "download.default_directory": downloads.display().to_string(),
        "download.prompt_for_download": false,
    });
    let browser = headless_chromium_with(port, &home.path().join("profile"), prefs).await;
    AdminBrowser {
        browser,
        downloads,
        _driver: driver,
        _home: home,
    }
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/admin-guide");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes the screenshot of an earlier failure.
fn forget_failure() {
    let _ = std::fs::remove_file(shots_dir().join("failed.png"));
}

async fn shot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(shots_dir().join(name), png).unwrap();
}

/// Waits for the element `at` (the next page has loaded).
async fn wait_for(browser: &Client, at: Locator<'_>) -> fantoccini::elements::Element {
    match browser.wait().at_most(WAIT).for_element(at).await {
        Ok(found) => found,
        Err(e) => {
            shot(browser, "failed.png").await;
            let page = html(browser).await;
            panic!("waiting for {at:?}: {e} (target/admin-guide/failed.png): {page}")
        }
    }
}

/// Waits for the element `at`, reloading the page meanwhile: after a change the console
/// redirects to a page read from the directory's view, which follows the store within a
/// quarter second, so the first answer may still show the state before the change.
async fn reload_until(browser: &Client, at: Locator<'_>) -> fantoccini::elements::Element {
    let deadline = Instant::now() + WAIT;
    let mut reloads = 0;
    loop {
        if let Ok(found) = browser.find(at).await {
            if reloads > 0 {
                eprintln!("{at:?}: shown after {reloads} reloads");
            }
            return found;
        }
        if Instant::now() > deadline {
            return wait_for(browser, at).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        browser.refresh().await.unwrap();
        reloads += 1;
    }
}

/// Scrolls every table to its right end (tables scroll sideways on narrow screens; the
/// status and the buttons are on the right).
async fn scroll_tables_right(browser: &Client) {
    let js = "for (const t of document.querySelectorAll('table')) { t.scrollLeft = t.scrollWidth; }";
    browser.execute(js, vec![]).await.unwrap();
}

/// The page's HTML.
async fn html(browser: &Client) -> String {
    browser.source().await.unwrap()
}

/// Ticks the confirmation of the form posting to `action` and submits it.
async fn confirm_and_submit(browser: &Client, action: &str) {
    let form = format!("form[action='{action}']");
    click(browser, Locator::Css(&format!("{form} input[name=confirm]"))).await;
    click(browser, Locator::Css(&format!("{form} button[type=submit]"))).await;
}

/// `uid` logs in on the single sign-on page with password and TOTP code, then opens the
/// console; `shot_name` photographs the filled-in form.
async fn log_in(site: &Site, b: &Client, uid: &str, shot_name: Option<&str>) {
    b.goto(&format!("{}/login", site.base)).await.unwrap();
    wait_for(b, Locator::Id("username")).await;
    fill(b, "username", uid).await;
    fill(b, "password", PASSWORD).await;
    fill(b, "code", &totp_now(&site.totp[uid])).await;
    if let Some(name) = shot_name {
        shot(b, name).await;
    }
    click(b, Locator::Css("button[type=submit]")).await;
    // The logged-in page links to the logout, the login page does not.
    wait_for(b, Locator::Css("a[href^='/oauth2/logout']")).await;
    b.goto(&format!("{}/admin/", site.base)).await.unwrap();
    wait_for(b, Locator::Css("p.menu")).await;
}

/// The one file Chromium downloaded into `dir`, once complete.
fn downloaded(dir: &Path) -> (String, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let done: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        let partial = std::fs::read_dir(dir)
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "crdownload"));
        if let [one] = done.as_slice()
            && !partial
        {
            let name = one.file_name().unwrap().to_string_lossy().into_owned();
            return (name, std::fs::read_to_string(one).unwrap());
        }
        assert!(Instant::now() < deadline, "no download in {}", dir.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn chromium_runs_the_consoles_main_flows_with_the_admins_certificate() {
    // fantoccini brings aws-lc-rs, the rest of the tests ring: name the provider rustls uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    forget_failure();
    let site = site(|c| {
        c.replace(
            "membership-admin = \"membership-admins\"",
            "membership-admin = \"membership-admins\"\nschatzmeister-by = \"by-schatzmeister\"",
        )
    })
    .await;
    ok_stdout(&site.server.cli(&[
        "group",
        "create",
        "by-schatzmeister",
        "--chapter",
        "BY",
        "--description",
        "Schatzmeisterei Bayern",
    ]));
    let base = site.base.clone();
    let _policy = AutoSelectPolicy::install(&base, &issuer_cn(&site.ca));
    let shown = |uid: &str| ok_stdout(&site.server.cli(&["account", "show", uid]));

    // bob, admin of BY, logs in with password and TOTP.
    let bob = admin_browser(&site, "bob").await;
    let b = &bob.browser;
    log_in(&site, b, "bob", Some("01-anmeldung.png")).await;
    let page = html(b).await;
    assert!(page.contains("Admin der Gliederung BY"), "{page}");
    shot(b, "02-start.png").await;

    // Finds bert: the search is a member page, so Chromium presented bob's certificate.
    fill(b, "q", "bert").await;
    click(b, Locator::Css("form[action='/admin/members'] button")).await;
    wait_for(b, Locator::Css("table.list")).await;
    let page = html(b).await;
    assert!(page.contains(r#"href="/admin/members/bert""#), "{page}");
    assert!(!page.contains("nils"), "only BY's members: {page}");
    shot(b, "03-suche.png").await;
    click(b, Locator::Css(r#"a[href="/admin/members/bert"]"#)).await;
    wait_for(b, Locator::XPath("//button[text()='Konto sperren']")).await;
    let page = html(b).await;
    assert!(
        page.contains("<td>BY</td>") && page.contains("<td>offen</td>"),
        "{page}"
    );
    // bob has no real-names grant: the member number, not the name.
    assert!(!page.contains("bert Test") && page.contains("<td>101</td>"), "{page}");
    shot(b, "04-mitglied.png").await;

    // Locks him.
    confirm_and_submit(b, "/admin/members/bert/lock").await;
    let deadline = Instant::now() + WAIT;
    while !shown("bert").contains("locked: true") {
        assert!(Instant::now() < deadline, "bert is not locked: {}", shown("bert"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reload_until(b, Locator::XPath("//button[text()='Konto entsperren']")).await;
    assert!(html(b).await.contains("<td>gesperrt</td>"));
    shot(b, "05-gesperrt.png").await;

    // A reset letter for a locked account is refused, and says why.
    click(b, Locator::LinkText("Zurücksetzungsbrief erstellen")).await;
    let members = wait_for(b, Locator::Id("members")).await;
    assert_eq!(members.prop("value").await.unwrap().as_deref(), Some("bert"));
    let kind = b.find(Locator::Id("kind")).await.unwrap();
    assert_eq!(kind.prop("value").await.unwrap().as_deref(), Some("reset"));
    confirm_and_submit(b, "/admin/letters").await;
    let refusal = wait_for(b, Locator::Css("p.error")).await.text().await.unwrap();
    assert!(refusal.contains("locked; unlock it first"), "{refusal}");
    shot(b, "06-brief-abgelehnt.png").await;

    // Unlocks him and issues the reset letter: Chromium downloads the mail-merge CSV.
    b.goto(&format!("{base}/admin/members/bert")).await.unwrap();
    wait_for(b, Locator::XPath("//button[text()='Konto entsperren']")).await;
    confirm_and_submit(b, "/admin/members/bert/lock").await;
    reload_until(b, Locator::XPath("//button[text()='Konto sperren']")).await;
    assert!(!shown("bert").contains("locked: true"), "{}", shown("bert"));
    click(b, Locator::LinkText("Zurücksetzungsbrief erstellen")).await;
    wait_for(b, Locator::Id("members")).await;
    b.find(Locator::Css("form[action='/admin/letters'] input[name=confirm]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shot(b, "07-brief.png").await;
    click(b, Locator::Css("form[action='/admin/letters'] button[type=submit]")).await;
    let (name, csv) = downloaded(&bob.downloads);
    assert_eq!(name, "reset-letters.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(lines[0], "member_number,token,activation_url,expires_at,letter");
    let cols: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(cols.len(), 5, "{csv}");
    assert_eq!(
        (cols[0], cols[2], cols[4]),
        ("101", &*format!("{base}/activate"), "reset")
    );
    // The member page now shows the live reset token; the audit trail names bob.
    b.goto(&format!("{base}/admin/members/bert")).await.unwrap();
    wait_for(b, Locator::XPath("//button[text()='Konto sperren']")).await;
    assert!(html(b).await.contains("<td>reset (gültig bis "));
    shot(b, "08-brief-offen.png").await;
    // The token in the CSV opens the portal's reset page for bert.
    let portal = reqwest::Client::builder()
        .use_preconfigured_tls((*piratenldap_tests::client_tls(&site.ca)).clone())
        .cookie_store(true)
        .build()
        .unwrap();
    let form = portal
        .get(format!("{base}/activate"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = portal
        .post(format!("{base}/activate"))
        .form(&[
            ("csrf", crate::sso::hidden(&form, "csrf").as_str()),
            ("step", "token"),
            ("token", cols[1]),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        res.contains(r#"name="step" value="reset""#) && res.contains("bert"),
        "the letter's token opens bert's reset: {res}"
    );

    // Adds bert to BY's treasurer group.
    b.goto(&format!("{base}/admin/groups/by-schatzmeister")).await.unwrap();
    wait_for(b, Locator::Id("uid")).await;
    fill(b, "uid", "bert").await;
    confirm_and_submit(b, "/admin/groups/by-schatzmeister/members").await;
    reload_until(b, Locator::XPath("//td[text()='bert']")).await;
    assert!(ok_stdout(&site.server.cli(&["group", "list", "by-schatzmeister"])).contains("bert"));
    shot(b, "09-gruppe.png").await;

    // Registers an LDAP service for BY: the credential is shown once.
    b.goto(&format!("{base}/admin/services")).await.unwrap();
    wait_for(b, Locator::Id("name")).await;
    fill(b, "name", "by-wiki").await;
    confirm_and_submit(b, "/admin/services").await;
    let once = wait_for(b, Locator::Css("p.error")).await.text().await.unwrap();
    assert!(once.contains("nur jetzt"), "{once}");
    let page = html(b).await;
    assert!(
        page.contains("<th>dn</th>") && page.contains("<th>password</th>"),
        "{page}"
    );
    shot(b, "10-dienst.png").await;
    assert!(ok_stdout(&site.server.cli(&["service", "list"])).contains("by-wiki"));

    // Requests a treasurer certificate for bert: pending, and not bob's to approve.
    b.goto(&format!("{base}/admin/certificates")).await.unwrap();
    wait_for(b, Locator::Id("holder")).await;
    fill(b, "holder", "bert").await;
    let role = b.find(Locator::Id("role")).await.unwrap();
    assert_eq!(role.prop("value").await.unwrap().as_deref(), Some("schatzmeister-by"));
    confirm_and_submit(b, "/admin/certificates").await;
    wait_for(b, Locator::XPath("//td[text()='schatzmeister-by']")).await;
    let page = html(b).await;
    assert!(page.contains("<td>offen</td>") && !page.contains("/approve"), "{page}");
    let id = page
        .split("<tr><td>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_string();
    scroll_tables_right(b).await;
    shot(b, "11-antrag.png").await;

    // alice (federal), in her own browser with her own certificate, approves as the second admin.
    let alice = admin_browser(&site, "alice").await;
    let a = &alice.browser;
    log_in(&site, a, "alice", None).await;
    assert!(html(a).await.contains("Bundesadmin"));
    a.goto(&format!("{base}/admin/certificates")).await.unwrap();
    let approve = format!("/admin/certificates/{id}/approve");
    wait_for(a, Locator::Css(&format!("form[action='{approve}']"))).await;
    scroll_tables_right(a).await;
    shot(a, "12-genehmigen.png").await;
    confirm_and_submit(a, &approve).await;
    wait_for(a, Locator::XPath("//td[text()='Genehmigt von alice']")).await;
    scroll_tables_right(a).await;
    shot(a, "13-genehmigt.png").await;
    let out = site.server.install.dir.path().join("bert-cert");
    let issued = ok_stdout(&site.server.cli(&["cert", "issue", &id, "--out", out.to_str().unwrap()]));
    assert!(issued.contains("serial: "), "approved, so the CA issues: {issued}");

    // bob's audit trail: his console actions, named console:bob, about BY's member bert.
    b.goto(&format!("{base}/admin/audit")).await.unwrap();
    wait_for(b, Locator::Css("table.list")).await;
    let page = html(b).await;
    for action in ["account.lock", "account.unlock", "console:bob", "<td>bert</td>"] {
        assert!(page.contains(action), "{action}: {page}");
    }
    assert!(!page.contains("<td>nils</td>"), "{page}");
    shot(b, "14-protokoll.png").await;

    // fred, a federal admin without a certificate: the start page, but no member data.
    let fred = admin_browser(&site, "fred").await;
    let f = &fred.browser;
    log_in(&site, f, "fred", None).await;
    f.goto(&format!("{base}/admin/members?q=bert")).await.unwrap();
    let refusal = wait_for(f, Locator::Css("p.error")).await.text().await.unwrap();
    assert!(refusal.contains("Client-Zertifikat"), "{refusal}");
    shot(f, "15-ohne-zertifikat.png").await;

    for c in [&bob.browser, &alice.browser, &fred.browser] {
        c.clone().close().await.unwrap();
    }
}
