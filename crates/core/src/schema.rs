//! The LDAP schema we serve: every attribute type and object class, with the matching rules
//! that filters and compare use. One table drives `cn=Subschema`, attribute selection and
//! filter evaluation, so they cannot disagree.

use rustc_hash::FxHashMap;
use std::sync::LazyLock;

use crate::dn::{Dn, fold_case_ignore};

/// OID arc of piratenldap's own schema: a `2.25.<uuid>` arc (X.667), no registration needed.
pub const PIRATE_ARC: &str = "2.25.2413438979242671455993274018714643260";

/// How values of an attribute compare for equality (and, where defined, order and substrings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// caseIgnoreMatch / caseIgnoreIA5Match: case and insignificant space ignored.
    CaseIgnore,
    /// caseExactMatch / caseExactIA5Match: insignificant space ignored, case kept.
    CaseExact,
    /// distinguishedNameMatch.
    Dn,
    /// integerMatch.
    Integer,
    /// booleanMatch: `TRUE` / `FALSE`.
    Boolean,
    /// generalizedTimeMatch.
    GeneralizedTime,
    /// objectIdentifierMatch: names compare case-insensitively.
    ObjectIdentifier,
    /// UUIDMatch.
    Uuid,
    /// octetStringMatch: byte for byte; never usable in filters for secrets.
    Octet,
}

impl Matching {
    /// The value in the form used for equality, or `None` if it is not a valid value of this
    /// syntax (the filter component then evaluates to Undefined).
    pub fn normalise(self, value: &str) -> Option<String> {
        match self {
            Matching::CaseIgnore | Matching::ObjectIdentifier => Some(fold_case_ignore(value)),
            Matching::CaseExact => Some(value.split_whitespace().collect::<Vec<_>>().join(" ")),
            Matching::Dn => Dn::parse(value).ok().map(|d| d.normalised().to_string()),
            Matching::Integer => value.trim().parse::<i64>().ok().map(|i| i.to_string()),
            Matching::Boolean => match value.trim().to_ascii_uppercase().as_str() {
                "TRUE" => Some("TRUE".into()),
                "FALSE" => Some("FALSE".into()),
                _ => None,
            },
            Matching::GeneralizedTime => normalise_generalized_time(value),
            Matching::Uuid => {
                let v = value.trim().to_ascii_lowercase();
                (v.len() == 36 && v.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(v)
            }
            Matching::Octet => Some(value.to_string()),
        }
    }

    /// Whether `value` is already in the form [`Matching::normalise`] gives it, checked without
    /// allocating (most stored values are; the directory builder then shares one copy).
    /// `false` means "normalise to find out", not "differs".
    pub fn is_normal(self, value: &str) -> bool {
        let plain_words = |v: &str| {
            !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                && !v.starts_with(' ')
                && !v.ends_with(' ')
                && !v.contains("  ")
        };
        match self {
            Matching::CaseIgnore | Matching::ObjectIdentifier => {
                plain_words(value) && !value.bytes().any(|b| b.is_ascii_uppercase())
            }
            Matching::CaseExact => plain_words(value),
            Matching::Integer => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                !digits.is_empty()
                    && digits.len() < 19
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && (digits == "0" || !digits.starts_with('0'))
                    && value != "-0"
            }
            Matching::Boolean => value == "TRUE" || value == "FALSE",
            Matching::GeneralizedTime => {
                value.len() == 15 && value.ends_with('Z') && value[..14].bytes().all(|b| b.is_ascii_digit())
            }
            Matching::Uuid => {
                value.len() == 36
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
            }
            Matching::Octet => true,
            Matching::Dn => false,
        }
    }

