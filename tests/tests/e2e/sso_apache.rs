//! Issue 14, a real relying party: Apache httpd with Debian's mod_auth_openidc protects two
//! virtual hosts (ops/clients/apache-oidc/) as two OpenID Connect clients, `wiki` and `vote`,
//! and headless Chromium walks through single sign-on: the first visit logs in with password
//! and TOTP, the second service opens without a prompt, a logout at one ends both (RP-initiated
//! logout, then front-channel logout of the other), and a member outside vote's `--members-of`
//! is refused at the provider.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use piratenldap_tests::{ALICE_TOTP_SECRET, Install, PASSWORD, Server};

use crate::browser::{click, fill, headless_chromium, start_chromedriver};
use crate::nginx::free_port;
use crate::ok_stdout;

const MODULES: &str = "/usr/lib/apache2/modules";
/// The group whose members may use `vote`: alice is in it, bob is not.
const VOTE_GROUP: &str = "convention";

/// A running Apache (foreground master); stopped on drop.
struct Apache {
    child: Child,
    dir: PathBuf,
}

impl Drop for Apache {
    fn drop(&mut self) {
        crate::terminate(&mut self.child);
    }
}

impl Apache {
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn access_log(&self, service: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{service}-access.log"))).unwrap_or_default()
    }
}

/// One service behind Apache.
struct Site {
    name: &'static str,
    port: u16,
    secret: String,
}

impl Site {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Starts Apache with the ops/ virtual hosts, its Defines pointed at this test's provider,
/// ports and files (ServerRoot, logs, pid, document roots in `dir`).
fn start_apache(dir: &Path, issuer: &str, sites: &[Site; 2]) -> Apache {
    let ops = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops/clients/apache-oidc");
    // Apache's children run as www-data: they read the document roots.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut defines = format!(
        "Define PIRATENLDAP_ISSUER {issuer}\nDefine OIDC_PASSPHRASE test-passphrase-of-a-throwaway-apache\n\
         Define LOG_DIR {}\n",
        dir.display()
    );
    let mut listen = String::new();
    for site in sites {
        let root = dir.join(site.name);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        for page in ["index.shtml", "loggedout.html"] {
            std::fs::copy(ops.join("htdocs").join(page), root.join(page)).unwrap();
        }
        let upper = site.name.to_uppercase();
        defines.push_str(&format!(
            "Define {upper}_VHOST 127.0.0.1:{port}\nDefine {upper}_URL {url}\nDefine {upper}_SECRET {secret}\n\
             Define {upper}_ROOT {root}\n",
            port = site.port,
            url = site.url(),
            secret = site.secret,
            root = root.display(),
        ));
        listen.push_str(&format!("Listen 127.0.0.1:{}\n", site.port));
    }
    let modules: String = [
        ("mpm_event", "mpm_event"),
        ("authn_core", "authn_core"),
        ("authz_core", "authz_core"),
        ("authz_user", "authz_user"),
        ("mime", "mime"),
        ("include", "include"),
        ("env", "env"),
        ("auth_openidc", "auth_openidc"),
    ]
    .iter()
    .map(|(name, file)| format!("LoadModule {name}_module {MODULES}/mod_{file}.so\n"))
    .collect();
    let conf = dir.join("httpd.conf");
    std::fs::write(
        &conf,
        format!(
            "ServerRoot {d}\nPidFile {d}/httpd.pid\nErrorLog {d}/error.log\nLogLevel warn\n\
             DefaultRuntimeDir {d}\nMutex file:{d} default\nUser www-data\nGroup www-data\n\
             ServerName 127.0.0.1\nStartServers 1\nTypesConfig /etc/mime.types\n{modules}{listen}{defines}\
             Include {ops}\n",
            d = dir.display(),
            ops = ops.join("piratenldap-sso.conf").display(),
        ),
    )
    .unwrap();
    let child = Command::new("apache2")
        .arg("-f")
        .arg(&conf)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("apache2 (apt-get install apache2 libapache2-mod-auth-openidc)");
    let apache = Apache {
        child,
        dir: dir.to_path_buf(),
    };
    let start = Instant::now();
    for site in sites {
        while std::net::TcpStream::connect(("127.0.0.1", site.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "apache did not start: {}",
                apache.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    apache
}

/// The value after `key` on a line of `text`.
fn line_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} line in {text}"))
        .trim()
        .to_string()
}

/// The standard fixture served on a fixed free HTTP port (the issuer must name it), with the
/// group `convention` (alice) and the OpenID Connect clients `wiki` and `vote` (members of
/// `convention` only); returns the server and both sites.
async fn provider() -> (Server, [Site; 2]) {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    let http_port = free_port();
    let text = std::fs::read_to_string(&install.config).unwrap();
    let http_section = "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://127.0.0.1:0\"\n";
    assert!(
        text.contains(http_section),
        "init wrote another [http] section:\n{text}"
    );
    let text = text.replace(
        http_section,
        &format!("[http]\nlisten = \"127.0.0.1:{http_port}\"\npublic_url = \"http://127.0.0.1:{http_port}\"\n"),
    );
    std::fs::write(&install.config, text).unwrap();

    ok_stdout(&install.cli(&["group", "create", VOTE_GROUP]));
    ok_stdout(&install.cli(&["group", "add", VOTE_GROUP, "alice"]));
    let sites = [("wiki", None), ("vote", Some(VOTE_GROUP))].map(|(name, members_of)| {
        let port = free_port();
        // The fixture has LDAP services of these names: the clients take their place.
        ok_stdout(&install.cli(&["service", "remove", name]));
        let callback = format!("http://127.0.0.1:{port}/oidc/callback");
        let logout = format!("{callback}?logout=get");
        let mut args = vec![
            "service",
            "add",
            name,
            "--oidc",
            "--redirect-uri",
            &callback,
            "--logout-uri",
            &logout,
        ];
        if let Some(group) = members_of {
            args.extend(["--members-of", group]);
        }
        let out = ok_stdout(&install.cli(&args));
        assert_eq!(line_value(&out, "client_id:"), name);
        assert_eq!(line_value(&out, "issuer:"), format!("http://127.0.0.1:{http_port}"));
        Site {
            name,
            port,
            secret: line_value(&out, "client_secret:"),
        }
    });
    let server = install.serve();
    assert_eq!(server.http.port(), http_port);
    (server, sites)
}

/// The text of the element with id `id` on the current page.
async fn text_of(browser: &Client, id: &str) -> String {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id} on the page: {e}"))
        .text()
        .await
        .unwrap()
}

