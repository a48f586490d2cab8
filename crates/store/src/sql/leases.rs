//! Leases: a named job that exactly one node runs at a time (issue 19, the CRL's re-signing).
//! Taking or renewing one is a single atomic upsert on both engines, so two nodes asking at
//! the same moment never both get it.

use sqlx::AnyPool;
use time::OffsetDateTime;

use super::values::ts;
use crate::Result;

/// Inserts the lease, or takes it over when it expired or is already `$2`'s; changes no row
/// (so answers "no") while another holder's lease runs.
const TAKE: &str = "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $4) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
     WHERE leases.holder = excluded.holder OR leases.expires_at <= $3";

pub(super) async fn try_lease(
    pool: &AnyPool,
    name: &str,
    holder: &str,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<bool> {
    let done = sqlx::query(TAKE)
        .bind(name)
        .bind(holder)
        .bind(ts(now)?)
        .bind(ts(until)?)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
