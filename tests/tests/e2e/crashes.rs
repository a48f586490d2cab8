//! Issue 13, crashes: kill -9 of the CLI during `member import`, `activate`, `cert issue`,
//! `backup` and `restore` leaves the state as before or as after, never between. Each test runs
//! the command once whole (its length sets the kill moments), then SIGKILLs it at a few random
//! moments and right after its change becomes visible, and checks after each kill that the store
//! and the files are exactly the old state or exactly the new one (`token issue` is in
//! `files.rs`).

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use piratenldap_core::ids::{MemberNumber, Uid};
use piratenldap_core::token::Token;
use piratenldap_store::{SqlStore, Store, TableDump};
use piratenldap_tests::{Install, binary, standard_fixture};

use crate::certs::{cert_install, field};
use crate::files::{csv_tokens, jitter, pending_install, token_key};
use crate::ok_stdout;
use crate::portal_support::GOOD_PASSWORD;

/// What one run left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// It finished before the kill: the new state.
    Finished,
    /// Killed, and the state is the new one.
    After,
    /// Killed, and the state is the old one.
    Before,
    /// Killed between the commit and the rename (the window the command documents): the store
    /// holds the new state and the complete files are under their temporary names.
    AfterUnderTemporaryName,
}

/// Starts the CLI of `install` with `args`, `stdin` on standard input, output discarded.
fn spawn(config: &Path, args: &[&str], stdin: &str) -> Child {
    let mut child = Command::new(binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A process killed early may not read it.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child
}

/// SIGKILLs `child` now; returns whether it had finished already (successfully).
fn kill(mut child: Child) -> bool {
    let finished = child.try_wait().unwrap();
    let _ = child.kill();
    child.wait().unwrap();
    if let Some(status) = finished {
        assert!(status.success(), "the command failed before the kill: {status}");
    }
    finished.is_some()
}

/// SIGKILLs `child` after `delay` ms.
fn kill_after(child: Child, delay: u64) -> bool {
    std::thread::sleep(Duration::from_millis(delay));
    kill(child)
}

/// SIGKILLs `child` as soon as `changed` holds (polled without pause), or when it exits.
async fn kill_when<F, Fut>(mut child: Child, mut changed: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !changed().await && child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no change within 60 s");
    }
    kill(child)
}

/// Runs `child` to its end; returns how long it took in ms.
fn whole(mut child: Child) -> u64 {
    let start = Instant::now();
    assert!(child.wait().unwrap().success(), "the whole run failed");
    u64::try_from(start.elapsed().as_millis()).unwrap().max(10)
}

/// The `.NAME.partial-…` files or directories beside `target`.
fn temporaries(target: &Path) -> Vec<PathBuf> {
    let prefix = format!(".{}.partial-", target.file_name().unwrap().to_str().unwrap());
    match std::fs::read_dir(target.parent().unwrap()) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&prefix))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A members CSV of `ROWS` rows, every surname starting with `surname`.
fn members_csv(path: &Path, surname: &str) {
    let mut text = String::from("member_number,state,status,voting_right,given_name,surname,email\n");
    for i in 1..=ROWS {
        text.push_str(&format!("{i},BY,active,true,Pat,{surname}{i},m{i}@example.org\n"));
    }
    std::fs::write(path, text).unwrap();
}

/// Rows of the member import (a whole debug-build run takes 1–2 s) and members beyond the
/// standard fixture's for `backup`.
const ROWS: usize = 10_000;
/// Members beyond the standard fixture's for `restore`, which loads about 1 500 a second in a
/// debug build.
const RESTORE_ROWS: usize = 3_000;

