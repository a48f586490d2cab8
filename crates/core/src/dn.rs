//! Distinguished names (RFC 4514): parsing, escaping and the normalised form used for matching.
//!
//! Written by hand: the LDAP crates we use (ldap3_proto, ldap3) carry DNs as plain strings and
//! no well-kept crate parses RFC 4514 into a comparable type.

use std::fmt;
use std::sync::Arc;

/// Why a string is not a DN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    /// An RDN has no `=` between type and value.
    #[error("RDN {0:?} has no '=' between attribute type and value")]
    MissingEquals(String),
    /// The attribute type is neither a name nor a numeric OID.
    #[error("invalid attribute type {0:?}")]
    BadAttributeType(String),
    /// A backslash escape is not followed by a special character or two hex digits.
    #[error("invalid escape sequence in {0:?}")]
    BadEscape(String),
    /// A `#` value is not valid hex.
    #[error("invalid hex value in {0:?}")]
    BadHex(String),
    /// An RDN is empty (e.g. `a=b,,c=d`).
    #[error("empty RDN")]
    EmptyRdn,
    /// A quoted value is not closed.
    #[error("unterminated quoted value")]
    UnterminatedQuote,
}

/// One attribute type and value of an RDN, e.g. `uid=alice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ava {
    /// Attribute type, lower case (a name or a numeric OID).
    pub attr: String,
    /// The value, unescaped, as given.
    pub value: String,
}

impl Ava {
    /// The value folded for matching: lower case, inner white space collapsed.
    /// All naming attributes we serve (dc, ou, cn, uid, o) match case-insensitively.
    pub fn normalised_value(&self) -> String {
        fold_case_ignore(&self.value)
    }
}

/// A relative distinguished name: one or more AVAs joined by `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rdn {
    avas: Vec<Ava>,
}

impl Rdn {
    /// An RDN of a single attribute type and value.
    pub fn new(attr: &str, value: &str) -> Self {
        Rdn {
            avas: vec![Ava {
                attr: attr.to_ascii_lowercase(),
                value: value.to_string(),
            }],
        }
    }

    /// The AVAs of this RDN.
    pub fn avas(&self) -> &[Ava] {
        &self.avas
    }

    /// The value of the first AVA whose type is `attr` (case-insensitive).
    pub fn value_of(&self, attr: &str) -> Option<&str> {
        self.avas
            .iter()
            .find(|a| a.attr.eq_ignore_ascii_case(attr))
            .map(|a| a.value.as_str())
    }

    /// The normalised form, and whether it is also the string form (no value folded, AVAs
    /// already in order): the DN's served form can then share its bytes.
    fn normalised(&self) -> (String, bool) {
        let normal_ava = |a: &Ava| {
            let folded = a.normalised_value();
            let plain = folded == a.value;
            (format!("{}={}", a.attr, escape_value(&folded)), plain)
        };
        if let [one] = self.avas.as_slice() {
            return normal_ava(one);
        }
        let mut plain = true;
        let mut parts: Vec<String> = self
            .avas
            .iter()
            .map(|a| {
                let (part, p) = normal_ava(a);
                plain &= p;
                part
            })
            .collect();
        plain &= parts.is_sorted();
        parts.sort();
        (parts.join("+"), plain)
    }
}

/// A parsed distinguished name, leaf RDN first. Equality compares the normalised form.
/// Shared behind an `Arc`, and each DN shares its parent (every person's `ou=people,…`): a
/// clone (a credential's principal, a session's bound DN) costs no allocation, and the view
/// keeps one leaf RDN and one normalised string per entry (docs/performance-memory.md).
#[derive(Debug, Clone)]
pub struct Dn(Arc<DnParts>);

#[derive(Debug)]
struct DnParts {
    /// The leaf RDN (`None` for the root).
    leaf: Option<Rdn>,
    /// The parent (`None` for the root and for a DN of one RDN).
    parent: Option<Dn>,
    /// The normalised form is `normalised[from..]`: a parsed DN's ancestors share its string.
    normalised: Arc<str>,
    from: usize,
    /// Length of the leaf RDN's part of the normalised form (the parent's starts after it).
    leaf_len: usize,
    /// How many RDNs.
    depth: usize,
    /// The string form is the normalised form (`Dn::served` shares it).
    plain: bool,
}

