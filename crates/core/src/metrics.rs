//! The process's metrics, kept and encoded by `prometheus-client` (OpenMetrics text at
//! `/metrics`): counters and histograms the front ends record into, and gauges `/metrics` sets
//! when it is scraped. Every label value is one of a few fixed words (never a uid, DN or
//! address), so no series grows with the directory or with what clients send.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `method` and `outcome` of a bind or login.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BindLabels {
    /// `simple` (a DN and a secret) or `sasl_external` (a client certificate).
    pub method: &'static str,
    /// `ok`, `failed` or `throttled`.
    pub outcome: &'static str,
}

/// One label: what happened.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// A fixed word per outcome.
    pub outcome: &'static str,
}

/// `principal` kind and `outcome` of a search.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SearchLabels {
    /// `anonymous`, `member`, `admin` or `service`.
    pub principal: &'static str,
    /// The LDAP result: `success`, `size_limit`, `time_limit`, `no_such_object`, `refused`…
    pub outcome: &'static str,
}

/// One label: the LDAP operation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// `bind`, `search`, `compare`, `extended`, `modify`…
    pub operation: &'static str,
}

/// One label: the listener.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// `ldap` or `ldaps`.
    pub listener: &'static str,
}

/// One label: where.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WhereLabels {
    /// A fixed word per place (`bind`, `portal`, `refresh`, `audit`…).
    pub place: &'static str,
}

/// One label: how the view changed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefreshLabels {
    /// `apply` (in place) or `rebuild` (whole).
    pub how: &'static str,
}

type Latency = Family<OperationLabels, Histogram, fn() -> Histogram>;
type Durations = Family<RefreshLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs … about 1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

fn refresh_histogram() -> Histogram {
    // 50 µs … about 52 s (a whole rebuild of a million members is tens of seconds).
    Histogram::new(exponential_buckets(0.000_05, 2.0, 21))
}

