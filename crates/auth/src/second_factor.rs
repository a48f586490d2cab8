//! The second factor: a TOTP code accepted once per time step, and the split of a bind secret
//! into password and code. The one place any front end (LDAP bind, Password Modify, the portal,
//! the CLI) accepts a code.

use piratenldap_core::ids::Uid;
use piratenldap_core::sealed::SealKey;
use piratenldap_core::totp;
use piratenldap_store::{Store, StoreError};
use time::OffsetDateTime;

/// Why a code was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Wrong, malformed, outside the accepted window, or its step was used already.
    #[error("the code is wrong, not valid now, or was used already")]
    Rejected,
    /// The server has no `secrets.key_file`, or the stored secret does not open with it.
    #[error("the TOTP secret cannot be opened: {0}")]
    Secret(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Splits a bind secret into the password and the 6-digit code that immediately follows it;
/// `None` if it does not end in six digits after a non-empty password.
pub fn split_code(secret: &str) -> Option<(&str, &str)> {
    let at = secret
        .len()
        .checked_sub(totp::DIGITS)
        .filter(|at| *at > 0 && secret.is_char_boundary(*at))?;
    let (password, code) = secret.split_at(at);
    code.bytes().all(|b| b.is_ascii_digit()).then_some((password, code))
}

/// Opens a sealed TOTP secret.
pub fn open_secret(key: Option<&SealKey>, sealed: &str) -> Result<Vec<u8>, CodeError> {
    let key = key.ok_or_else(|| CodeError::Secret("no secrets.key_file is configured".into()))?;
    key.open(sealed).map_err(|e| CodeError::Secret(e.to_string()))
}

/// The time step `code` belongs to, if it is valid for `secret` at `now` (one step of drift
/// either way).
pub fn code_step(secret: &[u8], code: &str, now: OffsetDateTime) -> Result<i64, CodeError> {
    let unix = u64::try_from(now.unix_timestamp()).map_err(|_| CodeError::Rejected)?;
    let step = totp::matching_step(secret, code.trim(), unix).ok_or(CodeError::Rejected)?;
    i64::try_from(step).map_err(|_| CodeError::Rejected)
}

/// Checks `code` against the account's secret at `now` and accepts its time step once: the
/// step must be later than any accepted before (atomic in the store, so it holds across
/// connections, front ends and nodes).
pub async fn accept_code(
    store: &dyn Store,
    uid: &Uid,
    secret: &[u8],
    code: &str,
    now: OffsetDateTime,
) -> Result<(), CodeError> {
    let step = code_step(secret, code, now)?;
    if store.use_totp_step(uid, step).await? {
        Ok(())
    } else {
        Err(CodeError::Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split() {
        assert_eq!(split_code("secret123456"), Some(("secret", "123456")));
        assert_eq!(split_code("123456"), None, "no password before the code");
        assert_eq!(split_code("secret12345x"), None);
        assert_eq!(split_code("12345"), None);
        assert_eq!(split_code("pässwörd123456"), Some(("pässwörd", "123456")));
        assert_eq!(split_code("ä23456"), None, "six bytes that are not six digits");
    }
}