    /// Orders two normalised values, or `None` when the rule has no ordering.
    pub fn order(self, a: &str, b: &str) -> Option<std::cmp::Ordering> {
        match self {
            Matching::Integer => Some(a.parse::<i64>().ok()?.cmp(&b.parse::<i64>().ok()?)),
            Matching::CaseIgnore | Matching::CaseExact | Matching::GeneralizedTime => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Whether substring filters are defined for this rule.
    pub fn has_substrings(self) -> bool {
        matches!(self, Matching::CaseIgnore | Matching::CaseExact)
    }

    fn equality_name(self) -> &'static str {
        match self {
            Matching::CaseIgnore => "caseIgnoreMatch",
            Matching::CaseExact => "caseExactMatch",
            Matching::Dn => "distinguishedNameMatch",
            Matching::Integer => "integerMatch",
            Matching::Boolean => "booleanMatch",
            Matching::GeneralizedTime => "generalizedTimeMatch",
            Matching::ObjectIdentifier => "objectIdentifierMatch",
            Matching::Uuid => "UUIDMatch",
            Matching::Octet => "octetStringMatch",
        }
    }

    fn ordering_name(self) -> Option<&'static str> {
        match self {
            Matching::CaseIgnore => Some("caseIgnoreOrderingMatch"),
            Matching::CaseExact => Some("caseExactOrderingMatch"),
            Matching::Integer => Some("integerOrderingMatch"),
            Matching::GeneralizedTime => Some("generalizedTimeOrderingMatch"),
            _ => None,
        }
    }

    fn substr_name(self) -> Option<&'static str> {
        match self {
            Matching::CaseIgnore => Some("caseIgnoreSubstringsMatch"),
            Matching::CaseExact => Some("caseExactSubstringsMatch"),
            _ => None,
        }
    }

    /// Looks up a matching rule by name or OID for extensible-match filters.
    pub fn by_rule_name(name: &str) -> Option<Matching> {
        let all = [
            (Matching::CaseIgnore, "2.5.13.2"),
            (Matching::CaseExact, "2.5.13.5"),
            (Matching::Dn, "2.5.13.1"),
            (Matching::Integer, "2.5.13.14"),
            (Matching::Boolean, "2.5.13.13"),
            (Matching::GeneralizedTime, "2.5.13.27"),
            (Matching::ObjectIdentifier, "2.5.13.0"),
            (Matching::Uuid, "1.3.6.1.1.16.2"),
            (Matching::Octet, "2.5.13.17"),
        ];
        all.into_iter()
            .find(|(m, oid)| m.equality_name().eq_ignore_ascii_case(name) || *oid == name)
            .map(|(m, _)| m)
            .or(match name.to_ascii_lowercase().as_str() {
                "caseignoreia5match" | "1.3.6.1.4.1.1466.109.114.2" => Some(Matching::CaseIgnore),
                "caseexactia5match" | "1.3.6.1.4.1.1466.109.114.1" => Some(Matching::CaseExact),
                _ => None,
            })
    }
}

fn normalise_generalized_time(value: &str) -> Option<String> {
    let v = value.trim();
    let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() < 10 || !v.ends_with('Z') {
        return None;
    }
    let mut padded = digits;
    while padded.len() < 14 {
        padded.push('0');
    }
    padded.truncate(14);
    Some(format!("{padded}Z"))
}

/// Who uses an attribute (RFC 4512 USAGE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A user attribute, returned with `*`.
    User,
    /// An operational attribute, returned only when named or with `+`.
    Operational,
}

/// One attribute type of the schema.
#[derive(Debug)]
pub struct AttributeType {
    /// Numeric OID.
    pub oid: &'static str,
    /// Names, the canonical first (as we return it).
    pub names: &'static [&'static str],
    /// Syntax OID.
    pub syntax: &'static str,
    /// Matching rule.
    pub matching: Matching,
    /// Whether it has at most one value.
    pub single_value: bool,
    /// User or operational.
    pub usage: Usage,
    /// A short description for the subschema.
    pub desc: &'static str,
}

