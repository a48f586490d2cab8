//! Erasure (GDPR art. 17): the pseudonym that replaces an erased member in the audit trail and
//! on their revoked certificates, the tombstone that keeps `member import` from re-creating
//! them, and the rewriting of text that names them. Both values are HMAC-SHA256 of the member
//! number under the server's token key (`tokens.key_file`) with a label each, so they are stable
//! (two nodes, or a second run, give the same) but cannot be reversed or recomputed from a
//! copy of the database alone. No I/O: the caller reads the key file.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::MemberNumber;

/// The prefix of every pseudonym; it is a valid uid, so revoked certificate rows keep one.
pub const PSEUDONYM_PREFIX: &str = "erased-";

fn keyed(key: &[u8], label: &str, number: &MemberNumber) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(label.as_bytes());
    mac.update(&[0]);
    mac.update(number.as_str().as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `erased-` and 12 hex digits: what stands for an erased member in the audit trail.
pub fn pseudonym(key: &[u8], number: &MemberNumber) -> String {
    let mac = keyed(key, "piratenldap erasure pseudonym", number);
    format!("{PSEUDONYM_PREFIX}{}", &mac[..12])
}

/// The keyed hash (64 hex digits) kept of an erased member's number, with another label than
/// the pseudonym, so the audit trail's pseudonym says nothing about the tombstone.
pub fn tombstone(key: &[u8], number: &MemberNumber) -> String {
    keyed(key, "piratenldap erasure tombstone", number)
}

/// Whether `c` continues an identifier (so a match next to it is part of a longer word).
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Whether `text` names `needle` as a whole word (ASCII case ignored): a member number 100
/// does not match inside 1001, nor the uid `anna` inside `annabelle`. A `.` joins words only
/// when a word character follows it (`anna.smith`, not the full stop in `anna.`).
pub fn names(text: &str, needle: &str) -> bool {
    find_word(text, needle, 0).is_some()
}

fn find_word(text: &str, needle: &str, from: usize) -> Option<usize> {
    if needle.is_empty() || needle.len() > text.len() {
        return None;
    }
    let hay = text.as_bytes();
    let n = needle.as_bytes();
    let mut i = from;
    while i + n.len() <= hay.len() {
        if text.is_char_boundary(i) && text.is_char_boundary(i + n.len()) && hay[i..i + n.len()].eq_ignore_ascii_case(n)
        {
            let before = text[..i].chars().next_back();
            let mut after = text[i + n.len()..].chars();
            let next = after.next();
            let joined_before = before.is_some_and(|c| {
                word_char(c) || (c == '.' && i > 0 && text[..i - 1].chars().next_back().is_some_and(word_char))
            });
            let joined_after = next.is_some_and(|c| word_char(c) || (c == '.' && after.next().is_some_and(word_char)));
            if !joined_before && !joined_after {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// `text` with every whole-word occurrence of each of `needles` (longest first, ASCII case
/// ignored) replaced by `pseudonym`.
pub fn scrub(text: &str, needles: &[&str], pseudonym: &str) -> String {
    let mut sorted: Vec<&str> = needles.iter().copied().filter(|n| !n.trim().is_empty()).collect();
    sorted.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = text.to_string();
    for needle in sorted {
        let mut from = 0;
        while let Some(at) = find_word(&out, needle, from) {
            out.replace_range(at..at + needle.len(), pseudonym);
            from = at + pseudonym.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> MemberNumber {
        MemberNumber::parse(s).unwrap()
    }

    #[test]
    fn pseudonym_is_stable_keyed_and_a_uid() {
        let p = pseudonym(b"k1", &number("1001"));
        assert_eq!(p, pseudonym(b"k1", &number("1001")));
        assert_ne!(p, pseudonym(b"k2", &number("1001")));
        assert_ne!(p, pseudonym(b"k1", &number("1002")));
        assert_eq!(p.len(), PSEUDONYM_PREFIX.len() + 12);
        crate::ids::Uid::parse(&p).unwrap();
        assert_eq!(tombstone(b"k1", &number("1001")).len(), 64);
        assert!(!tombstone(b"k1", &number("1001")).contains(&p[PSEUDONYM_PREFIX.len()..]));
    }

    fn check(text: &str, needles: &[&str], expected: &str) {
        assert_eq!(scrub(text, needles, "P"), expected, "{text}");
    }

    #[test]
    fn scrub_replaces_whole_words_only() {
        check("anna", &["anna"], "P");
        check("uid=anna,ou=people,dc=x", &["anna"], "uid=P,ou=people,dc=x");
        check("annabelle and anna.", &["anna"], "annabelle and P.");
        check("anna.smith", &["anna"], "anna.smith");
        check("member 1001 and 10012", &["1001"], "member P and 10012");
        check("Anna@Example.org wrote", &["anna@example.org"], "P wrote");
        check("Anna Berg (anna)", &["Anna", "Berg", "anna"], "P P (P)");
        check("Jörg jörg", &["jörg"], "P P");
        check("JÖRG", &["jörg"], "JÖRG");
        check("", &["x"], "");
        check("x", &[""], "x");
    }
}