#[tokio::test]
async fn member_import_killed_at_any_moment_leaves_the_old_or_the_new_members() {
    let install = Install::new();
    let store = install.store().await;
    let (a, b) = (install.dir.path().join("a.csv"), install.dir.path().join("b.csv"));
    members_csv(&a, "Alpha");
    members_csv(&b, "Beta");
    let import = |csv: &Path| spawn(&install.config, &["member", "import", csv.to_str().unwrap()], "");
    // Two whole runs give both states (every row differs) and the length of a run.
    let whole_ms = whole(import(&a));
    let state_a = store.members().await.unwrap();
    assert_eq!(state_a.len(), ROWS);
    whole(import(&b));
    let state_b = store.members().await.unwrap();
    assert_eq!(state_b.len(), ROWS);
    let mut on_b = true;
    let mut found = Vec::new();
    for i in 0..6u64 {
        // Each run changes every row: A → B or B → A.
        let (csv, old, new) = if on_b {
            (&a, &state_b, &state_a)
        } else {
            (&b, &state_a, &state_b)
        };
        let revision = store.revision().await.unwrap();
        let child = import(csv);
        let (finished, when) = if i < 4 {
            let delay = whole_ms * (2 + 2 * i) / 10 + jitter(whole_ms / 8);
            (kill_after(child, delay), format!("after {delay} ms of {whole_ms}"))
        } else {
            let store = &store;
            let changed = kill_when(
                child,
                move || async move { store.revision().await.unwrap() != revision },
            )
            .await;
            (changed, "right after the revision changed".to_string())
        };
        let now = store.members().await.unwrap();
        let outcome = if &now == new {
            on_b = !on_b;
            if finished { Found::Finished } else { Found::After }
        } else {
            let like_old = now.iter().zip(old.iter()).filter(|(x, y)| x == y).count();
            let like_new = now.iter().zip(new.iter()).filter(|(x, y)| x == y).count();
            assert!(
                &now == old,
                "between: {} members, {like_old} as before, {like_new} as after",
                now.len()
            );
            assert!(!finished && i < 4, "the revision changed but the members did not");
            Found::Before
        };
        eprintln!("member import killed {when}: {outcome:?}");
        found.push(outcome);
    }
    assert!(
        found.iter().any(|o| *o != Found::Finished),
        "no kill landed inside a run: {found:?}"
    );
}

#[tokio::test]
async fn activate_killed_at_any_moment_creates_the_account_and_uses_the_token_or_neither() {
    let install = pending_install(7).await;
    let csv = install.dir.path().join("tokens.csv");
    ok_stdout(&install.cli(&["token", "issue", "--pending", "--out", csv.to_str().unwrap()]));
    let tokens = csv_tokens(&csv);
    let key = token_key(&install);
    let store = install.store().await;
    let mut whole_ms = 50;
    let mut found = Vec::new();
    for n in 1..=7u64 {
        let number = MemberNumber::parse(&n.to_string()).unwrap();
        let token = &tokens[&n.to_string()];
        let hmac = Token::parse(token).unwrap().hmac(&key);
        let uid = Uid::parse(&format!("member{n}")).unwrap();
        let child = spawn(
            &install.config,
            &["activate", "--token", token, "--uid", uid.as_str(), "--password-stdin"],
            &format!("{GOOD_PASSWORD}\n"),
        );
        let (finished, when) = match n {
            1 => {
                whole_ms = whole(child);
                (true, "never".to_string())
            }
            2..=5 => {
                let delay = match n {
                    2 => 0,
                    3 | 4 => jitter(50),
                    _ => whole_ms / 2 + jitter(whole_ms / 2),
                };
                (kill_after(child, delay), format!("after {delay} ms of {whole_ms}"))
            }
            _ => {
                let (store, uid) = (&store, &uid);
                let changed = kill_when(
                    child,
                    move || async move { store.account(uid).await.unwrap().is_some() },
                )
                .await;
                (changed, "right after the account appeared".to_string())
            }
        };
        let account = store.account(&uid).await.unwrap();
        let live = store
            .token_member(&hmac, time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        let outcome = match (account, live) {
            (Some(a), None) => {
                assert_eq!(a.member_number, number, "the account belongs to another member");
                if finished { Found::Finished } else { Found::After }
            }
            (None, Some(m)) => {
                assert_eq!(m, number);
                assert!(!finished, "activate finished without an account");
                Found::Before
            }
            (account, live) => panic!("between: account {account:?}, token live for {live:?}"),
        };
        eprintln!("activate killed {when}: {outcome:?}");
        found.push(outcome);
    }
    assert!(
        found.contains(&Found::Before),
        "no kill landed before the commit: {found:?}"
    );
}

/// The SHA-256 fingerprint of a PEM certificate, lower-case hex (as the store keeps it).
fn fingerprint(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .expect("openssl");
    let text = ok_stdout(&out);
    text.trim().split_once('=').unwrap().1.replace(':', "").to_lowercase()
}

/// The public key of a certificate or a private key, PEM.
fn public_key(args: &[&str], file: &Path) -> String {
    let out = Command::new("openssl").args(args).arg(file).output().expect("openssl");
    ok_stdout(&out)
}

/// Checks a complete set of issued files in `dir` for the certificate with `fingerprint`.
fn check_issued_files(install: &Install, dir: &Path, expected_fingerprint: &str) {
    for name in ["cert.pem", "ca.pem", "chain.pem", "key.pem", "bundle.p12"] {
        assert!(dir.join(name).exists(), "{} is missing", dir.join(name).display());
    }
    let cert = dir.join("cert.pem");
    assert_eq!(
        fingerprint(&cert),
        expected_fingerprint,
        "{} is not the stored certificate",
        cert.display()
    );
    let ca = std::fs::read_to_string(install.ca_pem()).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("ca.pem")).unwrap(), ca);
    let cert_text = std::fs::read_to_string(&cert).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("chain.pem")).unwrap(),
        format!("{cert_text}{ca}")
    );
    assert_eq!(
        public_key(&["x509", "-noout", "-pubkey", "-in"], &cert),
        public_key(&["pkey", "-pubout", "-in"], &dir.join("key.pem")),
        "key.pem does not belong to cert.pem"
    );
    assert_eq!(mode(&dir.join("key.pem")), 0o600);
    let bundle = std::fs::metadata(dir.join("bundle.p12")).unwrap();
    assert!(bundle.len() > 0, "empty bundle.p12");
}

