//! The wire codec: ldap3_proto's message types behind a check of the message ID, which
//! ldap3_proto reads as unsigned (−1 arrives as 255, 2³¹ wraps), and of the operation's tag,
//! since ldap3_proto prints every unknown operation to stdout (a log no one can rate-limit).
//! Written by hand because no crate offers it: a few bytes of the header are read before the
//! message is decoded.
//!
//! A request's ID must be a minimally encoded INTEGER from 1 to 2³¹−1 (RFC 4511 4.1.1), and
//! its operation one of the ten requests a client sends (4.2 to 4.12). A complete message must
//! also have RFC 4511's shape where ldap3_proto is lenient: nothing after the controls, and a
//! NOT filter with exactly one filter inside (`shape`). The message's BER is parsed once
//! (ldap3_lber, depth limit 16), its shape checked, and the parsed tags turned into the
//! `LdapMsg` (ldap3_proto): ldap3_proto's own decoder would parse it a second time.
//!
//! The common search request is read by `search_request.rs` without the tree of tags; search
//! results are encoded by `encode.rs`, everything else by ldap3_proto.
//!
//! Bounds: a message of more than the codec's size is refused, and so are more than twice that
//! many bytes unread (ldap3_proto's rule).

use bytes::{Buf, BytesMut};
use ldap3_lber::parse::Parser;
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::LdapMsg;
use tokio_util::codec::{Decoder, Encoder};

/// ldap3_proto's depth limit for BER.
const MAX_DEPTH: usize = 16;

/// A codec that refuses messages whose ID, operation or shape is wrong, and messages over
/// `max_message` bytes.
pub struct StrictCodec {
    max_message: usize,
}

impl StrictCodec {
    /// A codec for messages of at most `max_message` bytes.
    pub fn new(max_message: usize) -> StrictCodec {
        StrictCodec { max_message }
    }
}

fn invalid(why: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why)
}

/// What the first bytes say about the message ID.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    /// Not enough bytes yet.
    Incomplete,
    /// The ID is in range (or the bytes are no LDAPMessage: the decoder says so).
    Fine,
    /// The ID is zero, negative, too long or not minimally encoded.
    BadId,
    /// The operation is no request (a response, or no LDAP operation at all).
    NotARequest,
}

/// The tags of the requests of RFC 4511: bind, unbind, search, modify, add, delete, modify DN,
/// compare, abandon, extended.
const REQUEST_TAGS: [u8; 10] = [0x60, 0x42, 0x63, 0x66, 0x68, 0x4a, 0x6c, 0x6e, 0x50, 0x77];

fn header(buf: &[u8]) -> Header {
    match buf.first() {
        None => return Header::Incomplete,
        Some(0x30) => {}
        Some(_) => return Header::Fine,
    }
    let Some(&first) = buf.get(1) else {
        return Header::Incomplete;
    };
    let at = if first < 0x80 { 2 } else { 2 + usize::from(first & 0x7f) };
    let (Some(&tag), Some(&len)) = (buf.get(at), buf.get(at + 1)) else {
        return Header::Incomplete;
    };
    if tag != 0x02 {
        return Header::Fine;
    }
    let len = usize::from(len);
    let Some(id) = buf.get(at + 2..at + 2 + len) else {
        return Header::Incomplete;
    };
    let negative = id.first().is_some_and(|b| b & 0x80 != 0);
    let padded = id.len() > 1 && id[0] == 0 && id[1] & 0x80 == 0;
    if len == 0 || len > 4 || negative || padded || id.iter().all(|b| *b == 0) {
        return Header::BadId;
    }
    match buf.get(at + 2 + len) {
        None => Header::Incomplete,
        Some(op) if REQUEST_TAGS.contains(op) => Header::Fine,
        Some(_) => Header::NotARequest,
    }
}

impl Decoder for StrictCodec {
    type Item = LdapMsg;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<LdapMsg>, Self::Error> {
        if buf.len() > self.max_message.saturating_mul(2) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                "too many bytes unread",
            ));
        }
        match header(buf) {
            Header::BadId => return Err(invalid("message ID out of range 1..2^31-1")),
            Header::NotARequest => return Err(invalid("the operation is not an LDAP request")),
            Header::Incomplete | Header::Fine => {}
        }
        // The common search, read without the tree of tags (`search_request.rs`).
        if let Some((msg, size)) = crate::search_request::read(buf)
            && size <= self.max_message
        {
            buf.advance(size);
            return Ok(Some(msg));
        }
        self.decode_general(buf)
    }
}

