//! Issue 3: a real browser (Debian's headless Chromium, driven through chromedriver with
//! fantoccini) fills in the portal and completes an activation with TOTP. Screenshots of each
//! step go to target/member-guide/ (docs/member-guide/ holds a committed set).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

use crate::certs::base32_decode;
use crate::portal_support::{GOOD_PASSWORD, portal_server};

/// A running chromedriver in a process group of its own, with the Chromium it started; on
/// drop the whole group gets SIGTERM (Chromium shuts down cleanly, its crash handlers with
/// it, even when a failed test never closed the session), then chromedriver is killed.
pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn start_chromedriver() -> (Driver, u16) {
    start_chromedriver_at(None)
}

/// A chromedriver whose browsers run with `home` as `$HOME` (Chromium's NSS database of
/// certificates is `$HOME/.pki/nssdb`), or the inherited one.
pub(crate) fn start_chromedriver_at(home: Option<&Path>) -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new("chromedriver");
    if let Some(home) = home {
        cmd.env("HOME", home);
    }
    let child = cmd
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (apt-get install chromium chromium-driver)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(15), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Driver(child), port)
}

/// Types `text` into the input with id `id`.
pub(crate) async fn fill(browser: &fantoccini::Client, id: &str, text: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Clicks the element `at`.
pub(crate) async fn click(browser: &fantoccini::Client, at: Locator<'_>) {
    browser.find(at).await.unwrap().click().await.unwrap();
}

/// A headless Chromium session through the chromedriver on `port`, with its profile in
/// `profile`. German, as most members' browsers (the pages follow Accept-Language).
pub(crate) async fn headless_chromium(port: u16, profile: &Path) -> fantoccini::Client {
    headless_chromium_with(port, profile, serde_json::json!({})).await
}

/// [`headless_chromium`] with more preferences (`prefs`, a JSON object).
pub(crate) async fn headless_chromium_with(port: u16, profile: &Path, prefs: serde_json::Value) -> fantoccini::Client {
    // A German browser: the portal follows Accept-Language (German is also the default).
    let mut all = serde_json::json!({ "intl.accept_languages": "de-DE,de" });
    if let (Some(all), serde_json::Value::Object(more)) = (all.as_object_mut(), prefs) {
        all.extend(more);
    }
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "prefs": all,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=800,1100", "--lang=de-DE", format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session")
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/member-guide");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn chromium_completes_an_activation() {
    // After each click the next page may still be loading: the first lookup on a page waits.
    // fantoccini brings aws-lc-rs, the rest of the tests ring: name the provider rustls uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (server, tokens) = portal_server(None).await;
    let (_driver, port) = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let browser = headless_chromium(port, profile.path()).await;
    let shots = shots_dir();
    let shot = |name: &'static str| {
        let browser = &browser;
        let path = shots.join(name);
        async move { std::fs::write(path, browser.screenshot().await.unwrap()).unwrap() }
    };
    let base = format!("http://{}", server.http);

    browser.goto(&format!("{base}/activate")).await.unwrap();
    shot("1-token.png").await;
    fill(&browser, "token", &tokens["1"]).await;
    click(&browser, Locator::Css("button[type=submit]")).await;

    browser
        .wait()
        .for_element(Locator::Id("uid"))
        .await
        .unwrap()
        .send_keys("clara")
        .await
        .unwrap();
    fill(&browser, "display_name", "Clara Zetkin").await;
    fill(&browser, "password", GOOD_PASSWORD).await;
    fill(&browser, "password_again", GOOD_PASSWORD).await;
    shot("2-account.png").await;
    click(&browser, Locator::Css("button[type=submit]")).await;

    // Wait for something only the next page has (the old page has a submit button too).
    let offer = browser
        .wait()
        .for_element(Locator::XPath("//button[text()='TOTP einrichten']"))
        .await
        .unwrap();
    shot("3-totp-offer.png").await;
    offer.click().await.unwrap();
    let secret = browser
        .wait()
        .for_element(Locator::Id("secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    shot("4-totp-setup.png").await;
    let code = piratenldap_tests::totp_now(&base32_decode(secret.trim()));
    fill(&browser, "code", &code).await;
    click(&browser, Locator::XPath("//form[.//input[@name='code']]//button")).await;

    let done = browser
        .wait()
        .for_element(Locator::Id("done"))
        .await
        .expect("the done page");
    assert_eq!(done.text().await.unwrap(), "Fertig");
    let dn = browser.find(Locator::Id("dn")).await.unwrap().text().await.unwrap();
    assert_eq!(dn, piratenldap_tests::person("clara"));
    shot("5-done.png").await;
    browser.close().await.unwrap();
}
