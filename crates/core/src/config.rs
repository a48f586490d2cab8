//! The configuration file (DESIGN.md "Config"): a raw struct that mirrors the TOML and rejects
//! unknown keys, then a validated [`Config`] used everywhere else. No file I/O here: the caller
//! reads the text and says which directory relative paths are relative to.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::dn::Dn;
use crate::ids::Name;
use crate::limits::{Limits, RawLimits};
use crate::password::HashParams;

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, an unknown key, or a value of the wrong type; the message names the key.
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    /// A key has a value of the right type that is still not acceptable.
    #[error("invalid value for `{key}`: {why}")]
    Invalid {
        /// The dotted key, e.g. `ldap.listen`.
        key: &'static str,
        /// What is wrong and what would be accepted.
        why: String,
    },
}

fn invalid(key: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, why: why.into() }
}

/// When a simple bind with a password is allowed on a connection without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaintextBind {
    /// Never: such a bind gets confidentialityRequired.
    Never,
    /// Only from loopback addresses (the default).
    Loopback,
    /// Always (not recommended).
    Always,
}

/// What an anonymous client may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anonymous {
    /// The root DSE and the subschema entry.
    Rootdse,
    /// Nothing.
    Off,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    directory: RawDirectory,
    database: RawDatabase,
    ldap: RawLdap,
    tls: RawTls,
    #[serde(default)]
    http: Option<RawHttp>,
    #[serde(default)]
    passwords: Option<RawPasswords>,
    #[serde(default)]
    tokens: Option<RawTokens>,
    #[serde(default)]
    ca: Option<RawCa>,
    #[serde(default)]
    secrets: Option<RawSecrets>,
    #[serde(default)]
    throttle: Option<RawThrottle>,
    #[serde(default)]
    audit: Option<RawAudit>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    oidc: Option<RawOidc>,
    #[serde(default)]
    privacy: Option<RawPrivacy>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPrivacy {
    erase_after_days: Option<u32>,
    pseudonym_key_file: Option<PathBuf>,
}

/// The default of `[privacy] erase_after_days` (DESIGN.md's example).
pub const DEFAULT_ERASE_AFTER_DAYS: u32 = 90;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOidc {
    session_hours: Option<u32>,
    keys_dir: Option<PathBuf>,
    key_overlap_days: Option<u32>,
    access_token_minutes: Option<u32>,
}

/// Single sign-on (OpenID Connect); the issuer is `http.public_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// How long a login lasts (1–720 hours).
    pub session_hours: u32,
    /// Where the signing keys live (mode 0700; each key file 0600).
    pub keys_dir: PathBuf,
    /// How long a replaced signing key's public part stays in the JWKS (1–90 days).
    pub key_overlap_days: u32,
    /// Lifetime of access tokens (1–60 minutes).
    pub access_token_minutes: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    key_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawThrottle {
    account_burst: Option<u32>,
    account_per_minute: Option<u32>,
    address_burst: Option<u32>,
    address_per_minute: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    retention_days: Option<u32>,
}

