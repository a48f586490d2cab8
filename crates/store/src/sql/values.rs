//! How values meet SQL text: timestamps as sortable RFC 3339 text, `$N` placeholder lists, and
//! the error for a stored value that does not parse.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Result, StoreError};

/// Timestamps are stored as RFC 3339 UTC text with a fixed six-digit fraction, so that text
/// order is time order (range queries on `audit.at` rely on it).
pub(super) fn ts(t: OffsetDateTime) -> Result<String> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn parse_ts(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

/// `$N` placeholders for `rows` rows of `per_row` values, e.g. `($1, $2), ($3, $4)`; with
/// `per_row == 1` a bare list `$1, $2, $3` (for `IN (…)`). sqlx's `QueryBuilder` for `Any`
/// writes `?`, which PostgreSQL does not understand, hence this.
pub(super) fn placeholders(rows: usize, per_row: usize) -> String {
    let mut out = String::with_capacity(rows * per_row * 6);
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        if per_row > 1 {
            out.push('(');
        }
        for c in 0..per_row {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&n.to_string());
            n += 1;
        }
        if per_row > 1 {
            out.push(')');
        }
    }
    out
}

pub(super) fn corrupt<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
