//! Shared by the portal and browser tests: an installation with members and tokens.

use std::collections::HashMap;

use piratenldap_tests::{Install, Server};

use crate::ok_stdout;

/// A password the strength check accepts.
pub const GOOD_PASSWORD: &str = "purple elephants dance at noon";

/// An installation with six members without accounts and a token for each; returns the
/// running server and the tokens by member number.
pub async fn portal_server(config_edit: Option<(&str, &str)>) -> (Server, HashMap<String, String>) {
    let install = Install::new();
    if let Some((from, to)) = config_edit {
        let text = std::fs::read_to_string(&install.config).unwrap();
        assert!(text.contains(from));
        std::fs::write(&install.config, text.replace(from, to)).unwrap();
    }
    let csv = install.dir.path().join("m.csv");
    std::fs::write(&csv, "member_number,state,status,email\n1,BY,active,a@example.org\n2,BY,active,\n3,NW,active,\n4,NW,active,\n5,HH,active,\n6,HH,left,\n").unwrap();
    ok_stdout(&install.cli(&["member", "import", csv.to_str().unwrap()]));
    let out = install.dir.path().join("tokens.csv");
    ok_stdout(&install.cli(&["token", "issue", "--pending", "--out", out.to_str().unwrap()]));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut tokens = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        assert!(f[2].ends_with("/activate"), "{line}");
        assert_eq!(f[4], "activation", "{line}");
        tokens.insert(f[0].to_string(), f[1].to_string());
    }
    assert!(!tokens.contains_key("6"), "a member who left got a token");
    (install.serve(), tokens)
}
