//! Files the binary leaves on disk: `token issue` is all or nothing (a complete CSV and the
//! tokens stored, or nothing changed: a missing or read-only directory, kill -9 at any moment),
//! and the database, its WAL/SHM files and the data directory are private whatever the umask.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use piratenldap_core::token::Token;
use piratenldap_tests::{Install, binary};

use crate::ok_stdout;
use crate::portal_support::GOOD_PASSWORD;

/// Members for the kill test: enough that issuing takes a while, so kills land inside it.
const MANY: usize = 3000;

/// An installation with `n` active members `1..=n` without accounts (all pending).
pub(crate) async fn pending_install(n: usize) -> Install {
    let install = Install::new();
    piratenldap_tests::add_members(&install, 1..n + 1).await;
    install
}

/// The live tokens in the store: member number → HMAC.
async fn live_tokens(install: &Install) -> BTreeMap<String, String> {
    let pool = sqlx::SqlitePool::connect(&install.database_url()).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT member_number, hmac FROM tokens WHERE state = 'live'")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.into_iter().collect()
}

/// The token key `init` wrote (64 hex digits).
pub(crate) fn token_key(install: &Install) -> Vec<u8> {
    let text = std::fs::read_to_string(install.dir.path().join("data/token.key")).unwrap();
    let text = text.trim();
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The rows of a token CSV as member number → token, checking the header and every row.
pub(crate) fn csv_tokens(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("member_number,token,activation_url,expires_at,letter"),
        "{}",
        path.display()
    );
    let mut tokens = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "a cut row in {}: {line}", path.display());
        tokens.insert(f[0].to_string(), f[1].to_string());
    }
    assert!(text.ends_with('\n'), "{} ends in the middle of a row", path.display());
    tokens
}

/// A token CSV as the store would hold it: member number → HMAC.
fn csv_hmacs(path: &Path, key: &[u8]) -> BTreeMap<String, String> {
    csv_tokens(path)
        .into_iter()
        .map(|(n, t)| (n, Token::parse(&t).unwrap().hmac(key)))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The temporary files `token issue` writes beside `out` before it renames one to `out`.
fn partial_files(out: &Path) -> Vec<PathBuf> {
    let prefix = format!(".{}.partial-", out.file_name().unwrap().to_str().unwrap());
    std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&prefix))
        .collect()
}

/// Issues a token for member 1 into `first.csv` and returns it.
fn first_token(install: &Install) -> String {
    let first = install.dir.path().join("first.csv");
    ok_stdout(&install.cli(&["token", "issue", "--member", "1", "--out", first.to_str().unwrap()]));
    csv_tokens(&first).remove("1").unwrap()
}

/// Checks a failed `token issue`: exit status 1, the message names `out`, the store's live
/// tokens are `before`, and no temporary file is left.
async fn assert_nothing_changed(
    install: &Install,
    out: &std::process::Output,
    path: &Path,
    before: &BTreeMap<String, String>,
) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "the message does not name the file: {err}"
    );
    assert_eq!(
        &live_tokens(install).await,
        before,
        "a failed token issue changed the live tokens: {err}"
    );
    assert!(!path.exists());
    if path.parent().unwrap().exists() {
        assert_eq!(partial_files(path), Vec::<PathBuf>::new(), "temporary file left behind");
    }
}

