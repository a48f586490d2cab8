//! The reset flow (issue 15), beside activation: a reset letter's token → the member's existing
//! account → a new password (the one password rule, on the [`HashPool`]) and, if asked, the
//! second factor removed so the member enrols a new one; the token used up, the change made,
//! every single sign-on session and refresh token of the account ended and `account.reset`
//! audited, all in one store transaction ([`Store::reset_with_token`]). Shared by the portal;
//! `piratenldap activate` refuses reset tokens (a reset is the member's own act, on the portal).
//!
//! **The second factor.** "New second factor" switches TOTP off and deletes the old secret in
//! the reset's transaction; the portal then runs the very enrolment it offers after an
//! activation (a new secret, shown once, switched on only by a correct code). This is what
//! identity services do after a lost authenticator (the old secret is on a lost device, so it
//! must stop working at once, and a new one only counts once the member proved they hold it).
//! Admins must always have TOTP, so an admin's second factor is not removed by letter
//! ([`Problem::SecondFactorAdmin`]): a federal admin removes them from `admins` first.
//!
//! **App passwords stay.** They are made only by an admin on the CLI
//! (`account app-password add`), never with the member's password or second factor, so losing
//! either exposes none of them; ending them all would break every mail and chat program of a
//! member who merely forgot a password. A member who lost a device holding one asks for that
//! app password to be revoked (`account app-password revoke`), one by one. The sessions of
//! single sign-on, by contrast, were opened with the lost credentials, so they all end.

use piratenldap_core::ids::Uid;
use piratenldap_store::{SecondFactorReset, Store, StoreError, TokenKind};
use time::OffsetDateTime;

use crate::activation::{ActivationError, Problem, check_token};
use crate::hash_pool::HashPool;
use crate::password_rule;

/// What the member typed on the reset form.
#[derive(Debug, Clone)]
pub struct ResetInput {
    /// The token as typed.
    pub token: String,
    /// The new password.
    pub password: String,
    /// The new password again.
    pub password_again: String,
    /// Whether the second factor is removed for a new enrolment.
    pub second_factor: SecondFactorReset,
}

/// Checks the new password against the rule (the uid and display name must not make it
/// guessable); all problems at once. CPU work: run it on the [`HashPool`].
pub fn check_password(input: &ResetInput, uid: &str, display_name: &str) -> Vec<Problem> {
    if input.password != input.password_again {
        vec![Problem::PasswordMismatch]
    } else if password_rule::check(&input.password, &[uid, display_name]).is_err() {
        vec![Problem::PasswordWeak]
    } else {
        Vec::new()
    }
}

/// The whole reset: the token (a live reset token), the new password, then one transaction
/// that uses the token up and changes the account. Returns the account's uid. Nothing changes
/// on any error: the token stays live for another try.
pub async fn reset(
    store: &dyn Store,
    key: &[u8],
    hasher: &HashPool,
    input: &ResetInput,
    now: OffsetDateTime,
) -> Result<Uid, ActivationError> {
    let checked = check_token(store, key, &input.token, now).await?;
    let uid = match (checked.live.kind, checked.live.uid) {
        (TokenKind::Reset, Some(uid)) => uid,
        (TokenKind::Reset, None) => return Err(ActivationError::Invalid(vec![Problem::TokenUnusable])),
        (TokenKind::Activation, _) => return Err(ActivationError::Invalid(vec![Problem::TokenIsActivation])),
    };
    let display_name = match store.account(&uid).await {
        Ok(Some(account)) => account.display_name,
        Ok(None) => return Err(ActivationError::Invalid(vec![Problem::TokenUnusable])),
        Err(e) => return Err(ActivationError::Store(e)),
    };
    let owned = input.clone();
    let name = uid.as_str().to_string();
    let problems = hasher
        .run(move || check_password(&owned, &name, &display_name))
        .await
        .ok_or(ActivationError::Internal("checking the password failed"))?;
    if !problems.is_empty() {
        return Err(ActivationError::Invalid(problems));
    }
    let hash = hasher
        .hash(&input.password)
        .await
        .map_err(|_| ActivationError::Internal("hashing the password failed"))?;
    match store
        .reset_with_token(&checked.hmac, &hash, input.second_factor, now)
        .await
    {
        Ok(uid) => Ok(uid),
        Err(StoreError::NotFound(_)) => Err(ActivationError::Invalid(vec![Problem::TokenUnusable])),
        Err(StoreError::Refused(_)) => Err(ActivationError::Invalid(vec![Problem::SecondFactorAdmin])),
        Err(e) => Err(ActivationError::Store(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pw: &str, again: &str) -> ResetInput {
        ResetInput {
            token: String::new(),
            password: pw.into(),
            password_again: again.into(),
            second_factor: SecondFactorReset::Keep,
        }
    }

    fn check(pw: &str, again: &str, expected: &[Problem]) {
        assert_eq!(
            check_password(&input(pw, again), "anna", "Anna Alt"),
            expected,
            "{pw:?}"
        );
    }

    #[test]
    fn the_new_password_follows_the_one_rule() {
        check("purple elephants dance at noon", "purple elephants dance at noon", &[]);
        check(
            "purple elephants dance at noon",
            "purple elephants dance at midnight",
            &[Problem::PasswordMismatch],
        );
        check("password1", "password1", &[Problem::PasswordWeak]);
        check("anna anna anna", "anna anna anna", &[Problem::PasswordWeak]);
    }
}
