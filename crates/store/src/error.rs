//! The store's error type, and [`Conflict`]: what a refused change collided with, as a value
//! callers match on (never its text).

use piratenldap_core::ids::{MemberNumber, Name, StateCode, Uid};

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
    /// The change conflicts with what exists.
    #[error("{0}")]
    Conflict(Conflict),
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

/// What a change conflicted with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The uid belongs to another account.
    #[error("the uid {0} is taken")]
    UidTaken(Uid),
    /// The member has an account already.
    #[error("member {member} already has the account {uid}")]
    MemberHasAccount {
        /// The member.
        member: MemberNumber,
        /// Their account.
        uid: String,
    },
    /// A group of this name exists.
    #[error("a group named {0} exists already")]
    GroupExists(Name),
    /// The account is in the group already.
    #[error("{uid} is already a member of {group}")]
    AlreadyInGroup {
        /// The account.
        uid: Uid,
        /// The group.
        group: Name,
    },
    /// The account's member belongs to another state association than the chapter that owns
    /// the group.
    #[error("{uid} is a member of {state}; group {group} belongs to chapter {chapter}")]
    OutsideChapter {
        /// The account.
        uid: Uid,
        /// The member's state association.
        state: StateCode,
        /// The group.
        group: Name,
        /// The chapter that owns it.
        chapter: StateCode,
    },
    /// A service of this name exists.
    #[error("a service named {0} exists already")]
    ServiceExists(Name),
    /// The account has an app password with this label.
    #[error("{uid} has an app password labelled {label:?} already")]
    AppPasswordLabel {
        /// The account.
        uid: Uid,
        /// The label.
        label: String,
    },
    /// The account's TOTP is on: a new secret would replace an active second factor.
    #[error(
        "{0} has TOTP switched on; a new secret never replaces an active one: switch it off first (`piratenldap account totp-disable {0}`)"
    )]
    TotpActive(Uid),
    /// The certificate request was approved already.
    #[error("request {0} is already approved")]
    RequestApproved(i64),
    /// The approval a shortened renewal would rest on already carried one (request `carried`):
    /// the next renewal needs a new approval.
    #[error(
        "the approval of request {original} already carried request {carried}; this renewal needs a new approval (four eyes)"
    )]
    ApprovalCarried {
        /// The request whose approval it is.
        original: i64,
        /// The renewal it carried.
        carried: i64,
    },
    /// A certificate was issued for the request already.
    #[error("request {id} was already issued (serial {serial})")]
    RequestIssued {
        /// The request.
        id: i64,
        /// The certificate's serial.
        serial: String,
    },
    /// The certificate is revoked already.
    #[error("certificate {0} is already revoked")]
    CertificateRevoked(String),
    /// The CRL's number does not exceed the last one's.
    #[error("CRL number {number} is not above the last one ({last})")]
    CrlNumber {
        /// The new CRL's number.
        number: i64,
        /// The last stored number.
        last: i64,
    },
    /// An LDIF import collides with existing data; every problem is listed.
    #[error("nothing was imported:\n  {}", .0.join("\n  "))]
    Import(Vec<String>),
}
