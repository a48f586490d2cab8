//! [`Authenticator`]: the credential checks every front end calls — a password (or password
//! and TOTP code, or app password) for a DN, a client certificate, and a member's change of
//! their own password. Each asks the throttle before any argon2 work, counts failures on it,
//! and writes one audit record per outcome (never a password or code).

use std::net::IpAddr;
use std::sync::Arc;

use piratenldap_core::Dn;
use piratenldap_core::ids::Uid;
use piratenldap_core::metrics::Metrics;
use piratenldap_core::password::{Verification, generate_password};
use piratenldap_core::sealed::SealKey;
use piratenldap_directory::view::{CertBinding, Credential, Owner};
use piratenldap_directory::{Principal, View};
use piratenldap_store::Store;
use time::OffsetDateTime;

use crate::audit::AuditSink;
use crate::hash_pool::HashPool;
use crate::password_rule::WeakPassword;
use crate::reads::RealNameReads;
use crate::second_factor;
use crate::throttle::Throttle;

/// Longest bind DN written into the audit trail; longer ones are cut.
const AUDIT_DN_CHARS: usize = 256;

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// The account's or service's password (no TOTP on the account).
    Password,
    /// The password immediately followed by a TOTP code.
    PasswordTotp,
    /// An app password with this label: authenticates binds and nothing else.
    AppPassword(String),
    /// A client certificate (SASL EXTERNAL) with this SHA-256 fingerprint.
    Certificate(String),
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Password => f.write_str("password"),
            Method::PasswordTotp => f.write_str("password+totp"),
            Method::AppPassword(label) => write!(f, "app password {label:?}"),
            Method::Certificate(fp) => write!(f, "certificate {}", fp.get(..16).unwrap_or(fp)),
        }
    }
}

/// A successful authentication.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who the session now is.
    pub principal: Principal,
    /// How it proved it.
    pub method: Method,
}

/// A successful change of one's own password.
#[derive(Debug)]
pub struct PasswordChange {
    /// The password the server generated, when none was given.
    pub generated: Option<String>,
}

/// Why a member's change of their own password was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeRefused {
    /// The session was opened with an app password, which authenticates binds only.
    #[error("an app password authenticates binds only; bind with your password to change it")]
    AppPasswordSession,
    /// The bound entry is no account (a service, or gone since the bind).
    #[error("this entry has no password to change")]
    NotAnAccount,
    /// The current password was not given.
    #[error("give your current password (with the TOTP code right after it if you use one)")]
    OldPasswordMissing,
    /// The current password (and code) did not verify, or too many attempts failed.
    #[error("the current password is wrong")]
    WrongOldPassword,
    /// Three changes in a row, then one a minute.
    #[error("too many password changes; try again in a minute")]
    TooMany,
    /// The new password breaks the password rule.
    #[error(transparent)]
    Weak(#[from] WeakPassword),
    /// Hashing or storing failed (logged).
    #[error("internal error; the password was not changed")]
    Internal,
}

/// Where a login comes from: LDAP binds accept app passwords, web logins do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Ldap,
    Web,
}

/// Why a secret did not authenticate (for the audit trail only; clients learn nothing).
pub type Refusal = &'static str;

/// The audit subject for a certificate: its account's name, or the method when unknown.
fn certificate_subject(view: &View, fingerprint: &str, method: &Method) -> String {
    view.certificate(fingerprint)
        .and_then(|b| view.credential(&b.dn))
        .map_or_else(|| method.to_string(), |c| c.owner.name().to_string())
}

/// The certificate with `fingerprint` and its account's credential, if we issued it, it is
/// not revoked, valid at `now`, and the account is not locked.
fn valid_certificate<'v>(
    view: &'v View,
    fingerprint: &str,
    now: OffsetDateTime,
) -> Result<(&'v CertBinding, &'v Credential), Refusal> {
    let cert = view
        .certificate(fingerprint)
        .ok_or("certificate not issued by this directory")?;
    if cert.revoked {
        return Err("certificate revoked");
    }
    if now < cert.not_before || now > cert.not_after {
        return Err("certificate expired or not yet valid");
    }
    let cred = view.credential(&cert.dn).ok_or("account gone")?;
    if cred.locked {
        return Err("account locked");
    }
    Ok((cert, cred))
}

