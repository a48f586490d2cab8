//! Reading a [`Snapshot`]: every table the directory view is built from, in one consistent
//! state. On SQLite it is read with rusqlite on two threads (see [`read_sqlite`] for why); on
//! PostgreSQL with sqlx inside a REPEATABLE READ transaction. Both use the same queries and
//! the same row mappers (through [`Columns`]).

use std::collections::HashMap;
use std::path::Path;

use piratenldap_core::ids::Uid;
use sqlx::{Database, Executor, IntoArguments};

use super::columns::Columns;
use super::{account_from_row, auth, certs, group_from_row, member_from_row, service_from_row};
use crate::{Group, Result, Snapshot, StoreError};

const REVISION: &str = "SELECT value FROM meta WHERE key = 'revision'";
const MEMBERS: &str = "SELECT * FROM members ORDER BY number";
const ACCOUNTS: &str = "SELECT * FROM accounts ORDER BY uid";
const GROUPS: &str = "SELECT * FROM groups ORDER BY name";
const GROUP_MEMBERS: &str = "SELECT group_name, uid FROM group_members ORDER BY group_name, uid";
const SERVICES: &str = "SELECT * FROM services ORDER BY name";
const APP_PASSWORDS: &str = "SELECT * FROM app_passwords ORDER BY uid, label";
const CERTIFICATES: &str = "SELECT * FROM certificates ORDER BY serial";

/// Reads a snapshot with sqlx on a connection already inside a consistent read transaction.
pub(super) async fn read<DB>(conn: &mut DB::Connection) -> Result<Snapshot>
where
    DB: Database,
    DB::Row: Columns,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let revision = sqlx::query::<DB>(REVISION).fetch_one(&mut *conn).await?.int("value")?;
    Ok(Snapshot {
        revision,
        members: rows::<DB, _>(conn, MEMBERS, member_from_row).await?,
        accounts: rows::<DB, _>(conn, ACCOUNTS, account_from_row).await?,
        groups: groups::<DB>(conn).await?,
        services: rows::<DB, _>(conn, SERVICES, service_from_row).await?,
        certificates: rows::<DB, _>(conn, CERTIFICATES, certs::certificate_from_row).await?,
        app_passwords: rows::<DB, _>(conn, APP_PASSWORDS, auth::app_password_from_row).await?,
    })
}

/// All groups with their manual members, read with sqlx.
pub(super) async fn groups<DB>(conn: &mut DB::Connection) -> Result<Vec<Group>>
where
    DB: Database,
    DB::Row: Columns,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut groups = rows::<DB, _>(conn, GROUPS, group_from_row).await?;
    let links = rows::<DB, _>(conn, GROUP_MEMBERS, group_member_from_row).await?;
    attach_manual_members(&mut groups, links);
    Ok(groups)
}

/// All rows of a query, mapped, read with sqlx.
async fn rows<DB, T>(conn: &mut DB::Connection, sql: &'static str, convert: fn(&DB::Row) -> Result<T>) -> Result<Vec<T>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    sqlx::query::<DB>(sql)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(convert)
        .collect()
}

fn group_member_from_row(row: &impl Columns) -> Result<(String, Uid)> {
    Ok((row.text("group_name")?, row.uid("uid")?))
}

/// Hands each group its manual members from `(group, uid)` links.
fn attach_manual_members(groups: &mut [Group], links: Vec<(String, Uid)>) {
    let mut by_group: HashMap<String, Vec<Uid>> = HashMap::new();
    for (group, uid) in links {
        by_group.entry(group).or_default().push(uid);
    }
    for g in groups {
        g.manual_members = by_group.remove(g.name.as_str()).unwrap_or_default();
    }
}

/// Reads a snapshot from an SQLite file with rusqlite, blocking: run it off the reactor.
///
/// Why not sqlx here: its SQLite driver hands every row from a worker thread to the async task
/// over a channel, and at 200 000 rows the thread wake-ups cost four times the reading itself
/// (0.9 s against 0.2 s for 100 000 members with accounts). The snapshot is read on every
/// change and before the first search, so it is read here in plain blocking calls.
///
/// The accounts are read on a second thread and connection, at the same time as the other
/// tables (the two are the bulk of the work). Every write to these tables raises the revision
/// in the same transaction, so two read transactions that see the same revision see the same
/// tables; when a write lands between the two starts, it tries again, and after three tries
/// reads everything on one connection.
pub(super) fn read_sqlite(path: &Path) -> Result<Snapshot> {
    for _ in 0..3 {
        let (accounts, rest) = std::thread::scope(|scope| {
            let accounts = scope.spawn(|| {
                let mut conn = open_reader(path)?;
                let tx = conn.transaction()?;
                Ok::<_, StoreError>((
                    sqlite_revision(&tx)?,
                    sqlite_rows(&tx, ACCOUNTS, |r| account_from_row(r))?,
                ))
            });
            let rest = (|| {
                let mut conn = open_reader(path)?;
                let tx = conn.transaction()?;
                let revision = sqlite_revision(&tx)?;
                sqlite_all_but_accounts(&tx, revision)
            })();
            let accounts = accounts
                .join()
                .map_err(|_| StoreError::Task("reading the accounts panicked".into()));
            (accounts, rest)
        });
        let (accounts_revision, accounts) = accounts??;
        let mut snapshot = rest?;
        if accounts_revision == snapshot.revision {
            snapshot.accounts = accounts;
            return Ok(snapshot);
        }
    }
    let mut conn = open_reader(path)?;
    let tx = conn.transaction()?;
    let mut snapshot = sqlite_all_but_accounts(&tx, sqlite_revision(&tx)?)?;
    snapshot.accounts = sqlite_rows(&tx, ACCOUNTS, |r| account_from_row(r))?;
    Ok(snapshot)
}

/// A connection for reading: read-write like the store's own (WAL readers need the shared
/// memory file), never creating the file, with the store's busy timeout.
fn open_reader(path: &Path) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

fn sqlite_revision(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(REVISION, [], |r| r.get(0))?)
}

fn sqlite_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    convert: impl Fn(&rusqlite::Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(convert(row)?);
    }
    Ok(out)
}

fn sqlite_all_but_accounts(conn: &rusqlite::Connection, revision: i64) -> Result<Snapshot> {
    let mut groups = sqlite_rows(conn, GROUPS, |r| group_from_row(r))?;
    let links = sqlite_rows(conn, GROUP_MEMBERS, |r| group_member_from_row(r))?;
    attach_manual_members(&mut groups, links);
    Ok(Snapshot {
        revision,
        members: sqlite_rows(conn, MEMBERS, |r| member_from_row(r))?,
        accounts: Vec::new(),
        groups,
        services: sqlite_rows(conn, SERVICES, |r| service_from_row(r))?,
        certificates: sqlite_rows(conn, CERTIFICATES, |r| certs::certificate_from_row(r))?,
        app_passwords: sqlite_rows(conn, APP_PASSWORDS, |r| auth::app_password_from_row(r))?,
    })
}
