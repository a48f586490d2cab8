//! Services: LDAP bind accounts and the service rows of single sign-on clients (`oidc.rs`
//! adds the client part). A service is federal or registered by a chapter; a chapter's
//! service may be narrowed (`--members-of`) to a federal group or to one of its own chapter's
//! groups, never to another chapter's.

use piratenldap_core::ids::{Name, StateCode};
use sqlx::{Any, AnyPool, Transaction};
use time::OffsetDateTime;

use super::columns::Columns;
use super::query::{changed, fetch_mapped, insert_unique};
use super::snapshot;
use super::values::{corrupt, ts};
use super::write::{Write, update_row};
use crate::{ChangeKey, Conflict, Result, Service, ServiceProfile, StoreError};

pub(super) fn service_from_row(row: &impl Columns) -> Result<Service> {
    Ok(Service {
        profile: ServiceProfile {
            name: Name::parse(row.str("name")?).map_err(corrupt)?,
            attrs: row
                .opt_text("attrs")?
                .map(|a| a.split(',').map(str::to_string).collect()),
            members_of: row
                .opt_text("members_of")?
                .map(|g| Name::parse(&g))
                .transpose()
                .map_err(corrupt)?,
            real_names: row.flag("real_names")?,
            include_inactive: row.flag("include_inactive")?,
            pseudonymous: row.flag("pseudonymous")?,
            chapter: row
                .opt_text("chapter")?
                .map(|c| StateCode::parse(&c))
                .transpose()
                .map_err(corrupt)?,
        },
        password_hash: row.text("password_hash")?,
        entry_uuid: row.text("entry_uuid")?,
        created_at: row.time("created_at")?,
        modified_at: row.time("modified_at")?,
    })
}

/// Checks the group a service is narrowed to: it exists and, for a chapter's service, is
/// federal or the same chapter's.
async fn check_members_of(tx: &mut Transaction<'_, Any>, profile: &ServiceProfile) -> Result<()> {
    let Some(g) = &profile.members_of else {
        return Ok(());
    };
    let owner: Option<(String, Option<String>)> = sqlx::query_as("SELECT name, chapter FROM groups WHERE name = $1")
        .bind(g.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    let Some((_, group_chapter)) = owner else {
        return Err(StoreError::NotFound(format!("no group named {g} (for --members-of)")));
    };
    match (&profile.chapter, group_chapter) {
        (Some(chapter), Some(other)) if other != chapter.as_str() => Err(StoreError::Refused(format!(
            "group {g} belongs to chapter {other}; service {} belongs to chapter {chapter}",
            profile.name
        ))),
        _ => Ok(()),
    }
}

/// Inserts a service (no revision bump, no commit).
pub(super) async fn insert_service(
    tx: &mut Transaction<'_, Any>,
    profile: &ServiceProfile,
    hash: &str,
    now: OffsetDateTime,
) -> Result<Service> {
    let stamp = ts(now)?;
    check_members_of(tx, profile).await?;
    let entry_uuid = uuid::Uuid::new_v4().to_string();
    let insert = sqlx::query("INSERT INTO services (name, password_hash, attrs, members_of, real_names, include_inactive, entry_uuid, created_at, modified_at, chapter, pseudonymous) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(profile.name.as_str()).bind(hash).bind(profile.attrs.as_ref().map(|a| a.join(",")))
        .bind(profile.members_of.as_ref().map(Name::as_str)).bind(i64::from(profile.real_names)).bind(i64::from(profile.include_inactive))
        .bind(&entry_uuid).bind(&stamp).bind(&stamp).bind(profile.chapter.as_ref().map(StateCode::as_str))
        .bind(i64::from(profile.pseudonymous));
    insert_unique(tx, insert, || {
        StoreError::Conflict(Conflict::ServiceExists(profile.name.clone()))
    })
    .await?;
    Ok(Service {
        profile: profile.clone(),
        password_hash: hash.to_string(),
        entry_uuid,
        created_at: now,
        modified_at: now,
    })
}

/// All services.
pub(super) async fn all(pool: &AnyPool) -> Result<Vec<Service>> {
    fetch_mapped(&mut *pool.acquire().await?, snapshot::SERVICES, service_from_row).await
}

/// Replaces a service's password hash.
pub(super) async fn set_password(pool: &AnyPool, name: &Name, hash: &str, now: OffsetDateTime) -> Result<()> {
    let sql = "UPDATE services SET password_hash = $1, modified_at = $2 WHERE name = $3";
    let logged = ChangeKey::Service(name.clone());
    update_row(pool, sql, (hash, now), name.as_str(), logged, || {
        format!("no service named {name}")
    })
    .await
}

pub(super) async fn add(pool: &AnyPool, profile: &ServiceProfile, hash: &str, now: OffsetDateTime) -> Result<Service> {
    let mut tx = Write::begin(pool).await?;
    let service = insert_service(&mut tx, profile, hash, now).await?;
    tx.commit(&[ChangeKey::Service(profile.name.clone())]).await?;
    Ok(service)
}

pub(super) async fn remove(pool: &AnyPool, name: &Name) -> Result<()> {
    let mut tx = Write::begin(pool).await?;
    let done = sqlx::query("DELETE FROM services WHERE name = $1")
        .bind(name.as_str())
        .execute(&mut **tx)
        .await?;
    changed(done, || format!("no service named {name}"))?;
    tx.commit(&[ChangeKey::Service(name.clone())]).await?;
    Ok(())
}
