//! Bind: anonymous, simple (password; password + TOTP code; app password) and SASL EXTERNAL
//! (in `external.rs`). The throttle is asked before any argon2 work; every outcome goes to the
//! audit trail (never the password or code); a legacy or outdated hash is replaced after a
//! successful password bind.

use ldap3_proto::proto::{LdapBindCred, LdapBindRequest, LdapBindResponse, LdapResultCode};
use piratenldap_core::Dn;
use piratenldap_core::ids::{Name, Uid};
use piratenldap_core::metrics::Metrics;
use piratenldap_core::password::Verification;
use piratenldap_core::totp;
use piratenldap_directory::Principal;
use piratenldap_directory::view::Credential;
use time::OffsetDateTime;

use super::{external, result};
use crate::session::{Context, Session};

/// A bind response with a diagnostic message.
pub(super) fn response(code: LdapResultCode, message: &str) -> LdapBindResponse {
    LdapBindResponse {
        res: result(code, message),
        saslcreds: None,
    }
}

/// How a bind proved who it is (for the audit trail).
enum Method {
    Password,
    PasswordTotp,
    AppPassword(String),
}

impl Method {
    fn describe(&self) -> String {
        match self {
            Method::Password => "password".into(),
            Method::PasswordTotp => "password+totp".into(),
            Method::AppPassword(label) => format!("app password {label:?}"),
        }
    }
}

/// Handles a bind request. Any bind first resets the connection to anonymous (RFC 4511 4.2.1).
pub async fn bind(ctx: &Context, session: &mut Session, req: LdapBindRequest) -> LdapBindResponse {
    session.principal = Principal::Anonymous;
    if req.version != 3 {
        return response(LdapResultCode::ProtocolError, "only LDAP version 3 is supported");
    }
    let password = match req.cred {
        LdapBindCred::Simple(pw) => pw,
        LdapBindCred::SASL(sasl) if sasl.mechanism.eq_ignore_ascii_case("EXTERNAL") => {
            return external::external(ctx, session, &sasl.credentials).await;
        }
        LdapBindCred::SASL(sasl) => {
            return response(
                LdapResultCode::AuthMethodNotSupported,
                &format!(
                    "SASL mechanism {} is not supported; EXTERNAL (client certificate) and simple binds are",
                    sasl.mechanism
                ),
            );
        }
        _ => {
            return response(
                LdapResultCode::AuthMethodNotSupported,
                "unsupported authentication choice",
            );
        }
    };
    if req.dn.is_empty() {
        return if password.is_empty() {
            response(LdapResultCode::Success, "")
        } else {
            response(
                LdapResultCode::InvalidCredentials,
                "a password without a bind DN is not accepted",
            )
        };
    }
    if password.is_empty() {
        // RFC 4513 5.1.2: an unauthenticated bind must not look like a successful one.
        return response(
            LdapResultCode::UnwillingToPerform,
            "unauthenticated bind (DN without password) is not allowed",
        );
    }
    let Ok(dn) = Dn::parse(&req.dn) else {
        return response(LdapResultCode::InvalidDNSyntax, "the bind DN is not a valid DN");
    };
    if !session.password_allowed(ctx.settings.plaintext_bind) {
        return response(
            LdapResultCode::ConfidentialityRequired,
            "a password bind needs an encrypted connection: use StartTLS (ldapsearch -ZZ) or LDAPS",
        );
    }
    let key = dn.normalised().to_string();
    let ip = session.peer.ip();
    let admission = ctx.throttle.check(&key, ip).await;
    if !admission.allowed {
        Metrics::inc(&ctx.metrics.binds_throttled);
        Metrics::inc(&ctx.metrics.binds_failed);
        ctx.audit
            .record(
                &key,
                "bind.fail",
                &key,
                format!("from {ip}: throttled (too many failed binds)"),
            )
            .await;
        return response(LdapResultCode::InvalidCredentials, "invalid credentials");
    }
    let cred = ctx.directory.view().credential(&dn).cloned();
    let outcome = match &cred {
        None => {
            ctx.hasher.verify_dummy(&password).await;
            Err("unknown DN")
        }
        Some(cred) => authenticate(ctx, cred, &password).await,
    };
    match (outcome, cred) {
        (Ok(method), Some(cred)) if !cred.locked => {
            ctx.throttle.succeeded(&key, admission).await;
            Metrics::inc(&ctx.metrics.binds_ok);
            ctx.audit
                .record(&key, "bind.ok", &key, format!("from {ip} by {}", method.describe()))
                .await;
            session.principal = cred.principal;
            response(LdapResultCode::Success, "")
        }
        (outcome, cred) => {
            let why = match (&outcome, cred.as_ref().is_some_and(|c| c.locked)) {
                (Ok(_), true) => "account locked or member left",
                (Err(why), _) => why,
                (Ok(_), false) => "refused",
            };
            ctx.throttle.failed(&key, ip).await;
            Metrics::inc(&ctx.metrics.binds_failed);
            ctx.audit
                .record(&key, "bind.fail", &key, format!("from {ip}: {why}"))
                .await;
            response(LdapResultCode::InvalidCredentials, "invalid credentials")
        }
    }
}

