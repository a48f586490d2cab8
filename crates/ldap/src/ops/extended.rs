//! Extended operations: StartTLS, WhoAmI (RFC 4532) and Password Modify (RFC 3062) for
//! one's own password, checked by the authentication core.

use ldap3_proto::proto::{
    LdapExtendedRequest, LdapExtendedResponse, LdapPasswordModifyRequest, LdapPasswordModifyResponse, LdapResult,
    LdapResultCode, OID_PASSWORD_MODIFY, OID_WHOAMI,
};
use piratenldap_auth::PasswordChangeRefused;
use piratenldap_core::Dn;
use piratenldap_directory::Principal;
use time::OffsetDateTime;

use super::{After, OID_STARTTLS, result};
use crate::session::{Context, Session};

fn plain(res: LdapResult) -> LdapExtendedResponse {
    LdapExtendedResponse {
        res,
        name: None,
        value: None,
    }
}

/// Handles an extended request.
pub async fn extended(
    ctx: &Context,
    session: &mut Session,
    req: &LdapExtendedRequest,
    now: OffsetDateTime,
) -> (LdapExtendedResponse, After) {
    match req.name.as_str() {
        OID_STARTTLS => starttls(ctx, session),
        OID_WHOAMI => {
            let authz = session.principal.dn().map(|dn| format!("dn:{dn}")).unwrap_or_default();
            (
                LdapExtendedResponse {
                    res: result(LdapResultCode::Success, ""),
                    name: None,
                    value: Some(authz.into_bytes()),
                },
                After::Continue,
            )
        }
        OID_PASSWORD_MODIFY => {
            let parsed = match &req.value {
                None => Ok(LdapPasswordModifyRequest {
                    user_identity: None,
                    old_password: None,
                    new_password: None,
                }),
                Some(_) => LdapPasswordModifyRequest::try_from(req),
            };
            let resp = match parsed {
                Ok(pm) => password_modify(ctx, session, pm, now).await,
                Err(_) => LdapPasswordModifyResponse {
                    res: result(
                        LdapResultCode::ProtocolError,
                        "the Password Modify request value does not decode",
                    ),
                    gen_password: None,
                },
            };
            // RFC 3062: without a generated password the response value is omitted (an empty
            // SEQUENCE trips ldappasswd's and python-ldap3's decoders).
            let generated = resp.gen_password.is_some();
            let mut ext: LdapExtendedResponse = resp.into();
            if !generated {
                ext.value = None;
            }
            (ext, After::Continue)
        }
        other => (
            plain(result(
                LdapResultCode::ProtocolError,
                format!("extended operation {other} is not supported"),
            )),
            After::Continue,
        ),
    }
}

fn starttls(ctx: &Context, session: &mut Session) -> (LdapExtendedResponse, After) {
    if session.tls {
        return (
            plain(result(
                LdapResultCode::OperationsError,
                "TLS is already active on this connection",
            )),
            After::Continue,
        );
    }
    if !ctx.settings.starttls {
        return (
            plain(result(LdapResultCode::Unavailable, "StartTLS is not configured")),
            After::Continue,
        );
    }
    // Cursors started in the clear do not continue under TLS.
    session.cursors.clear();
    (
        LdapExtendedResponse {
            res: result(LdapResultCode::Success, ""),
            name: Some(OID_STARTTLS.into()),
            value: None,
        },
        After::StartTls,
    )
}

fn refused(code: LdapResultCode, message: &str) -> LdapPasswordModifyResponse {
    LdapPasswordModifyResponse {
        res: result(code, message),
        gen_password: None,
    }
}

async fn password_modify(
    ctx: &Context,
    session: &Session,
    req: LdapPasswordModifyRequest,
    now: OffsetDateTime,
) -> LdapPasswordModifyResponse {
    let own_dn = match &session.principal {
        Principal::Member { dn } | Principal::Admin { dn } => dn.clone(),
        Principal::Service { .. } => {
            return refused(
                LdapResultCode::UnwillingToPerform,
                "service passwords are rotated with `piratenldap service rotate-password`",
            );
        }
        Principal::Anonymous => {
            return refused(
                LdapResultCode::InsufficentAccessRights,
                "bind first to change your password",
            );
        }
    };
    let Some(method) = &session.method else {
        return refused(
            LdapResultCode::InsufficentAccessRights,
            "bind first to change your password",
        );
    };
    if !session.password_allowed(ctx.settings.plaintext_bind) {
        return refused(
            LdapResultCode::ConfidentialityRequired,
            "changing a password needs an encrypted connection (StartTLS or LDAPS)",
        );
    }
    if let Some(identity) = &req.user_identity {
        let same = match identity.strip_prefix("u:") {
            Some(uid) => ctx.directory.layout().person_dn(uid) == own_dn,
            None => Dn::parse(identity.strip_prefix("dn:").unwrap_or(identity)).is_ok_and(|d| d == own_dn),
        };
        if !same {
            return refused(
                LdapResultCode::InsufficentAccessRights,
                "you may change only your own password over LDAP; admins use `piratenldap account passwd`",
            );
        }
    }
    let view = ctx.directory.view();
    let changed = ctx
        .auth
        .change_own_password(
            &view,
            &own_dn,
            method,
            req.old_password.as_deref(),
            req.new_password.as_deref(),
            session.peer.ip(),
            now,
        )
        .await;
    let change = match changed {
        Ok(change) => change,
        Err(why) => {
            let code = match &why {
                PasswordChangeRefused::AppPasswordSession => LdapResultCode::InsufficentAccessRights,
                PasswordChangeRefused::NotAnAccount => LdapResultCode::UnwillingToPerform,
                PasswordChangeRefused::OldPasswordMissing => LdapResultCode::UnwillingToPerform,
                PasswordChangeRefused::WrongOldPassword => LdapResultCode::InvalidCredentials,
                PasswordChangeRefused::Weak(_) => LdapResultCode::ConstraintViolation,
                PasswordChangeRefused::TooMany => LdapResultCode::Busy,
                PasswordChangeRefused::Internal => LdapResultCode::Other,
            };
            return refused(code, &why.to_string());
        }
    };
    // Make the new password usable at once on this node, not only after the next poll.
    if let Err(e) = ctx.directory.refresh().await {
        tracing::error!(error = %e, "refreshing the view after a password change failed");
    }
    LdapPasswordModifyResponse {
        res: result(LdapResultCode::Success, ""),
        gen_password: change.generated,
    }
}
