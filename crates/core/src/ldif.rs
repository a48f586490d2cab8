//! LDIF (RFC 2849) content records: reading what OpenLDAP's `slapcat` writes, and writing our
//! tree for `export --ldif`. Written by hand because no maintained Rust crate reads and writes
//! LDIF (the ldap3 crates stop at the protocol); only content records are needed, not change
//! records.
//!
//! Read: `version:` line, `#` comments, folded lines (a continuation starts with one space),
//! `attr: value`, `attr:: base64`, attribute options (`;binary`) dropped, entries separated by
//! blank lines. `attr:< URL` is refused: an import never reads other files.

use base64::Engine as _;

/// One entry of an LDIF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdifEntry {
    /// Line number of its `dn:` line (1-based), for messages.
    pub line: usize,
    /// The DN as written.
    pub dn: String,
    /// Attributes in file order: (name as written, value). Repeated names are repeated values.
    pub attrs: Vec<(String, String)>,
}

impl LdifEntry {
    /// The values of an attribute (name compared case-insensitively).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attrs
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the entry has `class` among its objectClass values.
    pub fn has_class(&self, class: &str) -> bool {
        self.values("objectClass").any(|c| c.eq_ignore_ascii_case(class))
    }
}

/// Why an LDIF file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LdifError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub reason: String,
}

fn error(line: usize, reason: impl Into<String>) -> LdifError {
    LdifError {
        line,
        reason: reason.into(),
    }
}

/// Unfolds lines: returns (first physical line number, logical line) pairs, comments dropped,
/// blank lines kept as empty strings (they separate entries).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut in_comment = false;
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix(' ') {
            if in_comment {
                continue;
            }
            if let Some((_, last)) = out.last_mut() {
                last.push_str(rest);
                continue;
            }
        }
        in_comment = raw.starts_with('#');
        if !in_comment {
            out.push((i + 1, raw.to_string()));
        }
    }
    out
}

/// Parses the content records of an LDIF file.
pub fn parse(text: &str) -> Result<Vec<LdifEntry>, LdifError> {
    let mut entries = Vec::new();
    let mut current: Option<LdifEntry> = None;
    for (line, content) in logical_lines(text) {
        if content.is_empty() {
            if let Some(e) = current.take() {
                entries.push(e);
            }
            continue;
        }
        let (name, value) = attr_value(line, &content)?;
        match current.as_mut() {
            None if name.eq_ignore_ascii_case("version") => {
                if value != "1" {
                    return Err(error(line, format!("LDIF version {value} is not supported (only 1)")));
                }
            }
            None if name.eq_ignore_ascii_case("dn") => {
                current = Some(LdifEntry {
                    line,
                    dn: value,
                    attrs: Vec::new(),
                });
            }
            None => return Err(error(line, format!("expected `dn:`, found `{name}:`"))),
            Some(e) => {
                // The attribute type without its options (`description;lang-de`).
                let name = name.split(';').next().unwrap_or(&name).to_string();
                if name.eq_ignore_ascii_case("changetype") {
                    return Err(error(line, "change records are not supported; use slapcat output"));
                }
                e.attrs.push((name, value));
            }
        }
    }
    if let Some(e) = current.take() {
        entries.push(e);
    }
    Ok(entries)
}

fn attr_value(line: usize, content: &str) -> Result<(String, String), LdifError> {
    let Some((name, rest)) = content.split_once(':') else {
        return Err(error(line, "expected `attribute: value`"));
    };
    if name.is_empty()
        || name.starts_with(';')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';' || c == '.')
    {
        return Err(error(line, format!("{name:?} is not an attribute description")));
    }
    let value = if let Some(b64) = rest.strip_prefix(':') {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| error(line, format!("bad base64 value of {name}: {e}")))?;
        String::from_utf8(bytes).map_err(|_| error(line, format!("the value of {name} is binary, not UTF-8 text")))?
    } else if rest.starts_with('<') {
        return Err(error(line, format!("{name}: values from URLs (`:<`) are not read")));
    } else {
        rest.trim_start_matches(' ').to_string()
    };
    Ok((name.to_string(), value))
}