/// The current page's origin and path.
async fn location(browser: &Client) -> (String, String) {
    let url = browser.current_url().await.unwrap();
    (url.origin().ascii_serialization(), url.path().to_string())
}

/// The HTTP status of the current page (Navigation Timing's responseStatus).
async fn status(browser: &Client) -> u64 {
    let value = browser
        .execute(
            "return performance.getEntriesByType('navigation')[0].responseStatus",
            vec![],
        )
        .await
        .unwrap();
    value.as_u64().unwrap_or_else(|| panic!("no responseStatus: {value}"))
}

#[tokio::test]
async fn apache_mod_auth_openidc_single_sign_on() {
    let started = Instant::now();
    // fantoccini brings aws-lc-rs, the rest of the tests ring: name the provider rustls uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (server, sites) = provider().await;
    let issuer = format!("http://{}", server.http);
    let dir = tempfile::tempdir().unwrap();
    let apache = start_apache(dir.path(), &issuer, &sites);
    let [wiki, vote] = &sites;
    let (_driver, port) = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let browser = headless_chromium(port, profile.path()).await;
    let diag = |what: &str| format!("{what}\napache error log:\n{}", apache.error_log());

    // 1. wiki: mod_auth_openidc sends the browser to the provider's login page.
    browser.goto(&format!("{}/index.shtml", wiki.url())).await.unwrap();
    assert_eq!(
        location(&browser).await,
        (issuer.clone(), "/login".to_string()),
        "{}",
        diag("wiki did not send the browser to the provider's login")
    );
    fill(&browser, "username", "alice").await;
    fill(&browser, "password", PASSWORD).await;
    fill(&browser, "code", &piratenldap_tests::totp_now(ALICE_TOTP_SECRET)).await;
    click(&browser, Locator::Css("button[type=submit]")).await;
    let user = text_of(&browser, "user").await;
    assert_eq!(user, "alice", "{}", diag("wiki's REMOTE_USER"));
    assert_eq!(text_of(&browser, "service").await, "wiki");
    assert_eq!(location(&browser).await.0, wiki.url());
    assert_eq!(text_of(&browser, "name").await, "Alice A.", "the name claim");
    let groups = text_of(&browser, "groups").await;
    assert!(groups.split(',').any(|g| g == VOTE_GROUP), "the groups claim: {groups}");

    // 2. vote: a code without a prompt (the provider's session), its own flow through Apache.
    browser.goto(&format!("{}/index.shtml", vote.url())).await.unwrap();
    assert_eq!(
        location(&browser).await,
        (vote.url(), "/index.shtml".to_string()),
        "{}",
        diag("vote did not open without a prompt")
    );
    assert_eq!(text_of(&browser, "service").await, "vote");
    assert_eq!(
        text_of(&browser, "user").await,
        "alice",
        "{}",
        diag("vote's REMOTE_USER")
    );
    assert!(
        apache.access_log("vote").contains("\"GET /oidc/callback?code="),
        "vote got no code of its own: {}",
        apache.access_log("vote")
    );

    // 3. Logout at wiki: mod_auth_openidc ends its session and sends the browser to the
    // provider's end_session_endpoint (id_token_hint), whose page loads both clients' front-
    // channel logout URIs and then returns to wiki's logged-out page.
    browser.goto(&format!("{}/index.shtml", wiki.url())).await.unwrap();
    click(&browser, Locator::Id("logout")).await;
    let page = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("loggedout"))
        .await;
    assert!(page.is_ok(), "{}", diag("no return to wiki's logged-out page"));
    assert_eq!(location(&browser).await, (wiki.url(), "/loggedout.html".to_string()));
    for site in &sites {
        let log = apache.access_log(site.name);
        let front_channel = log
            .lines()
            .find(|l| l.contains("\"GET /oidc/callback?logout=get&iss="))
            .unwrap_or_else(|| panic!("no front-channel logout at {}: {log}", site.name));
        assert!(
            front_channel.contains("&sid=") && front_channel.contains("\" 200 "),
            "{front_channel}"
        );
    }

    // 4. Both services need a login again: vote's session ended by front channel, the
    // provider's by the logout.
    for site in [vote, wiki] {
        browser.goto(&format!("{}/index.shtml", site.url())).await.unwrap();
        assert_eq!(
            location(&browser).await,
            (issuer.clone(), "/login".to_string()),
            "{}",
            diag(&format!("{} still open after the logout", site.name))
        );
    }

    // 5. bob is not in vote's group: after his login the provider refuses him with a page.
    browser.goto(&format!("{}/index.shtml", vote.url())).await.unwrap();
    fill(&browser, "username", "bob").await;
    fill(&browser, "password", PASSWORD).await;
    click(&browser, Locator::Css("button[type=submit]")).await;
    let refusal = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(
            "//p[starts-with(normalize-space(.), 'Dieser Dienst steht dir nicht offen')]",
        ))
        .await;
    assert!(refusal.is_ok(), "no refusal page: {}", browser.source().await.unwrap());
    assert_eq!(
        location(&browser).await,
        (issuer.clone(), "/oauth2/authorize".to_string())
    );
    assert_eq!(status(&browser).await, 403);
    assert!(
        !apache.access_log("vote").lines().any(|l| l.ends_with(" bob")),
        "bob reached vote: {}",
        apache.access_log("vote")
    );

    browser.close().await.unwrap();
    eprintln!("sso_apache: {:?}", started.elapsed());
}
