//! [`OidcStore`] on SQL: clients beside their services, and the short-lived rows of single
//! sign-on (sessions, codes, tokens), each read together with the live-account check.

use async_trait::async_trait;
use piratenldap_core::ids::{Name, Uid};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use time::OffsetDateTime;

use super::SqlStore;
use super::columns::Columns;
use super::connection::begin_write;
use super::services::{insert_service, service_from_row};
use super::values::{corrupt, ts};
use super::write::Write;
use crate::oidc::{
    Code, CodeTaken, Issue, LiveSession, LiveToken, NewSession, OidcClient, OidcRegistration, OidcStore, RefreshTaken,
    TokenKind, Verdict,
};
use crate::{ChangeKey, Result, ServiceProfile, StoreError};

/// The password hash of a service that is only an OpenID Connect client: no password verifies
/// against it, so the service cannot bind over LDAP.
const NO_LDAP_BIND: &str = "!oidc-client";

/// Sessions one account keeps; a login beyond deletes the oldest (with its codes and tokens).
const MAX_SESSIONS_PER_ACCOUNT: i64 = 32;
/// Unused codes one session keeps; a new one beyond deletes the oldest.
const UNUSED_CODES_PER_SESSION: i64 = 16;
/// How long a used code is kept (past its 60 s life) to recognise a replay.
const CODE_KEPT_SECONDS: i64 = 600;
/// Token families (grants) one session keeps per client; older ones are deleted.
const FAMILIES_PER_SESSION_CLIENT: i64 = 8;
/// Used refresh tokens kept per family to recognise a replay; older ones are deleted (a replay
/// of one of those is then refused as unknown, without revoking the family).
const USED_REFRESH_KEPT: i64 = 16;

/// The columns of a live session, from `oidc_sessions s`.
const SESSION_COLUMNS: &str = "s.id_hash, s.sid, s.uid, s.method, s.created_at";

/// The conditions that make session `s` live at `$now`: not ended, not expired, its account
/// unlocked and its member active.
const LIVE: &str = "s.ended_at IS NULL AND s.expires_at > $1 \
     AND EXISTS (SELECT 1 FROM accounts a JOIN members m ON m.number = a.member_number \
                 WHERE a.uid = s.uid AND a.locked = 0 AND m.status = 'active')";

fn registration_from_row(row: &AnyRow) -> Result<OidcRegistration> {
    Ok(OidcRegistration {
        secret_hash: row.opt_text("secret_hash")?,
        redirect_uris: row.str("redirect_uris")?.lines().map(str::to_string).collect(),
        logout_uri: row.opt_text("logout_uri")?,
        pairwise: row.flag("pairwise")?,
        consent: row.flag("consent")?,
    })
}

fn session_from_row(row: &AnyRow) -> Result<LiveSession> {
    Ok(LiveSession {
        id_hash: row.text("id_hash")?,
        sid: row.text("sid")?,
        uid: row.uid("uid")?,
        method: row.text("method")?,
        created_at: unix(row.int("created_at")?)?,
    })
}

fn unix(t: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(t).map_err(corrupt)
}

fn name(row: &AnyRow, column: &str) -> Result<Name> {
    Name::parse(row.str(column)?).map_err(corrupt)
}

/// The live session `id_hash` inside a transaction.
async fn live_session(tx: &mut Transaction<'_, Any>, id_hash: &str, now: i64) -> Result<Option<LiveSession>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM oidc_sessions s WHERE {LIVE} AND s.id_hash = $2");
    sqlx::query(&sql)
        .bind(now)
        .bind(id_hash)
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
}

