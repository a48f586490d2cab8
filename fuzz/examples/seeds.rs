//! Writes the binary seeds of the `pdu` and `filter` targets (`corpus/pdu/`, `corpus/filter/`)
//! with ldap3_proto's encoder: real LDAP messages as clients send them. Run from `fuzz/`:
//! `cargo run --example seeds` (the text seeds of the other targets are committed as files).
//!
//! A `pdu` seed is a selector byte (who the connection is bound as, see `src/bin/pdu.rs`)
//! followed by one or more encoded messages.

use std::path::Path;

use bytes::BytesMut;
use ldap3_lber::structures::ASNTag;
use ldap3_lber::structures::Tag;
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::parse_ldap_filter_str;
use ldap3_proto::proto::{
    LdapAddRequest, LdapBindCred, LdapBindRequest, LdapCompareRequest, LdapDerefAliases, LdapExtendedRequest,
    LdapFilter, LdapModify, LdapModifyDNRequest, LdapModifyRequest, LdapModifyType, LdapMsg, LdapOp,
    LdapPartialAttribute, LdapPasswordModifyRequest, LdapSearchRequest, LdapSearchScope, LdapWhoamiRequest,
    SaslCredentials,
};
use tokio_util::codec::Encoder;

const BASE: &str = "dc=example,dc=org";
const PASSWORD: &str = "correct-horse-battery";

/// Selector bytes: anonymous, bob, alice (admin), service wiki, wikionly, hr; +8 for TLS.
const ANON: u8 = 0;
const BOB: u8 = 1;
const ALICE: u8 = 2;
const WIKI: u8 = 3;
const WIKIONLY: u8 = 4;
const HR: u8 = 5;
const TLS: u8 = 8;

/// A filter from its string form; `(attr=value)` with a DN as value, which ldap3_proto's
/// parser does not take, by hand.
fn filter(text: &str) -> LdapFilter {
    parse_ldap_filter_str(text).unwrap_or_else(|e| {
        let (attr, value) = text
            .strip_prefix('(')
            .and_then(|t| t.strip_suffix(')'))
            .and_then(|t| t.split_once('='))
            .unwrap_or_else(|| panic!("filter {text}: {e}"));
        LdapFilter::Equality(attr.into(), value.into())
    })
}

fn search(base: &str, scope: LdapSearchScope, f: &str, attrs: &[&str]) -> LdapOp {
    LdapOp::SearchRequest(LdapSearchRequest {
        base: base.into(),
        scope,
        aliases: LdapDerefAliases::Never,
        sizelimit: 0,
        timelimit: 0,
        typesonly: false,
        filter: filter(f),
        attrs: attrs.iter().map(|a| a.to_string()).collect(),
    })
}

fn bind(dn: &str, password: &str) -> LdapOp {
    LdapOp::BindRequest(LdapBindRequest {
        version: 3,
        dn: dn.into(),
        cred: LdapBindCred::Simple(password.into()),
    })
}

fn extended(req: LdapExtendedRequest) -> LdapOp {
    LdapOp::ExtendedRequest(req)
}

fn paged(size: i64, cookie: &[u8]) -> Vec<LdapControl> {
    vec![LdapControl::SimplePagedResults {
        size,
        cookie: cookie.to_vec(),
    }]
}

fn encode(selector: u8, msgs: Vec<(LdapOp, Vec<LdapControl>)>) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let mut codec = LdapCodec::default();
    for (n, (op, ctrl)) in msgs.into_iter().enumerate() {
        let id = i32::try_from(n + 1).unwrap_or(1);
        codec
            .encode(LdapMsg::new_with_ctrls(id, op, ctrl), &mut buf)
            .expect("encoding a message");
    }
    let mut out = vec![selector];
    out.extend_from_slice(&buf);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("writing a seed");
}