impl StrictCodec {
    /// Any message, through ldap3_lber's tree of tags: the shape checks, then ldap3_proto.
    pub(crate) fn decode_general(&self, buf: &mut BytesMut) -> Result<Option<LdapMsg>, std::io::Error> {
        let (rest, msg) = match Parser::new(MAX_DEPTH).parse(buf) {
            Ok(parsed) => parsed,
            Err(e) if e.is_incomplete() => return Ok(None),
            Err(_) => return Err(invalid("the message is no BER")),
        };
        let size = buf.len() - rest.len();
        if size > self.max_message {
            return Err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                "the message is too large",
            ));
        }
        if let Some(why) = shape::misshapen(&msg) {
            return Err(invalid(why));
        }
        buf.advance(size);
        LdapMsg::try_from(msg).map(Some).map_err(std::io::Error::other)
    }
}

impl Encoder<LdapMsg> for StrictCodec {
    type Error = std::io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> Result<(), Self::Error> {
        if crate::encode::search_result(&msg, buf) {
            return Ok(());
        }
        LdapCodec::default().encode(msg, buf)
    }
}

/// RFC 4511 shapes that ldap3_proto does not insist on.
mod shape {
    use ldap3_lber::common::TagClass;
    use ldap3_lber::structure::{PL, StructureTag};

