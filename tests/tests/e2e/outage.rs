//! Issue 13, "Database outage": two nodes on a PostgreSQL server of their own, which is
//! stopped and started again. While it is down both nodes answer binds (TOTP codes once) and
//! searches from their last view and say they are degraded; when it is back they catch up and
//! the audit events of the outage are written.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ldap3::Scope;
use piratenldap_store::Store;
use piratenldap_tests::{ALICE_TOTP_SECRET, Install, PASSWORD, Server, person, standard_fixture};

use crate::{connect, ok_stdout, search};

/// A PostgreSQL cluster of this test alone (the others share the suite's), removed on drop.
struct Cluster {
    url: String,
    dir: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/throwaway-postgres")
}

impl Cluster {
    fn start() -> Cluster {
        let out = ok_stdout(&Command::new(script()).arg("start").output().unwrap());
        let value = |key: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("export {key}=")))
                .unwrap()
                .to_string()
        };
        Cluster {
            url: value("PIRATENLDAP_TEST_POSTGRES"),
            dir: value("PIRATENLDAP_PGDIR"),
        }
    }

    fn run(&self, what: &str) {
        ok_stdout(&Command::new(script()).args([what, &self.dir]).output().unwrap());
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).args(["stop", &self.dir]).output();
    }
}

async fn bind_rc(server: &Server, dn: &str, pw: &str) -> u32 {
    connect(server).await.simple_bind(dn, pw).await.unwrap().rc
}

async fn healthz(server: &Server) -> u16 {
    reqwest::get(format!("http://{}/healthz", server.http))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn nodes_serve_from_their_view_while_the_database_is_down() {
    let cluster = Cluster::start();
    let a = Install::on_postgres_at(&cluster.url).await;
    standard_fixture(&a).await;
    let b = a.second_node();
    let (a, b) = (a.serve(), b.serve());
    assert_eq!(healthz(&a).await, 200);

    cluster.run("pause");
    for node in [&a, &b] {
        assert_eq!(
            bind_rc(node, &person("bob"), PASSWORD).await,
            0,
            "bind while the database is down"
        );
        let mut ldap = connect(node).await;
        ldap.simple_bind(&person("bob"), PASSWORD).await.unwrap();
        let (entries, _) = search(&mut ldap, &person("bob"), Scope::Base, "(objectClass=*)", &["uid"]).await;
        assert_eq!(entries.len(), 1, "search while the database is down");
        assert_eq!(healthz(node).await, 503, "healthz says degraded");
    }
    let code = format!("{PASSWORD}{}", piratenldap_tests::totp_now(ALICE_TOTP_SECRET));
    assert_eq!(bind_rc(&a, &person("alice"), &code).await, 0, "a TOTP bind");
    assert_eq!(
        bind_rc(&a, &person("alice"), &code).await,
        49,
        "the same code again on the same node"
    );

    cluster.run("resume");
    let start = Instant::now();
    while healthz(&a).await != 200 {
        assert!(start.elapsed() < Duration::from_secs(10), "node A did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A change through node A reaches node B.
    ok_stdout(&a.cli(&["account", "lock", "bob"]));
    let want = a.install.store().await.revision().await.unwrap() as u64;
    let start = Instant::now();
    while crate::second_factor::metric(&b, "piratenldap_directory_revision") < want {
        assert!(start.elapsed() < Duration::from_secs(3), "node B did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        bind_rc(&b, &person("bob"), PASSWORD).await,
        49,
        "the lock reached node B"
    );
    // The outage's audit events were kept and written.
    let start = Instant::now();
    loop {
        let events = a.install.store().await.audit_events(Some("alice"), None).await.unwrap();
        if events.iter().any(|e| e.action == "bind.ok") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the outage's audit events are lost"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
