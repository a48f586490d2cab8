//! The LDAPv3 front end of piratenldap: listeners and TLS, per-connection sessions, and one
//! module per operation behind a dispatcher on `LdapOp` (ldap3_proto's types; we match on the
//! operations ourselves so controls and limits are honoured).
//!
//! **Invariant: LDAP never writes the directory**, except a member's own password (Password
//! Modify) and a rehash after a legacy-hash bind, both through the authentication core.
//! **Invariant: no credential is checked here**: binds, SASL EXTERNAL and Password Modify
//! call `piratenldap-auth`'s [`Authenticator`](piratenldap_auth::Authenticator).

mod codec;
mod connection;
mod encode;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod observe;
pub mod ops;
mod search_request;
mod server;
mod server_cert;
mod session;
mod slots;
mod tls;

pub use connection::{MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES_UNBOUND};
pub use server::{Listeners, serve};
pub use server_cert::{Reload, ServerCert};
pub use session::{Context, Session, Settings};
pub use tls::{TlsError, client_fingerprint, server_config};
