//! Typed column access shared by sqlx's `Any` rows and rusqlite's rows, so one row mapper
//! serves both: the snapshot on SQLite is read with rusqlite (see `snapshot.rs` for why),
//! everything else with sqlx.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use piratenldap_core::ids::Uid;

use super::values::{corrupt, parse_ts};
use crate::{Result, StoreError};

/// The column types the store's tables use, read by column name.
pub(super) trait Columns {
    /// A non-null text column, borrowed from the row.
    fn str(&self, column: &str) -> Result<&str>;
    /// A nullable text column.
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    /// A non-null integer column.
    fn int(&self, column: &str) -> Result<i64>;

    /// A non-null text column, owned.
    fn text(&self, column: &str) -> Result<String> {
        self.str(column).map(str::to_string)
    }

    /// An integer column that holds a flag (0 or 1).
    fn flag(&self, column: &str) -> Result<bool> {
        Ok(self.int(column)? != 0)
    }

    /// A non-null column holding a uid.
    fn uid(&self, column: &str) -> Result<Uid> {
        Uid::parse(self.str(column)?).map_err(corrupt)
    }

    /// A non-null timestamp column (RFC 3339 text).
    fn time(&self, column: &str) -> Result<OffsetDateTime> {
        parse_ts(self.str(column)?)
    }

    /// A nullable timestamp column.
    fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>> {
        self.opt_text(column)?.map(|s| parse_ts(&s)).transpose()
    }
}

impl Columns for AnyRow {
    fn str(&self, column: &str) -> Result<&str> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn str(&self, column: &str) -> Result<&str> {
        self.get_ref(column)?
            .as_str()
            .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.get(column)?)
    }
}
