//! The common search request read straight from its bytes, beside the general decoder.
//!
//! A service's login lookup, `(uid=…)` or an AND of equalities with a few attributes and no
//! controls, is most of what the server reads. ldap3_lber parses every message into a tree of
//! tags with an allocation per element, and ldap3_proto then converts the tree: at a bare
//! `(uid=…)` search that was a quarter of the server's instructions (issue 17). Written by
//! hand because no crate reads LDAP messages without the tree.
//!
//! This reader accepts only one canonical shape and says `None` to everything else, which then
//! goes to the general decoder (`codec.rs`) and gets its answer from there: definite lengths in
//! their shortest form, a minimal non-negative message ID, size and time limit, typesOnly as
//! 0x00 or 0xFF, filters made of AND, OR, NOT (exactly one inside), equality and presence at
//! most [`MAX_FILTER_DEPTH`] deep, no controls, nothing after the operation. What it accepts
//! it reads exactly as the general decoder does (unit tests and the `search_reader` fuzz target
//! compare the two on every input).

use ldap3_proto::proto::{LdapDerefAliases, LdapFilter, LdapMsg, LdapOp, LdapSearchRequest, LdapSearchScope};

/// Filters nested deeper than this go to the general decoder, which has its own limits.
pub(crate) const MAX_FILTER_DEPTH: usize = 8;

/// The search request at the start of `buf` and its size in bytes, if it is a whole message
/// of the canonical shape; `None` otherwise (incomplete, another operation, or any other form).
pub(crate) fn read(buf: &[u8]) -> Option<(LdapMsg, usize)> {
    let mut outer = Reader(buf);
    let message = outer.element(0x30)?;
    let size = buf.len() - outer.0.len();
    let mut message = Reader(message);
    let msgid = i32::try_from(message.integer(0x02)?).ok().filter(|id| *id > 0)?;
    let mut op = Reader(message.element(0x63)?);
    if !message.0.is_empty() {
        return None;
    }
    let base = op.string(0x04)?;
    let scope = LdapSearchScope::try_from(op.integer(0x0a)?).ok()?;
    let aliases = LdapDerefAliases::try_from(op.integer(0x0a)?).ok()?;
    let sizelimit = i32::try_from(op.integer(0x02)?).ok()?;
    let timelimit = i32::try_from(op.integer(0x02)?).ok()?;
    let typesonly = match op.element(0x01)? {
        [0x00] => false,
        [0xff] => true,
        _ => return None,
    };
    let filter = op.filter(MAX_FILTER_DEPTH)?;
    let mut list = Reader(op.element(0x30)?);
    if !op.0.is_empty() {
        return None;
    }
    let mut attrs = Vec::new();
    while !list.0.is_empty() {
        attrs.push(list.string(0x04)?);
    }
    let req = LdapSearchRequest {
        base,
        scope,
        aliases,
        sizelimit,
        timelimit,
        typesonly,
        filter,
        attrs,
    };
    Some((
        LdapMsg {
            msgid,
            op: LdapOp::SearchRequest(req),
            ctrl: Vec::new(),
        },
        size,
    ))
}