impl AttributeType {
    /// The canonical name.
    pub fn name(&self) -> &'static str {
        self.names[0]
    }

    /// The RFC 4512 `attributeTypes` value.
    pub fn definition(&self) -> String {
        let names = if self.names.len() == 1 {
            format!("'{}'", self.names[0])
        } else {
            format!(
                "( {} )",
                self.names
                    .iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let mut s = format!(
            "( {} NAME {names} DESC '{}' EQUALITY {}",
            self.oid,
            self.desc,
            self.matching.equality_name()
        );
        if let Some(o) = self.matching.ordering_name() {
            s.push_str(&format!(" ORDERING {o}"));
        }
        if let Some(sub) = self.matching.substr_name() {
            s.push_str(&format!(" SUBSTR {sub}"));
        }
        s.push_str(&format!(" SYNTAX {}", self.syntax));
        if self.single_value {
            s.push_str(" SINGLE-VALUE");
        }
        if self.usage == Usage::Operational {
            s.push_str(" NO-USER-MODIFICATION USAGE directoryOperation");
        }
        s.push_str(" )");
        s
    }
}

const DIRSTRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const IA5: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const DN_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.12";
const INTEGER: &str = "1.3.6.1.4.1.1466.115.121.1.27";
const BOOLEAN: &str = "1.3.6.1.4.1.1466.115.121.1.7";
const GENTIME: &str = "1.3.6.1.4.1.1466.115.121.1.24";
const OID_SYNTAX: &str = "1.3.6.1.4.1.1466.115.121.1.38";
const OCTET: &str = "1.3.6.1.4.1.1466.115.121.1.40";
const UUID_SYNTAX: &str = "1.3.6.1.1.16.1";
const ATTR_TYPE_DESC: &str = "1.3.6.1.4.1.1466.115.121.1.3";
const OC_DESC: &str = "1.3.6.1.4.1.1466.115.121.1.37";

macro_rules! at {
    ($oid:expr, [$($n:expr),+], $syn:expr, $m:ident, $single:expr, $usage:ident, $desc:expr) => {
        AttributeType { oid: $oid, names: &[$($n),+], syntax: $syn, matching: Matching::$m, single_value: $single, usage: Usage::$usage, desc: $desc }
    };
}

/// Every attribute type we serve.
pub static ATTRIBUTE_TYPES: &[AttributeType] = &[
    at!(
        "2.5.4.0",
        ["objectClass"],
        OID_SYNTAX,
        ObjectIdentifier,
        false,
        User,
        "object classes of the entry"
    ),
    at!(
        "2.5.4.3",
        ["cn", "commonName"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "common name: the name the member chose"
    ),
    at!(
        "2.5.4.4",
        ["sn", "surname"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "surname from the member record (restricted)"
    ),
    at!(
        "2.5.4.42",
        ["givenName", "gn"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "given name from the member record (restricted)"
    ),
    at!(
        "2.16.840.1.113730.3.1.241",
        ["displayName"],
        DIRSTRING,
        CaseIgnore,
        true,
        User,
        "preferred name to be used when displaying entries"
    ),
    at!(
        "0.9.2342.19200300.100.1.1",
        ["uid", "userid"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "user identifier"
    ),
    at!(
        "0.9.2342.19200300.100.1.3",
        ["mail", "rfc822Mailbox"],
        IA5,
        CaseIgnore,
        false,
        User,
        "RFC 822 mailbox"
    ),
    at!(
        "2.5.4.35",
        ["userPassword"],
        OCTET,
        Octet,
        false,
        User,
        "password of the entry (never returned)"
    ),
    at!(
        "1.2.840.113556.1.2.102",
        ["memberOf"],
        DN_SYNTAX,
        Dn,
        false,
        User,
        "groups the entry is a member of"
    ),
    at!(
        "2.5.4.31",
        ["member"],
        DN_SYNTAX,
        Dn,
        false,
        User,
        "members of the group"
    ),
    // RFC 4519 gives uniqueMember the NameAndOptionalUID syntax; our values are plain DNs (the
    // same as `member`), so DN syntax and matching serve them exactly.
    at!(
        "2.5.4.50",
        ["uniqueMember"],
        DN_SYNTAX,
        Dn,
        false,
        User,
        "members of the group, for clients that read groupOfUniqueNames"
    ),
    at!(
        "1.3.6.1.1.1.1.0",
        ["uidNumber"],
        INTEGER,
        Integer,
        true,
        User,
        "POSIX user number"
    ),
    at!(
        "1.3.6.1.1.1.1.1",
        ["gidNumber"],
        INTEGER,
        Integer,
        true,
        User,
        "POSIX group number"
    ),
    at!(
        "1.3.6.1.1.1.1.3",
        ["homeDirectory"],
        IA5,
        CaseExact,
        true,
        User,
        "POSIX home directory"
    ),
    at!(
        "1.3.6.1.1.1.1.4",
        ["loginShell"],
        IA5,
        CaseExact,
        true,
        User,
        "POSIX login shell"
    ),
    at!(
        "1.3.6.1.1.1.1.2",
        ["gecos"],
        IA5,
        CaseIgnore,
        true,
        User,
        "POSIX GECOS field"
    ),
    at!(
        "1.3.6.1.1.1.1.12",
        ["memberUid"],
        IA5,
        CaseExact,
        false,
        User,
        "POSIX group member uid"
    ),
    at!(
        "0.9.2342.19200300.100.1.25",
        ["dc", "domainComponent"],
        IA5,
        CaseIgnore,
        true,
        User,
        "domain component"
    ),
    at!(
        "2.5.4.10",
        ["o", "organizationName"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "organisation name"
    ),
    at!(
        "2.5.4.11",
        ["ou", "organizationalUnitName"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "organisational unit name"
    ),
    at!(
        "2.5.4.13",
        ["description"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "description"
    ),
    at!(
        "1.3.6.1.1.16.4",
        ["entryUUID"],
        UUID_SYNTAX,
        Uuid,
        true,
        Operational,
        "UUID of the entry"
    ),
    at!(
        "2.5.18.1",
        ["createTimestamp"],
        GENTIME,
        GeneralizedTime,
        true,
        Operational,
        "time the entry was created"
    ),
    at!(
        "2.5.18.2",
        ["modifyTimestamp"],
        GENTIME,
        GeneralizedTime,
        true,
        Operational,
        "time the entry was last modified"
    ),
    at!(
        "1.3.6.1.1.20",
        ["entryDN"],
        DN_SYNTAX,
        Dn,
        true,
        Operational,
        "DN of the entry"
    ),
    at!(
        "2.5.18.9",
        ["hasSubordinates"],
        BOOLEAN,
        Boolean,
        true,
        Operational,
        "whether the entry has children"
    ),
    at!(
        "2.5.18.10",
        ["subschemaSubentry"],
        DN_SYNTAX,
        Dn,
        true,
        Operational,
        "subschema entry controlling this entry"
    ),
    at!(
        "2.5.21.9",
        ["structuralObjectClass"],
        OID_SYNTAX,
        ObjectIdentifier,
        true,
        Operational,
        "structural object class of the entry"
    ),
    at!(
        "1.3.6.1.4.1.1466.101.120.5",
        ["namingContexts"],
        DN_SYNTAX,
        Dn,
        false,
        Operational,
        "naming contexts held by the server"
    ),
    at!(
        "1.3.6.1.4.1.1466.101.120.15",
        ["supportedLDAPVersion"],
        INTEGER,
        Integer,
        false,
        Operational,
        "supported LDAP versions"
    ),
    at!(
        "1.3.6.1.4.1.1466.101.120.7",
        ["supportedExtension"],
        OID_SYNTAX,
        ObjectIdentifier,
        false,
        Operational,
        "supported extended operations"
    ),
    at!(
        "1.3.6.1.4.1.1466.101.120.13",
        ["supportedControl"],
        OID_SYNTAX,
        ObjectIdentifier,
        false,
        Operational,
        "supported controls"
    ),
    at!(
        "1.3.6.1.4.1.1466.101.120.14",
        ["supportedSASLMechanisms"],
        DIRSTRING,
        CaseIgnore,
        false,
        Operational,
        "supported SASL mechanisms"
    ),
    at!(
        "1.3.6.1.4.1.4203.1.3.5",
        ["supportedFeatures"],
        OID_SYNTAX,
        ObjectIdentifier,
        false,
        Operational,
        "supported features"
    ),
    at!(
        "1.3.6.1.1.4",
        ["vendorName"],
        DIRSTRING,
        CaseExact,
        true,
        Operational,
        "vendor of the server"
    ),
    at!(
        "1.3.6.1.1.5",
        ["vendorVersion"],
        DIRSTRING,
        CaseExact,
        true,
        Operational,
        "version of the server"
    ),
    at!(
        "2.5.21.5",
        ["attributeTypes"],
        ATTR_TYPE_DESC,
        ObjectIdentifier,
        false,
        Operational,
        "attribute types of the subschema"
    ),
    at!(
        "2.5.21.6",
        ["objectClasses"],
        OC_DESC,
        ObjectIdentifier,
        false,
        Operational,
        "object classes of the subschema"
    ),
    at!(
        "2.5.4.23",
        ["facsimileTelephoneNumber"],
        DIRSTRING,
        CaseIgnore,
        false,
        User,
        "unused; listed for client compatibility"
    ),
    at!(
        concat!("2.25.2413438979242671455993274018714643260", ".1.1"),
        ["pirateMemberNumber"],
        DIRSTRING,
        CaseIgnore,
        true,
        User,
        "membership number (restricted)"
    ),
    at!(
        concat!("2.25.2413438979242671455993274018714643260", ".1.2"),
        ["pirateStateAssociation"],
        DIRSTRING,
        CaseIgnore,
        true,
        User,
        "state association code, e.g. BY"
    ),
    at!(
        concat!("2.25.2413438979242671455993274018714643260", ".1.3"),
        ["pirateMembershipStatus"],
        DIRSTRING,
        CaseIgnore,
        true,
        User,
        "active, suspended or left"
    ),
    at!(
        concat!("2.25.2413438979242671455993274018714643260", ".1.4"),
        ["pirateVotingRight"],
        BOOLEAN,
        Boolean,
        true,
        User,
        "whether the member may vote"
    ),
];

/// Looks an attribute type up by any of its names or its OID, case-insensitively.
/// Hashed on every filter component and every built attribute, so it is a map, not a scan,
/// with a fast hash (the maps are fixed; a client's names are only looked up).
pub fn attribute(name: &str) -> Option<&'static AttributeType> {
    static EXACT: LazyLock<FxHashMap<&'static str, &'static AttributeType>> = LazyLock::new(|| {
        ATTRIBUTE_TYPES
            .iter()
            .flat_map(|a| a.names.iter().chain(std::iter::once(&a.oid)).map(move |n| (*n, a)))
            .collect()
    });
    static FOLDED: LazyLock<FxHashMap<String, &'static AttributeType>> =
        LazyLock::new(|| EXACT.iter().map(|(n, a)| (n.to_ascii_lowercase(), *a)).collect());
    EXACT
        .get(name)
        .or_else(|| FOLDED.get(&name.to_ascii_lowercase()))
        .copied()
}

/// The kind of an object class (RFC 4512).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassKind {
    /// ABSTRACT.
    Abstract,
    /// STRUCTURAL.
    Structural,
    /// AUXILIARY.
    Auxiliary,
}

/// One object class of the schema.
#[derive(Debug, Clone, Copy)]
pub struct ObjectClass {
    /// Numeric OID.
    pub oid: &'static str,
    /// Name.
    pub name: &'static str,
    /// Superior class.
    pub sup: Option<&'static str>,
    /// Kind.
    pub kind: ClassKind,
    /// Required attributes.
    pub must: &'static [&'static str],
    /// Allowed attributes.
    pub may: &'static [&'static str],
}

impl ObjectClass {
    /// The RFC 4512 `objectClasses` value.
    pub fn definition(&self) -> String {
        let list = |xs: &[&str]| {
            if xs.len() == 1 {
                xs[0].to_string()
            } else {
                format!("( {} )", xs.join(" $ "))
            }
        };
        let mut s = format!("( {} NAME '{}'", self.oid, self.name);
        if let Some(sup) = self.sup {
            s.push_str(&format!(" SUP {sup}"));
        }
        s.push_str(match self.kind {
            ClassKind::Abstract => " ABSTRACT",
            ClassKind::Structural => " STRUCTURAL",
            ClassKind::Auxiliary => " AUXILIARY",
        });
        if !self.must.is_empty() {
            s.push_str(&format!(" MUST {}", list(self.must)));
        }
        if !self.may.is_empty() {
            s.push_str(&format!(" MAY {}", list(self.may)));
        }
        s.push_str(" )");
        s
    }
}

/// Every object class we serve.
pub static OBJECT_CLASSES: &[ObjectClass] = &[
    ObjectClass {
        oid: "2.5.6.0",
        name: "top",
        sup: None,
        kind: ClassKind::Abstract,
        must: &["objectClass"],
        may: &[],
    },
    ObjectClass {
        oid: "2.5.6.6",
        name: "person",
        sup: Some("top"),
        kind: ClassKind::Structural,
        must: &["sn", "cn"],
        may: &["userPassword", "description"],
    },
    ObjectClass {
        oid: "2.5.6.7",
        name: "organizationalPerson",
        sup: Some("person"),
        kind: ClassKind::Structural,
        must: &[],
        may: &["ou", "facsimileTelephoneNumber"],
    },
    ObjectClass {
        oid: "2.16.840.1.113730.3.2.2",
        name: "inetOrgPerson",
        sup: Some("organizationalPerson"),
        kind: ClassKind::Structural,
        must: &[],
        may: &["displayName", "givenName", "mail", "uid"],
    },
    ObjectClass {
        oid: "1.3.6.1.1.1.2.0",
        name: "posixAccount",
        sup: Some("top"),
        kind: ClassKind::Auxiliary,
        must: &["cn", "uid", "uidNumber", "gidNumber", "homeDirectory"],
        may: &["userPassword", "loginShell", "gecos", "description"],
    },
    ObjectClass {
        oid: concat!("2.25.2413438979242671455993274018714643260", ".2.1"),
        name: "piratePerson",
        sup: Some("top"),
        kind: ClassKind::Auxiliary,
        must: &[],
        may: &[
            "pirateMemberNumber",
            "pirateStateAssociation",
            "pirateMembershipStatus",
            "pirateVotingRight",
            "memberOf",
        ],
    },
    ObjectClass {
        oid: "2.5.6.9",
        name: "groupOfNames",
        sup: Some("top"),
        kind: ClassKind::Structural,
        must: &["cn"],
        may: &["member", "description", "o", "ou"],
    },
    ObjectClass {
        oid: "2.5.6.17",
        name: "groupOfUniqueNames",
        sup: Some("top"),
        kind: ClassKind::Structural,
        must: &["cn"],
        may: &["uniqueMember", "description", "o", "ou"],
    },
    ObjectClass {
        oid: "1.3.6.1.1.1.2.2",
        name: "posixGroup",
        sup: Some("top"),
        kind: ClassKind::Auxiliary,
        must: &["gidNumber"],
        may: &["memberUid", "description"],
    },
    ObjectClass {
        oid: "2.5.6.11",
        name: "applicationProcess",
        sup: Some("top"),
        kind: ClassKind::Structural,
        must: &["cn"],
        may: &["description", "ou"],
    },
    ObjectClass {
        oid: "1.3.6.1.4.1.1466.344",
        name: "dcObject",
        sup: Some("top"),
        kind: ClassKind::Auxiliary,
        must: &["dc"],
        may: &[],
    },
    ObjectClass {
        oid: "2.5.6.4",
        name: "organization",
        sup: Some("top"),
        kind: ClassKind::Structural,
        must: &["o"],
        may: &["description"],
    },
    ObjectClass {
        oid: "2.5.6.5",
        name: "organizationalUnit",
        sup: Some("top"),
        kind: ClassKind::Structural,
        must: &["ou"],
        may: &["description"],
    },
    ObjectClass {
        oid: "2.5.20.1",
        name: "subschema",
        sup: None,
        kind: ClassKind::Auxiliary,
        must: &[],
        may: &["attributeTypes", "objectClasses"],
    },
];

/// Looks an object class up by name or OID, case-insensitively.
pub fn object_class(name: &str) -> Option<&'static ObjectClass> {
    OBJECT_CLASSES
        .iter()
        .find(|c| c.oid == name || c.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_attribute_is_defined() {
        for class in OBJECT_CLASSES {
            for a in class.must.iter().chain(class.may) {
                assert!(attribute(a).is_some(), "{} uses undefined {a}", class.name);
            }
            if let Some(sup) = class.sup {
                assert!(object_class(sup).is_some(), "{} has undefined SUP {sup}", class.name);
            }
        }
    }

    #[test]
    fn a_value_called_normal_normalises_to_itself() {
        let samples = [
            "",
            " ",
            "a",
            "A",
            "abc def",
            "Abc def",
            "abc  def",
            " abc",
            "abc ",
            "ümlaut",
            "Ümlaut",
            "a\tb",
            "0",
            "-0",
            "007",
            "42",
            "-42",
            "1234567890123456789012",
            "TRUE",
            "FALSE",
            "true",
            "20261124101010Z",
            "2026112410Z",
            "20261124101010.5Z",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
            "uid=a,ou=people,dc=example,dc=org",
            "x@example.org",
        ];
        let rules = [
            Matching::CaseIgnore,
            Matching::CaseExact,
            Matching::Dn,
            Matching::Integer,
            Matching::Boolean,
            Matching::GeneralizedTime,
            Matching::ObjectIdentifier,
            Matching::Uuid,
            Matching::Octet,
        ];
        let mut normal = 0;
        for rule in rules {
            for v in samples {
                if rule.is_normal(v) {
                    normal += 1;
                    assert_eq!(rule.normalise(v).as_deref(), Some(v), "{rule:?} called {v:?} normal");
                }
            }
        }
        // The fast path is taken for the common values, not only for none.
        assert!(normal >= 20, "only {normal} samples were normal");
        assert!(Matching::CaseIgnore.is_normal("x@example.org"));
        assert!(!Matching::CaseIgnore.is_normal("Abc def"));
    }

    #[test]
    fn pirate_oids_are_on_our_arc() {
        for a in ATTRIBUTE_TYPES.iter().filter(|a| a.name().starts_with("pirate")) {
            assert!(a.oid.starts_with(PIRATE_ARC));
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_knows_aliases() {
        assert_eq!(attribute("COMMONNAME").map(|a| a.name()), Some("cn"));
        assert_eq!(attribute("2.5.4.3").map(|a| a.name()), Some("cn"));
        assert_eq!(attribute("MemberOf").map(|a| a.name()), Some("memberOf"));
        assert!(attribute("nonsense").is_none());
    }

    #[test]
    fn normalisation_per_rule() {
        let cases = [
            (Matching::CaseIgnore, " Alice  Smith ", Some("alice smith")),
            (Matching::CaseExact, "Alice  Smith", Some("Alice Smith")),
            (Matching::Integer, " 0042", Some("42")),
            (Matching::Integer, "x", None),
            (Matching::Boolean, "true", Some("TRUE")),
            (Matching::Boolean, "ja", None),
            (Matching::Dn, "UID=a, DC=x", Some("uid=a,dc=x")),
            (Matching::GeneralizedTime, "202601021530Z", Some("20260102153000Z")),
            (Matching::GeneralizedTime, "2026", None),
        ];
        for (m, input, want) in cases {
            assert_eq!(m.normalise(input).as_deref(), want, "{m:?} {input:?}");
        }
    }
}

/// The custom part of the schema (the `pirate*` attribute types and `piratePerson`) in
/// OpenLDAP's `slapd.conf` syntax, for `schema/piratenldap.schema`.
pub fn openldap_schema() -> String {
    let mut out = String::from("# piratenldap custom schema (generated from crates/core/src/schema.rs; do not edit)\n");
    out.push_str(&format!(
        "# OID arc: {PIRATE_ARC} (X.667 UUID arc, no registration needed)\n\n"
    ));
    for a in ATTRIBUTE_TYPES.iter().filter(|a| a.oid.starts_with(PIRATE_ARC)) {
        out.push_str(&format!("attributetype {}\n\n", a.definition()));
    }
    for c in custom_classes() {
        out.push_str(&format!("objectclass {}\n\n", c.definition()));
    }
    out
}

/// The same as an LDIF for OpenLDAP's `cn=config` (`ldapadd -Y EXTERNAL -H ldapi:/// -f …`),
/// for `schema/piratenldap.ldif`.
pub fn openldap_ldif() -> String {
    let mut out = String::from(
        "# piratenldap custom schema for cn=config (generated from crates/core/src/schema.rs; do not edit)\n",
    );
    out.push_str("dn: cn=piratenldap,cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: piratenldap\n");
    for a in ATTRIBUTE_TYPES.iter().filter(|a| a.oid.starts_with(PIRATE_ARC)) {
        out.push_str(&format!("olcAttributeTypes: {}\n", a.definition()));
    }
    for c in custom_classes() {
        out.push_str(&format!("olcObjectClasses: {}\n", c.definition()));
    }
    out
}

/// Our own object classes, with `memberOf` left out (OpenLDAP's memberof overlay provides it
/// as an operational attribute).
fn custom_classes() -> Vec<ObjectClass> {
    OBJECT_CLASSES
        .iter()
        .filter(|c| c.oid.starts_with(PIRATE_ARC))
        .map(|c| ObjectClass {
            may: &[
                "pirateMemberNumber",
                "pirateStateAssociation",
                "pirateMembershipStatus",
                "pirateVotingRight",
            ],
            ..*c
        })
        .collect()
}

#[cfg(test)]
mod export_tests {
    use super::*;

    /// `schema/` holds the generated files; regenerate with `UPDATE_SCHEMA=1 cargo test -p piratenldap-core`.
    #[test]
    fn schema_files_match_the_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema");
        for (file, text) in [
            ("piratenldap.schema", openldap_schema()),
            ("piratenldap.ldif", openldap_ldif()),
        ] {
            let path = dir.join(file);
            if std::env::var_os("UPDATE_SCHEMA").is_some() {
                std::fs::write(&path, &text).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                on_disk,
                text,
                "{} is stale: run UPDATE_SCHEMA=1 cargo test -p piratenldap-core",
                path.display()
            );
        }
    }
}