#[tokio::test]
async fn cert_issue_killed_at_any_moment_leaves_recorded_and_complete_files_or_neither() {
    let install = cert_install();
    let store = install.store().await;
    let mut whole_ms = 50;
    let mut found = Vec::new();
    for i in 0..7u64 {
        let id = field(&ok_stdout(&install.cli(&crate::certs::CAROL_REQUEST)), "request: ");
        ok_stdout(&install.cli(&["cert", "approve", &id, "--by", "bob"]));
        let request_id: i64 = id.parse().unwrap();
        let out = install.dir.path().join(format!("issued-{i}"));
        let child = spawn(
            &install.config,
            &["cert", "issue", &id, "--out", out.to_str().unwrap()],
            "",
        );
        let (finished, when) = match i {
            0 => {
                whole_ms = whole(child);
                (true, "never".to_string())
            }
            1..=4 => {
                let delay = match i {
                    1 => 0,
                    2 | 3 => jitter(50),
                    _ => whole_ms / 2 + jitter(whole_ms / 2),
                };
                (kill_after(child, delay), format!("after {delay} ms of {whole_ms}"))
            }
            _ => {
                let store = &store;
                let recorded = move || async move {
                    let certs = store.certificates().await.unwrap();
                    certs.iter().any(|c| c.request_id == request_id)
                };
                (
                    kill_when(child, recorded).await,
                    "right after the certificate was recorded".to_string(),
                )
            }
        };
        let recorded: Vec<_> = store
            .certificates()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.request_id == request_id)
            .collect();
        let temporary = temporaries(&out);
        let outcome = match recorded.as_slice() {
            [] => {
                assert!(!finished, "cert issue finished without recording");
                assert!(
                    !out.exists(),
                    "{} exists but no certificate was recorded",
                    out.display()
                );
                Found::Before
            }
            [cert] if out.exists() => {
                assert!(
                    temporary.is_empty(),
                    "temporary directory left beside {}",
                    out.display()
                );
                check_issued_files(&install, &out, &cert.fingerprint);
                if finished { Found::Finished } else { Found::After }
            }
            [cert] => {
                assert_eq!(
                    temporary.len(),
                    1,
                    "certificate {} recorded but neither {} nor its temporary directory exists",
                    cert.serial,
                    out.display()
                );
                check_issued_files(&install, &temporary[0], &cert.fingerprint);
                Found::AfterUnderTemporaryName
            }
            more => panic!("{} certificates for one request", more.len()),
        };
        eprintln!("cert issue killed {when}: {outcome:?}");
        found.push(outcome);
    }
    assert!(
        found.contains(&Found::Before),
        "no kill landed before the commit: {found:?}"
    );
}

/// The standard fixture plus `n` members: a backup or a restore that takes a while.
async fn many_members(n: usize) -> Install {
    let install = Install::new();
    standard_fixture(&install).await;
    piratenldap_tests::add_members(&install, 100_000..100_000 + n).await;
    install
}

/// Checks a killed backup: `file` is absent, or complete with exactly the lines of the whole
/// run's backup but its header (the creation time).
/// A backup's lines without the audit table and the closing count: every backup records
/// itself in the audit trail (`backup.written`), so each run's trail is one event longer.
fn but_the_audit_trail<S: AsRef<str>>(lines: &[S]) -> Vec<&str> {
    lines
        .iter()
        .map(AsRef::as_ref)
        .filter(|l| !l.contains("\"table\":\"audit\"") && !l.contains("\"end\""))
        .collect()
}

