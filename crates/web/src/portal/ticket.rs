//! Tickets that authorise the TOTP steps right after an activation (the member is logged in to
//! nothing yet). A ticket names the account, its step and its expiry, carries a random nonce,
//! and is signed with the token key together with the browser's portal cookie: it works only
//! with the cookie it was issued to, and once (its nonce is taken in the store, so a replay is
//! refused on every node).

use hmac::{Hmac, Mac};
use piratenldap_core::ids::Uid;
use rand::RngCore;
use sha2::Sha256;
use time::OffsetDateTime;

/// How long a ticket stays valid.
pub const LIFETIME_SECONDS: i64 = 15 * 60;

/// The step a ticket opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Right after activation: start enrolment, or skip it.
    Offer,
    /// After a secret was shown: confirm it with a code, or skip.
    Confirm,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Offer => "offer",
            Step::Confirm => "confirm",
        }
    }

    fn parse(s: &str) -> Option<Step> {
        match s {
            "offer" => Some(Step::Offer),
            "confirm" => Some(Step::Confirm),
            _ => None,
        }
    }
}

/// A ticket whose signature, cookie and expiry checked out (its nonce is not yet taken).
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The account it is for.
    pub uid: Uid,
    /// The step it opens.
    pub step: Step,
    /// Taken in the store when the ticket is used.
    pub nonce: String,
    /// When it stops working.
    pub expires: OffsetDateTime,
}

fn sign(key: &[u8], body: &str, cookie: &str) -> Option<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(b"totp-ticket|");
    mac.update(body.as_bytes());
    mac.update(b"|");
    mac.update(cookie.as_bytes());
    Some(mac.finalize().into_bytes().into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new ticket for `uid`'s `step`, bound to the browser's `cookie`.
pub fn issue(key: &[u8], uid: &Uid, step: Step, cookie: &str, now: OffsetDateTime) -> String {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let expires = now.unix_timestamp() + LIFETIME_SECONDS;
    let body = format!("{uid}|{}|{expires}|{}", step.as_str(), hex(&nonce));
    let sig = sign(key, &body, cookie).map(|s| hex(&s)).unwrap_or_default();
    format!("{body}|{sig}")
}

/// The ticket, if it is signed by `key` for this `cookie` and not expired at `now`.
pub fn check(key: &[u8], ticket: &str, cookie: &str, now: OffsetDateTime) -> Option<Ticket> {
    let (body, sig) = ticket.rsplit_once('|')?;
    let expected = sign(key, body, cookie)?;
    if sig.len() != 2 * expected.len() {
        return None;
    }
    let given: Vec<u8> = (0..sig.len() / 2)
        .map(|i| sig.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<_>>()?;
    if given.len() != expected.len() || given.iter().zip(expected).fold(0u8, |a, (x, y)| a | (x ^ y)) != 0 {
        return None;
    }
    let mut parts = body.split('|');
    let (uid, step, expires, nonce) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let expires = OffsetDateTime::from_unix_timestamp(expires.parse().ok()?).ok()?;
    (parts.next().is_none() && expires > now).then_some(())?;
    Some(Ticket {
        uid: Uid::parse(uid).ok()?,
        step: Step::parse(step)?,
        nonce: nonce.to_string(),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_cookie_key_and_time() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let uid = Uid::parse("bertram").unwrap();
        let t = issue(b"key", &uid, Step::Offer, "cookie-a", now);
        let ok = check(b"key", &t, "cookie-a", now);
        assert!(ok.as_ref().is_some_and(|t| t.uid == uid && t.step == Step::Offer));
        assert!(check(b"key", &t, "cookie-b", now).is_none(), "another browser");
        assert!(check(b"other", &t, "cookie-a", now).is_none(), "another key");
        let later = now + time::Duration::seconds(LIFETIME_SECONDS);
        assert!(check(b"key", &t, "cookie-a", later).is_none(), "expired");
        let forged = t.replacen("bertram", "alice", 1);
        assert!(check(b"key", &forged, "cookie-a", now).is_none(), "another account");
        let other_step = t.replacen("|offer|", "|confirm|", 1);
        assert!(check(b"key", &other_step, "cookie-a", now).is_none(), "another step");
        assert!(check(b"key", "garbage|ff", "cookie-a", now).is_none());
        assert!(
            check(b"key", &format!("{t}0"), "cookie-a", now).is_none(),
            "a longer signature"
        );
        assert!(check(b"key", "", "cookie-a", now).is_none());
    }
}
