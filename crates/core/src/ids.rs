//! Identifiers with rules, parsed once at the edge: account uids, member numbers, state codes,
//! membership status, group and service names.

use std::fmt;

/// Why a string is not a valid identifier of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} is invalid: {why}")]
pub struct IdError {
    /// The kind of identifier.
    pub what: &'static str,
    /// The rejected input.
    pub value: String,
    /// The rule it breaks.
    pub why: &'static str,
}

fn err(what: &'static str, value: &str, why: &'static str) -> IdError {
    IdError {
        what,
        value: value.to_string(),
        why,
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);
        impl $name {
            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// An account's login name: lower case, 3–32 characters, `[a-z][a-z0-9._-]*`.
    Uid
);
string_newtype!(
    /// A membership number from the membership administration: 1–32 of `[A-Za-z0-9-]`.
    MemberNumber
);
string_newtype!(
    /// A state association code such as `BY`: 2–8 letters or digits, stored in upper case.
    StateCode
);
string_newtype!(
    /// A group or service name: 1–64 of `[a-z0-9._-]`, starting with a letter or digit.
    Name
);

/// Names no member may take (system and role addresses).
pub const RESERVED_UIDS: &[&str] = &[
    "root",
    "admin",
    "administrator",
    "postmaster",
    "abuse",
    "noreply",
    "no-reply",
    "hostmaster",
    "webmaster",
    "security",
    "support",
    "info",
    "mailer-daemon",
    "nobody",
    "system",
    "daemon",
];

impl Uid {
    /// Parses a uid; only the syntax, not whether it is reserved or taken.
    pub fn parse(s: &str) -> Result<Uid, IdError> {
        let len = s.chars().count();
        if !(3..=32).contains(&len) {
            return Err(err("uid", s, "must be 3 to 32 characters long"));
        }
        let mut chars = s.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
            return Err(err("uid", s, "must start with a lower-case letter a-z"));
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)) {
            return Err(err("uid", s, "may contain only a-z, 0-9, '.', '_' and '-'"));
        }
        Ok(Uid(s.to_string()))
    }

    /// Whether the uid is reserved for system or role addresses.
    pub fn is_reserved(&self) -> bool {
        RESERVED_UIDS.contains(&self.0.as_str())
    }
}

impl MemberNumber {
    /// Parses a member number.
    pub fn parse(s: &str) -> Result<MemberNumber, IdError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 32 {
            return Err(err("member number", s, "must be 1 to 32 characters long"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(err("member number", s, "may contain only letters, digits and '-'"));
        }
        Ok(MemberNumber(s.to_string()))
    }
}

impl StateCode {
    /// Parses a state association code; case-insensitive input, stored upper case.
    pub fn parse(s: &str) -> Result<StateCode, IdError> {
        let s = s.trim();
        if !(2..=8).contains(&s.len()) || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(err("state", s, "must be 2 to 8 letters or digits, e.g. BY"));
        }
        Ok(StateCode(s.to_ascii_uppercase()))
    }

    /// The name of the automatic group of this state association, e.g. `lv-by`.
    pub fn group_name(&self) -> String {
        format!("lv-{}", self.0.to_ascii_lowercase())
    }

    /// Whether `name` is [`StateCode::group_name`], without building it (checked for every
    /// member and group when the view is built).
    pub fn is_group(&self, name: &str) -> bool {
        name.strip_prefix("lv-")
            .is_some_and(|code| code.eq_ignore_ascii_case(&self.0))
    }
}

impl Name {
    /// Parses a group or service name.
    pub fn parse(s: &str) -> Result<Name, IdError> {
        if s.is_empty() || s.len() > 64 {
            return Err(err("name", s, "must be 1 to 64 characters long"));
        }
        if !s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return Err(err("name", s, "must start with a-z or 0-9"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        {
            return Err(err("name", s, "may contain only a-z, 0-9, '.', '_' and '-'"));
        }
        Ok(Name(s.to_string()))
    }
}

/// A member's status in the membership administration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MembershipStatus {
    /// A member in good standing.
    Active,
    /// Rights suspended (e.g. unpaid fees).
    Suspended,
    /// No longer a member.
    Left,
}

impl MembershipStatus {
    /// Parses `active`, `suspended` or `left` (case-insensitive).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            "left" => Ok(Self::Left),
            _ => Err(err("status", s, "must be active, suspended or left")),
        }
    }

    /// The value as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Left => "left",
        }
    }
}

impl fmt::Display for MembershipStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_rules() {
        for ok in [
            "alice",
            "a.b-c_d",
            "abc",
            "x12345678901234567890123456789012"[..32].as_ref(),
        ] {
            assert!(Uid::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "Alice", "1abc", "al ice", "älice", "-abc", &"a".repeat(33)] {
            assert!(Uid::parse(bad).is_err(), "{bad}");
        }
        assert!(Uid::parse("postmaster").unwrap().is_reserved());
        assert!(!Uid::parse("alice").unwrap().is_reserved());
    }

    #[test]
    fn state_codes_fold_to_upper_case() {
        let s = StateCode::parse("by").unwrap();
        assert_eq!(s.as_str(), "BY");
        assert_eq!(s.group_name(), "lv-by");
        assert!(StateCode::parse("B").is_err());
        assert!(StateCode::parse("B Y").is_err());
    }

    #[test]
    fn member_numbers_and_names() {
        assert!(MemberNumber::parse(" 1234 ").is_ok());
        assert!(MemberNumber::parse("12 34").is_err());
        assert!(MemberNumber::parse("").is_err());
        assert!(Name::parse("wiki").is_ok());
        assert!(Name::parse("Wiki").is_err());
        assert!(MembershipStatus::parse("Suspended").is_ok());
        assert!(MembershipStatus::parse("gone").is_err());
    }
}
