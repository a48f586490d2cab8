//! RFC 4511 search filters evaluated with three-valued logic (TRUE, FALSE, Undefined) and the
//! schema's matching rules.
//!
//! Conventions (tested below): a component on an attribute type the schema does not know, with
//! an assertion value invalid for the attribute's syntax, on a rule the attribute lacks (e.g.
//! ordering on a DN), or on an attribute the entry lacks or the reader may not see, is
//! Undefined; NOT Undefined stays Undefined; presence is FALSE when the attribute is absent.
//!
//! A filter sees an entry only through a [`Reader`]: the values the bound principal may read,
//! exactly as a read of the entry returns them (hidden attributes absent, member lists
//! narrowed), so a filter can never probe a value that a read would not show.

use ldap3_proto::proto::{LdapFilter, LdapMatchingRuleAssertion, LdapSubstringFilter};
use piratenldap_core::dn::fold_case_ignore;
use piratenldap_core::schema::{self, AttributeType, Matching};

use crate::entry::{Attribute, Entry, Readable};

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Matches.
    True,
    /// Does not match.
    False,
    /// Cannot be decided; treated as not matching at the top level.
    Undefined,
}

impl From<bool> for Truth {
    fn from(b: bool) -> Self {
        if b { Truth::True } else { Truth::False }
    }
}

/// What the reader may read of the entry under evaluation.
pub trait Reader {
    /// The values of `kind` the reader may read (`None`: absent or hidden).
    fn values(&self, kind: &'static AttributeType) -> Option<Readable<'_>>;

    /// Whether the reader may read a value of `kind` whose normalised form is `wanted`; `None`
    /// when it reads no value of `kind` at all. Equality filters and compare ask this, so an
    /// implementation may answer without building the whole narrowed list.
    fn holds(&self, kind: &'static AttributeType, wanted: &str) -> Option<bool> {
        self.values(kind).map(|a| a.attr().normalised().contains(wanted))
    }
}

/// A reader that sees every attribute of an entry (synthetic entries, tests).
pub struct Everything<'e>(pub &'e Entry);

impl Reader for Everything<'_> {
    fn values(&self, kind: &'static AttributeType) -> Option<Readable<'_>> {
        self.0.get(kind).map(Readable::Stored)
    }
}

/// The size of a filter: its components (AND, OR, NOT and assertions, through the whole
/// tree) and its deepest nesting. Walked with an explicit stack, so any depth is safe.
pub fn measure(filter: &LdapFilter) -> (usize, usize) {
    let (mut elements, mut depth) = (0, 0);
    let mut stack = vec![(filter, 1usize)];
    while let Some((f, level)) = stack.pop() {
        elements += 1;
        depth = depth.max(level);
        match f {
            LdapFilter::And(parts) | LdapFilter::Or(parts) => stack.extend(parts.iter().map(|p| (p, level + 1))),
            LdapFilter::Not(inner) => stack.push((inner, level + 1)),
            _ => {}
        }
    }
    (elements, depth)
}

