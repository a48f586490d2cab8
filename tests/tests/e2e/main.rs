//! End-to-end tests: the real `piratenldap` binary on port 0, driven by the `ldap3` crate and
//! by OpenLDAP's ldapsearch, ldapwhoami, ldappasswd and ldapcompare.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod access;
mod admin;
mod backup;
mod bind;
mod browser;
mod ca_rollover;
mod certs;
mod chapters;
mod cli;
mod clients_apache;
mod clients_dovecot;
mod clients_nslcd;
mod clients_php;
mod clients_postfix;
mod clients_prosody;
mod clients_support;
mod console;
mod console_browser;
mod console_support;
mod crashes;
mod credentials;
mod crl_refresh;
mod erasure;
mod export;
mod files;
mod ldif;
mod limits;
mod live;
mod malformed;
mod monitoring;
mod nginx;
mod nodes;
mod operations;
mod outage;
mod package;
mod portal;
mod portal_support;
mod pseudonymous;
mod reads;
mod reset;
mod search;
mod second_factor;
mod sso;
mod sso_apache;
mod suspend;
mod tls;
mod tls_reload;

use std::collections::BTreeSet;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapResult, Scope, SearchEntry, SearchResult};
use piratenldap_tests::Server;

/// A plain connection to the server.
pub async fn connect(server: &Server) -> Ldap {
    connect_url(&server.ldap_url(), LdapConnSettings::new()).await
}

/// A connection with settings.
pub async fn connect_url(url: &str, settings: LdapConnSettings) -> Ldap {
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url).await.unwrap();
    ldap3::drive!(conn);
    ldap
}

/// A plain connection bound as `dn`.
pub async fn bound(server: &Server, dn: &str, password: &str) -> Ldap {
    let mut ldap = connect(server).await;
    let res = ldap.simple_bind(dn, password).await.unwrap();
    assert_eq!(res.rc, 0, "bind as {dn}: {res:?}");
    ldap
}

/// Runs a search and returns the entries and the final result.
pub async fn search(
    ldap: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> (Vec<SearchEntry>, LdapResult) {
    let SearchResult(entries, res) = ldap.search(base, scope, filter, attrs.to_vec()).await.unwrap();
    (entries.into_iter().map(SearchEntry::construct).collect(), res)
}

/// The uids of search results.
pub fn uids(entries: &[SearchEntry]) -> BTreeSet<String> {
    entries
        .iter()
        .filter_map(|e| e.attrs.get("uid").and_then(|v| v.first()).cloned())
        .collect()
}

/// Output of a command as text, asserting success.
pub fn ok_stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits up to 5 s for `child` to exit, then kills it.
pub fn wait_or_kill(child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Stops a daemon: SIGTERM (its master ends its workers; SIGKILL would leave them running),
/// then [`wait_or_kill`].
pub fn terminate(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    wait_or_kill(child);
}

/// Polls `check` until it holds, failing after one second; prints how long it took.
pub async fn within_one_second<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        if check().await {
            eprintln!("{what}: visible after {:?}", start.elapsed());
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{what}: not visible within one second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