/// The authentication core one server shares between its front ends.
pub struct Authenticator {
    store: Arc<dyn Store>,
    hasher: HashPool,
    throttle: Throttle,
    audit: AuditSink,
    seal_key: Option<Arc<SealKey>>,
    metrics: Arc<Metrics>,
    /// TOTP steps accepted on this node, for when the store cannot be reached.
    steps: LocalSteps,
    /// Real names read by services, counted for the audit trail.
    reads: RealNameReads,
}

/// TOTP steps this node accepted last, per account: while the database is down a code is
/// accepted once per node (the store's check holds across nodes again when it is back).
#[derive(Default)]
struct LocalSteps(std::sync::Mutex<std::collections::HashMap<Uid, i64>>);

/// Accounts whose last step a node remembers; past this the memory is cleared.
const MAX_LOCAL_STEPS: usize = 100_000;

impl LocalSteps {
    /// Accepts `step` if it is later than the last one accepted here.
    fn accept(&self, uid: &Uid, step: i64) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(uid).is_some_and(|last| *last >= step) {
            return false;
        }
        if map.len() >= MAX_LOCAL_STEPS {
            map.clear();
        }
        map.insert(uid.clone(), step);
        true
    }
}

impl Authenticator {
    /// The core over `store`; `seal_key` opens TOTP secrets (`None`: TOTP binds fail).
    pub fn new(
        store: Arc<dyn Store>,
        hasher: HashPool,
        throttle: Throttle,
        audit: AuditSink,
        seal_key: Option<Arc<SealKey>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Authenticator {
            store,
            hasher,
            throttle,
            audit,
            seal_key,
            metrics,
            steps: LocalSteps::default(),
            reads: RealNameReads::default(),
        }
    }

    /// Counts `entries` entries with real names read by `service` (LDAP results, OpenID
    /// Connect claims) for the audit trail.
    pub fn count_real_name_reads(&self, service: &str, entries: u64, now: OffsetDateTime) {
        self.reads.count(service, entries, now);
    }

    /// Writes the real-name read counts so far to the audit trail (`serve` calls it every
    /// minute and at shutdown).
    pub async fn flush_real_name_reads(&self, now: OffsetDateTime) {
        self.reads.flush(&self.audit, now).await;
    }

    /// A simple bind as `dn` with `secret`: the password, the password immediately followed by
    /// the TOTP code when the account has TOTP, or an app password. `None` for every failure,
    /// which the caller answers with one message.
    pub async fn bind(
        &self,
        view: &View,
        dn: &Dn,
        secret: &str,
        from: IpAddr,
        now: OffsetDateTime,
    ) -> Option<Authenticated> {
        self.authenticate(view, dn, secret, from, now, Channel::Ldap).await
    }

