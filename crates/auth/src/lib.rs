//! The authentication core of piratenldap. Every front end — LDAP bind, Password Modify and
//! SASL EXTERNAL, the activation portal, the CLI, and the web login of single sign-on — checks
//! credentials here and nowhere else: password and legacy-hash verification with rehash, the
//! one password rule, TOTP accepted once per time step, app passwords (binds only), the
//! throttle, the activation and reset flows, the letters that carry their tokens, and an
//! audit record of every outcome.
//!
//! **Invariant: every credential check goes through this crate.** Front ends parse their
//! protocol, read the clock once per request and pass the time in, and map the outcome to
//! their wire format; they never verify a hash or a code themselves.
//! **Invariant: argon2 and the strength check run only on the [`HashPool`]**, never on the
//! async reactor.

pub mod activation;
pub mod admin_scope;
mod audit;
mod authenticator;
pub mod export;
mod hash_pool;
pub mod letters;
pub mod password_rule;
pub mod reads;
pub mod reset;
pub mod second_factor;
pub mod services;
mod store_health;
mod throttle;

pub use audit::AuditSink;
pub use authenticator::{Authenticated, Authenticator, Method, PasswordChange, PasswordChangeRefused};
pub use hash_pool::HashPool;
pub use throttle::{Admission, Throttle};