fn check_backup(file: &Path, body: &[String], finished: bool) -> Found {
    if !file.exists() {
        assert!(!finished, "backup finished without writing {}", file.display());
        return Found::Before;
    }
    assert_eq!(mode(file), 0o600);
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("piratenldap-backup"), "{}: no header", file.display());
    assert!(text.ends_with('\n'));
    assert!(
        but_the_audit_trail(&lines[1..]) == but_the_audit_trail(body),
        "{} is not a complete backup",
        file.display()
    );
    if finished { Found::Finished } else { Found::After }
}

#[tokio::test]
async fn backup_killed_at_any_moment_leaves_no_file_or_a_complete_one() {
    let install = many_members(2 * ROWS).await;
    let backup = |file: &Path| spawn(&install.config, &["backup", file.to_str().unwrap()], "");
    let first = install.dir.path().join("run-0.jsonl");
    let whole_ms = whole(backup(&first));
    let body: Vec<String> = std::fs::read_to_string(&first)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert!(body.last().unwrap().contains("\"end\""));
    let mut found = Vec::new();
    for i in 1..=6u64 {
        let file = install.dir.path().join(format!("run-{i}.jsonl"));
        let partial = file.with_extension("partial");
        let child = backup(&file);
        let (finished, when) = match i {
            1..=4 => {
                let delay = whole_ms * (1 + 2 * i) / 10 + jitter(whole_ms / 8);
                (kill_after(child, delay), format!("after {delay} ms of {whole_ms}"))
            }
            5 => (
                kill_when(child, || std::future::ready(partial.exists())).await,
                "right after the temporary file appeared".to_string(),
            ),
            _ => (
                kill_when(child, || std::future::ready(file.exists())).await,
                "right after the file appeared".to_string(),
            ),
        };
        let outcome = check_backup(&file, &body, finished);
        eprintln!("backup killed {when}: {outcome:?}");
        found.push(outcome);
    }
    assert!(found.contains(&Found::Before), "no kill landed inside a run: {found:?}");
}

/// A database dump to compare restores by: without `meta` (the restore bumps the revision) and
/// with the audit trail cut to `audit_rows` (`restore` appends its own row after the commit).
fn comparable(mut dump: Vec<TableDump>, audit_rows: usize) -> Vec<TableDump> {
    dump.retain(|t| t.table != "meta");
    for t in &mut dump {
        if t.table == "audit" {
            t.rows.truncate(audit_rows);
        }
    }
    dump
}