/// The unread rest of an element's contents.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The contents of the next element if its identifier is `tag`; moves past it.
    fn element(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&first, rest) = self.0.split_first()?;
        if first != tag {
            return None;
        }
        let (len, rest) = length(rest)?;
        let contents = rest.get(..len)?;
        self.0 = rest.get(len..)?;
        Some(contents)
    }

    /// The identifier of the next element, without moving.
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// A minimally encoded non-negative INTEGER or ENUMERATED of at most four bytes.
    fn integer(&mut self, tag: u8) -> Option<i64> {
        let bytes = self.element(tag)?;
        let (&first, _) = bytes.split_first()?;
        let padded = bytes.len() > 1 && first == 0 && bytes[1] & 0x80 == 0;
        if bytes.len() > 4 || first & 0x80 != 0 || padded {
            return None;
        }
        Some(bytes.iter().fold(0, |n, b| (n << 8) | i64::from(*b)))
    }

    /// An OCTET STRING that is UTF-8.
    fn string(&mut self, tag: u8) -> Option<String> {
        std::str::from_utf8(self.element(tag)?).ok().map(str::to_string)
    }

    /// A filter of the canonical shape, at most `depth` deep.
    fn filter(&mut self, depth: usize) -> Option<LdapFilter> {
        let depth = depth.checked_sub(1)?;
        match self.peek()? {
            tag @ (0xa0 | 0xa1) => {
                let mut inner = Reader(self.element(tag)?);
                let mut parts = Vec::new();
                while !inner.0.is_empty() {
                    parts.push(inner.filter(depth)?);
                }
                Some(if tag == 0xa0 {
                    LdapFilter::And(parts)
                } else {
                    LdapFilter::Or(parts)
                })
            }
            0xa2 => {
                let mut inner = Reader(self.element(0xa2)?);
                let one = inner.filter(depth)?;
                inner.0.is_empty().then(|| LdapFilter::Not(Box::new(one)))
            }
            0xa3 => {
                let mut inner = Reader(self.element(0xa3)?);
                let (attr, value) = (inner.string(0x04)?, inner.string(0x04)?);
                inner.0.is_empty().then_some(LdapFilter::Equality(attr, value))
            }
            0x87 => std::str::from_utf8(self.element(0x87)?)
                .ok()
                .map(|a| LdapFilter::Present(a.to_string())),
            _ => None,
        }
    }
}