/// Checks `password` against the credential: password + TOTP code when TOTP is on, the
/// password alone when it is not, then the app passwords.
async fn authenticate(ctx: &Context, cred: &Credential, password: &str) -> Result<Method, &'static str> {
    match &cred.totp {
        Some(sealed) => {
            // `password` is the password immediately followed by the 6-digit code.
            let split = password
                .len()
                .checked_sub(totp::DIGITS)
                .filter(|at| *at > 0 && password.is_char_boundary(*at));
            if let Some(at) = split.filter(|at| password[*at..].bytes().all(|b| b.is_ascii_digit())) {
                let (pw, code) = password.split_at(at);
                let verified = ctx.hasher.verify(pw, &cred.hash).await;
                if verified.is_match() {
                    return match totp_step(ctx, sealed, code) {
                        Some(step) if accept_step(ctx, cred, step).await => {
                            if verified == Verification::MatchNeedsRehash {
                                rehash(ctx, cred, pw).await;
                            }
                            Ok(Method::PasswordTotp)
                        }
                        _ => Err("wrong or reused TOTP code"),
                    };
                }
            }
        }
        None => {
            let verified = ctx.hasher.verify(password, &cred.hash).await;
            if verified.is_match() {
                if verified == Verification::MatchNeedsRehash {
                    rehash(ctx, cred, password).await;
                }
                return Ok(Method::Password);
            }
        }
    }
    for (label, hash) in &cred.app_passwords {
        if ctx.hasher.verify(password, hash).await.is_match() {
            if let Some(uid) = cred.uid.as_deref().and_then(|u| Uid::parse(u).ok()) {
                if let Err(e) = ctx
                    .directory
                    .store()
                    .touch_app_password(&uid, label, OffsetDateTime::now_utc())
                    .await
                {
                    tracing::error!(error = %e, "recording an app password's use failed");
                }
            }
            return Ok(Method::AppPassword(label.clone()));
        }
    }
    Err(if cred.totp.is_some() {
        "wrong password or missing TOTP code"
    } else {
        "wrong password"
    })
}

/// The time step of a valid code, opening the sealed secret.
fn totp_step(ctx: &Context, sealed: &str, code: &str) -> Option<u64> {
    let Some(key) = &ctx.seal_key else {
        tracing::error!("an account has TOTP but the server has no secrets.key_file; TOTP binds fail");
        return None;
    };
    let secret = match key.open(sealed) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "a TOTP secret does not open");
            return None;
        }
    };
    let now = u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    totp::matching_step(&secret, code, now)
}

/// Accepts a time step once, in the store (so it holds across connections and nodes).
async fn accept_step(ctx: &Context, cred: &Credential, step: u64) -> bool {
    let (Some(uid), Ok(step)) = (
        cred.uid.as_deref().and_then(|u| Uid::parse(u).ok()),
        i64::try_from(step),
    ) else {
        return false;
    };
    match ctx.directory.store().use_totp_step(&uid, step).await {
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::error!(error = %e, "recording a TOTP step failed");
            false
        }
    }
}

/// Stores a current argon2id hash after a bind with a legacy or outdated one. Best effort: a
/// failure is logged and the bind still succeeds.
async fn rehash(ctx: &Context, cred: &Credential, password: &str) {
    let Ok(hash) = ctx.hasher.hash(password).await else {
        tracing::error!("rehashing a password failed");
        return;
    };
    let store = ctx.directory.store();
    let now = OffsetDateTime::now_utc();
    let stored = if let Some(uid) = cred.uid.as_deref().and_then(|u| Uid::parse(u).ok()) {
        store.set_account_password(&uid, &hash, now).await
    } else if let Some(name) = cred.service.as_deref().and_then(|s| Name::parse(s).ok()) {
        store.set_service_password(&name, &hash, now).await
    } else {
        return;
    };
    match stored {
        Ok(()) => tracing::info!("replaced a legacy password hash with argon2id"),
        Err(e) => tracing::error!(error = %e, "storing a rehashed password failed"),
    }
}