    /// Why a parsed message breaks RFC 4511's shape; `None` when it does not (or is no
    /// LDAPMessage at all: ldap3_proto answers that).
    pub fn misshapen(msg: &StructureTag) -> Option<&'static str> {
        let PL::C(parts) = &msg.payload else {
            return None;
        };
        if parts.len() > 3 || (parts.len() == 3 && !is(&parts[2], TagClass::Context, 0)) {
            return Some("elements after the message's controls");
        }
        let op = parts.get(1)?;
        if is(op, TagClass::Application, 3)
            && let PL::C(search) = &op.payload
            && let Some(filter) = search.get(6)
            && !filter_ok(filter)
        {
            return Some("a NOT filter must hold exactly one filter");
        }
        None
    }

    fn is(tag: &StructureTag, class: TagClass, id: u64) -> bool {
        tag.class == class && tag.id == id
    }

    /// AND and OR hold filters; NOT holds exactly one.
    fn filter_ok(f: &StructureTag) -> bool {
        match (&f.class, f.id, &f.payload) {
            (TagClass::Context, 0 | 1, PL::C(children)) => children.iter().all(filter_ok),
            (TagClass::Context, 2, PL::C(children)) => children.len() == 1 && children.iter().all(filter_ok),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids() {
        let msg = |id: &[u8]| {
            let mut m = vec![0x30, 0x0c, 0x02, id.len() as u8];
            m.extend_from_slice(id);
            m.extend_from_slice(&[0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]);
            m
        };
        let cases: &[(&[u8], Header)] = &[
            (&[0x01], Header::Fine),
            (&[0x7f, 0xff, 0xff, 0xff], Header::Fine),
            (&[0x00, 0x80], Header::Fine),
            (&[0x00], Header::BadId),
            (&[0xff], Header::BadId),
            (&[0x80, 0x00, 0x00, 0x00], Header::BadId),
            (&[0x00, 0x80, 0x00, 0x00, 0x00], Header::BadId),
            (&[0x00, 0x01], Header::BadId),
            (&[], Header::BadId),
        ];
        for (id, want) in cases {
            assert_eq!(header(&msg(id)), *want, "{id:x?}");
        }
        assert_eq!(header(&[0x30]), Header::Incomplete);
        assert_eq!(header(&[0x30, 0x84, 0x00]), Header::Incomplete);
        assert_eq!(header(&[0x30, 0x0c, 0x02, 0x02, 0x01]), Header::Incomplete);
        assert_eq!(header(&[0x30, 0x05, 0x02, 0x01, 0x01]), Header::Incomplete);
        assert_eq!(header(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00]), Header::Fine);
        assert_eq!(header(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x7f, 0x00]), Header::NotARequest);
        assert_eq!(
            header(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x61, 0x00]),
            Header::NotARequest,
            "a bind response"
        );
        assert_eq!(header(&[0x31, 0x00]), Header::Fine, "the decoder refuses it");
    }

    /// `bytes` parsed and checked for shape.
    fn misshapen(bytes: &[u8]) -> Option<&'static str> {
        let (_, msg) = ldap3_lber::parse::Parser::new(MAX_DEPTH).parse(bytes).ok()?;
        shape::misshapen(&msg)
    }

    /// A search of the root DSE with `filter`, message ID 2, and `extra` after the operation.
    fn search(filter: &[u8], extra: &[u8]) -> Vec<u8> {
        let tlv = |tag: u8, body: &[u8]| {
            let mut out = vec![tag, body.len() as u8];
            out.extend_from_slice(body);
            out
        };
        let mut op = tlv(0x04, b"");
        op.extend([
            0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00,
        ]);
        op.extend_from_slice(filter);
        op.extend(tlv(0x30, b""));
        let mut msg = vec![0x02, 0x01, 0x02];
        msg.extend(tlv(0x63, &op));
        msg.extend_from_slice(extra);
        tlv(0x30, &msg)
    }

    #[test]
    fn shapes_ldap3_proto_lets_through() {
        let present = [0x87, 0x02, b'c', b'n'];
        let not_one = [&[0xa2, 0x04][..], &present].concat();
        let not_two = [&[0xa2, 0x08][..], &present, &present].concat();
        let and_of_bad_not = [&[0xa0, 0x0a][..], &not_two].concat();
        assert_eq!(misshapen(&search(&present, b"")), None);
        assert_eq!(misshapen(&search(&not_one, b"")), None);
        assert!(misshapen(&search(&not_two, b"")).is_some());
        assert!(misshapen(&search(&and_of_bad_not, b"")).is_some());
        let controls = [0xa0, 0x00];
        assert_eq!(misshapen(&search(&present, &controls)), None);
        assert!(misshapen(&search(&present, &[0x04, 0x00])).is_some(), "not controls");
        assert!(
            misshapen(&search(&present, &[0xa0, 0x00, 0x04, 0x00])).is_some(),
            "after controls"
        );
        assert_eq!(
            misshapen(&search(&present, b"")[..5]),
            None,
            "incomplete: the decoder waits"
        );
        // And the decoder refuses it.
        let mut codec = StrictCodec::new(1024);
        let mut buf = BytesMut::from(&search(&not_two, b"")[..]);
        assert!(codec.decode(&mut buf).is_err());
    }

    #[test]
    fn the_decoder_waits_for_a_whole_message_and_takes_one_at_a_time() {
        let one = search(&[0x87, 0x02, b'c', b'n'], b"");
        let mut codec = StrictCodec::new(1024);
        let mut buf = BytesMut::from(&one[..one.len() - 1]);
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
        buf.extend_from_slice(&one[one.len() - 1..]);
        buf.extend_from_slice(&one);
        for _ in 0..2 {
            let msg = codec.decode(&mut buf).ok().flatten();
            assert!(msg.is_some_and(|m| m.msgid == 2));
        }
        assert!(buf.is_empty());
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
    }

    #[test]
    fn a_message_over_the_limit_or_no_ber_is_refused() {
        let big = search(&[0x87, 0x02, b'c', b'n'], b"");
        let mut small = StrictCodec::new(big.len() - 1);
        assert!(small.decode(&mut BytesMut::from(&big[..])).is_err());
        let mut unread = BytesMut::from(&vec![0x30, 0x84, 0x7f, 0xff][..]);
        unread.extend_from_slice(&vec![0; 3 * big.len()]);
        assert!(small.decode(&mut unread).is_err(), "more than twice the limit unread");
        let mut codec = StrictCodec::new(1024);
        let mut garbage = BytesMut::from(&[0x30, 0x03, 0x02, 0x01, 0x01, 0xff, 0xff][..]);
        assert!(codec.decode(&mut garbage).is_err());
    }
}