/// Ends the live sessions of `uid` (of every account whose member is no longer active when
/// `None`) and revokes their tokens, inside the caller's transaction: a lock, a new password,
/// a removed second factor or the one switch ends them for good. Returns how many sessions
/// ended.
pub(super) async fn end_sessions(tx: &mut Transaction<'_, Any>, uid: Option<&Uid>, now: OffsetDateTime) -> Result<u64> {
    // The accounts concerned, with `uid` as parameter `$n` when given.
    let who = |n: usize| {
        match uid {
        Some(_) => format!("uid = ${n}"),
        None => "uid IN (SELECT a.uid FROM accounts a JOIN members m ON m.number = a.member_number WHERE m.status <> 'active')"
            .to_string(),
    }
    };
    let revoke = format!(
        "UPDATE oidc_tokens SET revoked = 1 WHERE revoked = 0 AND session_hash IN \
         (SELECT id_hash FROM oidc_sessions WHERE ended_at IS NULL AND {})",
        who(1)
    );
    let mut q = sqlx::query(&revoke);
    if let Some(uid) = uid {
        q = q.bind(uid.as_str());
    }
    q.execute(&mut **tx).await?;
    let end = format!(
        "UPDATE oidc_sessions SET ended_at = $1 WHERE ended_at IS NULL AND {}",
        who(2)
    );
    let mut q = sqlx::query(&end).bind(now.unix_timestamp());
    if let Some(uid) = uid {
        q = q.bind(uid.as_str());
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

/// Stores one token.
#[allow(clippy::too_many_arguments)]
async fn insert_token(
    tx: &mut Transaction<'_, Any>,
    token_hash: &str,
    kind: TokenKind,
    family: &str,
    client: &Name,
    session_hash: &str,
    scope: &str,
    expires_at: OffsetDateTime,
) -> Result<()> {
    sqlx::query("INSERT INTO oidc_tokens (token_hash, kind, family, client, session_hash, scope, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(token_hash)
        .bind(kind.as_str())
        .bind(family)
        .bind(client.as_str())
        .bind(session_hash)
        .bind(scope)
        .bind(expires_at.unix_timestamp())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn code_from_row(row: &AnyRow) -> Result<Code> {
    Ok(Code {
        code_hash: row.text("code_hash")?,
        client: name(row, "client")?,
        session_hash: row.text("session_hash")?,
        redirect_uri: row.text("redirect_uri")?,
        challenge: row.opt_text("challenge")?,
        nonce: row.opt_text("nonce")?,
        scope: row.text("scope")?,
        expires_at: unix(row.int("expires_at")?)?,
    })
}

async fn revoke_family(tx: &mut Transaction<'_, Any>, family: &str) -> Result<()> {
    sqlx::query("UPDATE oidc_tokens SET revoked = 1 WHERE family = $1")
        .bind(family)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl OidcStore for SqlStore {
    async fn add_oidc_client(
        &self,
        profile: &ServiceProfile,
        reg: &OidcRegistration,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = Write::begin(&self.pool).await?;
        insert_service(&mut tx, profile, NO_LDAP_BIND, now).await?;
        sqlx::query("INSERT INTO oidc_clients (service, secret_hash, redirect_uris, logout_uri, pairwise, consent) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(profile.name.as_str())
            .bind(reg.secret_hash.as_deref())
            .bind(reg.redirect_uris.join("\n"))
            .bind(reg.logout_uri.as_deref())
            .bind(i64::from(reg.pairwise))
            .bind(i64::from(reg.consent))
            .execute(&mut **tx)
            .await?;
        tx.commit(&[ChangeKey::Service(profile.name.clone())]).await?;
        Ok(())
    }

    async fn oidc_client(&self, name: &Name) -> Result<Option<OidcClient>> {
        let row = sqlx::query("SELECT * FROM services s JOIN oidc_clients c ON c.service = s.name WHERE s.name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(OidcClient {
                profile: service_from_row(&row)?.profile,
                registration: registration_from_row(&row)?,
            })
        })
        .transpose()
    }

    async fn oidc_clients(&self) -> Result<Vec<(Name, OidcRegistration)>> {
        sqlx::query("SELECT * FROM oidc_clients ORDER BY service")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok((name(row, "service")?, registration_from_row(row)?)))
            .collect()
    }

    async fn set_oidc_secret(&self, name: &Name, secret_hash: &str, now: OffsetDateTime) -> Result<()> {
        let mut tx = Write::begin(&self.pool).await?;
        let done =
            sqlx::query("UPDATE oidc_clients SET secret_hash = $1 WHERE service = $2 AND secret_hash IS NOT NULL")
                .bind(secret_hash)
                .bind(name.as_str())
                .execute(&mut **tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "no confidential OpenID Connect client named {name}"
            )));
        }
        sqlx::query("UPDATE services SET modified_at = $1 WHERE name = $2")
            .bind(ts(now)?)
            .bind(name.as_str())
            .execute(&mut **tx)
            .await?;
        tx.commit(&[ChangeKey::Service(name.clone())]).await?;
        Ok(())
    }

    async fn create_session(&self, session: &NewSession) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        sqlx::query(
            "DELETE FROM oidc_sessions WHERE uid = $1 AND id_hash NOT IN \
             (SELECT id_hash FROM oidc_sessions WHERE uid = $1 ORDER BY created_at DESC LIMIT $2)",
        )
        .bind(session.uid.as_str())
        .bind(MAX_SESSIONS_PER_ACCOUNT - 1)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO oidc_sessions (id_hash, sid, uid, method, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&session.id_hash)
            .bind(&session.sid)
            .bind(session.uid.as_str())
            .bind(&session.method)
            .bind(session.created_at.unix_timestamp())
            .bind(session.expires_at.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, id_hash: &str, now: OffsetDateTime) -> Result<Option<LiveSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM oidc_sessions s WHERE {LIVE} AND s.id_hash = $2");
        sqlx::query(&sql)
            .bind(now.unix_timestamp())
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    async fn end_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<Vec<Name>> {
        let mut tx = begin_write(&self.pool).await?;
        sqlx::query("UPDATE oidc_sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL")
            .bind(now.unix_timestamp())
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE oidc_tokens SET revoked = 1 WHERE session_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        let clients = sqlx::query("SELECT client FROM oidc_session_clients WHERE session_hash = $1 ORDER BY client")
            .bind(id_hash)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| name(row, "client"))
            .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(clients)
    }

    async fn end_sessions_of(&self, uid: &Uid, now: OffsetDateTime) -> Result<u64> {
        let mut tx = begin_write(&self.pool).await?;
        sqlx::query("UPDATE oidc_tokens SET revoked = 1 WHERE session_hash IN (SELECT id_hash FROM oidc_sessions WHERE uid = $1)")
            .bind(uid.as_str())
            .execute(&mut *tx)
            .await?;
        let ended = sqlx::query(
            "UPDATE oidc_sessions SET ended_at = $1 WHERE uid = $2 AND ended_at IS NULL AND expires_at > $1",
        )
        .bind(now.unix_timestamp())
        .bind(uid.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }

    async fn create_code(&self, code: &Code) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        // A session keeps its used codes for replay detection until ten minutes past their
        // expiry, and its latest unused ones.
        sqlx::query(
            "DELETE FROM oidc_codes WHERE session_hash = $1 AND (expires_at < $2 OR (used = 0 AND code_hash NOT IN \
             (SELECT code_hash FROM oidc_codes WHERE session_hash = $1 AND used = 0 ORDER BY expires_at DESC LIMIT $3)))",
        )
        .bind(&code.session_hash)
        .bind(code.expires_at.unix_timestamp() - CODE_KEPT_SECONDS)
        .bind(UNUSED_CODES_PER_SESSION - 1)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO oidc_codes (code_hash, client, session_hash, redirect_uri, challenge, nonce, scope, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&code.code_hash)
            .bind(code.client.as_str())
            .bind(&code.session_hash)
            .bind(&code.redirect_uri)
            .bind(code.challenge.as_deref())
            .bind(code.nonce.as_deref())
            .bind(&code.scope)
            .bind(code.expires_at.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO oidc_session_clients (session_hash, client) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&code.session_hash)
            .bind(code.client.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        client: &Name,
        verdict: &(dyn for<'c> Fn(&'c Code) -> Verdict + Send + Sync),
        issue: &Issue,
        now: OffsetDateTime,
    ) -> Result<CodeTaken> {
        let now_s = now.unix_timestamp();
        let mut tx = begin_write(&self.pool).await?;
        // The claim is one statement: of two concurrent redemptions (on any node) exactly one
        // gets the row; the other waits for its commit and then finds the code used.
        let claimed =
            sqlx::query("UPDATE oidc_codes SET used = 1 WHERE code_hash = $1 AND client = $2 AND used = 0 RETURNING *")
                .bind(code_hash)
                .bind(client.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(row) = claimed else {
            let used: Option<i64> =
                sqlx::query_scalar("SELECT used FROM oidc_codes WHERE code_hash = $1 AND client = $2")
                    .bind(code_hash)
                    .bind(client.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if used == Some(1) {
                // RFC 6749 4.1.2: a code used twice revokes what was issued for it.
                revoke_family(&mut tx, code_hash).await?;
                tx.commit().await?;
                return Ok(CodeTaken::Replayed);
            }
            return Ok(CodeTaken::Invalid);
        };
        let code = code_from_row(&row)?;
        let session = live_session(&mut tx, &code.session_hash, now_s).await?;
        let (Some(session), true) = (session, code.expires_at > now) else {
            tx.commit().await?;
            return Ok(CodeTaken::Invalid);
        };
        let Verdict::Issue { refresh } = verdict(&code) else {
            tx.commit().await?;
            return Ok(CodeTaken::Refused);
        };
        let family = code_hash;
        insert_token(
            &mut tx,
            &issue.access_hash,
            TokenKind::Access,
            family,
            client,
            &session.id_hash,
            &code.scope,
            issue.access_expires,
        )
        .await?;
        if refresh {
            insert_token(
                &mut tx,
                &issue.refresh_hash,
                TokenKind::Refresh,
                family,
                client,
                &session.id_hash,
                &code.scope,
                issue.refresh_expires,
            )
            .await?;
        }
        // A session keeps the families of its latest grants per client.
        sqlx::query(
            "DELETE FROM oidc_tokens WHERE session_hash = $1 AND client = $2 AND family NOT IN \
             (SELECT family FROM oidc_tokens WHERE session_hash = $1 AND client = $2 \
              GROUP BY family ORDER BY MAX(expires_at) DESC LIMIT $3)",
        )
        .bind(&session.id_hash)
        .bind(client.as_str())
        .bind(FAMILIES_PER_SESSION_CLIENT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CodeTaken::Fresh {
            code: Box::new(code),
            session,
            refresh,
        })
    }

    async fn access_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<LiveToken>> {
        let sql = format!(
            "SELECT t.family, t.client, t.scope, {SESSION_COLUMNS} FROM oidc_tokens t \
             JOIN oidc_sessions s ON s.id_hash = t.session_hash \
             WHERE {LIVE} AND t.token_hash = $2 AND t.kind = 'access' AND t.revoked = 0 AND t.expires_at > $1"
        );
        sqlx::query(&sql)
            .bind(now.unix_timestamp())
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    async fn rotate_refresh(
        &self,
        token_hash: &str,
        client: &Name,
        issue: &Issue,
        now: OffsetDateTime,
    ) -> Result<RefreshTaken> {
        let now_s = now.unix_timestamp();
        let mut tx = begin_write(&self.pool).await?;
        let claimed = sqlx::query(
            "UPDATE oidc_tokens SET used = 1 WHERE token_hash = $1 AND kind = 'refresh' AND client = $2 AND used = 0 \
             RETURNING family, session_hash, scope, expires_at, revoked",
        )
        .bind(token_hash)
        .bind(client.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = claimed else {
            let family: Option<String> = sqlx::query_scalar(
                "SELECT family FROM oidc_tokens WHERE token_hash = $1 AND kind = 'refresh' AND client = $2 AND used = 1",
            )
            .bind(token_hash)
            .bind(client.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(family) = family else {
                return Ok(RefreshTaken::Invalid);
            };
            revoke_family(&mut tx, &family).await?;
            tx.commit().await?;
            return Ok(RefreshTaken::Replayed);
        };
        let family = row.text("family")?;
        let scope = row.text("scope")?;
        let usable = !row.flag("revoked")? && row.int("expires_at")? > now_s;
        let session = live_session(&mut tx, row.str("session_hash")?, now_s).await?;
        let (Some(session), true) = (session, usable) else {
            tx.commit().await?;
            return Ok(RefreshTaken::Invalid);
        };
        insert_token(
            &mut tx,
            &issue.access_hash,
            TokenKind::Access,
            &family,
            client,
            &session.id_hash,
            &scope,
            issue.access_expires,
        )
        .await?;
        insert_token(
            &mut tx,
            &issue.refresh_hash,
            TokenKind::Refresh,
            &family,
            client,
            &session.id_hash,
            &scope,
            issue.refresh_expires,
        )
        .await?;
        // A family keeps its live access tokens and its latest used refresh tokens.
        sqlx::query(
            "DELETE FROM oidc_tokens WHERE family = $1 AND ((kind = 'access' AND expires_at < $2) \
             OR (kind = 'refresh' AND used = 1 AND token_hash NOT IN \
                 (SELECT token_hash FROM oidc_tokens WHERE family = $1 AND kind = 'refresh' AND used = 1 \
                  ORDER BY expires_at DESC LIMIT $3)))",
        )
        .bind(&family)
        .bind(now_s)
        .bind(USED_REFRESH_KEPT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RefreshTaken::Fresh(LiveToken {
            family,
            client: client.clone(),
            scope,
            session,
        }))
    }

    async fn revoke_family(&self, family: &str) -> Result<()> {
        let mut tx = begin_write(&self.pool).await?;
        revoke_family(&mut tx, family).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_token(&self, token_hash: &str, client: &Name) -> Result<bool> {
        let mut tx = begin_write(&self.pool).await?;
        let row = sqlx::query("SELECT kind, family FROM oidc_tokens WHERE token_hash = $1 AND client = $2")
            .bind(token_hash)
            .bind(client.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        if row.str("kind")? == "refresh" {
            revoke_family(&mut tx, row.str("family")?).await?;
        } else {
            sqlx::query("UPDATE oidc_tokens SET revoked = 1 WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn consent(&self, uid: &Uid, client: &Name) -> Result<Option<Vec<String>>> {
        let claims: Option<String> =
            sqlx::query_scalar("SELECT claims FROM oidc_consents WHERE uid = $1 AND client = $2")
                .bind(uid.as_str())
                .bind(client.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(claims.map(|c| c.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()))
    }

    async fn grant_consent(&self, uid: &Uid, client: &Name, claims: &[String], now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO oidc_consents (uid, client, claims, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (uid, client) DO UPDATE SET claims = excluded.claims, granted_at = excluded.granted_at",
        )
        .bind(uid.as_str())
        .bind(client.as_str())
        .bind(claims.join(","))
        .bind(ts(now)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_oidc(&self, now: OffsetDateTime) -> Result<u64> {
        let now = now.unix_timestamp();
        let mut tx = begin_write(&self.pool).await?;
        let mut gone = 0;
        for sql in [
            "DELETE FROM oidc_codes WHERE expires_at < $1 - 600",
            "DELETE FROM oidc_tokens WHERE expires_at < $1",
            // Codes and tokens of a session go with it (ON DELETE CASCADE).
            "DELETE FROM oidc_sessions WHERE expires_at < $1 OR ended_at < $1 - 86400",
        ] {
            gone += sqlx::query(sql).bind(now).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(gone)
    }
}

fn token_from_row(row: &AnyRow) -> Result<LiveToken> {
    Ok(LiveToken {
        family: row.text("family")?,
        client: name(row, "client")?,
        scope: row.text("scope")?,
        session: session_from_row(row)?,
    })
}
