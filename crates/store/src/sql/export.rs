//! What the store holds about one member beyond their record, for a member's own data (GDPR
//! art. 15, `member export`): the account by member number and the letters' tokens (their
//! state and dates, never the token or its HMAC).

use sqlx::{AnyPool, Row};

use piratenldap_core::ids::MemberNumber;

use super::accounts::account_from_row;
use super::query::fetch_optional_mapped;
use super::values::parse_ts;
use crate::{Account, Result, StoreError, TokenKind, TokenRecord};

/// The account of member `number`, if they have one.
pub(super) async fn account_of(pool: &AnyPool, number: &MemberNumber) -> Result<Option<Account>> {
    let sql = "SELECT * FROM accounts WHERE member_number = $1";
    fetch_optional_mapped(pool, sql, number.as_str(), account_from_row).await
}

/// Every token issued to member `number`, oldest first.
pub(super) async fn tokens_of(pool: &AnyPool, number: &MemberNumber) -> Result<Vec<TokenRecord>> {
    let rows = sqlx::query(
        "SELECT kind, state, issued_at, expires_at, used_at FROM tokens WHERE member_number = $1 ORDER BY issued_at",
    )
    .bind(number.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let used: Option<String> = r.try_get("used_at")?;
            Ok(TokenRecord {
                kind: TokenKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("token kind {kind}")))?,
                state: r.try_get("state")?,
                issued_at: parse_ts(&r.try_get::<String, _>("issued_at")?)?,
                expires_at: parse_ts(&r.try_get::<String, _>("expires_at")?)?,
                used_at: used.as_deref().map(parse_ts).transpose()?,
            })
        })
        .collect()
}
