//! The member CSV from the membership administration (DESIGN.md "Import CSV"): parsed and
//! checked in full before anything is written, so a file with any bad row changes nothing and
//! every bad line is reported with its number and reason.

use std::collections::HashMap;

use time::Date;
use time::macros::format_description;

use crate::ids::{MemberNumber, MembershipStatus, StateCode};

/// One member as the membership administration knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// Membership number (unique).
    pub number: MemberNumber,
    /// State association.
    pub state: StateCode,
    /// Status.
    pub status: MembershipStatus,
    /// Voting right.
    pub voting_right: bool,
    /// Real given name (restricted).
    pub given_name: Option<String>,
    /// Real surname (restricted).
    pub surname: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Date of joining.
    pub joined: Option<Date>,
}

/// A bad line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Why a file was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not UTF-8.
    #[error("the file is not UTF-8 text (save it as \"CSV UTF-8\")")]
    NotUtf8,
    /// The header lacks a required column or names one twice or one we do not know.
    #[error("header (line 1): {0}")]
    Header(String),
    /// Some rows are invalid; all of them are listed.
    #[error("{} invalid line(s); nothing was changed:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Lines(Vec<LineError>),
}

const COLUMNS: &[&str] = &[
    "member_number",
    "state",
    "status",
    "voting_right",
    "given_name",
    "surname",
    "email",
    "joined",
];

/// Parses a whole CSV file: `,` or `;` (detected from the header), optional UTF-8 BOM,
/// quoted fields. Returns every record, or every problem.
pub fn parse_members_csv(bytes: &[u8]) -> Result<Vec<MemberRecord>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| ImportError::NotUtf8)?;
    let header_line = text.lines().next().unwrap_or("");
    let delimiter = if header_line.matches(';').count() > header_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Header(e.to_string()))?
        .clone();
    let columns = map_columns(&headers)?;

    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<MemberNumber, u64> = HashMap::new();
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(LineError {
                    line,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        if row.iter().all(str::is_empty) {
            continue;
        }
        if row.len() != headers.len() {
            errors.push(LineError {
                line,
                reason: format!("has {} fields, the header has {}", row.len(), headers.len()),
            });
            continue;
        }
        match parse_row(&row, &columns) {
            Ok(rec) => {
                if let Some(first) = seen.insert(rec.number.clone(), line) {
                    errors.push(LineError {
                        line,
                        reason: format!("member_number {} appears again (first on line {first})", rec.number),
                    });
                } else {
                    records.push(rec);
                }
            }
            Err(reasons) => errors.push(LineError {
                line,
                reason: reasons.join("; "),
            }),
        }
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(ImportError::Lines(errors))
    }
}

/// Column positions by name.
struct Columns(HashMap<&'static str, usize>);

fn map_columns(headers: &csv::StringRecord) -> Result<Columns, ImportError> {
    let mut map = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim().to_ascii_lowercase();
        let Some(known) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(ImportError::Header(format!(
                "unknown column {h:?}; known columns: {}",
                COLUMNS.join(", ")
            )));
        };
        if map.insert(*known, i).is_some() {
            return Err(ImportError::Header(format!("column {known:?} appears twice")));
        }
    }
    for required in ["member_number", "state"] {
        if !map.contains_key(required) {
            return Err(ImportError::Header(format!("required column {required:?} is missing")));
        }
    }
    Ok(Columns(map))
}

