//! The activation flow shared by the portal and `piratenldap activate`: check the typed token,
//! the chosen uid, display name and password, then consume the token and create the account in
//! one store transaction. No I/O but the store; argon2 and the strength check run on the
//! [`HashPool`]. The token check and the problems are shared with the reset flow (`reset.rs`):
//! a letter's token is of one kind, and each flow refuses the other kind's token by name.

use piratenldap_core::ids::Uid;
use piratenldap_core::token::{Token, TokenError};

use crate::hash_pool::HashPool;
use crate::password_rule;
use piratenldap_store::{Account, Conflict, LiveToken, Store, StoreError, TokenKind};
use time::OffsetDateTime;

/// A form field, for per-field messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The token.
    Token,
    /// The uid.
    Uid,
    /// The display name.
    DisplayName,
    /// The password (and its repetition).
    Password,
    /// The choice of a new second factor (reset only).
    SecondFactor,
}

/// What is wrong with an activation attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The check character caught a typo (or the length/characters are off).
    TokenTypo,
    /// Unknown, used, revoked or expired: deliberately one answer.
    TokenUnusable,
    /// A reset letter's token where an activation letter's is needed.
    TokenIsReset,
    /// An activation letter's token where a reset letter's is needed.
    TokenIsActivation,
    /// The uid breaks the syntax rules.
    UidSyntax,
    /// The uid is reserved.
    UidReserved,
    /// The uid is taken.
    UidTaken,
    /// The display name is empty or too long.
    DisplayName,
    /// Too short or too guessable.
    PasswordWeak,
    /// The two passwords differ.
    PasswordMismatch,
    /// An admin's second factor is not removed by letter (admins must have TOTP).
    SecondFactorAdmin,
}

impl Problem {
    /// The field the problem belongs to.
    pub fn field(&self) -> Field {
        match self {
            Problem::TokenTypo | Problem::TokenUnusable | Problem::TokenIsReset | Problem::TokenIsActivation => {
                Field::Token
            }
            Problem::UidSyntax | Problem::UidReserved | Problem::UidTaken => Field::Uid,
            Problem::DisplayName => Field::DisplayName,
            Problem::PasswordWeak | Problem::PasswordMismatch => Field::Password,
            Problem::SecondFactorAdmin => Field::SecondFactor,
        }
    }

    /// An English message (the CLI's; the portal has its own texts per language).
    pub fn english(&self) -> &'static str {
        match self {
            Problem::TokenTypo => "the token has a typo (its check character does not match)",
            Problem::TokenUnusable => "this token cannot be used: it is unknown, already used, revoked or expired",
            Problem::TokenIsReset => {
                "this token is from a reset letter: it sets a new password for the member's existing account on the portal's /activate page, and creates no account"
            }
            Problem::TokenIsActivation => {
                "this token is from an activation letter: it creates an account and resets none"
            }
            Problem::UidSyntax => "the user name must be 3 to 32 characters: a-z first, then a-z, 0-9, '.', '_' or '-'",
            Problem::UidReserved => "this user name is reserved",
            Problem::UidTaken => "this user name is taken",
            Problem::DisplayName => "the display name must be 1 to 64 characters",
            Problem::PasswordWeak => "the password is too weak: at least 10 characters, and not easy to guess",
            Problem::PasswordMismatch => "the two passwords differ",
            Problem::SecondFactorAdmin => {
                "an admin's second factor is not removed by letter (admins must have TOTP): ask a federal admin"
            }
        }
    }
}

/// Why an activation failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The input has problems; nothing was changed.
    #[error("{}", .0.iter().map(Problem::english).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A blocking task (strength check, hashing) failed.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// What the member typed.
#[derive(Debug, Clone, Default)]
pub struct ActivationInput {
    /// The token as typed.
    pub token: String,
    /// The chosen uid.
    pub uid: String,
    /// The chosen display name.
    pub display_name: String,
    /// The password.
    pub password: String,
    /// The password again.
    pub password_again: String,
}

/// A typed token that is live: its HMAC, and whose it is and what it does.
#[derive(Debug, Clone)]
pub struct CheckedToken {
    /// The HMAC the store knows it by.
    pub hmac: String,
    /// Its member, kind and (for a reset token) account.
    pub live: LiveToken,
}

/// Checks a typed token's form and that it is live (of either kind).
pub async fn check_token(
    store: &dyn Store,
    key: &[u8],
    typed: &str,
    now: OffsetDateTime,
) -> Result<CheckedToken, ActivationError> {
    let token = Token::parse(typed).map_err(|_: TokenError| ActivationError::Invalid(vec![Problem::TokenTypo]))?;
    let hmac = token.hmac(key);
    match store.live_token(&hmac, now).await {
        Ok(Some(live)) => Ok(CheckedToken { hmac, live }),
        Ok(None) => Err(ActivationError::Invalid(vec![Problem::TokenUnusable])),
        Err(e) => Err(ActivationError::Store(e)),
    }
}

/// Checks the account fields; all problems at once.
pub fn check_fields(input: &ActivationInput) -> Vec<Problem> {
    let mut problems = Vec::new();
    match Uid::parse(input.uid.trim()) {
        Err(_) => problems.push(Problem::UidSyntax),
        Ok(uid) if uid.is_reserved() => problems.push(Problem::UidReserved),
        Ok(_) => {}
    }
    let name = input.display_name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        problems.push(Problem::DisplayName);
    }
    if input.password != input.password_again {
        problems.push(Problem::PasswordMismatch);
    } else if password_rule::check(&input.password, &[input.uid.trim(), name]).is_err() {
        problems.push(Problem::PasswordWeak);
    }
    problems
}

/// The whole activation: token, fields, then one transaction that consumes the token and
/// creates the account.
pub async fn activate(
    store: &dyn Store,
    key: &[u8],
    hasher: &HashPool,
    input: &ActivationInput,
    now: OffsetDateTime,
) -> Result<Account, ActivationError> {
    let checked = check_token(store, key, &input.token, now).await?;
    if checked.live.kind != TokenKind::Activation {
        return Err(ActivationError::Invalid(vec![Problem::TokenIsReset]));
    }
    let hmac = checked.hmac;
    // The strength check is CPU work: off the reactor.
    let owned = input.clone();
    let problems = hasher
        .run(move || check_fields(&owned))
        .await
        .ok_or(ActivationError::Internal("checking the fields failed"))?;
    if !problems.is_empty() {
        return Err(ActivationError::Invalid(problems));
    }
    let uid = Uid::parse(input.uid.trim()).map_err(|_| ActivationError::Invalid(vec![Problem::UidSyntax]))?;
    let hash = hasher
        .hash(&input.password)
        .await
        .map_err(|_| ActivationError::Internal("hashing the password failed"))?;
    match store
        .activate_token(&hmac, &uid, input.display_name.trim(), &hash, now)
        .await
    {
        Ok(account) => Ok(account),
        Err(StoreError::NotFound(_)) => Err(ActivationError::Invalid(vec![Problem::TokenUnusable])),
        Err(StoreError::Conflict(Conflict::UidTaken(_))) => Err(ActivationError::Invalid(vec![Problem::UidTaken])),
        Err(StoreError::Conflict(_)) => Err(ActivationError::Invalid(vec![Problem::TokenUnusable])),
        Err(e) => Err(ActivationError::Store(e)),
    }
}