/// A definite length in its shortest form (one, two or three bytes) and what follows it.
fn length(bytes: &[u8]) -> Option<(usize, &[u8])> {
    match bytes {
        [n @ 0x00..=0x7f, rest @ ..] => Some((usize::from(*n), rest)),
        [0x81, n @ 0x80..=0xff, rest @ ..] => Some((usize::from(*n), rest)),
        [0x82, hi @ 0x01..=0xff, lo, rest @ ..] => Some((usize::from(*hi) << 8 | usize::from(*lo), rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use ldap3_proto::LdapCodec;
    use tokio_util::codec::Encoder;

    /// What the general decoder (ldap3_lber's tree, the shape checks, ldap3_proto) makes of
    /// `bytes`.
    fn general(bytes: &[u8]) -> Option<(LdapMsg, usize)> {
        let mut buf = BytesMut::from(bytes);
        let msg = crate::connection::codec(true).decode_general(&mut buf).ok().flatten()?;
        Some((msg, bytes.len() - buf.len()))
    }

    fn encoded(msg: LdapMsg) -> Vec<u8> {
        let mut buf = BytesMut::new();
        LdapCodec::default().encode(msg, &mut buf).unwrap();
        buf.to_vec()
    }

    fn search(filter: LdapFilter, attrs: &[&str], msgid: i32) -> LdapMsg {
        LdapMsg::new(
            msgid,
            LdapOp::SearchRequest(LdapSearchRequest {
                base: "ou=people,dc=example,dc=org".into(),
                scope: LdapSearchScope::Subtree,
                aliases: LdapDerefAliases::Never,
                sizelimit: 0,
                timelimit: 300,
                typesonly: false,
                filter,
                attrs: attrs.iter().map(|a| a.to_string()).collect(),
            }),
        )
    }

    fn eq(a: &str, v: &str) -> LdapFilter {
        LdapFilter::Equality(a.into(), v.into())
    }

    #[test]
    fn reads_the_common_searches_as_the_general_decoder_does() {
        let long = "x".repeat(300);
        let filters = [
            eq("uid", "u000001"),
            LdapFilter::And(vec![eq("objectClass", "inetOrgPerson"), eq("uid", "alice")]),
            LdapFilter::Or(vec![eq("mail", "a@b.c"), LdapFilter::Present("cn".into())]),
            LdapFilter::Not(Box::new(eq("uid", "bob"))),
            LdapFilter::And(vec![]),
            eq("description", &long),
        ];
        for (n, filter) in filters.into_iter().enumerate() {
            for msgid in [1, 127, 128, 65_535, i32::MAX] {
                let msg = search(filter.clone(), &["uid", "cn", "mail", "memberOf"], msgid);
                let mut bytes = encoded(msg.clone());
                bytes.extend_from_slice(&[0x30, 0x00]);
                let fast = read(&bytes);
                assert!(fast.is_some(), "filter {n}, id {msgid}");
                assert_eq!(fast, general(&bytes));
                assert_eq!(fast.map(|(m, _)| m), Some(msg));
            }
        }
    }

    #[test]
    fn leaves_every_other_form_to_the_general_decoder() {
        let plain = encoded(search(eq("uid", "alice"), &["uid"], 2));
        assert!(read(&plain).is_some());
        // Incomplete.
        assert!(read(&plain[..plain.len() - 1]).is_none());
        // Other filters: substrings, greater-or-equal.
        let substring = LdapFilter::Substring(
            "uid".into(),
            ldap3_proto::proto::LdapSubstringFilter {
                initial: Some("a".into()),
                any: vec![],
                final_: None,
            },
        );
        assert!(read(&encoded(search(substring, &[], 2))).is_none());
        assert!(
            read(&encoded(search(
                LdapFilter::GreaterOrEqual("a".into(), "b".into()),
                &[],
                2
            )))
            .is_none()
        );
        // Too deep.
        let mut deep = eq("uid", "a");
        for _ in 0..MAX_FILTER_DEPTH {
            deep = LdapFilter::Not(Box::new(deep));
        }
        assert!(read(&encoded(search(deep, &[], 2))).is_none());
        // Controls.
        let mut with_controls = search(eq("uid", "a"), &[], 2);
        with_controls.ctrl = vec![ldap3_proto::control::LdapControl::SimplePagedResults {
            size: 10,
            cookie: vec![],
        }];
        assert!(read(&encoded(with_controls)).is_none());
        // Another operation.
        assert!(read(&encoded(LdapMsg::new(3, LdapOp::UnbindRequest))).is_none());
    }

    #[test]
    fn refuses_non_canonical_bytes_one_at_a_time() {
        let plain = encoded(search(eq("uid", "alice"), &["uid"], 2));
        // Flip each byte in turn: whatever the fast reader still accepts, the general decoder
        // must read the same way.
        for at in 0..plain.len() {
            for value in [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0xa2, 0xff] {
                let mut bytes = plain.clone();
                bytes[at] = value;
                if let Some(fast) = read(&bytes) {
                    assert_eq!(Some(fast), general(&bytes), "byte {at} set to {value:#x}");
                }
            }
        }
        // A length in the long form where the short one would do.
        let mut padded = vec![0x30, 0x81, (plain.len() - 2) as u8];
        padded.extend_from_slice(&plain[2..]);
        assert!(read(&padded).is_none());
        // A message ID with a leading zero byte, and a negative size limit.
        assert!(read(&[0x30, 0x04, 0x02, 0x02, 0x00, 0x01]).is_none());
        let negative = encoded(LdapMsg::new(
            2,
            LdapOp::SearchRequest(LdapSearchRequest {
                sizelimit: -1,
                ..match search(eq("uid", "a"), &[], 2).op {
                    LdapOp::SearchRequest(r) => r,
                    _ => unreachable!(),
                }
            }),
        ));
        assert!(read(&negative).is_none());
    }

    #[test]
    fn agrees_with_the_general_decoder_on_random_mutations() {
        let seeds = [
            encoded(search(eq("uid", "alice"), &["uid", "cn"], 2)),
            encoded(search(
                LdapFilter::And(vec![
                    eq("objectClass", "inetOrgPerson"),
                    LdapFilter::Not(Box::new(LdapFilter::Present("mail".into()))),
                ]),
                &[],
                70_000,
            )),
        ];
        // xorshift: the same sequence on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for round in 0..20_000 {
            let mut bytes = seeds[round % seeds.len()].clone();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes.insert(at, next() as u8),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            if let Some(fast) = read(&bytes) {
                accepted += 1;
                assert_eq!(Some(fast), general(&bytes), "{bytes:02x?}");
            }
        }
        assert!(accepted > 100, "the mutations reach the accepting paths ({accepted})");
    }
}