/// Limits on failed binds: a token bucket per account and one per source address. Each failure
/// takes a token; tokens come back at the given rate; without a token a bind is refused with
/// invalidCredentials before any password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures an account may have in a row before it is slowed down.
    pub account_burst: u32,
    /// Failures per minute an account may have after that.
    pub account_per_minute: u32,
    /// Failures a source address may have in a row.
    pub address_burst: u32,
    /// Failures per minute a source address may have after that.
    pub address_per_minute: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    base_dn: String,
    organisation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLdap {
    listen: String,
    ldaps_listen: Option<String>,
    plaintext_bind: Option<PlaintextBind>,
    anonymous: Option<Anonymous>,
    max_connections: Option<usize>,
    size_limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: String,
    public_url: String,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    tls: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPasswords {
    memory_kib: Option<u32>,
    iterations: Option<u32>,
    parallelism: Option<u32>,
    workers: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokens {
    lifetime_days: Option<u32>,
    key_file: Option<PathBuf>,
    attempts_per_minute: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCa {
    dir: Option<PathBuf>,
    client_cert_days: Option<u32>,
    crl_days: Option<u32>,
    crl_minutes: Option<u32>,
    renew_approval_days: Option<u32>,
    roles: Option<std::collections::BTreeMap<String, String>>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory's base DN.
    pub base_dn: Dn,
    /// The organisation's name (the `o` of the base entry and of certificates).
    pub organisation: String,
    /// Database URL, relative SQLite paths already resolved.
    pub database_url: String,
    /// LDAP listener.
    pub ldap: LdapConfig,
    /// Server certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// Server key (PEM).
    pub tls_key: PathBuf,
    /// HTTP listener.
    pub http_listen: SocketAddr,
    /// Public URL of the portal.
    pub public_url: String,
    /// Reverse proxies whose `X-Forwarded-For` names the client (the portal's rate limit).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The HTTP listener speaks HTTPS with the server certificate (`[tls]`).
    pub http_tls: bool,
    /// argon2id parameters.
    pub passwords: HashParams,
    /// Number of threads that may hash passwords at once.
    pub password_workers: usize,
    /// Lifetime of activation tokens.
    pub token_lifetime_days: u32,
    /// The HMAC key file for activation tokens (mode 0600, made by init).
    pub token_key_file: PathBuf,
    /// Token attempts per minute and address on the portal.
    pub token_attempts_per_minute: u32,
    /// CA directory.
    pub ca_dir: PathBuf,
    /// Validity of client certificates.
    pub client_cert_days: u32,
    /// Minutes from a CRL's thisUpdate to its nextUpdate: `[ca] crl_minutes` when set (for
    /// tests), else `crl_days` (default 7) in minutes. The server re-signs at half of it.
    pub crl_minutes: u32,
    /// `cert renew` of a certificate whose request was approved at most this many days ago is
    /// approved at once on the strength of that approval (`[ca] renew_approval_days`, default
    /// 30; 0: every renewal is approved anew).
    pub renew_approval_days: u32,
    /// Certificate roles and the manual group each requires (`[ca.roles]`).
    pub roles: std::collections::BTreeMap<String, Name>,
    /// The key file sealing secrets in the database (TOTP secrets).
    pub secret_key_file: PathBuf,
    /// Failed-bind throttling.
    pub throttle: ThrottleConfig,
    /// Days audit events are kept.
    pub audit_retention_days: u32,
    /// Single sign-on.
    pub oidc: OidcConfig,
    /// Days a member's status must have been `left` before the server erases them (0: never
    /// automatically; `member erase` still does at once).
    pub erase_after_days: u32,
    /// The key of `--pseudonymous` services' pseudonyms (mode 0600, made by init; every node
    /// needs the same file).
    pub pseudonym_key_file: PathBuf,
    /// What one client may ask of the server.
    pub limits: Limits,
}

/// The LDAP part of the configuration.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// Plain LDAP (with StartTLS).
    pub listen: SocketAddr,
    /// LDAPS, if configured.
    pub ldaps_listen: Option<SocketAddr>,
    /// When password binds without TLS are allowed.
    pub plaintext_bind: PlaintextBind,
    /// What anonymous clients may read.
    pub anonymous: Anonymous,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Largest number of entries one search returns, whatever the client asks.
    pub size_limit: usize,
}

fn socket(key: &'static str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse()
        .map_err(|_| invalid(key, format!("{s:?} is not an address:port such as 127.0.0.1:3389")))
}

fn resolve(base: &Path, p: PathBuf) -> PathBuf {
    if p.is_absolute() { p } else { base.join(p) }
}

impl Config {
    /// Parses and validates TOML text; relative paths are taken relative to `base_dir`.
    pub fn parse(text: &str, base_dir: &Path, default_workers: usize) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        let base_dn = Dn::parse(&raw.directory.base_dn).map_err(|e| invalid("directory.base_dn", e.to_string()))?;
        if base_dn.is_root() {
            return Err(invalid("directory.base_dn", "must not be empty"));
        }
        if raw.directory.organisation.trim().is_empty() {
            return Err(invalid("directory.organisation", "must not be empty"));
        }
        let database_url = resolve_database_url(&raw.database.url, base_dir)?;
        let ldap = LdapConfig {
            listen: socket("ldap.listen", &raw.ldap.listen)?,
            ldaps_listen: raw
                .ldap
                .ldaps_listen
                .as_deref()
                .map(|s| socket("ldap.ldaps_listen", s))
                .transpose()?,
            plaintext_bind: raw.ldap.plaintext_bind.unwrap_or(PlaintextBind::Loopback),
            anonymous: raw.ldap.anonymous.unwrap_or(Anonymous::Rootdse),
            max_connections: raw.ldap.max_connections.unwrap_or(8192),
            size_limit: raw.ldap.size_limit.unwrap_or(100_000),
        };
        if ldap.max_connections == 0 {
            return Err(invalid("ldap.max_connections", "must be at least 1"));
        }
        let (http_listen, public_url, trusted_proxies, http_tls) = match raw.http {
            Some(h) => {
                let proxies = h
                    .trusted_proxies
                    .iter()
                    .map(|p| {
                        p.parse::<std::net::IpAddr>()
                            .map_err(|_| invalid("http.trusted_proxies", format!("{p:?} is not an IP address")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if h.tls && !h.public_url.starts_with("https://") {
                    return Err(invalid("http.public_url", "must be https://… when http.tls = true"));
                }
                (socket("http.listen", &h.listen)?, h.public_url, proxies, h.tls)
            }
            None => (
                socket("http.listen", "127.0.0.1:8080")?,
                "http://127.0.0.1:8080".to_string(),
                Vec::new(),
                false,
            ),
        };
        let pw = raw.passwords.unwrap_or(RawPasswords {
            memory_kib: None,
            iterations: None,
            parallelism: None,
            workers: None,
        });
        let passwords = HashParams {
            memory_kib: pw.memory_kib.unwrap_or(19456),
            iterations: pw.iterations.unwrap_or(2),
            parallelism: pw.parallelism.unwrap_or(1),
        };
        passwords.validate().map_err(|why| invalid("passwords", why))?;
        let password_workers = pw.workers.unwrap_or(default_workers).max(1);
        let tokens = raw.tokens.unwrap_or(RawTokens {
            lifetime_days: None,
            key_file: None,
            attempts_per_minute: None,
        });
        let ca = raw.ca.unwrap_or(RawCa {
            dir: None,
            client_cert_days: None,
            crl_days: None,
            crl_minutes: None,
            renew_approval_days: None,
            roles: None,
        });
        let roles = match ca.roles {
            None => [(
                "membership-admin".to_string(),
                Name::parse("membership-admins").map_err(|e| invalid("ca.roles", e.to_string()))?,
            )]
            .into(),
            Some(map) => map
                .into_iter()
                .map(|(role, group)| {
                    let group = Name::parse(&group).map_err(|e| invalid("ca.roles", format!("role {role}: {e}")))?;
                    Name::parse(&role).map_err(|e| invalid("ca.roles", format!("role name: {e}")))?;
                    Ok((role, group))
                })
                .collect::<Result<_, ConfigError>>()?,
        };
        let t = raw.throttle.unwrap_or_default();
        let throttle = ThrottleConfig {
            account_burst: t.account_burst.unwrap_or(5).max(1),
            account_per_minute: t.account_per_minute.unwrap_or(5).max(1),
            address_burst: t.address_burst.unwrap_or(100).max(1),
            address_per_minute: t.address_per_minute.unwrap_or(60).max(1),
        };
        let limits = raw
            .limits
            .unwrap_or_default()
            .validate()
            .map_err(|(key, why)| invalid(key, why))?;
        let privacy = raw.privacy.unwrap_or_default();
        let o = raw.oidc.unwrap_or_default();
        let oidc = OidcConfig {
            session_hours: within(o.session_hours.unwrap_or(12), 1, 720, "oidc.session_hours")?,
            keys_dir: resolve(base_dir, o.keys_dir.unwrap_or_else(|| PathBuf::from("data/oidc"))),
            key_overlap_days: within(o.key_overlap_days.unwrap_or(7), 1, 90, "oidc.key_overlap_days")?,
            access_token_minutes: within(o.access_token_minutes.unwrap_or(10), 1, 60, "oidc.access_token_minutes")?,
        };
        let token_lifetime_days = tokens.lifetime_days.unwrap_or(120);
        if token_lifetime_days == 0 {
            return Err(invalid("tokens.lifetime_days", "must be at least 1"));
        }
        Ok(Config {
            limits,
            base_dn,
            organisation: raw.directory.organisation,
            database_url,
            ldap,
            tls_cert: resolve(base_dir, raw.tls.cert),
            tls_key: resolve(base_dir, raw.tls.key),
            http_listen,
            public_url,
            trusted_proxies,
            http_tls,
            passwords,
            password_workers,
            token_lifetime_days,
            token_key_file: resolve(
                base_dir,
                tokens.key_file.unwrap_or_else(|| PathBuf::from("data/token.key")),
            ),
            token_attempts_per_minute: tokens.attempts_per_minute.unwrap_or(10).max(1),
            ca_dir: resolve(base_dir, ca.dir.unwrap_or_else(|| PathBuf::from("data/ca"))),
            client_cert_days: ca.client_cert_days.unwrap_or(365),
            crl_minutes: match ca.crl_minutes {
                Some(minutes) => within(minutes, 1, 3650 * 24 * 60, "ca.crl_minutes")?,
                None => within(ca.crl_days.unwrap_or(7), 1, 3650, "ca.crl_days")? * 24 * 60,
            },
            renew_approval_days: match ca.renew_approval_days {
                Some(days) => within(days, 0, 365, "ca.renew_approval_days")?,
                None => 30,
            },
            roles,
            secret_key_file: resolve(
                base_dir,
                raw.secrets
                    .unwrap_or_default()
                    .key_file
                    .unwrap_or_else(|| PathBuf::from("data/secret.key")),
            ),
            throttle,
            audit_retention_days: raw.audit.unwrap_or_default().retention_days.unwrap_or(400).max(1),
            oidc,
            erase_after_days: within(
                privacy.erase_after_days.unwrap_or(DEFAULT_ERASE_AFTER_DAYS),
                0,
                3650,
                "privacy.erase_after_days",
            )?,
            pseudonym_key_file: resolve(
                base_dir,
                privacy
                    .pseudonym_key_file
                    .unwrap_or_else(|| PathBuf::from("data/pseudonym.key")),
            ),
        })
    }
}

/// `value` if it lies in `low..=high`, else an error naming `key`.
fn within(value: u32, low: u32, high: u32, key: &'static str) -> Result<u32, ConfigError> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(key, format!("{value} is outside {low}..={high}")))
    }
}

fn resolve_database_url(url: &str, base_dir: &Path) -> Result<String, ConfigError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        if path.is_empty() {
            return Err(invalid("database.url", "sqlite:// needs a file path"));
        }
        let full = resolve(base_dir, PathBuf::from(path));
        let mut out = format!("sqlite://{}", full.display());
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        Ok(out)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_string())
    } else {
        Err(invalid(
            "database.url",
            format!("{url:?}: expected sqlite://PATH or postgres://…"),
        ))
    }
}

/// Settings `init` writes into a new configuration file.
#[derive(Debug, Clone)]
pub struct InitSettings {
    /// Base DN.
    pub base_dn: String,
    /// Organisation name.
    pub organisation: String,
    /// Data directory, as it should appear in the file (relative to the config file).
    pub data_dir: String,
    /// LDAP listener.
    pub ldap_listen: String,
    /// LDAPS listener.
    pub ldaps_listen: String,
    /// HTTP listener.
    pub http_listen: String,
    /// Database URL; `None`: an SQLite file in the data directory.
    pub database_url: Option<String>,
    /// An existing server certificate chain and key (absolute paths), referenced by `[tls]`
    /// instead of the pair `init` makes in the data directory.
    pub tls: Option<(String, String)>,
}

/// Renders the configuration file `init` writes.
pub fn render_initial(s: &InitSettings) -> String {
    let q = |v: &str| toml::Value::String(v.to_string()).to_string();
    format!(
        r#"# piratenldap configuration (see DESIGN.md "Config"). Relative paths are relative to this file.
[directory]
base_dn = {base_dn}
organisation = {org}

[database]
url = {db}

[ldap]
listen = {ldap}
ldaps_listen = {ldaps}
plaintext_bind = "loopback"     # never | loopback | always
anonymous = "rootdse"           # rootdse | off

[tls]
cert = {cert}
key = {key}

[http]
listen = {http}
public_url = {public}
trusted_proxies = []            # e.g. ["127.0.0.1"]: the TLS proxy in front; its X-Forwarded-For names the client, its X-SSL-Client-Cert the console's client certificate
tls = false                     # true: HTTPS here with [tls] cert and key (public_url then https://); else a TLS proxy in front

[passwords]                     # argon2id; OWASP minimum by default
memory_kib = 19456
iterations = 2
parallelism = 1

[tokens]
lifetime_days = 120
key_file = {token_key}         # HMAC key: tokens are stored only as HMACs under it; mode 0600
attempts_per_minute = 10        # token attempts per address on the activation portal

[ca]
dir = {ca}
client_cert_days = 365
crl_days = 7                    # CRL lifetime (nextUpdate); the server re-signs it at half of that, and at every revocation
# crl_minutes = 2               # instead of crl_days, for tests: a lifetime in minutes
renew_approval_days = 30        # `cert renew` within this many days of the approval needs no second approval

[ca.roles]                      # certificate role = group its holder must be in
membership-admin = "membership-admins"

[secrets]
key_file = {secret}           # seals TOTP secrets in the database; mode 0600, back it up

[throttle]                      # failed binds: burst, then this many per minute
account_burst = 5
account_per_minute = 5
address_burst = 100             # one address may be a web app logging in many users
address_per_minute = 60

[audit]
retention_days = 400

[oidc]                          # single sign-on; the issuer is http.public_url
session_hours = 12              # a login lasts this long (or until logout, a lock, a suspension)
keys_dir = {oidc}               # ES256 signing keys; mode 0700, each key 0600; back it up
key_overlap_days = 7            # `oidc rotate-key` keeps the old public key in the JWKS this long
access_token_minutes = 10

[privacy]
erase_after_days = 90           # members `left` this long are erased by the server (0: only by `member erase`)
pseudonym_key_file = {pseudonym} # keys the pseudonyms of --pseudonymous services; mode 0600, the same on every node

[limits]                        # what one client may ask; docs/security.md compares with OpenLDAP
filter_elements = 512           # components of one search filter
filter_depth = 16               # nesting of AND, OR and NOT
search_seconds = 10             # server-side time limit of one search
connections_per_address = 256   # connections one source address may hold (total: ldap.max_connections)
idle_seconds = 600              # a bound connection without a request is closed after this
unbound_idle_seconds = 30       # the same before a bind
handshake_seconds = 10          # LDAPS and StartTLS handshakes
cursor_seconds = 300            # a paged search not continued for this long is dropped
write_seconds = 30              # a client that reads nothing for this long is closed
cursor_memory_kib = 262144      # memory of all paged searches open on the server (8 per connection)
page_entries = 1000             # entries per page at most, whatever the client asks
"#,
        base_dn = q(&s.base_dn),
        org = q(&s.organisation),
        db = q(&s
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/piratenldap.db", s.data_dir))),
        ldap = q(&s.ldap_listen),
        ldaps = q(&s.ldaps_listen),
        cert = q(&s
            .tls
            .as_ref()
            .map_or_else(|| format!("{}/tls/server.pem", s.data_dir), |t| t.0.clone())),
        key = q(&s
            .tls
            .as_ref()
            .map_or_else(|| format!("{}/tls/server.key", s.data_dir), |t| t.1.clone())),
        http = q(&s.http_listen),
        public = q(&format!("http://{}", s.http_listen)),
        ca = q(&format!("{}/ca", s.data_dir)),
        secret = q(&format!("{}/secret.key", s.data_dir)),
        token_key = q(&format!("{}/token.key", s.data_dir)),
        oidc = q(&format!("{}/oidc", s.data_dir)),
        pseudonym = q(&format!("{}/pseudonym.key", s.data_dir)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[directory]
base_dn = "dc=example,dc=org"
organisation = "Example Party"
[database]
url = "sqlite://data/x.db"
[ldap]
listen = "127.0.0.1:3389"
[tls]
cert = "data/tls/server.pem"
key = "data/tls/server.key"
"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/p"), 2).map_err(|e| e.to_string())
    }

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.database_url, "sqlite:///etc/p/data/x.db");
        assert_eq!(c.tls_cert, PathBuf::from("/etc/p/data/tls/server.pem"));
        assert_eq!(c.ldap.plaintext_bind, PlaintextBind::Loopback);
        assert_eq!(c.passwords.memory_kib, 19456);
        assert_eq!(c.password_workers, 2);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = parse(&MINIMAL.replace("[ldap]\n", "[ldap]\nlisten_port = 1\n")).unwrap_err();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn invalid_values_are_named() {
        let cases = [
            (MINIMAL.replace("127.0.0.1:3389", "localhost"), "ldap.listen"),
            (MINIMAL.replace("dc=example,dc=org", "nonsense"), "directory.base_dn"),
            (MINIMAL.replace("sqlite://data/x.db", "mysql://x"), "database.url"),
            (
                MINIMAL.replace("[ldap]\n", "[ldap]\nplaintext_bind = \"sometimes\"\n"),
                "sometimes",
            ),
            (format!("{MINIMAL}[passwords]\nmemory_kib = 1\n"), "passwords"),
            (
                format!("{MINIMAL}[privacy]\nerase_after_days = 4000\n"),
                "privacy.erase_after_days",
            ),
            (format!("{MINIMAL}[privacy]\nerase_after = 1\n"), "erase_after"),
        ];
        for (text, needle) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(needle), "expected {needle:?} in {err}");
        }
    }

    #[test]
    fn initial_config_parses() {
        let text = render_initial(&InitSettings {
            base_dn: "dc=example,dc=org".into(),
            organisation: "Beispiel \"Partei\"".into(),
            data_dir: "data".into(),
            ldap_listen: "127.0.0.1:3389".into(),
            ldaps_listen: "127.0.0.1:6636".into(),
            http_listen: "127.0.0.1:8080".into(),
            database_url: None,
            tls: None,
        });
        let c = parse(&text).unwrap();
        assert_eq!(c.organisation, "Beispiel \"Partei\"");
        assert!(c.ldap.ldaps_listen.is_some());
        assert_eq!(c.erase_after_days, DEFAULT_ERASE_AFTER_DAYS);
    }

    #[test]
    fn erasure_defaults_to_90_days_and_0_turns_it_off() {
        assert_eq!(parse(MINIMAL).unwrap().erase_after_days, 90);
        let off = parse(&format!("{MINIMAL}[privacy]\nerase_after_days = 0\n")).unwrap();
        assert_eq!(off.erase_after_days, 0);
    }
}
