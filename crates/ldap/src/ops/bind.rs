//! Bind: anonymous, simple (password; password + TOTP code; app password) and SASL EXTERNAL
//! (in `external.rs`). The credential checks, throttle and audit are the authentication
//! core's; this maps the request to it and its outcome to a result code.

use ldap3_proto::proto::{LdapBindCred, LdapBindRequest, LdapBindResponse, LdapResultCode};
use piratenldap_core::Dn;
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

/// Handles a bind request. Any bind first resets the connection to anonymous and drops its
/// paged-search cursors (RFC 4511 4.2.1: a cursor must not outlive the identity it served).
pub async fn bind(ctx: &Context, session: &mut Session, req: LdapBindRequest, now: OffsetDateTime) -> LdapBindResponse {
    session.reset_identity();
    if req.version != 3 {
        return response(LdapResultCode::ProtocolError, "only LDAP version 3 is supported");
    }
    let password = match req.cred {
        LdapBindCred::Simple(pw) => pw,
        LdapBindCred::SASL(sasl) if sasl.mechanism.eq_ignore_ascii_case("EXTERNAL") => {
            return external::external(ctx, session, &sasl.credentials, now).await;
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
    match ctx.auth.bind(&view, &dn, &password, session.peer.ip(), now).await {
        Some(done) => {
            session.principal = done.principal;
            session.method = Some(done.method);
            response(LdapResultCode::Success, "")
        }
        None => response(LdapResultCode::InvalidCredentials, "invalid credentials"),
    }
}
