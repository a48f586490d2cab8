//! The LDAPv3 front end of piratenldap: listeners and TLS, per-connection sessions, and one
//! module per operation behind a dispatcher on `LdapOp` (ldap3_proto's types; we match on the
//! operations ourselves so controls and limits are honoured).
//!
//! **Invariant: LDAP never writes the directory**, except a member's own password (Password
//! Modify) and a rehash after a legacy-hash bind, both through the store.
//! **Invariant: argon2 runs only on the [`HashPool`]**, never on the reactor.

mod audit;
mod connection;
mod hash_pool;
pub mod ops;
mod server;
mod session;
mod throttle;
mod tls;

pub use audit::AuditSink;
pub use connection::{IDLE_TIMEOUT, MAX_MESSAGE_BYTES};
pub use hash_pool::HashPool;
pub use server::{Listeners, serve};
pub use session::{Context, Settings};
pub use throttle::{Admission, Throttle};
pub use tls::{TlsError, client_fingerprint, server_config};
