//! The LDAP operations without sockets: requests go through `ops::dispatch` with a session
//! value, against a directory built from a hand-written fixture in a real SQLite file, with
//! the real authentication core (throttle, TOTP steps and audit in that file). Time is passed
//! in, so TOTP and throttle cases need no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod access_matrix;
mod fixture;
mod limits;
mod ops;
