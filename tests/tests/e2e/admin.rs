//! Issue 15 (first part): chapter admins granted, listed and revoked with the CLI, audited,
//! and refused with a clear message where the grant cannot be.

use piratenldap_tests::{Install, standard_fixture};

use crate::ok_stdout;

#[tokio::test]
async fn chapter_admins_are_granted_listed_revoked_and_audited() {
    let install = Install::new();
    standard_fixture(&install).await;
    let out = ok_stdout(&install.cli(&["admin", "grant", "bob", "--chapter", "by"]));
    assert!(out.contains("bob is now chapter admin of BY"), "{out}");
    ok_stdout(&install.cli(&["admin", "grant", "bob", "--chapter", "NW", "--real-names"]));
    let list = ok_stdout(&install.cli(&["admin", "list"]));
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows[0].starts_with("BY") && rows[0].contains("bob") && rows[0].contains(" no "),
        "{list}"
    );
    assert!(rows[1].starts_with("NW") && rows[1].contains(" yes "), "{list}");

    // Refusals change nothing and say why.
    for (args, why) in [
        (vec!["admin", "grant", "bob", "--chapter", "BY"], "already"),
        (vec!["admin", "grant", "nobody", "--chapter", "BY"], "no account nobody"),
        (vec!["admin", "grant", "bob", "--chapter", "Bayern!"], "state"),
        (vec!["admin", "revoke", "alice", "--chapter", "BY"], "no chapter admin"),
    ] {
        let out = install.cli(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert_eq!(ok_stdout(&install.cli(&["admin", "list"])).lines().count(), 3);

    ok_stdout(&install.cli(&["admin", "revoke", "bob", "--chapter", "BY"]));
    let list = ok_stdout(&install.cli(&["admin", "list"]));
    assert!(!list.contains("BY "), "{list}");
    let audit = ok_stdout(&install.cli(&["audit", "--uid", "bob"]));
    assert!(
        audit.contains("admin.grant") && audit.contains("admin.revoke"),
        "{audit}"
    );
}