/// Whether a value may be written as `attr: value` (RFC 2849 SAFE-STRING), else base64.
fn is_safe(value: &str) -> bool {
    let bytes = value.as_bytes();
    match bytes.first() {
        None => true,
        Some(b' ' | b':' | b'<') => false,
        Some(_) => {
            bytes.last() != Some(&b' ')
                && bytes
                    .iter()
                    .all(|b| (1..=127).contains(b) && *b != b'\n' && *b != b'\r')
        }
    }
}

/// Appends `name: value` (or `name:: base64`), folded at 76 characters.
pub fn write_line(out: &mut String, name: &str, value: &str) {
    let line = if is_safe(value) {
        format!("{name}: {value}")
    } else {
        format!("{name}:: {}", base64::engine::general_purpose::STANDARD.encode(value))
    };
    // Fold on character boundaries: the first line holds 76 bytes, continuations a space + 75.
    let mut width = 76;
    let mut start = 0;
    let mut first = true;
    while start < line.len() {
        let mut end = (start + width).min(line.len());
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        if !first {
            out.push(' ');
        }
        out.push_str(&line[start..end]);
        out.push('\n');
        start = end;
        first = false;
        width = 75;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_slapcat_output() {
        let text = "version: 1\n\n# comment\n#  folded comment\ndn: uid=anna,ou=people,dc=ex\n\
                    objectClass: inetOrgPerson\nuid: anna\ncn: Anna M\n üller\nuserPassword:: e1NTSEF9YWJj\n\
                    description;lang-de: x\n\ndn: cn=g,dc=ex\nmember: uid=anna,ou=people,dc=ex\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 2);
        let anna = &entries[0];
        assert_eq!(anna.line, 5);
        assert_eq!(anna.first("CN"), Some("Anna Müller"));
        assert_eq!(anna.first("userpassword"), Some("{SSHA}abc"));
        assert_eq!(anna.first("description"), Some("x"));
        assert!(anna.has_class("InetOrgPerson"));
        assert_eq!(entries[1].first("member"), Some("uid=anna,ou=people,dc=ex"));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("dn: x\nnocolon\n").unwrap_err().line, 2);
        assert_eq!(parse("uid: x\n").unwrap_err().line, 1);
        assert_eq!(parse("dn: x\njpegPhoto:< file:///etc/passwd\n").unwrap_err().line, 2);
        assert_eq!(parse("dn: x\nchangetype: add\n").unwrap_err().line, 2);
        assert_eq!(parse("dn: x\ncn:: !!!\n").unwrap_err().line, 2);
    }

    /// Found by the `ldif` fuzz target: an attribute description without a type (`;lang-de:`)
    /// was read as an attribute named "", and `changetype;x:` as an attribute `changetype`;
    /// neither reads back from what `write_line` writes.
    #[test]
    fn an_attribute_description_has_a_type() {
        assert_eq!(parse("dn: x\n;lang-de: y\n").unwrap_err().line, 2);
        assert_eq!(parse("dn: x\n;: y\n").unwrap_err().line, 2);
        assert_eq!(parse("dn: x\nchangetype;lang-de: add\n").unwrap_err().line, 2);
        assert_eq!(parse("dn: x\ncn;: y\n").unwrap()[0].first("cn"), Some("y"));
    }

    #[test]
    fn writes_what_it_reads() {
        let mut out = String::from("dn: uid=a,dc=ex\n");
        let long = "x".repeat(200);
        for (n, v) in [
            ("cn", "Jürgen"),
            ("sn", " leading"),
            ("description", long.as_str()),
            ("uid", "a"),
        ] {
            write_line(&mut out, n, v);
        }
        assert!(out.contains("cn:: "), "{out}");
        assert!(out.lines().all(|l| l.len() <= 76), "{out}");
        let back = parse(&out).unwrap();
        assert_eq!(back[0].first("cn"), Some("Jürgen"));
        assert_eq!(back[0].first("sn"), Some(" leading"));
        assert_eq!(back[0].first("description"), Some(long.as_str()));
    }
}
