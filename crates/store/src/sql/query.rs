//! Small query helpers shared by every domain: run and map rows, an UPDATE that must hit a
//! row, an INSERT whose unique key may be taken, and the `meta` counters.

use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Executor, Row, Transaction};

use crate::{Result, StoreError};

/// Runs a query without parameters and converts every row with `convert`.
pub(super) async fn fetch_mapped<T>(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    convert: fn(&AnyRow) -> Result<T>,
) -> Result<Vec<T>> {
    sqlx::query(sql).fetch_all(conn).await?.iter().map(convert).collect()
}

/// Runs a query with one parameter, `key`, and converts the row it finds with `convert`.
pub(super) async fn fetch_optional_mapped<'q, E, K, T>(
    executor: E,
    sql: &'q str,
    key: K,
    convert: fn(&AnyRow) -> Result<T>,
) -> Result<Option<T>>
where
    E: Executor<'q, Database = Any>,
    K: 'q + Send + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
{
    sqlx::query(sql)
        .bind(key)
        .fetch_optional(executor)
        .await?
        .as_ref()
        .map(convert)
        .transpose()
}

/// The number of rows a statement changed; NotFound with `missing`'s message when none.
pub(super) fn changed(done: AnyQueryResult, missing: impl FnOnce() -> String) -> Result<u64> {
    match done.rows_affected() {
        0 => Err(StoreError::NotFound(missing())),
        n => Ok(n),
    }
}

/// Runs an INSERT that a unique key may refuse: `taken` is the error then (a conflict the
/// caller names), any other failure is a database error.
pub(super) async fn insert_unique<'q>(
    conn: &mut AnyConnection,
    insert: Query<'q, Any, AnyArguments<'q>>,
    taken: impl FnOnce() -> StoreError,
) -> Result<()> {
    match insert.execute(conn).await {
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Err(taken()),
        other => other.map(|_| ()).map_err(StoreError::from),
    }
}

/// Takes the next number of a `meta` counter (`next_uid_number`, `next_gid_number`).
pub(super) async fn next_number(tx: &mut Transaction<'_, Any>, key: &str) -> Result<i64> {
    let row = sqlx::query("UPDATE meta SET value = value + 1 WHERE key = $1 RETURNING value - 1")
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get(0)?)
}