#[tokio::test]
async fn token_issue_into_a_missing_directory_changes_nothing() {
    let install = pending_install(3).await;
    let token = first_token(&install);
    let before = live_tokens(&install).await;
    assert_eq!(before.len(), 1);
    let missing = Path::new("/no/such/dir/x.csv");
    let out = install.cli(&["token", "issue", "--member", "1", "--out", missing.to_str().unwrap()]);
    assert_nothing_changed(&install, &out, missing, &before).await;
    // An existing file is refused too, before anything is stored.
    let taken = install.dir.path().join("first.csv");
    let out = install.cli(&["token", "issue", "--member", "1", "--out", taken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(live_tokens(&install).await, before);
    // The member's letter still works.
    let out = install.cli_stdin(
        &["activate", "--token", &token, "--uid", "anna", "--password-stdin"],
        &format!("{GOOD_PASSWORD}\n"),
    );
    ok_stdout(&out);
}

#[tokio::test]
async fn token_issue_into_a_read_only_directory_changes_nothing() {
    let install = pending_install(3).await;
    first_token(&install);
    let before = live_tokens(&install).await;
    let read_only = install.dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let target = read_only.join("x.csv");
    let mut cmd = Command::new(binary());
    cmd.arg("--config")
        .arg(&install.config)
        .args(["token", "issue", "--member", "1", "--out"])
        .arg(&target)
        .stdin(Stdio::null());
    // root writes into any directory: run the command as nobody, who owns the installation
    // but not the read-only directory.
    if std::fs::metadata(install.dir.path()).unwrap().uid() == 0 {
        const NOBODY: u32 = 65534;
        chown_tree(install.dir.path(), NOBODY);
        std::os::unix::fs::chown(&read_only, Some(0), Some(0)).unwrap();
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let out = cmd.output().unwrap();
    assert_nothing_changed(&install, &out, &target, &before).await;
}

fn chown_tree(path: &Path, id: u32) {
    std::os::unix::fs::chown(path, Some(id), Some(id)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), id);
        }
    }
}

/// What one killed `token issue` left.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// It finished before the kill.
    Finished,
    /// Killed after renaming: the CSV is complete and its tokens are live.
    Complete,
    /// Killed before storing: no CSV, the live tokens are the old ones.
    Unchanged,
    /// Killed between storing and renaming (the window `token.rs` documents): the tokens are
    /// live and the complete CSV is the temporary file.
    CompleteUnderTemporaryName,
}

/// Checks the state after one run: either the CSV (or, in the documented window, its
/// temporary file) is complete, 0600, and holds exactly the live tokens, or no CSV exists and
/// the live tokens are `before`.
async fn check_after_kill(
    install: &Install,
    key: &[u8],
    out: &Path,
    before: &BTreeMap<String, String>,
    finished: bool,
) -> Outcome {
    let after = live_tokens(install).await;
    let partial = partial_files(out);
    if out.exists() {
        assert_eq!(mode(out), 0o600, "{}", out.display());
        let written = csv_hmacs(out, key);
        assert_eq!(written.len(), MANY, "rows in {}", out.display());
        assert_eq!(written, after, "the CSV does not hold exactly the live tokens");
        assert!(
            partial.is_empty(),
            "temporary file left beside a complete CSV: {partial:?}"
        );
        return if finished { Outcome::Finished } else { Outcome::Complete };
    }
    assert!(!finished, "token issue finished without writing {}", out.display());
    if &after == before {
        // Killed before the commit: a temporary file may remain, but none of its tokens is live.
        let live: std::collections::HashSet<&String> = after.values().collect();
        for p in &partial {
            let text = std::fs::read_to_string(p).unwrap();
            for line in text.lines().skip(1) {
                if let Some(Ok(token)) = line.split(',').nth(1).map(Token::parse) {
                    assert!(!live.contains(&token.hmac(key)), "{} holds a live token", p.display());
                }
            }
        }
        return Outcome::Unchanged;
    }
    assert_eq!(
        partial.len(),
        1,
        "tokens were stored but no CSV exists (live tokens changed from {} to {}): {partial:?}",
        before.len(),
        after.len()
    );
    assert_eq!(mode(&partial[0]), 0o600);
    let written = csv_hmacs(&partial[0], key);
    assert_eq!(written.len(), MANY);
    assert_eq!(
        written, after,
        "the temporary CSV does not hold exactly the live tokens"
    );
    Outcome::CompleteUnderTemporaryName
}

/// A small pseudo-random number for the kill moments (no seed to pin: any moment must do).
pub(crate) fn jitter(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % bound.max(1)
}