impl Drop for DnParts {
    /// Unlinks the parent chain one link at a time: dropping a parsed DN of thousands of RDNs
    /// must not recurse once per RDN.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(dn) = next {
            next = match Arc::try_unwrap(dn.0) {
                Ok(mut parts) => parts.parent.take(),
                Err(_) => None,
            };
        }
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.normalised() == other.normalised()
    }
}
impl Eq for Dn {}
impl std::hash::Hash for Dn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalised().hash(state)
    }
}

impl Dn {
    /// The empty DN (the root DSE).
    pub fn root() -> Self {
        Dn(Arc::new(DnParts {
            leaf: None,
            parent: None,
            normalised: Arc::from(""),
            from: 0,
            leaf_len: 0,
            depth: 0,
            plain: true,
        }))
    }

    /// Builds a DN from RDNs, leaf first. Linear in the input: the ancestors share the
    /// normalised string of the whole DN.
    pub fn from_rdns(rdns: Vec<Rdn>) -> Self {
        let parts: Vec<(String, bool)> = rdns.iter().map(Rdn::normalised).collect();
        let joined: Vec<&str> = parts.iter().map(|(p, _)| p.as_str()).collect();
        let normalised: Arc<str> = Arc::from(joined.join(","));
        let mut dn: Option<Dn> = None;
        let mut from = normalised.len();
        for (depth, (rdn, (part, plain))) in rdns.into_iter().zip(&parts).rev().enumerate() {
            from = from.saturating_sub(part.len() + usize::from(dn.is_some()));
            let plain = *plain && dn.as_ref().is_none_or(|p| p.0.plain);
            dn = Some(Dn(Arc::new(DnParts {
                leaf: Some(rdn),
                parent: dn,
                normalised: normalised.clone(),
                from,
                leaf_len: part.len(),
                depth: depth + 1,
                plain,
            })));
        }
        dn.unwrap_or_else(Dn::root)
    }

    /// Parses an RFC 4514 string.
    pub fn parse(input: &str) -> Result<Self, DnError> {
        if input.trim().is_empty() {
            return Ok(Dn::root());
        }
        let mut rdns = Vec::new();
        let mut avas = Vec::new();
        let mut rest = input;
        loop {
            let (ava, after, sep) = parse_ava(rest)?;
            avas.push(ava);
            match sep {
                Some('+') => {}
                Some(_) => {
                    rdns.push(Rdn {
                        avas: std::mem::take(&mut avas),
                    });
                }
                None => {
                    rdns.push(Rdn {
                        avas: std::mem::take(&mut avas),
                    });
                    break;
                }
            }
            rest = after;
            if rest.trim().is_empty() {
                return Err(DnError::EmptyRdn);
            }
        }
        Ok(Dn::from_rdns(rdns))
    }

    /// The child of this DN with the given leaf RDN.
    pub fn child(&self, rdn: Rdn) -> Dn {
        let (mut normalised, plain) = rdn.normalised();
        let leaf_len = normalised.len();
        if !self.is_root() {
            normalised.reserve_exact(1 + self.normalised().len());
            normalised.push(',');
            normalised.push_str(self.normalised());
        }
        let plain = plain && self.0.plain;
        Dn(Arc::new(DnParts {
            leaf: Some(rdn),
            parent: (!self.is_root()).then(|| self.clone()),
            normalised: Arc::from(normalised),
            from: 0,
            leaf_len,
            depth: self.0.depth + 1,
            plain,
        }))
    }

    /// The normalised form of the parent DN (`""` for the root and its children), without
    /// building the parent.
    pub fn parent_normalised(&self) -> &str {
        self.normalised().get(self.0.leaf_len + 1..).unwrap_or("")
    }

    /// The parent DN, or `None` for the root.
    pub fn parent(&self) -> Option<Dn> {
        if self.is_root() {
            None
        } else {
            Some(self.0.parent.clone().unwrap_or_else(Dn::root))
        }
    }

    /// The leaf RDN, or `None` for the root.
    pub fn rdn(&self) -> Option<&Rdn> {
        self.0.leaf.as_ref()
    }