/// Every file under `dir` but the database's, by path relative to `dir`.
fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if !path
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("piratenldap.db")
            {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

/// SIGKILLs the restoring `child` as soon as the SQLite database at `db` holds members (polled
/// on one connection, opened once the file exists), or when it exits.
async fn kill_when_members_committed(child: Child, db: &Path) -> bool {
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("sqlite://{}", db.display());
    let pool = loop {
        if child.try_wait().unwrap().is_some() {
            return kill(child);
        }
        assert!(Instant::now() < deadline, "no database within 60 s");
        if db.exists()
            && let Ok(pool) = sqlx::SqlitePool::connect(&url).await
        {
            break pool;
        }
    };
    let pool = &pool;
    let finished = kill_when(child, move || async move {
        let n: Result<(i64,), _> = sqlx::query_as("SELECT count(*) FROM members").fetch_one(pool).await;
        n.is_ok_and(|(n,)| n > 0)
    })
    .await;
    pool.close().await;
    finished
}

/// Checks a killed restore into the fresh directory `dir`: nothing restored (no configuration,
/// no members, no key file), or the database exactly `after` and every file of the whole run
/// complete (under its name, or in the documented window under its temporary name).
async fn check_restore(
    dir: &Path,
    after: &[TableDump],
    files: &BTreeMap<PathBuf, Vec<u8>>,
    audit_rows: usize,
    finished: bool,
) -> Found {
    let db = dir.join("data/piratenldap.db");
    let config = dir.join("piratenldap.toml");
    let dump = if db.exists() {
        let store = SqlStore::open(&format!("sqlite://{}", db.display())).await.unwrap();
        let dump = store.dump().await.unwrap();
        drop(store);
        Some(comparable(dump, audit_rows))
    } else {
        None
    };
    let members = dump
        .as_ref()
        .and_then(|d| d.iter().find(|t| t.table == "members"))
        .map_or(0, |t| t.rows.len());
    if members == 0 {
        assert!(!finished, "restore finished without members");
        assert!(!config.exists(), "a configuration but no members");
        for name in files.keys() {
            assert!(!dir.join(name).exists(), "{} restored but no members", name.display());
        }
        return Found::Before;
    }
    assert!(
        dump.as_deref() == Some(after),
        "between: the database differs from a whole restore"
    );
    let mut temporary = false;
    for (name, contents) in files {
        let path = dir.join(name);
        let text = if path.exists() {
            assert!(
                temporaries(&path).is_empty(),
                "a temporary file left beside {}",
                path.display()
            );
            std::fs::read(&path).unwrap()
        } else {
            let t = temporaries(&path);
            assert_eq!(
                t.len(),
                1,
                "the database is restored but {} is missing, with no temporary file",
                name.display()
            );
            temporary = true;
            std::fs::read(&t[0]).unwrap()
        };
        assert!(text == *contents, "{} is not the backup's", name.display());
    }
    match (temporary, finished) {
        (true, _) => {
            assert!(!config.exists(), "the configuration was renamed before a key file");
            Found::AfterUnderTemporaryName
        }
        (false, true) => Found::Finished,
        (false, false) => Found::After,
    }
}

#[tokio::test]
async fn restore_killed_at_any_moment_leaves_no_installation_or_the_complete_one() {
    let source = many_members(RESTORE_ROWS).await;
    let backup = source.dir.path().join("backup.jsonl");
    // What the backup holds: the database before it (a backup then records itself in the
    // audit trail, which the next backup holds).
    let source_dump = source.store().await.dump().await.unwrap();
    ok_stdout(&source.cli(&["backup", backup.to_str().unwrap()]));
    let audit_rows = source_dump.iter().find(|t| t.table == "audit").unwrap().rows.len();
    let restore = |dir: &Path| {
        spawn(
            &dir.join("piratenldap.toml"),
            &["restore", backup.to_str().unwrap()],
            "",
        )
    };
    // A whole run: the state every other run must reach, and the same data as the source.
    let first = tempfile::tempdir().unwrap();
    let whole_ms = whole(restore(first.path()));
    let first_store = SqlStore::open(&format!("sqlite://{}/data/piratenldap.db", first.path().display()))
        .await
        .unwrap();
    let after = comparable(first_store.dump().await.unwrap(), audit_rows);
    drop(first_store);
    assert!(
        after == comparable(source_dump, audit_rows),
        "a whole restore differs from its source"
    );
    let files = files_under(first.path());
    assert!(
        files.contains_key(Path::new("piratenldap.toml")) && files.len() >= 6,
        "{:?}",
        files.keys()
    );
    let mut found = Vec::new();
    for i in 1..=6u64 {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data/piratenldap.db");
        let child = restore(dir.path());
        let (finished, when) = match i {
            1..=4 => {
                let delay = whole_ms * (1 + 2 * i) / 10 + jitter(whole_ms / 8);
                (kill_after(child, delay), format!("after {delay} ms of {whole_ms}"))
            }
            _ => (
                kill_when_members_committed(child, &db).await,
                "right after the members were committed".to_string(),
            ),
        };
        let outcome = check_restore(dir.path(), &after, &files, audit_rows, finished).await;
        eprintln!("restore killed {when}: {outcome:?}");
        found.push(outcome);
    }
    assert!(found.contains(&Found::Before), "no kill landed inside a run: {found:?}");
}

#[tokio::test]
async fn serve_killed_during_a_view_rebuild_comes_back_with_the_change() {
    use ldap3::Scope;
    use piratenldap_tests::{BASE, SERVICE_PASSWORD, service};

    // Enough people that a rebuild takes a while (its length is measured by the first change).
    let mut server = many_members(20_000).await.serve();
    for round in 0..4u64 {
        let group = format!("rebuild{round}");
        ok_stdout(&server.cli(&["group", "create", &group]));
        // The server sees the new revision within a quarter second and rebuilds: kill it at a
        // different moment of that each round.
        tokio::time::sleep(Duration::from_millis(100 + 150 * round)).await;
        server.kill_and_restart();
        let mut ldap = crate::bound(&server, &service("wiki"), SERVICE_PASSWORD).await;
        let (entries, _) = crate::search(
            &mut ldap,
            &format!("cn={group},ou=groups,{BASE}"),
            Scope::Base,
            "(objectClass=*)",
            &["cn"],
        )
        .await;
        assert_eq!(
            entries.len(),
            1,
            "round {round}: the change is served after the restart"
        );
    }
}
