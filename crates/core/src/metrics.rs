//! Counters shared by the LDAP front end and `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters (Prometheus counters: they only go up).
#[derive(Debug, Default)]
pub struct Metrics {
    /// argon2 verifications run (binds, old-password checks).
    pub password_verifications: AtomicU64,
    /// Successful binds.
    pub binds_ok: AtomicU64,
    /// Failed binds (wrong credentials, throttled included).
    pub binds_failed: AtomicU64,
    /// Binds refused by the throttle without any argon2 work.
    pub binds_throttled: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text of the counters.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            (
                "piratenldap_password_verifications_total",
                "argon2 password verifications run.",
                &self.password_verifications,
            ),
            ("piratenldap_binds_ok_total", "Successful binds.", &self.binds_ok),
            ("piratenldap_binds_failed_total", "Failed binds.", &self.binds_failed),
            (
                "piratenldap_binds_throttled_total",
                "Binds refused by the throttle without argon2 work.",
                &self.binds_throttled,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        out
    }
}