    /// The RDNs, leaf first.
    pub fn rdns(&self) -> impl Iterator<Item = &Rdn> {
        let mut next = Some(self);
        std::iter::from_fn(move || {
            let dn = next?;
            next = dn.0.parent.as_ref();
            dn.0.leaf.as_ref()
        })
    }

    /// How many RDNs.
    pub fn depth(&self) -> usize {
        self.0.depth
    }

    /// Whether this is the empty DN.
    pub fn is_root(&self) -> bool {
        self.0.depth == 0
    }

    /// Whether `self` equals `ancestor` or lies below it.
    pub fn is_within(&self, ancestor: &Dn) -> bool {
        if ancestor.is_root() {
            return true;
        }
        let mut cur = self;
        while cur.depth() > ancestor.depth() {
            match &cur.0.parent {
                Some(p) => cur = p,
                None => return false,
            }
        }
        cur == ancestor
    }

    /// The normalised form: lower-case types and values, no optional spaces; the key for
    /// lookups and comparisons.
    pub fn normalised(&self) -> &str {
        self.0.normalised.get(self.0.from..).unwrap_or("")
    }

    /// The DN as served (its string form), sharing the normalised form's bytes when the two
    /// are the same (a person's DN whose uid is lower case): the view keeps one served DN per
    /// entry, and at 100 000 members the copies were 7 MB (issue 17).
    pub fn served(&self) -> Arc<str> {
        match (self.0.plain, self.0.from) {
            (true, 0) => Arc::clone(&self.0.normalised),
            (true, _) => Arc::from(self.normalised()),
            (false, _) => Arc::from(self.to_string()),
        }
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, ava) in rdn.avas.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}={}", ava.attr, escape_value(&ava.value))?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Dn {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dn::parse(s)
    }
}

