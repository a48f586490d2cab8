//! Dump and load of every table, for `backup` and `restore`. A dump is read in one consistent
//! transaction while the server runs; a load replaces everything in one transaction, so a bad
//! backup file changes nothing. Table and column names come from [`TABLES`], never from the
//! file: a column the file names that the table lacks is an error, not SQL.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Column, Row, Transaction};

use super::connection::begin_write;
use super::values::placeholders;
use super::{Backend, changes};
use crate::{Cell, ChangeKey, Result, StoreError, TableDump};

/// Every table a backup holds, parents before children, with its integer columns (the rest are
/// text) and its ordering. The throttle's buckets and one-time values (`used_once`) are left
/// out: they are minutes-long state; so are single sign-on sessions, codes and tokens (a
/// restore ends every session), the change log (`changes.rs`: a restore starts it anew) and
/// the leases (`leases.rs`: a node takes a lease again within seconds).
const TABLES: &[(&str, &[&str], &str)] = &[
    ("meta", &["value"], "key"),
    ("members", &["voting_right"], "number"),
    ("erased", &[], "number_hmac"),
    ("suspensions", &["token_revoked", "sessions_ended"], "member_number"),
    (
        "accounts",
        &["locked", "uid_number", "totp_enabled", "totp_last_step"],
        "uid",
    ),
    ("groups", &["gid_number"], "name"),
    ("group_members", &[], "group_name, uid"),
    ("services", &["real_names", "include_inactive", "pseudonymous"], "name"),
    ("oidc_clients", &["pairwise", "consent"], "service"),
    ("oidc_consents", &[], "uid, client"),
    ("chapter_admins", &["real_names"], "chapter, uid"),
    ("app_passwords", &[], "uid, label"),
    ("cert_requests", &["id"], "id"),
    ("certificates", &["request_id"], "serial"),
    ("erased_certificates", &[], "serial"),
    ("crls", &["number"], "number"),
    ("tokens", &[], "hmac"),
    ("audit", &["id"], "id"),
];

/// Tables whose `id` PostgreSQL generates from a sequence, which a load must move past the
/// loaded ids (SQLite's AUTOINCREMENT follows inserted ids by itself).
const SERIAL_TABLES: &[&str] = &["cert_requests", "audit"];

fn cell(row: &AnyRow, i: usize) -> Result<Cell> {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return Ok(v.map_or(Cell::Null, Cell::Int));
    }
    Ok(row.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text))
}

pub(super) async fn dump(tx: &mut Transaction<'static, Any>) -> Result<Vec<TableDump>> {
    let mut out = Vec::with_capacity(TABLES.len());
    for (table, _, order) in TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .fetch_all(&mut **tx)
            .await?;
        let columns = match rows.first() {
            Some(r) => r.columns().iter().map(|c| c.name().to_string()).collect(),
            None => Vec::new(),
        };
        let rows = rows
            .iter()
            .map(|r| (0..r.columns().len()).map(|i| cell(r, i)).collect::<Result<Vec<_>>>())
            .collect::<Result<Vec<_>>>()?;
        out.push(TableDump {
            table: (*table).to_string(),
            columns,
            rows,
        });
    }
    Ok(out)
}

/// Whether the database holds anything a restore would destroy.
pub(super) async fn holds_data(pool: &AnyPool) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM members) + (SELECT COUNT(*) FROM accounts) \
         + (SELECT COUNT(*) FROM services) + (SELECT COUNT(*) FROM certificates)",
    )
    .fetch_one(pool)
    .await?;
    Ok(n > 0)
}

fn check_table(table: &str) -> Result<()> {
    if TABLES.iter().any(|(t, _, _)| *t == table) {
        Ok(())
    } else {
        Err(StoreError::Refused(format!(
            "the backup has an unknown table {table:?}"
        )))
    }
}

pub(super) async fn load(pool: &AnyPool, backend: Backend, tables: &[TableDump]) -> Result<()> {
    for dump in tables {
        check_table(&dump.table)?;
        if let Some(bad) = dump
            .columns
            .iter()
            .find(|c| !c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        {
            return Err(StoreError::Refused(format!(
                "the backup names an invalid column {bad:?} in {}",
                dump.table
            )));
        }
        if let Some(i) = dump.rows.iter().position(|r| r.len() != dump.columns.len()) {
            return Err(StoreError::Refused(format!(
                "row {} of table {} has {} cells for {} columns",
                i + 1,
                dump.table,
                dump.rows[i].len(),
                dump.columns.len()
            )));
        }
    }
    let mut tx = begin_write(pool).await?;
    let before: Option<i64> = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'revision'")
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM changes").execute(&mut *tx).await?;
    for (table, _, _) in TABLES.iter().rev() {
        sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
    }
    for (table, ints, _) in TABLES {
        let Some(dump) = tables.iter().find(|d| d.table == *table) else {
            continue;
        };
        if dump.rows.is_empty() {
            continue;
        }
        let is_int: Vec<bool> = dump.columns.iter().map(|c| ints.contains(&c.as_str())).collect();
        // Both engines take well over 30 000 bound values per statement.
        let per_statement = (30_000 / dump.columns.len().max(1)).max(1);
        for chunk in dump.rows.chunks(per_statement) {
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {}",
                dump.columns.join(", "),
                placeholders(chunk.len(), dump.columns.len())
            );
            let mut insert = sqlx::query(&sql);
            for row in chunk {
                for (value, int) in row.iter().zip(&is_int) {
                    insert = match (value, int) {
                        (Cell::Null, true) => insert.bind(None::<i64>),
                        (Cell::Null, false) => insert.bind(None::<String>),
                        (Cell::Int(v), true) => insert.bind(*v),
                        (Cell::Text(v), false) => insert.bind(v.clone()),
                        (Cell::Int(v), false) => insert.bind(v.to_string()),
                        (Cell::Text(v), true) => {
                            return Err(StoreError::Refused(format!(
                                "table {table}: {v:?} where a number belongs"
                            )));
                        }
                    };
                }
            }
            insert.execute(&mut *tx).await.map_err(|e| match e {
                sqlx::Error::Database(d) => StoreError::Refused(format!("table {table}: {}", d.message())),
                other => StoreError::Database(other),
            })?;
        }
    }
    if backend == Backend::Postgres {
        for table in SERIAL_TABLES {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    // Any server following this database must see a change, and a revision it never saw: past
    // both the restored one and the one before, so no reader takes the restored content for
    // what it has. The log starts anew there, so readers rebuild.
    let restored: Option<i64> = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'revision'")
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('revision', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(restored.max(before).unwrap_or(0))
    .execute(&mut *tx)
    .await?;
    let revision = changes::bump_revision(&mut tx, &[ChangeKey::Everything]).await?;
    changes::set_complete_from(&mut tx, revision).await?;
    tx.commit().await?;
    Ok(())
}
