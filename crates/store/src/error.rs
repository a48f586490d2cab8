//! The store's error type.

/// What can go wrong in the store. Messages of the non-`Database` variants are meant for the
/// person at the CLI; `Database` is an internal error, logged and never sent to LDAP clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (connection, SQL, constraint we did not anticipate).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Reading an SQLite snapshot through rusqlite failed (see `sql/snapshot.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what exists (taken uid, member already has an account…).
    #[error("{0}")]
    Conflict(String),
    /// The change is not allowed (e.g. editing an automatic group).
    #[error("{0}")]
    Refused(String),
    /// A backend or URL we do not support.
    #[error("{0}")]
    Unsupported(String),
    /// A task the store started (e.g. one half of a parallel read) panicked or was cancelled.
    #[error("internal store task failed: {0}")]
    Task(String),
    /// Creating the SQLite file or making it private failed.
    #[error("{action} {}: {source}", path.display())]
    File {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Stored data is not what the schema promises.
    #[error("corrupt data in the store: {0}")]
    Corrupt(String),
}
