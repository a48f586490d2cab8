//! Support for the end-to-end tests: a throwaway installation made by the real `init`, a
//! standard directory written through the real store into its SQLite file, the real binary
//! serving it on port 0, and helpers to run the CLI and OpenLDAP's client tools against it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use piratenldap_core::ids::{MemberNumber, MembershipStatus, Name, StateCode, Uid};
use piratenldap_core::import::MemberRecord;
use piratenldap_core::password::{HashParams, hash_password};
use piratenldap_store::{NewAccount, ServiceProfile, SqlStore, Store};

/// Base DN of every test directory.
pub const BASE: &str = "dc=example,dc=org";
/// Small argon2 parameters for tests (the production ones are tested in core).
pub const TEST_PARAMS: HashParams = HashParams {
    memory_kib: 256,
    iterations: 1,
    parallelism: 1,
};
/// Password of every fixture account.
pub const PASSWORD: &str = "correct-horse-battery";
/// Password of every fixture service.
pub const SERVICE_PASSWORD: &str = "service-password-123";
/// App password of alice (an admin with TOTP, so her password alone does not bind).
pub const ADMIN_APP_PASSWORD: &str = "alice-app-password-42";
/// alice's TOTP secret in the standard fixture.
pub const ALICE_TOTP_SECRET: &[u8] = b"0123456789abcdefghij";
/// Generated members in the standard fixture (more than one page of 250).
pub const GENERATED: usize = 260;

