//! Token buckets (throttle and rate limits) shared by every node: each change is one atomic
//! upsert, so concurrent takes on several nodes never hand out more tokens than there are.

use sqlx::{AnyPool, Row};

use super::values::placeholders;
use crate::{BucketPolicy, Result};

/// The level of a bucket after refilling up to `now_ms`, in SQL; `$2` = burst in thousandths,
/// `$3` = tokens per minute, `$4` = now in ms.
macro_rules! level {
    () => {
        "CASE WHEN buckets.milli + ($4 - buckets.at_ms) * $3 / 60 > $2 THEN $2 \
         ELSE buckets.milli + ($4 - buckets.at_ms) * $3 / 60 END"
    };
}

/// Takes one token: a new bucket starts full minus one; an existing one is refilled first and
/// only changed (and returned) when it holds a whole token.
const TAKE: &str = concat!(
    "INSERT INTO buckets (key, milli, at_ms) VALUES ($1, $2 - 1000, $4) ON CONFLICT (key) DO UPDATE SET milli = ",
    level!(),
    " - 1000, at_ms = $4 WHERE ",
    level!(),
    " >= 1000 RETURNING milli"
);

pub(super) async fn levels(pool: &AnyPool, keys: &[(&str, BucketPolicy)], now_ms: i64) -> Result<Vec<u32>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT key, milli, at_ms FROM buckets WHERE key IN ({})",
        placeholders(keys.len(), 1)
    );
    let mut query = sqlx::query(&sql);
    for (key, _) in keys {
        query = query.bind(*key);
    }
    let rows = query.fetch_all(pool).await?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get(0)?;
        found.insert(key, (row.try_get::<i64, _>(1)?, row.try_get::<i64, _>(2)?));
    }
    Ok(keys
        .iter()
        .map(|(key, policy)| match found.get(*key) {
            Some((milli, at)) => policy.tokens_at(*milli, *at, now_ms),
            None => policy.burst,
        })
        .collect())
}

pub(super) async fn take(pool: &AnyPool, key: &str, policy: BucketPolicy, now_ms: i64) -> Result<bool> {
    if policy.burst == 0 {
        return Ok(false);
    }
    let taken = sqlx::query(TAKE)
        .bind(key)
        .bind(i64::from(policy.burst) * 1000)
        .bind(i64::from(policy.per_minute))
        .bind(now_ms)
        .fetch_optional(pool)
        .await?;
    Ok(taken.is_some())
}

pub(super) async fn clear(pool: &AnyPool, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM buckets WHERE key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn prune(pool: &AnyPool, before_ms: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM buckets WHERE at_ms < $1")
        .bind(before_ms)
        .execute(pool)
        .await?
        .rows_affected())
}
