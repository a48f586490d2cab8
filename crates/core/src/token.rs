//! Activation tokens (DESIGN.md "Tokens"): 100 random bits as 20 Crockford base32 characters
//! plus Crockford's mod-37 check symbol, printed `XXXXX-XXXXX-XXXXX-XXXXX-C`. Input is
//! case-insensitive, ignores spaces and hyphens, reads I/L as 1 and O as 0; a typo is caught by
//! the check symbol before any lookup. Stored only as an HMAC-SHA256 under a server key.
//!
//! Written by hand: the Crockford crates on crates.io encode integers without the check symbol.

use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Check symbols: the 32 digits, then the five extra ones of Crockford's mod-37 check.
const CHECK: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

/// Why a typed token is not a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not 21 symbols after removing spaces and hyphens.
    #[error("a token has 21 characters (20 and a check character), this has {0}")]
    Length(usize),
    /// A character outside the alphabet.
    #[error("{0:?} is not a character of a token")]
    Character(char),
    /// The check character does not fit: a typo.
    #[error("the check character does not match: probably a typo")]
    Check,
}

/// A parsed token (its 100-bit value).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(u128);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

fn digit_value(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|a| *a as char == c)
        .and_then(|p| u8::try_from(p).ok())
}

impl Token {
    /// A new random token.
    pub fn generate() -> Token {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        Token(u128::from_be_bytes(bytes) & ((1u128 << 100) - 1))
    }

    fn digits(&self) -> String {
        (0..20)
            .rev()
            .map(|i| ALPHABET[((self.0 >> (5 * i)) & 31) as usize] as char)
            .collect()
    }

    fn check_symbol(&self) -> char {
        CHECK[(self.0 % 37) as usize] as char
    }

    /// The printed form `XXXXX-XXXXX-XXXXX-XXXXX-C`.
    pub fn display(&self) -> String {
        let d = self.digits();
        format!(
            "{}-{}-{}-{}-{}",
            &d[0..5],
            &d[5..10],
            &d[10..15],
            &d[15..20],
            self.check_symbol()
        )
    }

    /// Parses what a person typed.
    pub fn parse(input: &str) -> Result<Token, TokenError> {
        let symbols: Vec<char> = input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if symbols.len() != 21 {
            return Err(TokenError::Length(symbols.len()));
        }
        let mut value: u128 = 0;
        for c in &symbols[..20] {
            let d = digit_value(*c).ok_or(TokenError::Character(*c))?;
            value = (value << 5) | u128::from(d);
        }
        let token = Token(value);
        let check = symbols[20].to_ascii_uppercase();
        let check = match check {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        };
        if !CHECK.contains(&(check as u8)) {
            return Err(TokenError::Character(symbols[20]));
        }
        if token.check_symbol() != check {
            return Err(TokenError::Check);
        }
        Ok(token)
    }

    /// The HMAC-SHA256 (hex) under `key`: what the store keeps.
    pub fn hmac(&self, key: &[u8]) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => return String::new(), // HMAC accepts keys of any length
        };
        mac.update(self.digits().as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip() {
        for _ in 0..200 {
            let t = Token::generate();
            let shown = t.display();
            assert_eq!(shown.len(), 25);
            assert_eq!(Token::parse(&shown), Ok(t.clone()));
            assert_eq!(Token::parse(&shown.to_lowercase().replace('-', " ")), Ok(t.clone()));
        }
    }

    #[test]
    fn lookalikes_and_typos() {
        let t = Token(0x0123_4567_89ab_cdef_0123_4567);
        let shown = t.display();
        let with_lookalikes = shown.replace('1', "l").replace('0', "O");
        assert_eq!(Token::parse(&with_lookalikes), Ok(t.clone()));
        // Change one digit: the check symbol catches it.
        let mut typo: Vec<char> = shown.chars().collect();
        typo[3] = if typo[3] == 'A' { 'B' } else { 'A' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(Token::parse(&typo), Err(TokenError::Check));
        // Swap two neighbours.
        let d: Vec<char> = shown.chars().collect();
        if d[0] != d[1] {
            let swapped: String = [d[1], d[0]].into_iter().chain(d[2..].iter().copied()).collect();
            assert_eq!(Token::parse(&swapped), Err(TokenError::Check));
        }
        assert_eq!(Token::parse("ABC"), Err(TokenError::Length(3)));
        assert!(matches!(
            Token::parse(&format!("{}U", &shown[..24].replace('A', "!"))),
            Err(TokenError::Character(_)) | Err(TokenError::Check)
        ));
    }

    #[test]
    fn hmac_depends_on_key_and_token() {
        let t = Token::generate();
        assert_eq!(t.hmac(b"k1").len(), 64);
        assert_ne!(t.hmac(b"k1"), t.hmac(b"k2"));
        assert_ne!(t.hmac(b"k1"), Token::generate().hmac(b"k1"));
    }
}