/// Evaluates `filter` on `entry`, reading its values through `read`.
pub fn evaluate(filter: &LdapFilter, entry: &Entry, read: &dyn Reader) -> Truth {
    let attr = |name: &str| -> Result<Option<Readable<'_>>, ()> {
        let kind = schema::attribute(name).ok_or(())?;
        Ok(read.values(kind))
    };
    match filter {
        LdapFilter::And(parts) => {
            let mut result = Truth::True;
            for p in parts {
                match evaluate(p, entry, read) {
                    Truth::False => return Truth::False,
                    Truth::Undefined => result = Truth::Undefined,
                    Truth::True => {}
                }
            }
            result
        }
        LdapFilter::Or(parts) => {
            let mut result = Truth::False;
            for p in parts {
                match evaluate(p, entry, read) {
                    Truth::True => return Truth::True,
                    Truth::Undefined => result = Truth::Undefined,
                    Truth::False => {}
                }
            }
            result
        }
        LdapFilter::Not(inner) => match evaluate(inner, entry, read) {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Undefined => Truth::Undefined,
        },
        LdapFilter::Present(name) => match attr(name) {
            Err(()) => Truth::Undefined,
            Ok(a) => a.is_some().into(),
        },
        LdapFilter::Equality(name, value) => {
            let Some(kind) = schema::attribute(name) else {
                return Truth::Undefined;
            };
            match kind.matching.normalise(value) {
                // Octet strings have no equality rule: never TRUE.
                _ if kind.matching == Matching::Octet => read.values(kind).map_or(Truth::Undefined, |_| Truth::False),
                None => Truth::Undefined,
                Some(wanted) => read.holds(kind, &wanted).map_or(Truth::Undefined, Truth::from),
            }
        }
        LdapFilter::GreaterOrEqual(name, value) => compare_values(attr(name), value, |m, stored, wanted| {
            m.order(stored, wanted).map(|o| o.is_ge())
        }),
        LdapFilter::LessOrEqual(name, value) => compare_values(attr(name), value, |m, stored, wanted| {
            m.order(stored, wanted).map(|o| o.is_le())
        }),
        LdapFilter::Approx(name, value) => match attr(name) {
            Err(()) | Ok(None) => Truth::Undefined,
            Ok(Some(a)) => {
                let wanted = approx_key(value);
                a.attr().values.iter().any(|v| approx_key(v) == wanted).into()
            }
        },
        LdapFilter::Substring(name, sub) => match attr(name) {
            Err(()) | Ok(None) => Truth::Undefined,
            Ok(Some(a)) if !a.attr().kind.matching.has_substrings() => Truth::Undefined,
            Ok(Some(a)) => substring_match(a.attr(), sub),
        },
        LdapFilter::Extensible(mra) => extensible(mra, entry, read),
    }
}

/// Applies `test(rule, stored_normalised, assertion_normalised)` to each value: TRUE if any
/// value passes, FALSE if none does, Undefined if the attribute is unknown or absent, the
/// assertion is invalid for the syntax, or the rule is not defined.
fn compare_values(
    attr: Result<Option<Readable<'_>>, ()>,
    value: &str,
    test: impl Fn(Matching, &str, &str) -> Option<bool>,
) -> Truth {
    let Ok(Some(a)) = attr else {
        return Truth::Undefined;
    };
    let a = a.attr();
    let m = a.kind.matching;
    let Some(wanted) = m.normalise(value) else {
        return Truth::Undefined;
    };
    let mut result = Truth::False;
    for stored in a.normalised() {
        match test(m, stored, &wanted) {
            Some(true) => return Truth::True,
            Some(false) => {}
            None => result = Truth::Undefined,
        }
    }
    result
}