#[tokio::test]
async fn token_issue_killed_at_any_moment_leaves_a_complete_csv_or_nothing() {
    let install = pending_install(MANY).await;
    let key = token_key(&install);
    let issue = |out: &Path| {
        Command::new(binary())
            .arg("--config")
            .arg(&install.config)
            .args(["token", "issue", "--pending", "--out"])
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut outcomes = Vec::new();
    // One whole run: its length sets the kill moments.
    let out = install.dir.path().join("run-0.csv");
    let before = live_tokens(&install).await;
    let start = Instant::now();
    let status = issue(&out).wait().unwrap();
    let whole = start.elapsed();
    assert!(status.success());
    outcomes.push(check_after_kill(&install, &key, &out, &before, true).await);
    // Kills at moments spread over a run (the commit comes near its end), each moved by a
    // random amount.
    let whole_ms = u64::try_from(whole.as_millis()).unwrap().max(10);
    for i in 1..=5u64 {
        let out = install.dir.path().join(format!("run-{i}.csv"));
        let before = live_tokens(&install).await;
        let mut child = issue(&out);
        let delay = whole_ms * (3 + 2 * i) / 12 + jitter(whole_ms / 8);
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let outcome = check_after_kill(&install, &key, &out, &before, finished).await;
        eprintln!("kill after {delay} ms of a {whole_ms} ms run: {outcome:?}");
        outcomes.push(outcome);
    }
    // Kills the moment the new tokens become visible in the store, i.e. right after the commit:
    // the CSV must exist by then (under its name, or in the documented window the temporary one).
    let pool = sqlx::SqlitePool::connect(&install.database_url()).await.unwrap();
    for i in 6..=8 {
        let out = install.dir.path().join(format!("run-{i}.csv"));
        let before = live_tokens(&install).await;
        let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM tokens")
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut child = issue(&out);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut finished = false;
        loop {
            let (now,): (i64,) = sqlx::query_as("SELECT count(*) FROM tokens")
                .fetch_one(&pool)
                .await
                .unwrap();
            if now != rows {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            assert!(Instant::now() < deadline, "token issue stored nothing within 60 s");
        }
        let _ = child.kill();
        child.wait().unwrap();
        let outcome = check_after_kill(&install, &key, &out, &before, finished).await;
        eprintln!("kill right after the commit: {outcome:?}");
        outcomes.push(outcome);
    }
    pool.close().await;
    assert!(
        outcomes.iter().any(|o| *o != Outcome::Finished),
        "no kill landed inside a run: {outcomes:?}"
    );
}

#[test]
fn init_makes_the_database_and_data_directory_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("piratenldap.toml");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(binary())
        .arg("--config")
        .arg(&config)
        .args(["init", "--ldap-listen", "127.0.0.1:0", "--ldaps-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    ok_stdout(&out);
    let data = dir.path().join("data");
    let db = data.join("piratenldap.db");
    let (wal, shm) = (data.join("piratenldap.db-wal"), data.join("piratenldap.db-shm"));
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&db), 0o600, "database");
    for side in [&wal, &shm] {
        if side.exists() {
            assert_eq!(mode(side), 0o600, "{}", side.display());
        }
    }
    // A database someone made readable (or an older version created) is made private when it
    // is opened; SQLite gives the WAL and SHM files the database's mode.
    for file in [&db, &wal, &shm] {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let server = Install::adopt(dir, None).serve();
    for file in [&db, &wal, &shm] {
        assert_eq!(mode(file), 0o600, "{} while serving", file.display());
    }
    drop(server);
}

/// Found attacking issue 12: `export --ldif --out` wrote member data world-readable.
#[tokio::test]
async fn an_ldif_export_is_private_whatever_the_umask() {
    let install = Install::new();
    piratenldap_tests::standard_fixture(&install).await;
    let out = install.dir.path().join("export.ldif");
    let run = Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(binary())
        .arg("--config")
        .arg(&install.config)
        .args(["export", "--ldif", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    ok_stdout(&run);
    assert!(std::fs::read_to_string(&out).unwrap().contains("pirateMemberNumber"));
    assert_eq!(mode(&out), 0o600);
}