/// The `piratenldap` binary built by `cargo build` (the test command builds it first).
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("PIRATENLDAP_BIN") {
        return PathBuf::from(p);
    }
    // target/debug/deps/e2e-… → target/debug/piratenldap
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("piratenldap");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin piratenldap` first (the test script does)",
        bin.display()
    );
    bin
}

/// DN of a person.
pub fn person(uid: &str) -> String {
    format!("uid={uid},ou=people,{BASE}")
}

/// DN of a service.
pub fn service(name: &str) -> String {
    format!("cn={name},ou=services,{BASE}")
}

/// A fresh installation, not yet serving.
pub struct Install {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// `None`: the SQLite file in the data directory.
    postgres_url: Option<String>,
}

impl Install {
    /// `piratenldap init` on port 0 everywhere, with the test argon2 parameters, on SQLite.
    pub fn new() -> Install {
        Install::init(None)
    }

    /// The same on a fresh PostgreSQL database of the test server (`PIRATENLDAP_TEST_POSTGRES`).
    pub async fn on_postgres() -> Install {
        let url = piratenldap_store::testing::fresh_postgres_database().await.unwrap();
        Install::init(Some(url))
    }

    /// The same on a fresh database of the PostgreSQL server `admin_url` names.
    pub async fn on_postgres_at(admin_url: &str) -> Install {
        let url = piratenldap_store::testing::fresh_database_on(admin_url).await.unwrap();
        Install::init(Some(url))
    }

    /// A second node of this installation: a copy of its configuration and key files (as an
    /// operator copies them to another machine), sharing its PostgreSQL database.
    pub fn second_node(&self) -> Install {
        assert!(self.postgres_url.is_some(), "several nodes need PostgreSQL");
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", self.dir.path().display()))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let config = dir.path().join("piratenldap.toml");
        Install {
            dir,
            config,
            postgres_url: self.postgres_url.clone(),
        }
    }

    /// Moves the HTTP listener to a free port chosen now and makes `http.public_url` (the
    /// single sign-on issuer) name it; returns the issuer URL.
    pub fn fixed_http_port(&self) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = std::fs::read_to_string(&self.config).unwrap();
        let block = "[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"http://127.0.0.1:0\"";
        assert!(text.contains(block), "the generated [http] section changed");
        let issuer = format!("http://127.0.0.1:{port}");
        let moved = format!("[http]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{issuer}\"");
        std::fs::write(&self.config, text.replace(block, &moved)).unwrap();
        issuer
    }

    /// Like [`Install::fixed_http_port`], with HTTPS on the HTTP listener (`[http] tls`) and
    /// `http.public_url` `https://localhost:PORT`, which it returns.
    pub fn fixed_https_port(&self) -> String {
        let plain = self.fixed_http_port();
        let port = plain.rsplit(':').next().unwrap_or_default().to_string();
        let issuer = format!("https://localhost:{port}");
        let text = std::fs::read_to_string(&self.config).unwrap();
        let text = text
            .replace(
                &format!("public_url = \"{plain}\""),
                &format!("public_url = \"{issuer}\""),
            )
            .replace("tls = false ", "tls = true ");
        std::fs::write(&self.config, text).unwrap();
        issuer
    }

    /// For a second node: moves its HTTP listener to a free port but keeps `http.public_url`
    /// (the issuer every node shares behind a load balancer); returns this node's own URL.
    pub fn fixed_http_port_keeping_issuer(&self) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = std::fs::read_to_string(&self.config).unwrap();
        let start = text.find("[http]\nlisten = \"").expect("an [http] listen line") + "[http]\nlisten = \"".len();
        let end = start + text[start..].find('"').unwrap();
        let moved = format!("{}127.0.0.1:{port}{}", &text[..start], &text[end..]);
        std::fs::write(&self.config, moved).unwrap();
        format!("http://127.0.0.1:{port}")
    }

    /// An installation something else made in `dir` (e.g. `restore`), with its database URL
    /// when that is PostgreSQL.
    pub fn adopt(dir: tempfile::TempDir, postgres_url: Option<String>) -> Install {
        let config = dir.path().join("piratenldap.toml");
        assert!(config.exists(), "no configuration in {}", dir.path().display());
        Install {
            dir,
            config,
            postgres_url,
        }
    }

    fn init(postgres_url: Option<String>) -> Install {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("piratenldap.toml");
        let mut args = vec![
            "--config".to_string(),
            config.to_str().unwrap().to_string(),
            "init".into(),
            "--ldap-listen".into(),
            "127.0.0.1:0".into(),
            "--ldaps-listen".into(),
            "127.0.0.1:0".into(),
            "--http-listen".into(),
            "127.0.0.1:0".into(),
        ];
        if let Some(url) = &postgres_url {
            args.push("--database-url".into());
            args.push(url.clone());
        }
        let out = Command::new(binary()).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cheap_hashing(&config);
        Install {
            dir,
            config,
            postgres_url,
        }
    }

    /// The URL of the installation's database.
    pub fn database_url(&self) -> String {
        match &self.postgres_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}/data/piratenldap.db", self.dir.path().display()),
        }
    }

    /// Opens the store (the same code the server uses).
    pub async fn store(&self) -> SqlStore {
        SqlStore::open(&self.database_url()).await.unwrap()
    }

    /// The CA certificate `init` made.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("data/ca/ca.pem")
    }

    /// Runs the CLI with this installation's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_stdin(args, "")
    }

    /// Runs the CLI with text on standard input.
    pub fn cli_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Starts `piratenldap serve` and waits until it listens.
    pub fn serve(self) -> Server {
        self.serve_logging("info")
    }

    /// Starts `piratenldap serve` with `PIRATENLDAP_LOG=level` and waits until it listens.
    pub fn serve_logging(self, level: &str) -> Server {
        let (child, ldap, ldaps, http) = self.start(level);
        Server {
            install: self,
            child,
            ldap,
            ldaps,
            http,
            admin_step: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Spawns `serve` and reads the addresses it listens on.
    fn start(&self, level: &str) -> (Child, SocketAddr, SocketAddr, SocketAddr) {
        spawn_serve(&binary(), &self.config, level)
    }
}

/// Spawns `BINARY --config CONFIG serve` with `PIRATENLDAP_LOG=level` and reads the addresses it
/// listens on (LDAP, LDAPS, HTTP); the binary may be another than [`binary`] (a packaged one).
pub fn spawn_serve(binary: &Path, config: &Path, level: &str) -> (Child, SocketAddr, SocketAddr, SocketAddr) {
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("PIRATENLDAP_LOG", level)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let (mut ldap, mut ldaps, mut http) = (None, None, None);
    while ldap.is_none() || ldaps.is_none() || http.is_none() {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("serve exited early: {}", String::from_utf8_lossy(&out.stderr));
        };
        if let Some(a) = line.strip_prefix("ldap: ") {
            ldap = a.parse().ok();
        } else if let Some(a) = line.strip_prefix("ldaps: ") {
            ldaps = a.parse().ok();
        } else if let Some(a) = line.strip_prefix("http: ") {
            http = a.parse().ok();
        }
    }
    // Keep reading what serve prints, so that a line written later (by a library too) never
    // meets a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, ldap.unwrap(), ldaps.unwrap(), http.unwrap())
}

