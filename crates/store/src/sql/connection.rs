//! The connection: the [`Backend`], opening and migrating a database ([`SqlStore::open`]),
//! and the two ways a transaction begins, consistent reads and writes. The few dialect
//! differences of connection setup and isolation are here, keyed by [`Backend`].

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Executor, Transaction};

use super::file;
use crate::{Result, StoreError};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The database engine behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if any.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// The member database in SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) pool: AnyPool,
    backend: Backend,
    /// On SQLite, the database file, which snapshots are read from with rusqlite
    /// (`snapshot.rs` says why).
    pub(super) sqlite_file: Option<PathBuf>,
}

/// SQLite settings for every connection: a generous busy timeout because CLI and server
/// processes write to one file (first, so that switching to WAL waits too), WAL so readers
/// never block the writer, foreign keys on, deleted content overwritten (`secure_delete`: an
/// erased member must not linger in free pages of the file).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;";

impl SqlStore {
    /// Opens and migrates the database a `sqlite://PATH` or `postgres://…` URL names; an SQLite
    /// file is created when missing, and it and its WAL and SHM files are kept private (mode
    /// 0600, `file.rs`).
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)
            .ok_or_else(|| StoreError::Unsupported(format!("unknown database URL scheme in {url:?}")))?;
        let (url, max) = match backend {
            Backend::Sqlite if url.contains("mode=") => (url.to_string(), 4),
            Backend::Sqlite if url.contains('?') => (format!("{url}&mode=rwc"), 4),
            Backend::Sqlite => (format!("{url}?mode=rwc"), 4),
            Backend::Postgres => (url.to_string(), 10),
        };
        // The database file, made private before SQLite opens it. An in-memory database has
        // none and is private to its connection: snapshots read it through the pool.
        let sqlite_file = match backend {
            Backend::Sqlite if !(url.contains(":memory:") || url.contains("mode=memory")) => {
                let path = SqliteConnectOptions::from_str(&url)?.get_filename().to_path_buf();
                (!path.as_os_str().is_empty()).then_some(path)
            }
            _ => None,
        };
        if let Some(path) = &sqlite_file {
            file::make_private(path, url.contains("mode=rwc"))?;
        }
        let mut options = AnyPoolOptions::new().max_connections(max);
        if backend == Backend::Postgres {
            // A server that is down must fail a query soon, not after sqlx's 30 s: the nodes
            // keep serving from memory meanwhile (the SQLite file is local and only waits for
            // its own writers).
            options = options.acquire_timeout(std::time::Duration::from_secs(3));
        }
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&pool).await?,
        }
        Ok(SqlStore {
            pool,
            backend,
            sqlite_file,
        })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that sees one consistent state of every table (SQLite's read
    /// transactions always do; PostgreSQL needs REPEATABLE READ for it).
    pub(super) async fn begin_consistent(&self) -> Result<Transaction<'static, Any>> {
        let mut tx = self.pool.begin().await?; // a reader: deferred is right
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}

/// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), so that it waits out another process's writer under the busy timeout: a
/// deferred transaction that has read first fails at once with "database is locked" when it
/// comes to write, because SQLite never lets a reader wait for the write lock.
pub(super) async fn begin_write(pool: &AnyPool) -> Result<Transaction<'static, Any>> {
    let backend = Backend::of_url(pool.connect_options().database_url.as_str());
    Ok(if backend == Some(Backend::Sqlite) {
        pool.begin_with("BEGIN IMMEDIATE").await?
    } else {
        pool.begin().await?
    })
}