fn parse_row(row: &csv::StringRecord, cols: &Columns) -> Result<MemberRecord, Vec<String>> {
    let get = |name: &str| cols.0.get(name).and_then(|i| row.get(*i)).filter(|v| !v.is_empty());
    let mut reasons = Vec::new();
    let mut note = |r: String| reasons.push(r);

    let number = match get("member_number").map(MemberNumber::parse) {
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => {
            note(e.to_string());
            None
        }
        None => {
            note("member_number is empty".into());
            None
        }
    };
    let state = match get("state").map(StateCode::parse) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            note(e.to_string());
            None
        }
        None => {
            note("state is empty".into());
            None
        }
    };
    let status = match get("status").map(MembershipStatus::parse) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            note(e.to_string());
            MembershipStatus::Active
        }
        None => MembershipStatus::Active,
    };
    let voting_right = match get("voting_right").map(parse_bool) {
        Some(Ok(b)) => b,
        Some(Err(v)) => {
            note(format!("voting_right {v:?} is not one of true/false/1/0/ja/nein"));
            false
        }
        None => false,
    };
    let email = get("email").map(str::to_string);
    if let Some(e) = &email
        && !looks_like_email(e)
    {
        note(format!("email {e:?} is not an address"));
    }
    let joined = match get("joined") {
        Some(v) => match Date::parse(v, format_description!("[year]-[month]-[day]")) {
            Ok(d) => Some(d),
            Err(_) => {
                note(format!("joined {v:?} is not a date YYYY-MM-DD"));
                None
            }
        },
        None => None,
    };
    match (number, state) {
        (Some(number), Some(state)) if reasons.is_empty() => Ok(MemberRecord {
            number,
            state,
            status,
            voting_right,
            given_name: get("given_name").map(str::to_string),
            surname: get("surname").map(str::to_string),
            email,
            joined,
        }),
        _ => Err(reasons),
    }
}

fn parse_bool(v: &str) -> Result<bool, &str> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "ja" | "yes" | "wahr" => Ok(true),
        "false" | "0" | "nein" | "no" | "falsch" => Ok(false),
        _ => Err(v),
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace) && !domain.contains('@')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_file() {
        let recs = parse_members_csv(
            b"member_number,state,status,voting_right,email\n1001,BY,active,true,a@example.org\n1002,nw,suspended,0,\n",
        )
        .unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].state.as_str(), "BY");
        assert!(recs[0].voting_right);
        assert_eq!(recs[1].state.as_str(), "NW");
        assert_eq!(recs[1].status, MembershipStatus::Suspended);
        assert_eq!(recs[1].email, None);
    }

    #[test]
    fn spreadsheet_semicolon_file_with_bom_quotes_and_umlauts() {
        let data = "\u{feff}Member_Number;State;Status;Voting_Right;Given_Name;Surname;Email;Joined\r\n\
                    2001;BE;active;ja;\"Jürgen\";\"Müller; Lüdenscheid\";j@example.org;2019-05-01\r\n\
                    2002;HH;left;nein;Zoë;\"O\"\"Brien\";;\r\n";
        let recs = parse_members_csv(data.as_bytes()).unwrap();
        assert_eq!(recs[0].given_name.as_deref(), Some("Jürgen"));
        assert_eq!(recs[0].surname.as_deref(), Some("Müller; Lüdenscheid"));
        assert_eq!(recs[0].joined.map(|d| d.to_string()), Some("2019-05-01".into()));
        assert_eq!(recs[1].surname.as_deref(), Some("O\"Brien"));
        assert_eq!(recs[1].status, MembershipStatus::Left);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let data = "member_number,state,voting_right,joined\n1,BY,true,\n,BY,true,\n3,B,maybe,\n4,NW,1,2020-13-01\n1,BY,true,\n";
        let Err(ImportError::Lines(errs)) = parse_members_csv(data.as_bytes()) else {
            panic!("expected line errors")
        };
        let lines: Vec<u64> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        assert!(
            errs[1].reason.contains("state") && errs[1].reason.contains("voting_right"),
            "{}",
            errs[1]
        );
        assert!(errs[3].reason.contains("first on line 2"));
    }

    #[test]
    fn header_problems() {
        assert!(
            matches!(parse_members_csv(b"state\nBY\n"), Err(ImportError::Header(m)) if m.contains("member_number"))
        );
        assert!(
            matches!(parse_members_csv(b"member_number,state,shoe_size\n"), Err(ImportError::Header(m)) if m.contains("shoe_size"))
        );
        assert!(matches!(
            parse_members_csv(b"member_number,state\n1,B\xffY\n"),
            Err(ImportError::NotUtf8)
        ));
    }
}