fn substring_match(a: Attribute<'_>, sub: &LdapSubstringFilter) -> Truth {
    let norm = |s: &str| match a.kind.matching {
        Matching::CaseIgnore => fold_case_ignore(s),
        _ => s.to_string(),
    };
    let initial = sub.initial.as_deref().map(norm);
    let any: Vec<String> = sub.any.iter().map(|s| norm(s)).collect();
    let final_ = sub.final_.as_deref().map(norm);
    a.normalised()
        .iter()
        .any(|v| {
            let mut rest: &str = v;
            if let Some(i) = &initial {
                match rest.strip_prefix(i.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            for part in &any {
                match rest.find(part.as_str()) {
                    Some(pos) => rest = &rest[pos + part.len()..],
                    None => return false,
                }
            }
            match &final_ {
                Some(f) => rest.ends_with(f.as_str()),
                None => true,
            }
        })
        .into()
}

/// Approximate matching: case, spaces and punctuation ignored.
fn approx_key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn extensible(mra: &LdapMatchingRuleAssertion, entry: &Entry, read: &dyn Reader) -> Truth {
    let rule = match &mra.matching_rule {
        Some(name) => match Matching::by_rule_name(name) {
            Some(m) => Some(m),
            None => return Truth::Undefined,
        },
        None => None,
    };
    let test = |kind: &AttributeType, values: &mut dyn Iterator<Item = &str>| -> Truth {
        let m = rule.unwrap_or(kind.matching);
        let Some(wanted) = m.normalise(&mra.match_value) else {
            return Truth::Undefined;
        };
        for v in values {
            if m.normalise(v).is_some_and(|n| n == wanted) {
                return Truth::True;
            }
        }
        Truth::False
    };
    let mut result = Truth::False;
    let mut consider = |t: Truth| match t {
        Truth::True => true,
        Truth::Undefined => {
            result = Truth::Undefined;
            false
        }
        Truth::False => false,
    };
    match &mra.type_ {
        Some(name) => {
            let Some(kind) = schema::attribute(name) else {
                return Truth::Undefined;
            };
            if let Some(a) = read.values(kind) {
                if consider(test(kind, &mut a.attr().values.iter())) {
                    return Truth::True;
                }
            } else if !mra.dn_attributes {
                return Truth::Undefined;
            }
            if mra.dn_attributes {
                for ava in entry.dn.rdns().flat_map(|r| r.avas()) {
                    if schema::attribute(&ava.attr).is_some_and(|k| std::ptr::eq(k, kind))
                        && consider(test(kind, &mut std::iter::once(ava.value.as_str())))
                    {
                        return Truth::True;
                    }
                }
            }
        }
        None => {
            // No type: any visible attribute whose syntax the rule applies to.
            let Some(m) = rule else {
                return Truth::Undefined;
            };
            for a in entry
                .attrs()
                .filter(|a| a.kind.matching == m)
                .filter_map(|a| read.values(a.kind))
            {
                let a = a.attr();
                if consider(test(a.kind, &mut a.values.iter())) {
                    return Truth::True;
                }
            }
            if mra.dn_attributes {
                for ava in entry.dn.rdns().flat_map(|r| r.avas()) {
                    if let Some(kind) = schema::attribute(&ava.attr).filter(|k| k.matching == m)
                        && consider(test(kind, &mut std::iter::once(ava.value.as_str())))
                    {
                        return Truth::True;
                    }
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryKind;
    use ldap3_proto::parse_ldap_filter_str;
    use piratenldap_core::Dn;

    fn alice() -> Entry {
        let mut e = Entry::new(
            Dn::parse("uid=alice,ou=people,dc=example,dc=org").unwrap(),
            EntryKind::Person {
                uid: "alice".into(),
                active: true,
                locked: false,
            },
        );
        e.add("objectClass", ["top", "person", "inetOrgPerson", "posixAccount"]);
        e.add("uid", ["alice"]);
        e.add("cn", ["Alice Liddell"]);
        e.add("mail", ["Alice@Example.org"]);
        e.add("uidNumber", ["20001"]);
        e.add(
            "memberOf",
            [
                "cn=members,ou=groups,dc=example,dc=org",
                "cn=voting,ou=groups,dc=example,dc=org",
            ],
        );
        e.add("pirateVotingRight", ["TRUE"]);
        e.add("createTimestamp", ["20260101120000Z"]);
        e.add("givenName", ["Alice"]);
        e
    }

    /// ldap3_proto's test-oriented filter parser refuses spaces and `=` in values: the table
    /// writes them as `_` and `^`, and this puts them back.
    fn spaces(f: LdapFilter) -> LdapFilter {
        let s = |v: String| v.replace('_', " ").replace('^', "=");
        match f {
            LdapFilter::And(p) => LdapFilter::And(p.into_iter().map(spaces).collect()),
            LdapFilter::Or(p) => LdapFilter::Or(p.into_iter().map(spaces).collect()),
            LdapFilter::Not(p) => LdapFilter::Not(Box::new(spaces(*p))),
            LdapFilter::Equality(a, v) => LdapFilter::Equality(a, s(v)),
            LdapFilter::Approx(a, v) => LdapFilter::Approx(a, s(v)),
            LdapFilter::Extensible(mut m) => {
                m.match_value = s(m.match_value);
                LdapFilter::Extensible(m)
            }
            other => other,
        }
    }

    /// A reader from whom `givenName` is hidden.
    struct NoGivenName(Entry);

    impl Reader for NoGivenName {
        fn values(&self, kind: &'static AttributeType) -> Option<Readable<'_>> {
            self.0
                .get(kind)
                .filter(|a| a.kind.name() != "givenName")
                .map(Readable::Stored)
        }
    }

    /// Evaluates the filter string on alice; `givenName` is hidden from this reader.
    fn check(filter: &str, expected: Truth) {
        let f = spaces(parse_ldap_filter_str(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}")));
        assert_eq!(evaluate(&f, &alice(), &NoGivenName(alice())), expected, "{filter}");
    }

    #[test]
    fn filter_table() {
        use Truth::*;
        let cases = [
            // equality, matching per schema
            ("(uid=alice)", True),
            ("(uid=ALICE)", True),
            ("(uid=bob)", False),
            ("(mail=alice@EXAMPLE.ORG)", True),
            ("(cn=alice___liddell)", True),
            ("(objectClass=INETORGPERSON)", True),
            ("(memberOf=CN^Members,_OU^Groups,DC^example,DC^org)", True),
            ("(memberOf=cn^nope,dc^x)", False),
            ("(memberOf=not_a_dn)", Undefined),
            ("(uidNumber=020001)", True),
            ("(uidNumber=abc)", Undefined),
            ("(pirateVotingRight=true)", True),
            // absent, hidden and unknown attributes
            ("(sn=Liddell)", Undefined),
            ("(givenName=Alice)", Undefined),
            ("(bogusAttr=x)", Undefined),
            ("(userPassword=secret)", Undefined),
            // presence
            ("(mail=*)", True),
            ("(sn=*)", False),
            ("(givenName=*)", False),
            ("(bogusAttr=*)", Undefined),
            // substrings
            ("(cn=ali*)", True),
            ("(cn=*LIDD*)", True),
            ("(cn=*dell)", True),
            ("(cn=a*e*l)", True),
            ("(cn=a*x*)", False),
            ("(cn=*ll*ll*)", False),
            ("(uidNumber=2*)", Undefined),
            // ordering
            ("(uidNumber>=20000)", True),
            ("(uidNumber>=30000)", False),
            ("(uidNumber<=20001)", True),
            ("(createTimestamp>=20250101000000Z)", True),
            ("(createTimestamp<=2025010100Z)", False),
            ("(memberOf>=cn^a,dc^x)", Undefined),
            // approx
            ("(cn~=alice-liddell)", True),
            ("(cn~=bob)", False),
            // boolean logic, three-valued
            ("(&(uid=alice)(mail=*))", True),
            ("(&(uid=alice)(uid=bob))", False),
            ("(&(uid=alice)(sn=x))", Undefined),
            ("(&(uid=bob)(sn=x))", False),
            ("(|(uid=bob)(sn=x))", Undefined),
            ("(|(uid=alice)(sn=x))", True),
            ("(|(uid=bob)(mail=x))", False),
            ("(!(uid=bob))", True),
            ("(!(uid=alice))", False),
            ("(!(sn=x))", Undefined),
            ("(!(givenName=Alice))", Undefined),
            ("(!(!(uid=alice)))", True),
            // extensible match
            ("(uid:caseExactMatch:=alice)", True),
            ("(uid:caseExactMatch:=ALICE)", False),
            ("(uid:=ALICE)", True),
            ("(:caseIgnoreMatch:=alice_liddell)", True),
            ("(ou:dn:=people)", True),
            ("(ou:dn:=staff)", False),
            ("(uid:nosuchRule:=a)", Undefined),
        ];
        for (f, want) in cases {
            check(f, want);
        }
    }

    #[test]
    fn measure_counts_every_component_and_the_nesting() {
        let f = parse_ldap_filter_str("(&(uid=a)(|(cn=b)(!(mail=c))))").unwrap();
        assert_eq!(measure(&f), (6, 4));
        assert_eq!(measure(&parse_ldap_filter_str("(uid=a)").unwrap()), (1, 1));
    }

    #[test]
    fn empty_and_or() {
        let entry = alice();
        assert_eq!(
            evaluate(&LdapFilter::And(vec![]), &entry, &Everything(&entry)),
            Truth::True
        );
        assert_eq!(
            evaluate(&LdapFilter::Or(vec![]), &entry, &Everything(&entry)),
            Truth::False
        );
    }
}
