//! Letters: activation and reset tokens for one or many members, with the mail-merge CSV that
//! goes to the printer. The one implementation behind `piratenldap token issue` and the admin
//! console. All or nothing: [`LetterBatch::prepare`] makes every token in memory (no I/O), and
//! [`LetterBatch::store`] stores their HMACs in one transaction, or none when any member may not
//! get that kind of letter (the refusal lists each one and why). [`issue_letters`] does both for
//! callers that keep the CSV in memory; the CLI writes the CSV to disk between the two steps, so
//! a stored token always has its letter on disk.
//!
//! The CSV: `member_number,token,activation_url,expires_at,letter`, where `letter` is
//! `activation` or `reset` (the template picks its wording by it); the first four columns are
//! the activation letters' columns since issue 3. The URL carries no token.

use std::collections::HashSet;

use piratenldap_core::ids::MemberNumber;
use piratenldap_core::token::Token;
use piratenldap_store::{Store, StoreError, TokenKind};
use time::{Duration, OffsetDateTime};

/// Most letters in one batch (a whole membership with room to spare; each costs ~100 bytes of
/// CSV and one row in one transaction).
pub const MAX_LETTERS: usize = 1_000_000;

/// The header line of the mail-merge CSV.
pub const CSV_HEADER: &str = "member_number,token,activation_url,expires_at,letter";

/// What every letter of an installation says besides its token.
#[derive(Debug, Clone)]
pub struct LetterSettings {
    /// The portal's public address (`http.public_url`); letters name `…/activate`.
    pub public_url: String,
    /// Days a token stays valid (`tokens.lifetime_days`).
    pub lifetime_days: u32,
}

/// One member's letter.
#[derive(Debug, Clone)]
pub struct Letter {
    /// The member it goes to.
    pub member: MemberNumber,
    /// The token as printed (shown only here, never stored).
    pub token: String,
}

/// Why no letters were issued. Nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    /// No member named.
    #[error("no members given")]
    Empty,
    /// More members than one batch may hold.
    #[error("{0} letters in one batch; at most {MAX_LETTERS}")]
    TooMany(usize),
    /// A member named twice.
    #[error("member {0} is named twice")]
    Duplicate(MemberNumber),
    /// Some members may not get this kind of letter; the text lists each and why.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

/// Letters of one kind, made together; stored together or not at all.
#[derive(Debug, Clone)]
pub struct LetterBatch {
    kind: TokenKind,
    url: String,
    expires_at: OffsetDateTime,
    letters: Vec<Letter>,
    hmacs: Vec<(MemberNumber, String)>,
}

impl LetterBatch {
    /// Makes a new token for each member (no I/O, nothing stored yet).
    pub fn prepare(
        token_key: &[u8],
        settings: &LetterSettings,
        members: &[MemberNumber],
        kind: TokenKind,
        now: OffsetDateTime,
    ) -> Result<LetterBatch, LetterError> {
        if members.is_empty() {
            return Err(LetterError::Empty);
        }
        if members.len() > MAX_LETTERS {
            return Err(LetterError::TooMany(members.len()));
        }
        let mut seen = HashSet::with_capacity(members.len());
        let mut letters = Vec::with_capacity(members.len());
        let mut hmacs = Vec::with_capacity(members.len());
        for member in members {
            if !seen.insert(member.as_str()) {
                return Err(LetterError::Duplicate(member.clone()));
            }
            let token = Token::generate();
            hmacs.push((member.clone(), token.hmac(token_key)));
            letters.push(Letter {
                member: member.clone(),
                token: token.display(),
            });
        }
        Ok(LetterBatch {
            kind,
            url: format!("{}/activate", settings.public_url.trim_end_matches('/')),
            expires_at: now + Duration::days(i64::from(settings.lifetime_days)),
            letters,
            hmacs,
        })
    }

    /// Stores the tokens' HMACs in one transaction (revoking each member's older live token);
    /// refuses the whole batch if any member may not get this kind of letter.
    pub async fn store(&self, store: &dyn Store, actor: &str, now: OffsetDateTime) -> Result<usize, LetterError> {
        store
            .issue_tokens(&self.hmacs, self.kind, self.expires_at, actor, now)
            .await
            .map_err(|e| match e {
                StoreError::Refused(why) => LetterError::Refused(why),
                other => LetterError::Store(other),
            })
    }

    /// The mail-merge CSV, header included.
    pub fn csv(&self) -> String {
        let date = self.expires_date();
        let mut csv = String::with_capacity(self.letters.len() * 90 + CSV_HEADER.len() + 1);
        csv.push_str(CSV_HEADER);
        csv.push('\n');
        for letter in &self.letters {
            csv.push_str(&format!(
                "{},{},{},{date},{}\n",
                letter.member,
                letter.token,
                self.url,
                self.kind.as_str()
            ));
        }
        csv
    }

    /// The letters.
    pub fn letters(&self) -> &[Letter] {
        &self.letters
    }

    /// Their kind.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// When their tokens expire.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// The expiry date as printed in the CSV (`YYYY-MM-DD`).
    pub fn expires_date(&self) -> String {
        self.expires_at.date().to_string()
    }

    /// How many letters.
    pub fn len(&self) -> usize {
        self.letters.len()
    }

    /// Whether there are none (never, for a prepared batch).
    pub fn is_empty(&self) -> bool {
        self.letters.is_empty()
    }
}

/// Issues letters of `kind` for `members`, all or none, and returns them for the mail merge
/// ([`LetterBatch::csv`]). The admin console's entry point; the CLI uses the two steps.
pub async fn issue_letters(
    store: &dyn Store,
    token_key: &[u8],
    settings: &LetterSettings,
    members: &[MemberNumber],
    kind: TokenKind,
    actor: &str,
    now: OffsetDateTime,
) -> Result<LetterBatch, LetterError> {
    let batch = LetterBatch::prepare(token_key, settings, members, kind, now)?;
    batch.store(store, actor, now).await?;
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(list: &[&str]) -> Vec<MemberNumber> {
        list.iter().map(|n| MemberNumber::parse(n).unwrap()).collect()
    }

    fn settings() -> LetterSettings {
        LetterSettings {
            public_url: "https://id.example.org/".into(),
            lifetime_days: 30,
        }
    }

    #[test]
    fn the_csv_keeps_the_activation_columns_and_names_the_letter() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let batch = LetterBatch::prepare(b"key", &settings(), &numbers(&["7", "9"]), TokenKind::Reset, now).unwrap();
        let csv = batch.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines.len(), 3);
        for (line, letter) in lines[1..].iter().zip(batch.letters()) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f[0], letter.member.as_str());
            assert_eq!(f[1], letter.token);
            assert!(Token::parse(f[1]).is_ok());
            assert_eq!(f[2], "https://id.example.org/activate");
            assert_eq!(f[3], "1970-01-31");
            assert_eq!(f[4], "reset");
        }
        assert_ne!(batch.letters()[0].token, batch.letters()[1].token);
    }

    #[test]
    fn a_bad_batch_is_refused_before_any_token_is_made() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let prepare = |m: &[&str]| LetterBatch::prepare(b"k", &settings(), &numbers(m), TokenKind::Activation, now);
        assert!(matches!(prepare(&[]), Err(LetterError::Empty)));
        assert!(matches!(prepare(&["1", "2", "1"]), Err(LetterError::Duplicate(n)) if n.as_str() == "1"));
    }
}
