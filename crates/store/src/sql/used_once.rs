//! One-time values: a nonce is accepted once while it lives (atomic across nodes: the insert
//! either creates its row or finds it there). Expired rows are deleted on the way.

use sqlx::AnyPool;
use time::OffsetDateTime;

use super::connection::begin_write;
use crate::Result;

pub(super) async fn take(pool: &AnyPool, nonce: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<bool> {
    let mut tx = begin_write(pool).await?;
    sqlx::query("DELETE FROM used_once WHERE expires_at < $1")
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
    let inserted =
        sqlx::query("INSERT INTO used_once (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING")
            .bind(nonce)
            .bind(expires_at.unix_timestamp())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    tx.commit().await?;
    Ok(inserted == 1)
}
