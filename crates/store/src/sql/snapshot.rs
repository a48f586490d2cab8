//! Reading a [`Snapshot`]: every table the directory view is built from, in one consistent
//! state. On SQLite it is read with rusqlite on two threads (see [`read_sqlite`] for why); on
//! PostgreSQL with sqlx inside a REPEATABLE READ transaction. Both use the same queries and
//! the same row mappers (through [`Columns`]).

use std::collections::HashMap;
use std::path::Path;

use piratenldap_core::ids::Uid;
use sqlx::AnyConnection;

use super::accounts::account_from_row;
use super::columns::{ColumnPositions, Columns, SqliteRow};
use super::groups::group_from_row;
use super::members::member_from_row;
use super::query::fetch_mapped;
use super::services::service_from_row;
use super::{SqlStore, auth, certs};
use crate::{Account, Group, Result, Snapshot, StoreError};

const REVISION: &str = "SELECT value FROM meta WHERE key = 'revision'";
/// Every member, as the snapshot and `Store::members` read them.
pub(super) const MEMBERS: &str = "SELECT * FROM members ORDER BY number";
const ACCOUNTS: &str = "SELECT * FROM accounts ORDER BY uid";
/// The two large tables' sizes, read first in the same transaction: their vectors are then
/// allocated once at their final size. Grown by doubling, a quarter of each stayed unused
/// for the whole build (at 100 000 members, 10 MB of the start-up's peak; issue 17).
const COUNT_ACCOUNTS: &str = "SELECT count(*) FROM accounts";
const COUNT_MEMBERS: &str = "SELECT count(*) FROM members";
const GROUPS: &str = "SELECT * FROM groups ORDER BY name";
const GROUP_MEMBERS: &str = "SELECT group_name, uid FROM group_members ORDER BY group_name, uid";
/// Every service, as the snapshot and `Store::services` read them.
pub(super) const SERVICES: &str = "SELECT * FROM services ORDER BY name";
const APP_PASSWORDS: &str = "SELECT * FROM app_passwords ORDER BY uid, label";
const CERTIFICATES: &str = "SELECT * FROM certificates ORDER BY serial";

/// Reads a snapshot with sqlx on a connection already inside a consistent read transaction.
pub(super) async fn read(conn: &mut AnyConnection) -> Result<Snapshot> {
    let revision = sqlx::query(REVISION).fetch_one(&mut *conn).await?.int("value")?;
    Ok(Snapshot {
        revision,
        members: fetch_mapped(conn, MEMBERS, member_from_row).await?,
        accounts: fetch_mapped(conn, ACCOUNTS, account_from_row).await?,
        groups: groups(conn).await?,
        services: fetch_mapped(conn, SERVICES, service_from_row).await?,
        certificates: fetch_mapped(conn, CERTIFICATES, certs::certificate_from_row).await?,
        app_passwords: fetch_mapped(conn, APP_PASSWORDS, auth::app_password_from_row).await?,
    })
}

/// All groups with their manual members, read with sqlx.
pub(super) async fn groups(conn: &mut AnyConnection) -> Result<Vec<Group>> {
    let mut groups = fetch_mapped(conn, GROUPS, group_from_row).await?;
    let links = fetch_mapped(conn, GROUP_MEMBERS, group_member_from_row).await?;
    attach_manual_members(&mut groups, links);
    Ok(groups)
}

pub(super) fn group_member_from_row(row: &impl Columns) -> Result<(String, Uid)> {
    Ok((row.text("group_name")?, row.uid("uid")?))
}

/// Hands each group its manual members from `(group, uid)` links.
pub(super) fn attach_manual_members(groups: &mut [Group], links: Vec<(String, Uid)>) {
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
                Ok::<_, StoreError>((sqlite_revision(&tx)?, sqlite_accounts(&tx)?))
            });
            let rest = open_reader(path).and_then(|mut conn| {
                let tx = conn.transaction()?;
                sqlite_all_but_accounts(&tx)
            });
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
    let mut snapshot = sqlite_all_but_accounts(&tx)?;
    snapshot.accounts = sqlite_accounts(&tx)?;
    Ok(snapshot)
}

/// A connection for reading: read-write like the store's own (WAL readers need the shared
/// memory file), never creating the file, with the store's busy timeout. It reads the file
/// through a memory map (up to 1 GiB): SQLite then reads pages in place instead of copying
/// each through its page cache, and a snapshot of 100 000 members reads in about 190 ms
/// instead of 290 (issue 17). As with slapd's LMDB, an I/O error on the file while it is
/// read stops the process instead of failing the read.
fn open_reader(path: &Path) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
    Ok(conn)
}

fn sqlite_revision(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(REVISION, [], |r| r.get(0))?)
}

fn sqlite_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    capacity: usize,
    convert: impl Fn(&SqliteRow<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = conn.prepare(sql)?;
    let columns = ColumnPositions::of(&statement);
    let mut rows = statement.query([])?;
    let mut out = Vec::with_capacity(capacity);
    while let Some(row) = rows.next()? {
        out.push(convert(&SqliteRow { row, columns: &columns })?);
    }
    Ok(out)
}

/// A table's row count, as a vector capacity (the vector still grows if more rows come).
fn row_count(conn: &rusqlite::Connection, sql: &str) -> Result<usize> {
    let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

fn sqlite_accounts(conn: &rusqlite::Connection) -> Result<Vec<Account>> {
    sqlite_rows(conn, ACCOUNTS, row_count(conn, COUNT_ACCOUNTS)?, |r| {
        account_from_row(r)
    })
}

/// A snapshot with every table but the accounts, at the revision the transaction sees.
fn sqlite_all_but_accounts(conn: &rusqlite::Connection) -> Result<Snapshot> {
    let revision = sqlite_revision(conn)?;
    let mut groups = sqlite_rows(conn, GROUPS, 0, |r| group_from_row(r))?;
    let links = sqlite_rows(conn, GROUP_MEMBERS, 0, |r| group_member_from_row(r))?;
    attach_manual_members(&mut groups, links);
    Ok(Snapshot {
        revision,
        members: sqlite_rows(conn, MEMBERS, row_count(conn, COUNT_MEMBERS)?, |r| member_from_row(r))?,
        accounts: Vec::new(),
        groups,
        services: sqlite_rows(conn, SERVICES, 0, |r| service_from_row(r))?,
        certificates: sqlite_rows(conn, CERTIFICATES, 0, |r| certs::certificate_from_row(r))?,
        app_passwords: sqlite_rows(conn, APP_PASSWORDS, 0, |r| auth::app_password_from_row(r))?,
    })
}

impl SqlStore {
    /// A snapshot: from the SQLite file with rusqlite off the reactor ([`read_sqlite`]), else
    /// with sqlx in one consistent read transaction.
    pub(super) async fn read_snapshot(&self) -> Result<Snapshot> {
        match &self.sqlite_file {
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_sqlite(&path))
                    .await
                    .map_err(|e| StoreError::Task(format!("reading a snapshot: {e}")))?
            }
            None => {
                let mut tx = self.begin_consistent().await?;
                let snapshot = read(&mut tx).await?;
                tx.commit().await?;
                Ok(snapshot)
            }
        }
    }
}