fn main() {
    let people = format!("ou=people,{BASE}");
    let bob = format!("uid=bob,{people}");
    let wiki = format!("cn=wiki,ou=services,{BASE}");
    let sub = LdapSearchScope::Subtree;
    let none = Vec::new;
    let pdu: Vec<(&str, Vec<u8>)> = vec![
        ("bind-anonymous", encode(ANON, vec![(bind("", ""), none())])),
        ("bind-member", encode(ANON, vec![(bind(&bob, PASSWORD), none())])),
        ("bind-wrong-password", encode(ANON, vec![(bind(&bob, "wrong"), none())])),
        (
            "bind-app-password",
            encode(ANON, vec![(bind(&bob, "bob-app-password-42"), none())]),
        ),
        ("bind-service-tls", encode(TLS, vec![(bind(&wiki, PASSWORD), none())])),
        (
            "bind-sasl-external",
            encode(
                TLS,
                vec![(
                    LdapOp::BindRequest(LdapBindRequest {
                        version: 3,
                        dn: String::new(),
                        cred: LdapBindCred::SASL(SaslCredentials {
                            mechanism: "EXTERNAL".into(),
                            credentials: Vec::new(),
                        }),
                    }),
                    none(),
                )],
            ),
        ),
        (
            "bind-then-search",
            encode(
                ANON,
                vec![
                    (bind(&bob, PASSWORD), none()),
                    (search(&people, sub.clone(), "(uid=carol)", &["cn", "mail"]), none()),
                    (LdapOp::UnbindRequest, none()),
                ],
            ),
        ),
        (
            "rootdse",
            encode(
                ANON,
                vec![(
                    search("", LdapSearchScope::Base, "(objectClass=*)", &["+", "*"]),
                    none(),
                )],
            ),
        ),
        (
            "subschema",
            encode(
                ANON,
                vec![(
                    search(
                        "cn=subschema",
                        LdapSearchScope::Base,
                        "(objectClass=subschema)",
                        &["attributeTypes", "objectClasses"],
                    ),
                    none(),
                )],
            ),
        ),
        (
            "search-and-or",
            encode(
                BOB,
                vec![(
                    search(
                        BASE,
                        sub.clone(),
                        "(&(objectClass=inetOrgPerson)(|(uid=alice)(uid=bob)(mail=carol@example.org)))",
                        &["uid"],
                    ),
                    none(),
                )],
            ),
        ),
        (
            "search-not",
            encode(
                WIKI,
                vec![(
                    search(BASE, sub.clone(), "(!(pirateMembershipStatus=active))", &["*"]),
                    none(),
                )],
            ),
        ),
        (
            "search-substring",
            encode(
                HR,
                vec![(
                    search(
                        &people,
                        LdapSearchScope::OneLevel,
                        "(cn=*li*e*)",
                        &["givenName", "sn", "pirateMemberNumber"],
                    ),
                    none(),
                )],
            ),
        ),
        (
            "search-ordering",
            encode(
                ALICE,
                vec![(
                    search(
                        BASE,
                        sub.clone(),
                        "(&(uidNumber>=10000)(createTimestamp<=20300101000000Z))",
                        &["1.1"],
                    ),
                    none(),
                )],
            ),
        ),
        (
            "search-approx-ext",
            encode(
                BOB,
                vec![(
                    search(
                        BASE,
                        sub.clone(),
                        "(|(cn~=bob)(cn:caseExactMatch:=Bob)(uid:dn:=bob))",
                        &["*", "+"],
                    ),
                    none(),
                )],
            ),
        ),
        (
            "search-present-groups",
            encode(
                WIKIONLY,
                vec![(
                    search(
                        &format!("ou=groups,{BASE}"),
                        sub.clone(),
                        "(member=*)",
                        &["member", "memberUid"],
                    ),
                    none(),
                )],
            ),
        ),
        (
            "search-memberof",
            encode(
                WIKI,
                vec![(
                    search(
                        BASE,
                        sub.clone(),
                        &format!("(memberOf=cn=wikiusers,ou=groups,{BASE})"),
                        &["uid"],
                    ),
                    none(),
                )],
            ),
        ),
        (
            "search-paged",
            encode(
                BOB,
                vec![
                    (search(BASE, sub.clone(), "(objectClass=*)", &["dn"]), paged(2, b"")),
                    (search(BASE, sub.clone(), "(objectClass=*)", &["dn"]), paged(2, b"1")),
                    (search(BASE, sub.clone(), "(objectClass=*)", &["dn"]), paged(0, b"1")),
                ],
            ),
        ),
        (
            "search-critical-unknown-control",
            encode(
                BOB,
                vec![(
                    search(BASE, sub.clone(), "(uid=bob)", &[]),
                    vec![LdapControl::Unknown {
                        oid: "1.2.3.4.5".into(),
                        criticality: true,
                        value: Some(vec![1, 2, 3]),
                    }],
                )],
            ),
        ),
        (
            "search-manage-dsa-it",
            encode(
                BOB,
                vec![(
                    search(BASE, sub.clone(), "(uid=bob)", &[]),
                    vec![LdapControl::ManageDsaIT { criticality: true }],
                )],
            ),
        ),
        (
            "search-bad-base",
            encode(BOB, vec![(search("uid=,,", sub.clone(), "(uid=bob)", &[]), none())]),
        ),
        (
            "compare",
            encode(
                BOB,
                vec![(
                    LdapOp::CompareRequest(LdapCompareRequest {
                        dn: bob.clone(),
                        atype: "mail".into(),
                        val: b"bob@example.org".to_vec(),
                    }),
                    none(),
                )],
            ),
        ),
        (
            "compare-hidden",
            encode(
                WIKI,
                vec![(
                    LdapOp::CompareRequest(LdapCompareRequest {
                        dn: bob.clone(),
                        atype: "sn".into(),
                        val: b"Brecht".to_vec(),
                    }),
                    none(),
                )],
            ),
        ),
        (
            "passwd-own",
            encode(
                BOB,
                vec![(
                    extended(
                        LdapPasswordModifyRequest {
                            user_identity: None,
                            old_password: Some(PASSWORD.into()),
                            new_password: Some("another-long-passphrase-9".into()),
                        }
                        .into(),
                    ),
                    none(),
                )],
            ),
        ),
        (
            "passwd-other",
            encode(
                BOB,
                vec![(
                    extended(
                        LdapPasswordModifyRequest {
                            user_identity: Some(format!("uid=carol,{people}")),
                            old_password: None,
                            new_password: None,
                        }
                        .into(),
                    ),
                    none(),
                )],
            ),
        ),
        (
            "starttls",
            encode(
                ANON,
                vec![(
                    extended(LdapExtendedRequest {
                        name: "1.3.6.1.4.1.1466.20037".into(),
                        value: None,
                    }),
                    none(),
                )],
            ),
        ),
        (
            "whoami",
            encode(ALICE, vec![(extended(LdapWhoamiRequest {}.into()), none())]),
        ),
        (
            "extended-unknown",
            encode(
                ANON,
                vec![(
                    extended(LdapExtendedRequest {
                        name: "1.2.3".into(),
                        value: Some(vec![0x30, 0x00]),
                    }),
                    none(),
                )],
            ),
        ),
        ("unbind", encode(BOB, vec![(LdapOp::UnbindRequest, none())])),
        ("abandon", encode(BOB, vec![(LdapOp::AbandonRequest(1), none())])),
        (
            "add",
            encode(
                ALICE,
                vec![(
                    LdapOp::AddRequest(LdapAddRequest {
                        dn: format!("uid=mallory,{people}"),
                        attributes: vec![LdapPartialAttribute {
                            atype: "objectClass".into(),
                            vals: vec![b"inetOrgPerson".to_vec()],
                        }],
                    }),
                    none(),
                )],
            ),
        ),
        (
            "modify",
            encode(
                BOB,
                vec![(
                    LdapOp::ModifyRequest(LdapModifyRequest {
                        dn: bob.clone(),
                        changes: vec![LdapModify {
                            operation: LdapModifyType::Replace,
                            modification: LdapPartialAttribute {
                                atype: "mail".into(),
                                vals: vec![b"b@example.org".to_vec()],
                            },
                        }],
                    }),
                    none(),
                )],
            ),
        ),
        ("delete", encode(ALICE, vec![(LdapOp::DelRequest(bob.clone()), none())])),
        (
            "modify-dn",
            encode(
                ALICE,
                vec![(
                    LdapOp::ModifyDNRequest(LdapModifyDNRequest {
                        dn: bob.clone(),
                        newrdn: "uid=robert".into(),
                        deleteoldrdn: true,
                        new_superior: None,
                    }),
                    none(),
                )],
            ),
        ),
    ];
    let dir = Path::new("corpus/pdu");
    std::fs::create_dir_all(dir).expect("corpus/pdu");
    for (name, bytes) in &pdu {
        write(dir, name, bytes);
    }
    let filters = [
        ("equality", "(uid=alice)"),
        ("and-or", "(&(objectClass=inetOrgPerson)(|(uid=alice)(uid=bob)))"),
        ("not", "(!(pirateMembershipStatus=active))"),
        ("substring", "(cn=*li*e*)"),
        ("ordering", "(&(uidNumber>=10000)(uidNumber<=20000))"),
        ("present", "(objectClass=*)"),
        ("approx", "(cn~=bob)"),
        ("extensible", "(cn:caseExactMatch:=Bob)"),
        ("extensible-dn", "(uid:dn:=bob)"),
        ("memberof", "(memberOf=cn=wikiusers,ou=groups,dc=example,dc=org)"),
        ("member", "(member=uid=bob,ou=people,dc=example,dc=org)"),
        ("unknown-attribute", "(frobnitz=1)"),
        ("time", "(modifyTimestamp>=20200101000000Z)"),
        ("octet", "(userPassword=secret)"),
    ];
    let dir = Path::new("corpus/filter");
    std::fs::create_dir_all(dir).expect("corpus/filter");
    for (name, text) in filters {
        let tag: Tag = filter(text).into();
        let mut buf = BytesMut::new();
        ldap3_lber::write::encode_into(&mut buf, tag.into_structure()).expect("encoding a filter");
        write(dir, name, &buf);
    }
    println!("{} pdu seeds, {} filter seeds", pdu.len(), filters.len());
}
