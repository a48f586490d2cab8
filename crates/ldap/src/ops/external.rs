//! SASL EXTERNAL: the client certificate of this TLS connection, mapped by its SHA-256
//! fingerprint to the account it was issued for (never by parsing its subject).

use ldap3_proto::proto::{LdapBindResponse, LdapResultCode};
use piratenldap_core::Dn;
use piratenldap_core::metrics::Metrics;
use time::OffsetDateTime;

use super::bind::response;
use crate::session::{Context, Session};

/// Handles a SASL EXTERNAL bind; `authzid` is the optional authorization identity.
pub async fn external(ctx: &Context, session: &mut Session, authzid: &[u8]) -> LdapBindResponse {
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
    let ip = session.peer.ip();
    match check(ctx, &fingerprint, authzid) {
        Ok((dn, principal)) => {
            Metrics::inc(&ctx.metrics.binds_ok);
            ctx.audit
                .record(
                    &dn,
                    "bind.ok",
                    &dn,
                    format!("from {ip} by certificate {}", &fingerprint[..16]),
                )
                .await;
            session.principal = principal;
            response(LdapResultCode::Success, "")
        }
        Err(why) => {
            Metrics::inc(&ctx.metrics.binds_failed);
            ctx.audit
                .record(
                    "anonymous",
                    "bind.fail",
                    &format!("certificate {}", &fingerprint[..16]),
                    format!("from {ip}: {why}"),
                )
                .await;
            response(LdapResultCode::InvalidCredentials, "invalid credentials")
        }
    }
}

fn check(
    ctx: &Context,
    fingerprint: &str,
    authzid: &[u8],
) -> Result<(String, piratenldap_directory::Principal), &'static str> {
    let view = ctx.directory.view();
    let cert = view
        .certificate(fingerprint)
        .ok_or("certificate not issued by this directory")?;
    if cert.revoked {
        return Err("certificate revoked");
    }
    let now = OffsetDateTime::now_utc();
    if now < cert.not_before || now > cert.not_after {
        return Err("certificate expired or not yet valid");
    }
    let cred = view.credential_normalised(&cert.dn).ok_or("account gone")?;
    if cred.locked {
        return Err("account locked");
    }
    // An explicit authorization identity must name the certificate's own account.
    let authzid = String::from_utf8_lossy(authzid);
    let wanted = authzid.strip_prefix("dn:").unwrap_or(&authzid);
    if !wanted.is_empty() && Dn::parse(wanted).map(|d| d.normalised() != cert.dn).unwrap_or(true) {
        return Err("authorization identity differs from the certificate's account");
    }
    Ok((cert.dn.clone(), cred.principal.clone()))
}