    /// A single sign-on login of the account at `dn` with its password and, when the account
    /// has TOTP, the code (checked exactly as [`Authenticator::bind`] checks password + code,
    /// on the same throttle). Never an app password, never a service.
    pub async fn web_login(
        &self,
        view: &View,
        dn: &Dn,
        password: &str,
        code: &str,
        from: IpAddr,
        now: OffsetDateTime,
    ) -> Option<Authenticated> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let secret = format!("{password}{code}");
        self.authenticate(view, dn, &secret, from, now, Channel::Web).await
    }

    async fn authenticate(
        &self,
        view: &View,
        dn: &Dn,
        secret: &str,
        from: IpAddr,
        now: OffsetDateTime,
        channel: Channel,
    ) -> Option<Authenticated> {
        let cred = view.credential(dn);
        let subject = subject_of(cred, dn);
        // A pseudonymous entry's DN shares its member's bucket: no extra guesses through it.
        let account = view.account_dn(dn);
        let admission = self.throttle.check(account, from, now).await;
        if !admission.allowed {
            self.metrics
                .throttled(if channel == Channel::Web { "web_login" } else { "bind" });
            self.record_failure(
                now,
                &subject,
                format!("from {from}: throttled (too many failures)"),
                channel,
                ("simple", "throttled"),
            )
            .await;
            return None;
        }
        let verdict = match cred {
            None => {
                self.hasher.verify_dummy(secret).await;
                Err("unknown DN")
            }
            Some(cred) if cred.locked => {
                // Verify anyway: a locked account answers in the time any other does.
                self.hasher.verify(secret, &cred.hash).await;
                Err("account locked or member not active")
            }
            Some(cred) if channel == Channel::Web && !matches!(cred.owner, Owner::Account(_)) => {
                self.hasher.verify_dummy(secret).await;
                Err("services do not log in on the web")
            }
            Some(cred) => self.check_secret(cred, secret, channel == Channel::Ldap, now).await,
        };
        match (verdict, cred) {
            (Ok(method), Some(cred)) => {
                // An app password proves nothing about the main password: it must not refill
                // the bucket that guards it (else guesses and app-password binds alternate).
                self.throttle.remember(account, from);
                if !matches!(method, Method::AppPassword(_)) {
                    self.throttle.succeeded(account, admission, now).await;
                }
                self.record_success(now, &subject, from, &method, channel).await;
                // An app password skips the second factor, so it never carries admin rights.
                let principal = match (&method, view.bound_as(dn, cred)) {
                    (Method::AppPassword(_), Principal::Admin { dn }) => Principal::Member { dn },
                    (_, principal) => principal,
                };
                Some(Authenticated { principal, method })
            }
            (verdict, _) => {
                let why = verdict.err().unwrap_or("refused");
                self.throttle.failed(account, from, now).await;
                self.record_failure(
                    now,
                    &subject,
                    format!("from {from}: {why}"),
                    channel,
                    ("simple", "failed"),
                )
                .await;
                None
            }
        }
    }

    /// A SASL EXTERNAL bind with the TLS client certificate whose SHA-256 fingerprint is
    /// `fingerprint`: issued by us (recorded at `cert issue`), not revoked, valid at `now`, its
    /// account not locked, and `authzid` (if any) naming that account.
    pub async fn certificate(
        &self,
        view: &View,
        fingerprint: &str,
        authzid: &[u8],
        from: IpAddr,
        now: OffsetDateTime,
    ) -> Option<Authenticated> {
        let method = Method::Certificate(fingerprint.to_string());
        let subject = certificate_subject(view, fingerprint, &method);
        let verdict = valid_certificate(view, fingerprint, now).and_then(|(cert, cred)| {
            // An explicit authorization identity must name the certificate's own account.
            let authzid = String::from_utf8_lossy(authzid);
            let wanted = authzid.strip_prefix("dn:").unwrap_or(&authzid);
            if !wanted.is_empty() && Dn::parse(wanted).map(|d| d != cert.dn).unwrap_or(true) {
                return Err("authorization identity differs from the certificate's account");
            }
            Ok(cred.principal.clone())
        });
        match verdict {
            Ok(principal) => {
                self.record_success(now, &subject, from, &method, Channel::Ldap).await;
                Some(Authenticated { principal, method })
            }
            Err(why) => {
                self.record_failure(
                    now,
                    &subject,
                    format!("from {from} by {method}: {why}"),
                    Channel::Ldap,
                    ("sasl_external", "failed"),
                )
                .await;
                None
            }
        }
    }

    /// The hashing pool (for callers that hash a generated secret, e.g. service registration).
    pub fn hash_pool(&self) -> &HashPool {
        &self.hasher
    }

    /// The console's second proof for membership-admin pages: the client certificate with
    /// SHA-256 `fingerprint` (presented to our HTTPS listener or vouched for by a trusted
    /// proxy) is ours, unrevoked, valid at `now`, and held by `holder`, the logged-in admin,
    /// whose account is not locked. A failure is audited (`console.certificate.fail`); a
    /// success is not (it is checked on every page).
    pub async fn console_certificate(
        &self,
        view: &View,
        fingerprint: &str,
        holder: &Dn,
        from: IpAddr,
        now: OffsetDateTime,
    ) -> Result<(), Refusal> {
        let method = Method::Certificate(fingerprint.to_string());
        let verdict = valid_certificate(view, fingerprint, now).and_then(|(cert, _)| {
            if cert.dn == *holder {
                Ok(())
            } else {
                Err("the certificate belongs to another account")
            }
        });
        if let Err(why) = verdict {
            let subject = certificate_subject(view, fingerprint, &method);
            self.audit
                .record(
                    now,
                    "anonymous",
                    "console.certificate.fail",
                    &subject,
                    format!("from {from} by {method}: {why}"),
                )
                .await;
        }
        verdict
    }

    /// A member, bound as `dn` by `method`, changes their own password. The current password
    /// is checked as in a bind (with the TOTP code when the account has TOTP; app passwords do
    /// not count) on the same throttle; the new one must pass the password rule; without one,
    /// a password is generated and returned.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_own_password(
        &self,
        view: &View,
        dn: &Dn,
        method: &Method,
        old: Option<&str>,
        new: Option<&str>,
        from: IpAddr,
        now: OffsetDateTime,
    ) -> Result<PasswordChange, PasswordChangeRefused> {
        if matches!(method, Method::AppPassword(_)) {
            return Err(PasswordChangeRefused::AppPasswordSession);
        }
        let cred = view.credential(dn).ok_or(PasswordChangeRefused::NotAnAccount)?;
        let Owner::Account(uid) = &cred.owner else {
            return Err(PasswordChangeRefused::NotAnAccount);
        };
        let old = old.ok_or(PasswordChangeRefused::OldPasswordMissing)?;
        let subject = uid.as_str();
        let account = view.account_dn(dn);
        // The new password first: a refused one must not use up the TOTP code in `old`.
        if let Some(pw) = new {
            self.hasher.check_strength(pw, &[subject]).await?;
        }
        let admission = self.throttle.check(account, from, now).await;
        let verdict = if !admission.allowed {
            Err("throttled (too many failures)")
        } else if cred.locked {
            Err("account locked or member not active")
        } else {
            self.check_secret(cred, old, false, now).await
        };
        if let Err(why) = verdict {
            if admission.allowed {
                self.throttle.failed(account, from, now).await;
            }
            self.audit
                .record(now, subject, "password.fail", subject, format!("from {from}: {why}"))
                .await;
            return Err(PasswordChangeRefused::WrongOldPassword);
        }
        if !self.throttle.take_change(account, now).await {
            return Err(PasswordChangeRefused::TooMany);
        }
        let (new, generated) = match new {
            Some(pw) => (pw.to_string(), None),
            None => {
                let pw = generate_password();
                (pw.clone(), Some(pw))
            }
        };
        let hash = self.hasher.hash(&new).await.map_err(|e| {
            tracing::error!(error = %e, "hashing a new password failed");
            PasswordChangeRefused::Internal
        })?;
        self.store.set_account_password(uid, &hash, now).await.map_err(|e| {
            tracing::error!(error = %e, "storing a new password failed");
            PasswordChangeRefused::Internal
        })?;
        self.throttle.succeeded(account, admission, now).await;
        self.audit
            .record(now, subject, "password.change", subject, format!("from {from}"))
            .await;
        Ok(PasswordChange { generated })
    }

    /// Counts an LDAP bind (by `method`) or a web login, by `outcome`.
    fn count(&self, channel: Channel, method: &'static str, outcome: &'static str) {
        match channel {
            Channel::Ldap => self.metrics.bind(method, outcome),
            Channel::Web => self.metrics.web_login(outcome),
        }
    }

    /// Counts and audits a successful authentication of `subject`.
    async fn record_success(
        &self,
        now: OffsetDateTime,
        subject: &str,
        from: IpAddr,
        method: &Method,
        channel: Channel,
    ) {
        let how = if matches!(method, Method::Certificate(_)) {
            "sasl_external"
        } else {
            "simple"
        };
        self.count(channel, how, "ok");
        let action = if channel == Channel::Web { "login.ok" } else { "bind.ok" };
        self.audit
            .record(now, subject, action, subject, format!("from {from} by {method}"))
            .await;
    }

    /// Counts (by method and outcome) and audits a failed authentication against `subject`.
    async fn record_failure(
        &self,
        now: OffsetDateTime,
        subject: &str,
        detail: String,
        channel: Channel,
        (method, outcome): (&'static str, &'static str),
    ) {
        self.count(channel, method, outcome);
        let action = if channel == Channel::Web {
            "login.fail"
        } else {
            "bind.fail"
        };
        self.audit.record(now, "anonymous", action, subject, detail).await;
    }

    /// Checks `secret` against a credential: password and TOTP code when the account has
    /// TOTP, the password alone when not, then (for binds) the app passwords.
    async fn check_secret(
        &self,
        cred: &Credential,
        secret: &str,
        app_passwords: bool,
        now: OffsetDateTime,
    ) -> Result<Method, Refusal> {
        match &cred.totp {
            Some(sealed) => {
                if let Some((password, code)) = second_factor::split_code(secret) {
                    let verified = self.hasher.verify(password, &cred.hash).await;
                    if verified.is_match() {
                        self.accept_code(cred, sealed, code, now).await?;
                        self.rehash_if_needed(cred, verified, password, now).await;
                        return Ok(Method::PasswordTotp);
                    }
                }
            }
            None => {
                let verified = self.hasher.verify(secret, &cred.hash).await;
                if verified.is_match() {
                    self.rehash_if_needed(cred, verified, secret, now).await;
                    return Ok(Method::Password);
                }
            }
        }
        if app_passwords && let Owner::Account(uid) = &cred.owner {
            for (label, hash) in &cred.app_passwords {
                if self.hasher.verify(secret, hash).await.is_match() {
                    if self.throttle.health.up(now)
                        && let Err(e) = self.store.touch_app_password(uid, label, now).await
                    {
                        tracing::error!(error = %e, "recording an app password's use failed");
                        self.throttle.health.failed(now);
                    }
                    return Ok(Method::AppPassword(label.clone()));
                }
            }
        }
        Err(if cred.totp.is_some() {
            "wrong password or missing TOTP code"
        } else {
            "wrong password"
        })
    }

    /// Accepts the code for the credential's sealed secret, once per time step.
    async fn accept_code(
        &self,
        cred: &Credential,
        sealed: &str,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<(), Refusal> {
        let Owner::Account(uid) = &cred.owner else {
            return Err("services have no TOTP");
        };
        let secret = second_factor::open_secret(self.seal_key.as_deref(), sealed).map_err(|e| {
            tracing::error!(error = %e, "a TOTP secret does not open; TOTP binds fail");
            "TOTP secret unavailable"
        })?;
        let rejected = "wrong or reused TOTP code";
        let step = second_factor::code_step(&secret, code, now).map_err(|_| rejected)?;
        // `None`: the store cannot be asked now (it failed, or rests after a failure).
        let health = &self.throttle.health;
        let in_store = if health.up(now) {
            match self.store.use_totp_step(uid, step).await {
                Ok(accepted) => Some(accepted),
                Err(e) => {
                    tracing::warn!(error = %e, "TOTP steps unreadable; checking in this node's memory");
                    health.failed(now);
                    None
                }
            }
        } else {
            None
        };
        // The node's memory records every accepted step, and decides alone while the database
        // is down (each code then works once per node).
        let accepted = match in_store {
            Some(true) => {
                self.steps.accept(uid, step);
                true
            }
            Some(false) => false,
            None => self.steps.accept(uid, step),
        };
        if accepted { Ok(()) } else { Err(rejected) }
    }

    /// Stores a current argon2id hash after a check that matched a legacy or outdated one.
    /// Best effort: a failure is logged and the check still succeeds.
    async fn rehash_if_needed(&self, cred: &Credential, verified: Verification, password: &str, now: OffsetDateTime) {
        if verified != Verification::MatchNeedsRehash {
            return;
        }
        let Ok(hash) = self.hasher.hash(password).await else {
            tracing::error!("rehashing a password failed");
            return;
        };
        let stored = match &cred.owner {
            Owner::Account(uid) => self.store.rehash_account_password(uid, &hash, now).await,
            Owner::Service(name) => self.store.set_service_password(name, &hash, now).await,
        };
        match stored {
            Ok(()) => tracing::info!("replaced a legacy password hash with argon2id"),
            Err(e) => tracing::error!(error = %e, "storing a rehashed password failed"),
        }
    }
}

/// The audit subject of a check against `dn`: the owner's uid or service name, so `audit --uid`
/// finds it; an unknown DN, cut to a bounded length.
fn subject_of(cred: Option<&Credential>, dn: &Dn) -> String {
    match cred {
        Some(c) => c.owner.name().to_string(),
        None => dn.normalised().chars().take(AUDIT_DN_CHARS).collect(),
    }
}
