//! The OpenID Connect provider's protocol logic, without I/O beyond reading key files: ES256
//! signing keys and the JWKS (`keys`), PKCE (`pkce`), the random values of single sign-on and
//! their stored hashes (`secrets`), subjects (`subject`) and claims read through a service's
//! view (`claims`). The HTTP endpoints live in `piratenldap-web` (`sso/`); logins go through
//! `piratenldap-auth` like every LDAP bind.
//!
//! **Invariant: a client's claims are read through its service's LDAP view**
//! ([`View::readable`](piratenldap_directory::View::readable)); there is no second access rule.

pub mod claims;
pub mod keys;
pub mod pkce;
pub mod secrets;
pub mod subject;
