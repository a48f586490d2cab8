//! Shared pieces of the client-setup tests (`clients_*.rs`): the ops/clients/ files, a
//! service bind account made with the real CLI, settings pointed at the test's server, and a
//! daemon that is stopped on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use piratenldap_tests::Install;

use crate::ok_stdout;

/// A file of `ops/clients/<client>/`.
pub(crate) fn ops_file(client: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ops/clients")
        .join(client)
        .join(file)
}

/// The value after `key` on a line of `text`.
pub(crate) fn line_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} line in {text}"))
        .trim()
        .to_string()
}

/// `piratenldap service add NAME ARGS…` (the command the client's README names); returns the
/// bind DN and the generated password.
pub(crate) fn add_service(install: &Install, name: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["service", "add", name];
    all.extend_from_slice(args);
    let out = ok_stdout(&install.cli(&all));
    (line_value(&out, "dn:"), line_value(&out, "password:"))
}

/// `text` with the setting on each line that starts with one of the keys (followed by
/// blanks or `=`; indentation allowed) replaced by `line`. Every key must occur: a client file
/// that lost a setting the test points at fails the test instead of testing something else.
pub(crate) fn set_lines(text: &str, settings: &[(&str, String)]) -> String {
    let mut seen = vec![false; settings.len()];
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            for (i, (key, replacement)) in settings.iter().enumerate() {
                let Some(rest) = trimmed.strip_prefix(key) else {
                    continue;
                };
                if rest.starts_with([' ', '\t', '=']) {
                    seen[i] = true;
                    let indent = &line[..line.len() - trimmed.len()];
                    return format!("{indent}{replacement}");
                }
            }
            line.to_string()
        })
        .collect();
    for (i, (key, _)) in settings.iter().enumerate() {
        assert!(seen[i], "the client file has no {key} setting any more");
    }
    lines.join("\n") + "\n"
}

/// A daemon started by a test; SIGTERM on drop (so a master ends its children), SIGKILL if it
/// has not ended within five seconds.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) name: &'static str,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        crate::terminate(&mut self.child);
    }
}

impl Daemon {
    /// Waits until `ready` holds, at most `secs` seconds; fails with `log` otherwise (or when
    /// the daemon exits).
    pub(crate) fn wait_for(&mut self, secs: u64, mut ready: impl FnMut() -> bool, log: impl Fn() -> String) {
        let start = Instant::now();
        while !ready() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}): {}", self.name, log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{} not ready within {secs} s: {}",
                self.name,
                log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Standard output, standard error and status of a command, for messages.
pub(crate) fn show(out: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
