//! Extended operations: StartTLS, WhoAmI (RFC 4532) and Password Modify (RFC 3062) for
//! one's own password.

use ldap3_proto::proto::{
    LdapExtendedRequest, LdapExtendedResponse, LdapPasswordModifyRequest, LdapPasswordModifyResponse, LdapResult,
    LdapResultCode, OID_PASSWORD_MODIFY, OID_WHOAMI,
};
use piratenldap_core::Dn;
use piratenldap_core::ids::Uid;
use piratenldap_core::password::generate_password;
use piratenldap_directory::Principal;
use time::OffsetDateTime;

use super::{After, OID_STARTTLS, result};
use crate::session::{Context, Session};

/// Shortest password accepted through Password Modify.
pub const MIN_PASSWORD_LEN: usize = 10;

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
) -> (LdapExtendedResponse, After) {
    match req.name.as_str() {
        OID_STARTTLS => starttls(ctx, session),
        OID_WHOAMI => {
            let authz = session
                .principal
                .dn()
                .map(|dn| format!("dn:{}", display_dn(ctx, dn)))
                .unwrap_or_default();
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
                Ok(pm) => password_modify(ctx, session, pm).await,
                Err(_) => LdapPasswordModifyResponse {
                    res: result(
                        LdapResultCode::ProtocolError,
                        "the Password Modify request value does not decode",
                    ),
                    gen_password: None,
                },
            };
            (resp.into(), After::Continue)
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

fn starttls(ctx: &Context, session: &Session) -> (LdapExtendedResponse, After) {
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
    (
        LdapExtendedResponse {
            res: result(LdapResultCode::Success, ""),
            name: Some(OID_STARTTLS.into()),
            value: None,
        },
        After::StartTls,
    )
}

/// The DN as served, for a normalised DN of an entry.
fn display_dn(ctx: &Context, normalised: &str) -> String {
    let view = ctx.directory.view();
    Dn::parse(normalised)
        .ok()
        .and_then(|dn| view.entry_index(&dn))
        .map(|i| view.entries[i].dn_string.clone())
        .unwrap_or_else(|| normalised.to_string())
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
    if !session.password_allowed(ctx.settings.plaintext_bind) {
        return refused(
            LdapResultCode::ConfidentialityRequired,
            "changing a password needs an encrypted connection (StartTLS or LDAPS)",
        );
    }
    if let Some(identity) = &req.user_identity {
        let target = identity.strip_prefix("dn:").unwrap_or(identity);
        let same = match identity.strip_prefix("u:") {
            Some(uid) => ctx.directory.layout().person_dn(uid).normalised() == own_dn,
            None => Dn::parse(target).is_ok_and(|d| d.normalised() == own_dn),
        };
        if !same {
            return refused(
                LdapResultCode::InsufficentAccessRights,
                "you may change only your own password over LDAP; admins use `piratenldap account passwd`",
            );
        }
    }
    let view = ctx.directory.view();
    let Some(cred) = Dn::parse(&own_dn).ok().and_then(|dn| view.credential(&dn).cloned()) else {
        return refused(LdapResultCode::NoSuchObject, "your account no longer exists");
    };
    if let Some(old) = &req.old_password {
        if !ctx.hasher.verify(old, &cred.hash).await.is_match() {
            return refused(LdapResultCode::InvalidCredentials, "the old password is wrong");
        }
    }
    let (new_password, generated) = match req.new_password {
        Some(pw) => (pw, false),
        None => (generate_password(), true),
    };
    if new_password.chars().count() < MIN_PASSWORD_LEN {
        return refused(
            LdapResultCode::ConstraintViolation,
            &format!("the new password must have at least {MIN_PASSWORD_LEN} characters"),
        );
    }
    let Some(uid) = cred.uid.as_deref().and_then(|u| Uid::parse(u).ok()) else {
        return refused(
            LdapResultCode::UnwillingToPerform,
            "this entry has no password to change",
        );
    };
    let hash = match ctx.hasher.hash(&new_password).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "hashing a new password failed");
            return refused(LdapResultCode::Other, "internal error; the password was not changed");
        }
    };
    if let Err(e) = ctx
        .directory
        .store()
        .set_account_password(&uid, &hash, OffsetDateTime::now_utc())
        .await
    {
        tracing::error!(error = %e, "storing a new password failed");
        return refused(LdapResultCode::Other, "internal error; the password was not changed");
    }
    // Make the new password usable at once on this node, not only after the next poll.
    if let Err(e) = ctx.directory.refresh().await {
        tracing::error!(error = %e, "refreshing the view after a password change failed");
    }
    tracing::info!(peer = %session.peer, uid = %uid, "password changed over LDAP");
    LdapPasswordModifyResponse {
        res: result(LdapResultCode::Success, ""),
        gen_password: generated.then_some(new_password),
    }
}
