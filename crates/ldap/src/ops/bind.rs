//! Bind: anonymous and simple binds of people and services (argon2 on the hash pool), with the
//! plaintext policy; a legacy or outdated hash is replaced after a successful bind.

use ldap3_proto::proto::{LdapBindCred, LdapBindRequest, LdapBindResponse, LdapResultCode};
use piratenldap_core::Dn;
use piratenldap_core::ids::{Name, Uid};
use piratenldap_core::password::Verification;
use piratenldap_directory::Principal;
use time::OffsetDateTime;

use super::result;
use crate::session::{Context, Session};

fn response(code: LdapResultCode, message: &str) -> LdapBindResponse {
    LdapBindResponse {
        res: result(code, message),
        saslcreds: None,
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
            return external(ctx, session, &sasl.credentials);
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
    let view = ctx.directory.view();
    let Some(cred) = view.credential(&dn).cloned() else {
        ctx.hasher.verify_dummy(&password).await;
        tracing::info!(peer = %session.peer, dn = %dn, "bind failed: unknown DN");
        return response(LdapResultCode::InvalidCredentials, "invalid credentials");
    };
    let outcome = ctx.hasher.verify(&password, &cred.hash).await;
    if !outcome.is_match() || cred.locked {
        tracing::info!(peer = %session.peer, dn = %dn, locked = cred.locked, "bind failed");
        return response(LdapResultCode::InvalidCredentials, "invalid credentials");
    }
    if outcome == Verification::MatchNeedsRehash {
        rehash(ctx, &cred, &password).await;
    }
    tracing::info!(peer = %session.peer, dn = %dn, "bind succeeded");
    session.principal = cred.principal;
    response(LdapResultCode::Success, "")
}

/// SASL EXTERNAL: the client certificate of this TLS connection, mapped by its fingerprint to
/// the account it was issued for (never by parsing its subject).
fn external(ctx: &Context, session: &mut Session, authzid: &[u8]) -> LdapBindResponse {
    if !session.tls {
        return response(
            LdapResultCode::InappropriateAuthentication,
            "SASL EXTERNAL needs a TLS connection (LDAPS or StartTLS) with a client certificate",
        );
    }
    let Some(fingerprint) = session.client_cert.clone() else {
        return response(
            LdapResultCode::InappropriateAuthentication,
            "no client certificate was presented on this connection",
        );
    };
    let view = ctx.directory.view();
    let now = OffsetDateTime::now_utc();
    let fail = |why: &str| {
        tracing::info!(peer = %session.peer, why, "EXTERNAL bind failed");
        response(LdapResultCode::InvalidCredentials, "invalid credentials")
    };
    let Some(cert) = view.certificate(&fingerprint) else {
        return fail("certificate not issued by this directory");
    };
    if cert.revoked {
        return fail("certificate revoked");
    }
    if now < cert.not_before || now > cert.not_after {
        return fail("certificate expired or not yet valid");
    }
    let Some(cred) = view.credential_normalised(&cert.dn) else {
        return fail("account gone");
    };
    if cred.locked {
        return fail("account locked");
    }
    // An explicit authorization identity must name the certificate's own account.
    let authzid = String::from_utf8_lossy(authzid);
    let wanted = authzid.strip_prefix("dn:").unwrap_or(&authzid);
    if !wanted.is_empty() && Dn::parse(wanted).map(|d| d.normalised() != cert.dn).unwrap_or(true) {
        return fail("authorization identity differs from the certificate's account");
    }
    tracing::info!(peer = %session.peer, dn = %cert.dn, "EXTERNAL bind succeeded");
    session.principal = cred.principal.clone();
    response(LdapResultCode::Success, "")
}

/// Stores a current argon2id hash after a bind with a legacy or outdated one. Best effort: a
/// failure is logged and the bind still succeeds.
async fn rehash(ctx: &Context, cred: &piratenldap_directory::view::Credential, password: &str) {
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
