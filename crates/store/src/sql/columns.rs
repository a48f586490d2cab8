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

/// A rusqlite row with its statement's column positions by name. rusqlite finds a column by
/// name by asking SQLite for every column's name in turn, which was 8 % of a start-up's CPU at
/// 100 000 members; the positions are looked up once per statement instead.
pub(super) struct SqliteRow<'r> {
    pub(super) row: &'r rusqlite::Row<'r>,
    pub(super) columns: &'r ColumnPositions,
}

/// A statement's column positions by name.
pub(super) struct ColumnPositions(std::collections::HashMap<String, usize>);

impl ColumnPositions {
    /// The positions of `statement`'s columns.
    pub(super) fn of(statement: &rusqlite::Statement<'_>) -> ColumnPositions {
        ColumnPositions(
            statement
                .column_names()
                .into_iter()
                .enumerate()
                .map(|(i, name)| (name.to_string(), i))
                .collect(),
        )
    }
}

impl SqliteRow<'_> {
    fn position(&self, column: &str) -> Result<usize> {
        self.columns
            .0
            .get(column)
            .copied()
            .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::InvalidColumnName(column.to_string())))
    }
}

impl Columns for SqliteRow<'_> {
    fn str(&self, column: &str) -> Result<&str> {
        self.row
            .get_ref(self.position(column)?)?
            .as_str()
            .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.row.get(self.position(column)?)?)
    }
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.row.get(self.position(column)?)?)
    }
}