impl Default for Install {
    fn default() -> Self {
        Install::new()
    }
}

/// A running server.
pub struct Server {
    pub install: Install,
    pub child: Child,
    pub ldap: SocketAddr,
    pub ldaps: SocketAddr,
    pub http: SocketAddr,
    /// The last TOTP step [`Server::admin_password`] handed out.
    admin_step: std::sync::atomic::AtomicU64,
}

impl Server {
    /// GET `path` on the HTTP listener with curl; the body, asserting a 2xx answer.
    pub fn http_get(&self, path: &str) -> String {
        let out = Command::new("curl")
            .args(["-fsS", &format!("http://{}{path}", self.http)])
            .output()
            .expect("curl (apt-get install curl)");
        assert!(
            out.status.success(),
            "GET {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The value of `series` (name and labels exactly as printed) in `/metrics`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        metric_value(&self.http_get("/metrics"), series)
    }

    /// `ldap://127.0.0.1:PORT`.
    pub fn ldap_url(&self) -> String {
        format!("ldap://{}", self.ldap)
    }

    /// `ldaps://localhost:PORT` (the certificate names localhost).
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://localhost:{}", self.ldaps.port())
    }

    /// alice's password and a TOTP code no bind to this server has used: admin sessions need
    /// the second factor (her app password gives member rights only), and each code works once.
    /// Codes of the previous, current and next step are accepted; past those it waits.
    pub async fn admin_password(&self) -> String {
        use std::sync::atomic::Ordering;
        let now_step = || u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap() / 30;
        let step = self
            .admin_step
            .load(Ordering::SeqCst)
            .saturating_add(1)
            .max(now_step() - 1);
        while step > now_step() + 1 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.admin_step.store(step, Ordering::SeqCst);
        format!(
            "{PASSWORD}{}",
            piratenldap_core::totp::code_at(ALICE_TOTP_SECRET, step * 30)
        )
    }

    /// Runs the CLI against this server's installation.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.install.cli(args)
    }

    /// Kills the server with SIGKILL and starts it again on the same installation.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, ldap, ldaps, http) = self.install.start("info");
        (self.child, self.ldap, self.ldaps, self.http) = (child, ldap, ldaps, http);
    }

    /// Runs an OpenLDAP client tool (ldapsearch, ldapwhoami, …) trusting our CA.
    pub fn openldap(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .env("LDAPTLS_CACERT", self.install.ca_pem())
            .env("LDAPTLS_REQCERT", "demand")
            .env("LDAPCONF", "/dev/null")
            .env("LDAPRC", "/dev/null")
            .output()
            .unwrap_or_else(|e| panic!("running {tool}: {e} (apt-get install ldap-utils)"))
    }

    /// Sends SIGTERM and waits for the process; returns its exit status and stderr.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = self.terminate();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        (status, err)
    }

    /// Sends SIGTERM and waits for the process, keeping the installation (for CLI commands
    /// after a graceful stop); returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One member record for fixtures.
pub fn record(
    number: &str,
    state: &str,
    status: MembershipStatus,
    voting: bool,
    given: &str,
    surname: &str,
    email: Option<&str>,
) -> MemberRecord {
    MemberRecord {
        number: MemberNumber::parse(number).unwrap(),
        state: StateCode::parse(state).unwrap(),
        status,
        voting_right: voting,
        given_name: Some(given.to_string()),
        surname: Some(surname.to_string()),
        email: email.map(str::to_string),
        joined: None,
    }
}