/// Gauges `/metrics` sets when scraped (what it reads from the view and the store).
#[derive(Default)]
pub struct ScrapeGauges {
    /// Entries in the served view.
    pub entries: Gauge,
    /// Store revision of the served view.
    pub revision: Gauge,
    /// 1 while the database answers.
    pub store_up: Gauge,
    /// Valid client certificates ending within 30 days.
    pub certificates_ending_soon: Gauge,
    /// Days until the first valid client certificate ends (absent without one).
    pub certificate_next_end_days: Gauge<f64, AtomicU64>,
    /// Days until the current CA ends.
    pub ca_end_days: Gauge<f64, AtomicU64>,
    /// Seconds until the served CRL's nextUpdate (negative: expired).
    pub crl_next_update_seconds: Gauge<f64, AtomicU64>,
    /// When the last backup was written (Unix seconds), from the audit trail.
    pub backup_last_success: Gauge,
}

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    /// Set at scrape time.
    pub scrape: ScrapeGauges,
    password_verifications: Counter,
    binds: Family<BindLabels, Counter>,
    web_logins: Family<OutcomeLabels, Counter>,
    activations: Family<OutcomeLabels, Counter>,
    searches: Family<SearchLabels, Counter>,
    latency: Latency,
    connections: Family<ListenerLabels, Gauge>,
    hash_queue: Gauge,
    hash_wait: Histogram,
    throttled: Family<WhereLabels, Counter>,
    database_errors: Family<WhereLabels, Counter>,
    view_changed_at: Gauge,
    refresh_seconds: Durations,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, registered under `piratenldap_`.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("piratenldap");
        let scrape = ScrapeGauges::default();
        let m = Metrics {
            password_verifications: Counter::default(),
            binds: Family::default(),
            web_logins: Family::default(),
            activations: Family::default(),
            searches: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            connections: Family::default(),
            hash_queue: Gauge::default(),
            hash_wait: latency_histogram(),
            throttled: Family::default(),
            database_errors: Family::default(),
            view_changed_at: Gauge::default(),
            refresh_seconds: Family::new_with_constructor(refresh_histogram),
            scrape,
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "password_verifications",
            "argon2 password verifications run",
            m.password_verifications.clone(),
        );
        r.register("binds", "LDAP binds by method and outcome", m.binds.clone());
        r.register(
            "web_logins",
            "Single sign-on and console logins by outcome",
            m.web_logins.clone(),
        );
        r.register(
            "portal_activations",
            "Activation portal submissions by outcome",
            m.activations.clone(),
        );
        r.register(
            "searches",
            "LDAP searches by principal kind and outcome",
            m.searches.clone(),
        );
        r.register(
            "operation_duration_seconds",
            "LDAP operation latency, from request to the last response",
            m.latency.clone(),
        );
        r.register(
            "open_connections",
            "Open LDAP connections by listener",
            m.connections.clone(),
        );
        r.register(
            "password_hash_queue",
            "Password hashes waiting for a worker of the hashing pool",
            m.hash_queue.clone(),
        );
        r.register(
            "password_hash_wait_seconds",
            "Time a password hash waited for a worker",
            m.hash_wait.clone(),
        );
        r.register(
            "throttle_refusals",
            "Attempts refused by the throttle without hashing",
            m.throttled.clone(),
        );
        r.register(
            "database_errors",
            "Database operations that failed",
            m.database_errors.clone(),
        );
        r.register(
            "directory_changed_timestamp_seconds",
            "When the served view last changed (Unix seconds)",
            m.view_changed_at.clone(),
        );
        r.register(
            "directory_refresh_seconds",
            "Time to bring the view up to the store's revision, in place or whole",
            m.refresh_seconds.clone(),
        );
        let s = &m.scrape;
        r.register(
            "directory_entries",
            "Entries in the served directory view",
            s.entries.clone(),
        );
        r.register(
            "directory_revision",
            "Store revision of the served view",
            s.revision.clone(),
        );
        r.register(
            "store_up",
            "Whether the database answers (0: degraded, serving the last view)",
            s.store_up.clone(),
        );
        r.register(
            "client_certificates_ending_soon",
            "Valid client certificates that end within 30 days",
            s.certificates_ending_soon.clone(),
        );
        r.register(
            "client_certificate_next_end_days",
            "Days until the first valid client certificate ends (-1: none)",
            s.certificate_next_end_days.clone(),
        );
        r.register(
            "ca_end_days",
            "Days until the CA certificate ends",
            s.ca_end_days.clone(),
        );
        r.register(
            "crl_next_update_seconds",
            "Seconds until the served CRL's nextUpdate (negative: expired)",
            s.crl_next_update_seconds.clone(),
        );
        r.register(
            "backup_last_success_timestamp_seconds",
            "When the last backup was written (Unix seconds; 0: none in the audit trail)",
            s.backup_last_success.clone(),
        );
        // Every fixed label value starts at zero, so that rates and alerts see a series from
        // the first scrape on (an absent series is not a zero in PromQL).
        for method in ["simple", "sasl_external"] {
            for outcome in ["ok", "failed", "throttled"] {
                let _ = m.binds.get_or_create(&BindLabels { method, outcome });
            }
        }
        for outcome in ["ok", "failed", "throttled"] {
            let _ = m.web_logins.get_or_create(&OutcomeLabels { outcome });
        }
        for outcome in ["activated", "bad_token", "invalid_input"] {
            let _ = m.activations.get_or_create(&OutcomeLabels { outcome });
        }
        for principal in ["anonymous", "member", "admin", "service"] {
            let _ = m.searches.get_or_create(&SearchLabels {
                principal,
                outcome: "success",
            });
        }
        for place in ["bind", "web_login", "portal"] {
            let _ = m.throttled.get_or_create(&WhereLabels { place });
        }
        for place in ["refresh", "metrics"] {
            let _ = m.database_errors.get_or_create(&WhereLabels { place });
        }
        for listener in ["ldap", "ldaps"] {
            let _ = m.connections.get_or_create(&ListenerLabels { listener });
        }
        for operation in ["bind", "search", "compare", "extended"] {
            let _ = m.latency.get_or_create(&OperationLabels { operation });
        }
        for how in ["apply", "rebuild"] {
            let _ = m.refresh_seconds.get_or_create(&RefreshLabels { how });
        }
        Metrics { registry, ..m }
    }

    /// One argon2 verification ran.
    pub fn password_verified(&self) {
        self.password_verifications.inc();
    }

    /// How many argon2 verifications ran.
    pub fn password_verifications(&self) -> u64 {
        self.password_verifications.get()
    }

    /// An LDAP bind ended.
    pub fn bind(&self, method: &'static str, outcome: &'static str) {
        self.binds.get_or_create(&BindLabels { method, outcome }).inc();
    }

    /// A web login (single sign-on, console) ended.
    pub fn web_login(&self, outcome: &'static str) {
        self.web_logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// An activation portal submission ended.
    pub fn activation(&self, outcome: &'static str) {
        self.activations.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// A search ended.
    pub fn search(&self, principal: &'static str, outcome: &'static str) {
        self.searches.get_or_create(&SearchLabels { principal, outcome }).inc();
    }

    /// An LDAP operation took `seconds`.
    pub fn operation(&self, operation: &'static str, seconds: f64) {
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }

    /// A connection opened on `listener`; it counts as open until the guard is dropped.
    pub fn connection(&self, listener: &'static str) -> ConnectionGuard {
        let gauge = self.connections.get_or_create(&ListenerLabels { listener }).clone();
        gauge.inc();
        ConnectionGuard(gauge)
    }

    /// A password hash joined the hashing pool's queue.
    pub fn hash_queued(&self) {
        self.hash_queue.inc();
    }

    /// A queued password hash got a worker after `waited` seconds.
    pub fn hash_started(&self, waited: f64) {
        self.hash_queue.dec();
        self.hash_wait.observe(waited);
    }

    /// The throttle refused an attempt at `place` (`bind`, `portal`).
    pub fn throttled(&self, place: &'static str) {
        self.throttled.get_or_create(&WhereLabels { place }).inc();
    }

    /// A database operation at `place` failed.
    pub fn database_error(&self, place: &'static str) {
        self.database_errors.get_or_create(&WhereLabels { place }).inc();
    }

    /// The view changed (`how`: `apply` or `rebuild`) in `seconds`, at Unix time `at`.
    pub fn view_refreshed(&self, how: &'static str, seconds: f64, at: i64) {
        self.refresh_seconds
            .get_or_create(&RefreshLabels { how })
            .observe(seconds);
        self.view_changed_at.set(at);
    }

    /// The OpenMetrics text of every metric (the scrape gauges as last set).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Counts a connection as open while it lives.
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_has_every_family_with_fixed_labels() {
        let m = Metrics::new();
        m.bind("simple", "ok");
        m.bind("simple", "failed");
        m.search("service", "success");
        m.operation("search", 0.0002);
        {
            let _open = m.connection("ldaps");
            assert!(
                m.render()
                    .contains("piratenldap_open_connections{listener=\"ldaps\"} 1")
            );
        }
        m.scrape.revision.set(42);
        let text = m.render();
        for line in [
            "piratenldap_binds_total{method=\"simple\",outcome=\"ok\"} 1",
            "piratenldap_binds_total{method=\"simple\",outcome=\"failed\"} 1",
            "piratenldap_searches_total{principal=\"service\",outcome=\"success\"} 1",
            "piratenldap_open_connections{listener=\"ldaps\"} 0",
            "piratenldap_directory_revision 42",
            "# TYPE piratenldap_operation_duration_seconds histogram",
            "# EOF",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
