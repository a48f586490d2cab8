//! The transaction of the store's writes that change the directory ([`Write`]): begun with the
//! write lock ([`begin_write`]), changed, audited, and committed together with the next
//! revision and the change log's keys, so that none of them can forget either.

use std::ops::{Deref, DerefMut};

use sqlx::{Any, AnyPool, Transaction};
use time::OffsetDateTime;

use super::audit;
use super::changes::bump_revision;
use super::connection::begin_write;
use super::query::changed;
use super::values::ts;
use crate::{ChangeKey, Result};

/// A write transaction that ends by moving the revision on. Derefs to the transaction, for
/// the statements of the change.
pub(super) struct Write(Transaction<'static, Any>);

impl Write {
    /// Begins a write transaction ([`begin_write`]: the write lock at once on SQLite).
    pub(super) async fn begin(pool: &AnyPool) -> Result<Write> {
        Ok(Write(begin_write(pool).await?))
    }

    /// Appends one audit event to this transaction.
    pub(super) async fn audit(
        &mut self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        audit::record(&mut self.0, actor, action, subject, detail, now).await
    }

    /// Moves the revision on, logging `changed` at it (`changes.rs`), and commits.
    pub(super) async fn commit(self, changed: &[ChangeKey]) -> Result<()> {
        self.finish(changed, false).await
    }

    /// [`Write::commit`], or for a dry run everything rolled back.
    pub(super) async fn finish(mut self, changed: &[ChangeKey], dry_run: bool) -> Result<()> {
        bump_revision(&mut self.0, changed).await?;
        if dry_run {
            self.0.rollback().await?;
        } else {
            self.0.commit().await?;
        }
        Ok(())
    }
}

impl Deref for Write {
    type Target = Transaction<'static, Any>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Write {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Runs one `UPDATE … SET <value>, modified_at WHERE <key>` that must hit a row (else
/// NotFound with `missing`'s message) in its own [`Write`], logging `logged`.
pub(super) async fn update_row(
    pool: &AnyPool,
    sql: &str,
    (value, now): (&str, OffsetDateTime),
    key: &str,
    logged: ChangeKey,
    missing: impl FnOnce() -> String,
) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let done = sqlx::query(sql)
        .bind(value)
        .bind(ts(now)?)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    changed(done, missing)?;
    tx.commit(&[logged]).await
}
