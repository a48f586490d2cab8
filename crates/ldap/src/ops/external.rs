//! SASL EXTERNAL: the client certificate of this TLS connection, mapped by its SHA-256
//! fingerprint to the account it was issued for (never by parsing its subject); the checks
//! are the authentication core's.

use ldap3_proto::proto::{LdapBindResponse, LdapResultCode};
use time::OffsetDateTime;

use super::bind::response;
use crate::session::{Context, Session};

/// Handles a SASL EXTERNAL bind; `authzid` is the optional authorization identity.
pub async fn external(ctx: &Context, session: &mut Session, authzid: &[u8], now: OffsetDateTime) -> LdapBindResponse {
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
    match ctx
        .auth
        .certificate(&view, &fingerprint, authzid, session.peer.ip(), now)
        .await
    {
        Some(done) => {
            session.principal = done.principal;
            session.method = Some(done.method);
            response(LdapResultCode::Success, "")
        }
        None => response(LdapResultCode::InvalidCredentials, "invalid credentials"),
    }
}
