//! Search results encoded straight into the write buffer (BER, RFC 4511 4.5.2 and 4.1.9).
//!
//! Entries and SearchResultDone are most of what the server writes. ldap3_proto turns each
//! message into a tree of tags and its encoder copies every constructed element's children into
//! a buffer of their own, allocations per element: at a bare `(uid=…)` search that was 11 % of
//! the server's CPU (issue 17). Written by hand because no crate encodes these messages
//! without the tree. The bytes are exactly ldap3_proto's (definite lengths in the shortest
//! form, minimal INTEGERs; the tests compare), and every other message (other operations,
//! controls, referrals) still goes through ldap3_proto.

use bytes::{BufMut, BytesMut};
use ldap3_proto::proto::{LdapMsg, LdapOp, LdapResult, LdapSearchResultEntry};

/// BER identifiers of the elements written here.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const ENUMERATED: u8 = 0x0a;
/// `[APPLICATION 4]` and `[APPLICATION 5]`, constructed.
const SEARCH_RESULT_ENTRY: u8 = 0x64;
const SEARCH_RESULT_DONE: u8 = 0x65;

/// Writes `msg` to `buf` if it is a search result entry or a search result done without
/// controls or referrals; `false` (and nothing written) for any other message.
pub(crate) fn search_result(msg: &LdapMsg, buf: &mut BytesMut) -> bool {
    if !msg.ctrl.is_empty() || msg.msgid < 0 {
        return false;
    }
    let id = i64::from(msg.msgid);
    match &msg.op {
        LdapOp::SearchResultEntry(entry) => {
            let body = entry_body(entry);
            message_header(buf, id, SEARCH_RESULT_ENTRY, body);
            write_entry(buf, entry);
            true
        }
        LdapOp::SearchResultDone(result) if result.referral.is_empty() => {
            let body = result_body(result);
            message_header(buf, id, SEARCH_RESULT_DONE, body);
            write_result(buf, result);
            true
        }
        _ => false,
    }
}

/// The LDAPMessage's SEQUENCE header, its ID and the operation's header.
fn message_header(buf: &mut BytesMut, id: i64, op: u8, op_body: usize) {
    let content = integer_size(id) + element_size(op_body);
    buf.reserve(element_size(content));
    header(buf, SEQUENCE, content);
    integer(buf, INTEGER, id);
    header(buf, op, op_body);
}

/// The size of a SearchResultEntry's contents: the DN and the attribute list.
fn entry_body(entry: &LdapSearchResultEntry) -> usize {
    element_size(entry.dn.len()) + element_size(attributes_body(entry))
}

fn attributes_body(entry: &LdapSearchResultEntry) -> usize {
    entry
        .attributes
        .iter()
        .map(|a| element_size(element_size(a.atype.len()) + element_size(values_body(&a.vals))))
        .sum()
}

fn values_body(values: &[Vec<u8>]) -> usize {
    values.iter().map(|v| element_size(v.len())).sum()
}

fn write_entry(buf: &mut BytesMut, entry: &LdapSearchResultEntry) {
    octets(buf, entry.dn.as_bytes());
    header(buf, SEQUENCE, attributes_body(entry));
    for a in &entry.attributes {
        let values = values_body(&a.vals);
        header(buf, SEQUENCE, element_size(a.atype.len()) + element_size(values));
        octets(buf, a.atype.as_bytes());
        header(buf, SET, values);
        for v in &a.vals {
            octets(buf, v);
        }
    }
}

/// The size of an LDAPResult's contents without referrals.
fn result_body(result: &LdapResult) -> usize {
    integer_size(result.code.clone() as i64) + element_size(result.matcheddn.len()) + element_size(result.message.len())
}

fn write_result(buf: &mut BytesMut, result: &LdapResult) {
    integer(buf, ENUMERATED, result.code.clone() as i64);
    octets(buf, result.matcheddn.as_bytes());
    octets(buf, result.message.as_bytes());
}

/// The size of an element with `content` bytes: identifier, length and contents.
fn element_size(content: usize) -> usize {
    1 + length_size(content) + content
}

/// Bytes of a definite length in its shortest form.
fn length_size(n: usize) -> usize {
    if n < 0x80 { 1 } else { 1 + significant_bytes(n as u64) }
}

/// Bytes of `n` without its leading zero bytes (at least one).
fn significant_bytes(n: u64) -> usize {
    (8 - (n.leading_zeros() / 8) as usize).max(1)
}

fn header(buf: &mut BytesMut, identifier: u8, content: usize) {
    buf.put_u8(identifier);
    if content < 0x80 {
        buf.put_u8(content as u8);
    } else {
        let n = significant_bytes(content as u64);
        buf.put_u8(0x80 | n as u8);
        buf.put_slice(&(content as u64).to_be_bytes()[8 - n..]);
    }
}