/// Folds a caseIgnore string for matching: lower case, leading/trailing space removed and inner
/// runs of space collapsed to one (RFC 4518 insignificant space handling, simplified).
pub fn fold_case_ignore(s: &str) -> String {
    // Fast path: most values are ASCII without insignificant space.
    let plain = s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.contains("  ");
    if plain {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Escapes an attribute value for the string form of a DN (RFC 4514 section 2.4).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

/// Parses one `type=value` and returns it with the rest of the input and the separator that
/// ended it (`,`, `;`, `+`, or `None` at the end).
fn parse_ava(input: &str) -> Result<(Ava, &str, Option<char>), DnError> {
    let eq = input
        .find('=')
        .ok_or_else(|| DnError::MissingEquals(input.to_string()))?;
    let attr = input[..eq].trim();
    if attr.contains([',', '+', ';']) {
        return Err(DnError::MissingEquals(attr.to_string()));
    }
    if !is_attribute_type(attr) {
        return Err(DnError::BadAttributeType(attr.to_string()));
    }
    let (value, rest, sep) = parse_value(&input[eq + 1..])?;
    Ok((
        Ava {
            attr: attr.to_ascii_lowercase(),
            value,
        },
        rest,
        sep,
    ))
}

fn is_attribute_type(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => s
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

fn parse_value(input: &str) -> Result<(String, &str, Option<char>), DnError> {
    let trimmed = input.trim_start_matches(' ');
    if let Some(hex) = trimmed.strip_prefix('#') {
        let end = hex.find([',', ';', '+']).unwrap_or(hex.len());
        let digits = hex[..end].trim_end();
        let bytes = decode_hex(digits).ok_or_else(|| DnError::BadHex(digits.to_string()))?;
        let value = String::from_utf8_lossy(&bytes).into_owned();
        return Ok(split_after(value, hex, end));
    }
    if let Some(quoted) = trimmed.strip_prefix('"') {
        return parse_quoted(quoted);
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(trimmed.len());
    // Number of bytes at the end of `bytes` that are unescaped spaces (trimmed at the end).
    let mut trailing_spaces = 0usize;
    let mut iter = trimmed.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        match c {
            ',' | ';' | '+' => {
                bytes.truncate(bytes.len() - trailing_spaces);
                let value = bytes_to_string(bytes)?;
                return Ok((value, &trimmed[i + 1..], Some(c)));
            }
            '\\' => {
                trailing_spaces = 0;
                let (_, next) = iter.next().ok_or_else(|| DnError::BadEscape(input.to_string()))?;
                if next.is_ascii_hexdigit() {
                    let (_, low) = iter
                        .next()
                        .filter(|(_, l)| l.is_ascii_hexdigit())
                        .ok_or_else(|| DnError::BadEscape(input.to_string()))?;
                    let byte = decode_hex(&format!("{next}{low}"))
                        .and_then(|b| b.first().copied())
                        .ok_or_else(|| DnError::BadEscape(input.to_string()))?;
                    bytes.push(byte);
                } else if "\"+,;<>\\ #=".contains(next) {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                } else {
                    return Err(DnError::BadEscape(input.to_string()));
                }
            }
            ' ' => {
                trailing_spaces += 1;
                bytes.push(b' ');
            }
            _ => {
                trailing_spaces = 0;
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    bytes.truncate(bytes.len() - trailing_spaces);
    Ok((bytes_to_string(bytes)?, "", None))
}

fn parse_quoted(input: &str) -> Result<(String, &str, Option<char>), DnError> {
    let mut value = String::new();
    let mut iter = input.char_indices();
    while let Some((i, c)) = iter.next() {
        match c {
            '\\' => {
                let (_, next) = iter.next().ok_or(DnError::UnterminatedQuote)?;
                value.push(next);
            }
            '"' => {
                let rest = input[i + 1..].trim_start();
                return match rest.chars().next() {
                    None => Ok((value, "", None)),
                    Some(sep @ (',' | ';' | '+')) => Ok((value, &rest[1..], Some(sep))),
                    Some(_) => Err(DnError::UnterminatedQuote),
                };
            }
            _ => value.push(c),
        }
    }
    Err(DnError::UnterminatedQuote)
}

fn split_after(value: String, input: &str, end: usize) -> (String, &str, Option<char>) {
    match input[end..].chars().next() {
        Some(sep) => (value, &input[end + 1..], Some(sep)),
        None => (value, "", None),
    }
}

fn bytes_to_string(bytes: Vec<u8>) -> Result<String, DnError> {
    String::from_utf8(bytes).map_err(|e| DnError::BadEscape(String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` and checks its normalised form (or that it fails).
    fn check(input: &str, expected: Option<&str>) {
        let got = Dn::parse(input).ok();
        assert_eq!(got.as_ref().map(|d| d.normalised()), expected, "parsing {input:?}");
    }

    #[test]
    fn parses_and_normalises() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("")),
            ("dc=example,dc=org", Some("dc=example,dc=org")),
            ("DC=Example, DC=ORG", Some("dc=example,dc=org")),
            (
                "  uid = Alice ,ou=People,dc=example,dc=org",
                Some("uid=alice,ou=people,dc=example,dc=org"),
            ),
            ("cn=Doe\\, John,dc=x", Some("cn=doe\\, john,dc=x")),
            ("cn=Doe\\2C John,dc=x", Some("cn=doe\\, john,dc=x")),
            ("cn=M\\C3\\BCller,dc=x", Some("cn=müller,dc=x")),
            ("cn=Müller,dc=x", Some("cn=müller,dc=x")),
            ("cn=a  b,dc=x", Some("cn=a b,dc=x")),
            ("cn=\\ lead,dc=x", Some("cn=lead,dc=x")),
            ("cn=\"quoted, value\",dc=x", Some("cn=quoted\\, value,dc=x")),
            ("cn=#616263,dc=x", Some("cn=abc,dc=x")),
            ("cn=b+uid=a,dc=x", Some("cn=b+uid=a,dc=x")),
            ("uid=a+cn=b,dc=x", Some("cn=b+uid=a,dc=x")),
            ("cn=a;dc=x", Some("cn=a,dc=x")),
            ("2.5.4.3=a,dc=x", Some("2.5.4.3=a,dc=x")),
            ("cn=a,,dc=x", None),
            ("cn=a,", None),
            ("noequals", None),
            ("cn=bad\\escape", None),
            ("c n=a", None),
            ("cn=#zz", None),
            ("cn=\"open", None),
        ];
        for (input, expected) in cases {
            check(input, *expected);
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "cn=Doe\\, John,dc=x",
            "cn=\\#hash,dc=x",
            "cn=a\\+b,dc=x",
            "uid=alice,ou=people,dc=example,dc=org",
        ] {
            let dn = Dn::parse(s).unwrap();
            assert_eq!(dn.to_string(), s);
            assert_eq!(Dn::parse(&dn.to_string()).ok(), Some(dn));
        }
    }

    #[test]
    fn ancestry() {
        let base = Dn::parse("dc=example,dc=org").unwrap();
        let alice = Dn::parse("uid=alice,ou=People,DC=example,dc=org").unwrap();
        assert!(alice.is_within(&base));
        assert!(base.is_within(&base));
        assert!(!base.is_within(&alice));
        assert!(alice.is_within(&Dn::root()));
        assert_eq!(
            alice.parent().map(|p| p.normalised().to_string()),
            Some("ou=people,dc=example,dc=org".into())
        );
        assert_eq!(alice.rdn().and_then(|r| r.value_of("UID")), Some("alice"));
        assert_eq!(
            base.child(Rdn::new("ou", "people")).normalised(),
            "ou=people,dc=example,dc=org"
        );
    }

    #[test]
    fn ancestors_share_the_parsed_form_and_children_share_their_parent() {
        let alice = Dn::parse("uid=Alice,ou=People,dc=example,dc=org").unwrap();
        let parent = alice.parent().unwrap();
        assert_eq!(parent.normalised(), "ou=people,dc=example,dc=org");
        assert_eq!(parent.parent().unwrap().normalised(), "dc=example,dc=org");
        assert_eq!(alice.depth(), 4);
        assert_eq!(alice.rdns().count(), 4);
        assert!(!alice.is_within(&Dn::parse("dc=other,dc=org").unwrap()));
        assert!(!alice.is_within(&Dn::parse("ou=people,dc=other,dc=org").unwrap()));
        let bob = parent.child(Rdn::new("uid", "bob"));
        assert!(Arc::ptr_eq(&bob.parent().unwrap().0, &parent.0));
        assert_eq!(bob.to_string(), "uid=bob,ou=People,dc=example,dc=org");
        // A value with an escaped comma is one RDN, not an ancestor.
        let odd = Dn::parse(r"cn=a\,dc=org").unwrap();
        assert_eq!(odd.depth(), 1);
        assert!(!odd.is_within(&Dn::parse("dc=org").unwrap()));
    }

    #[test]
    fn a_dn_of_many_rdns_parses_prints_and_drops_without_deep_recursion() {
        let deep = vec!["dc=x"; 200_000].join(",");
        let dn = Dn::parse(&deep).unwrap();
        assert_eq!(dn.depth(), 200_000);
        assert_eq!(dn.normalised().len(), deep.len());
        assert_eq!(dn.to_string().len(), deep.len());
        assert!(dn.is_within(&Dn::parse("dc=x,dc=x").unwrap()));
        drop(dn);
    }

    #[test]
    fn the_served_form_is_the_string_form_and_shares_the_normalised_bytes_when_equal() {
        let inputs = [
            "",
            "dc=org",
            "uid=anna,ou=people,dc=example,dc=org",
            "uid=Anna,ou=people,dc=example,dc=org",
            "uid=anna,OU=People,dc=example,dc=org",
            "cn=b+uid=a,dc=org",
            "uid=a+cn=b,dc=org",
            "cn=a\\,b,dc=org",
            "cn=x  y,dc=org",
            "cn= lead,dc=org",
        ];
        for input in inputs {
            let dn = Dn::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(&*dn.served(), dn.to_string(), "{input}");
            let child = dn.child(Rdn::new("uid", "Bert"));
            assert_eq!(&*child.served(), child.to_string(), "child of {input}");
            let lower = dn.child(Rdn::new("uid", "bert"));
            assert_eq!(&*lower.served(), lower.to_string(), "lower child of {input}");
            let shared = lower.to_string() == lower.normalised();
            assert_eq!(
                lower.served().as_ptr() == lower.normalised().as_ptr(),
                shared,
                "{input}"
            );
        }
    }
}