/// Imports active members with the given numbers (state BY, no accounts) into `install`.
pub async fn add_members(install: &Install, numbers: std::ops::Range<usize>) {
    let recs: Vec<_> = numbers
        .map(|i| {
            let n = i.to_string();
            record(
                &n,
                "BY",
                MembershipStatus::Active,
                true,
                "Pat",
                &format!("Member{n}"),
                None,
            )
        })
        .collect();
    install
        .store()
        .await
        .import_members(&recs, false, false, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
}

/// Adds an active member `number` of state association `state` with the account `uid`
/// (password [`PASSWORD`]).
pub async fn add_member_with_account(install: &Install, uid: &str, number: &str, state: &str) {
    let store = install.store().await;
    let now = time::OffsetDateTime::now_utc();
    let rec = record(number, state, MembershipStatus::Active, true, "Nina", "Neu", None);
    store.import_members(&[rec], false, false, now).await.unwrap();
    let new = NewAccount {
        uid: Uid::parse(uid).unwrap(),
        member_number: MemberNumber::parse(number).unwrap(),
        display_name: uid.to_string(),
        password_hash: hash_password(PASSWORD, &TEST_PARAMS).unwrap(),
    };
    store.create_account(new, now).await.unwrap();
}

/// The standard directory:
/// - alice (member 1, BY, active, voting, admin with TOTP and an app password), bob (2, BY, active, no vote),
///   carol (3, NW, suspended), dave (4, NW, left; account kept), erin (5, HH, active, locked);
/// - `GENERATED` more active members `m0000…` in BE with accounts;
/// - manual group `wiki-admins` with alice and bob;
/// - services: `wiki` (default profile), `hr` (--real-names), `vote` (--members-of voting),
///   `mailer` (--attrs uid,mail).
pub async fn standard_fixture(install: &Install) {
    let store = install.store().await;
    let now = time::OffsetDateTime::now_utc();
    let mut recs = vec![
        record(
            "1",
            "BY",
            MembershipStatus::Active,
            true,
            "Alice",
            "Arendt",
            Some("alice@example.org"),
        ),
        record(
            "2",
            "BY",
            MembershipStatus::Active,
            false,
            "Bob",
            "Brecht",
            Some("bob@example.org"),
        ),
        record(
            "3",
            "NW",
            MembershipStatus::Suspended,
            true,
            "Carol",
            "Celan",
            Some("carol@example.org"),
        ),
        record("4", "NW", MembershipStatus::Left, true, "Dave", "Döblin", None),
        record(
            "5",
            "HH",
            MembershipStatus::Active,
            true,
            "Erin",
            "Ernst",
            Some("erin@example.org"),
        ),
    ];
    for i in 0..GENERATED {
        recs.push(record(
            &format!("{}", 1000 + i),
            "BE",
            MembershipStatus::Active,
            true,
            "Gen",
            &format!("Erated{i}"),
            Some(&format!("m{i:04}@example.org")),
        ));
    }
    // Accounts are created before dave leaves, as in real life.
    let mut active = recs.clone();
    active[3].status = MembershipStatus::Active;
    store.import_members(&active, false, false, now).await.unwrap();
    let hash = hash_password(PASSWORD, &TEST_PARAMS).unwrap();
    let mut accounts = vec![
        ("alice", "1", "Alice A."),
        ("bob", "2", "Bob B."),
        ("carol", "3", "Carol C."),
        ("dave", "4", "Dave D."),
        ("erin", "5", "Erin E."),
    ]
    .into_iter()
    .map(|(u, n, d)| (u.to_string(), n.to_string(), d.to_string()))
    .collect::<Vec<_>>();
    for i in 0..GENERATED {
        accounts.push((format!("m{i:04}"), format!("{}", 1000 + i), format!("Generated {i}")));
    }
    for (uid, number, display) in accounts {
        store
            .create_account(
                NewAccount {
                    uid: Uid::parse(&uid).unwrap(),
                    member_number: MemberNumber::parse(&number).unwrap(),
                    display_name: display,
                    password_hash: hash.clone(),
                },
                now,
            )
            .await
            .unwrap();
    }
    store.import_members(&recs, false, false, now).await.unwrap();
    store
        .set_account_locked(&Uid::parse("erin").unwrap(), true, "test", now)
        .await
        .unwrap();
    // Admins must have TOTP: alice gets a known secret and an app password for the tests.
    let alice = Uid::parse("alice").unwrap();
    let key_text = std::fs::read_to_string(install.dir.path().join("data/secret.key")).unwrap();
    let key = piratenldap_core::sealed::SealKey::from_hex(&key_text).unwrap();
    store
        .set_totp_secret(&alice, &key.seal(ALICE_TOTP_SECRET), "test", now)
        .await
        .unwrap();
    store.set_totp_enabled(&alice, true, "test", now).await.unwrap();
    let app_hash = hash_password(ADMIN_APP_PASSWORD, &TEST_PARAMS).unwrap();
    store
        .add_app_password(&alice, "tests", &app_hash, "test", now)
        .await
        .unwrap();
    let admins = Name::parse("admins").unwrap();
    store.add_group_member(&admins, &alice, now).await.unwrap();
    let wiki_admins = Name::parse("wiki-admins").unwrap();
    store
        .create_group(&wiki_admins, Some("Wiki administrators"), None, now)
        .await
        .unwrap();
    store
        .add_group_member(&wiki_admins, &Uid::parse("alice").unwrap(), now)
        .await
        .unwrap();
    store
        .add_group_member(&wiki_admins, &Uid::parse("bob").unwrap(), now)
        .await
        .unwrap();
    let service_hash = hash_password(SERVICE_PASSWORD, &TEST_PARAMS).unwrap();
    let profiles = [
        ("wiki", None, None, false),
        ("hr", None, None, true),
        ("vote", None, Some("voting"), false),
        ("mailer", Some(vec!["uid".to_string(), "mail".to_string()]), None, false),
    ];
    for (name, attrs, members_of, real_names) in profiles {
        let profile = ServiceProfile {
            name: Name::parse(name).unwrap(),
            attrs,
            members_of: members_of.map(|g| Name::parse(g).unwrap()),
            real_names,
            include_inactive: false,
            pseudonymous: false,
            chapter: None,
        };
        store.add_service(&profile, &service_hash, now).await.unwrap();
    }
}

/// The current TOTP code for a secret.
pub fn totp_now(secret: &[u8]) -> String {
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    piratenldap_core::totp::code_at(secret, now)
}

/// Starts a server on the standard fixture.
pub async fn standard_server() -> Server {
    standard_server_with("", "").await
}

/// Starts a server on the standard fixture with one configuration line replaced.
pub async fn standard_server_with(config_line: &str, replacement: &str) -> Server {
    let install = Install::new();
    standard_fixture(&install).await;
    if !config_line.is_empty() {
        let text = std::fs::read_to_string(&install.config).unwrap();
        assert!(
            text.contains(config_line),
            "{config_line} is not in the generated config"
        );
        std::fs::write(&install.config, text.replace(config_line, replacement)).unwrap();
    }
    install.serve()
}

/// A rustls client configuration that trusts only the installation's CA.
pub fn client_tls(ca_pem: &Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The value of `series` (name and labels exactly as printed) in a `/metrics` text.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Rewrites the argon2 parameters `init` wrote into `config` to the suite's cheap ones.
pub fn cheap_hashing(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    let text = text
        .replace(
            "memory_kib = 19456",
            &format!("memory_kib = {}", TEST_PARAMS.memory_kib),
        )
        .replace("iterations = 2", &format!("iterations = {}", TEST_PARAMS.iterations));
    std::fs::write(config, text).unwrap();
}
