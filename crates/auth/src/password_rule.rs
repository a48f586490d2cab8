//! The one password rule, for every password a person chooses (portal, Password Modify, the
//! CLI): 10 to 1024 characters and a zxcvbn score of 3 or more, judged with the person's other
//! inputs (uid, display name) as known words.

/// Fewest characters a chosen password has.
pub const MIN_CHARS: usize = 10;
/// Most characters a chosen password has (argon2 and the forms take no more).
pub const MAX_CHARS: usize = 1024;
/// Characters zxcvbn judges: its cost grows with the input; what lies beyond can only add
/// strength, and a megabyte-long form field costs no more than this.
const JUDGED_CHARS: usize = 100;

/// Why a chosen password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("the password must have at least {MIN_CHARS} characters")]
    TooShort,
    /// More than [`MAX_CHARS`] characters.
    #[error("the password must have at most {MAX_CHARS} characters")]
    TooLong,
    /// Easy to guess (a common word, a keyboard pattern, the user's own name…).
    #[error("the password is too easy to guess: use a few unrelated words or a longer phrase")]
    Guessable,
}

/// Checks a chosen password. CPU work of a few milliseconds: call it off the async reactor
/// ([`crate::HashPool::check_strength`] does).
pub fn check(password: &str, user_inputs: &[&str]) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(WeakPassword::TooLong);
    }
    let judged: String = password.chars().take(JUDGED_CHARS).collect();
    if zxcvbn::zxcvbn(&judged, user_inputs).score() < zxcvbn::Score::Three {
        return Err(WeakPassword::Guessable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let cases: &[(&str, &[&str], Result<(), WeakPassword>)] = &[
            ("password123", &[], Err(WeakPassword::Guessable)),
            ("qwertyuiop12", &[], Err(WeakPassword::Guessable)),
            ("aaaaaaaaaa", &[], Err(WeakPassword::Guessable)),
            ("Xy9#q", &[], Err(WeakPassword::TooShort)),
            ("correct horse battery staple", &[], Ok(())),
            ("bertram2026!", &["bertram"], Err(WeakPassword::Guessable)),
        ];
        for (pw, inputs, want) in cases {
            assert_eq!(check(pw, inputs), *want, "{pw}");
        }
        assert_eq!(check(&"correct horse ".repeat(100), &[]), Err(WeakPassword::TooLong));
        assert_eq!(check(&"correct horse battery staple ".repeat(30), &[]), Ok(()));
    }
}