fn octets(buf: &mut BytesMut, bytes: &[u8]) {
    header(buf, OCTET_STRING, bytes.len());
    buf.put_slice(bytes);
}

/// The contents' size of a non-negative INTEGER or ENUMERATED: its bytes, and a zero byte in
/// front when the top bit is set (BER integers are signed).
fn integer_content(n: i64) -> usize {
    let n = n.max(0) as u64;
    let bytes = significant_bytes(n);
    if n >> (8 * bytes - 1) == 1 { bytes + 1 } else { bytes }
}

fn integer_size(n: i64) -> usize {
    element_size(integer_content(n))
}

fn integer(buf: &mut BytesMut, identifier: u8, n: i64) {
    // At most 8 bytes: a non-negative i64 has its top bit clear.
    let content = integer_content(n);
    header(buf, identifier, content);
    buf.put_slice(&(n.max(0) as u64).to_be_bytes()[8 - content..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::LdapCodec;
    use ldap3_proto::proto::{LdapPartialAttribute, LdapResultCode};
    use tokio_util::codec::Encoder;

    /// What ldap3_proto writes for `msg`.
    fn theirs(msg: &LdapMsg) -> Vec<u8> {
        let mut buf = BytesMut::new();
        let encoded = LdapCodec::default().encode(msg.clone(), &mut buf);
        assert!(encoded.is_ok());
        buf.to_vec()
    }

    fn ours(msg: &LdapMsg) -> Option<Vec<u8>> {
        let mut buf = BytesMut::new();
        search_result(msg, &mut buf).then(|| buf.to_vec())
    }

    fn entry(dn: &str, attributes: &[(&str, Vec<Vec<u8>>)]) -> LdapOp {
        LdapOp::SearchResultEntry(LdapSearchResultEntry {
            dn: dn.to_string(),
            attributes: attributes
                .iter()
                .map(|(t, v)| LdapPartialAttribute {
                    atype: t.to_string(),
                    vals: v.clone(),
                })
                .collect(),
        })
    }

    fn done(code: LdapResultCode, matched: &str, message: &str) -> LdapOp {
        LdapOp::SearchResultDone(LdapResult {
            code,
            matcheddn: matched.to_string(),
            message: message.to_string(),
            referral: Vec::new(),
        })
    }

    #[test]
    fn entries_and_results_are_byte_for_byte_what_ldap3_proto_writes() {
        let long = vec![b'x'; 300];
        let longer = vec![b'y'; 70_000];
        let ops = [
            entry("", &[]),
            entry(
                "uid=anna,ou=people,dc=example,dc=org",
                &[("uid", vec![b"anna".to_vec()])],
            ),
            entry(
                "uid=bert,ou=people,dc=example,dc=org",
                &[
                    ("cn", vec![b"Bert".to_vec(), "Bört Ü".as_bytes().to_vec()]),
                    ("memberOf", vec![]),
                    ("description", vec![long.clone(), Vec::new()]),
                    ("jpegPhoto", vec![longer.clone()]),
                ],
            ),
            entry(&"d".repeat(200), &[("a", vec![b"v".to_vec(); 100])]),
            done(LdapResultCode::Success, "", ""),
            done(LdapResultCode::NoSuchObject, "ou=people,dc=example,dc=org", "no entry"),
            done(LdapResultCode::SizeLimitExceeded, "", &"m".repeat(129)),
            done(LdapResultCode::Other, "", ""),
        ];
        for id in [1, 2, 127, 128, 255, 256, 32_767, 32_768, 8_388_608, i32::MAX] {
            for op in &ops {
                let msg = LdapMsg::new(id, op.clone());
                assert_eq!(ours(&msg), Some(theirs(&msg)), "message ID {id}, {op:?}");
            }
        }
    }

    #[test]
    fn other_messages_are_left_to_ldap3_proto() {
        let with_referral = LdapOp::SearchResultDone(LdapResult {
            code: LdapResultCode::Referral,
            matcheddn: String::new(),
            message: String::new(),
            referral: vec!["ldap://elsewhere/".into()],
        });
        let with_control = LdapMsg::new_with_ctrls(
            3,
            done(LdapResultCode::Success, "", ""),
            vec![ldap3_proto::control::LdapControl::SimplePagedResults {
                size: 0,
                cookie: Vec::new(),
            }],
        );
        assert_eq!(ours(&LdapMsg::new(3, with_referral)), None);
        assert_eq!(ours(&with_control), None);
        assert_eq!(ours(&LdapMsg::new(3, LdapOp::UnbindRequest)), None);
    }
}
