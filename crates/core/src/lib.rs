//! Domain types of piratenldap, free of I/O: distinguished names, identifiers with rules, the
//! LDAP schema we serve, the configuration, password hashing and the member CSV.
//!
//! **Invariant: this crate does no I/O** (no files, sockets or clocks); callers pass text in
//! and get values out, so everything here is tested without a server.

pub mod config;
pub mod dn;
pub mod erasure;
pub mod ids;
pub mod import;
pub mod ldif;
pub mod limits;
pub mod metrics;
pub mod password;
pub mod schema;
pub mod sealed;
pub mod service_pseudonym;
pub mod token;
pub mod totp;

pub use dn::Dn;
