//! `tenants`: the accounts everything else belongs to.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::{TenantId, TenantSlug, TenantStatus};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub plan: String,
    pub rate_limit_per_minute: i32,
    pub welcome_text: Option<String>,
    pub metadata: serde_json::Value,
    pub external_org_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    status: String,
    plan: String,
    rate_limit_per_minute: i32,
    welcome_text: Option<String>,
    metadata: serde_json::Value,
    external_org_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = DbError;

    fn try_from(r: TenantRow) -> Result<Self, DbError> {
        Ok(Tenant {
            id: TenantId::from_uuid(r.id),
            slug: r.slug,
            name: r.name,
            status: TenantStatus::parse(&r.status).map_err(|e| DbError::Corrupt(e.to_string()))?,
            plan: r.plan,
            rate_limit_per_minute: r.rate_limit_per_minute,
            welcome_text: r.welcome_text,
            metadata: r.metadata,
            external_org_id: r.external_org_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// What it takes to create a tenant; the id is the one the [`TenantTx`] is scoped to.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: TenantSlug,
    pub name: String,
    pub welcome_text: Option<String>,
    /// The integrating system's own id for this tenant, if it provisions tenants.
    pub external_org_id: Option<String>,
}

macro_rules! columns {
    () => {
        "id, slug, name, status, plan, rate_limit_per_minute, welcome_text, metadata, \
         external_org_id, created_at, updated_at"
    };
}

/// Insert the tenant the transaction is scoped to. A taken slug is a
/// [`DbError::Conflict`].
pub async fn create(tx: &mut TenantTx, new: &NewTenant) -> Result<Tenant, DbError> {
    let id = tx.tenant().as_uuid();
    let row: TenantRow = sqlx::query_as(concat!(
        "INSERT INTO tenants (id, slug, name, welcome_text, external_org_id) \
         VALUES ($1, $2, $3, $4, $5) RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(new.slug.as_str())
    .bind(&new.name)
    .bind(&new.welcome_text)
    .bind(&new.external_org_id)
    .fetch_one(tx.conn())
    .await?;
    row.try_into()
}

/// The tenant the transaction is scoped to, if it exists.
pub async fn get(tx: &mut TenantTx) -> Result<Option<Tenant>, DbError> {
    let row: Option<TenantRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM tenants WHERE id = $1"
    ))
    .bind(tx.tenant().as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    row.map(Tenant::try_from).transpose()
}

/// What an update may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub plan: Option<String>,
    pub rate_limit_per_minute: Option<i32>,
    /// `Some(None)` clears the welcome text.
    pub welcome_text: Option<Option<String>>,
    pub metadata: Option<serde_json::Value>,
    pub status: Option<TenantStatus>,
}

/// Update the transaction's tenant; `None` when it does not exist.
pub async fn update(tx: &mut TenantTx, change: &TenantUpdate) -> Result<Option<Tenant>, DbError> {
    let row: Option<TenantRow> = sqlx::query_as(concat!(
        "UPDATE tenants SET name = coalesce($2, name), plan = coalesce($3, plan), \
           rate_limit_per_minute = coalesce($4, rate_limit_per_minute), \
           welcome_text = CASE WHEN $5 THEN $6 ELSE welcome_text END, \
           metadata = coalesce($7, metadata), status = coalesce($8, status), updated_at = now() \
         WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(tx.tenant().as_uuid())
    .bind(&change.name)
    .bind(&change.plan)
    .bind(change.rate_limit_per_minute)
    .bind(change.welcome_text.is_some())
    .bind(change.welcome_text.clone().flatten())
    .bind(&change.metadata)
    .bind(change.status.map(|s| s.as_str()))
    .fetch_optional(tx.conn())
    .await?;
    row.map(Tenant::try_from).transpose()
}

/// Resolve an integration's org id to a tenant id.
pub async fn id_by_external_org(
    pool: &PgPool,
    external_org_id: &str,
) -> Result<Option<TenantId>, DbError> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT tenant_id_by_external_org($1)")
        .bind(external_org_id)
        .fetch_one(pool)
        .await?;
    Ok(id.map(TenantId::from_uuid))
}

/// One row of the platform's tenant list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TenantSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    pub created_at: DateTime<Utc>,
    pub contacts: i64,
    pub conversations: i64,
    pub messages: i64,
    pub users: i64,
}

/// Every tenant with counts, by id, after `after`.
pub async fn list_with_counts(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i32,
) -> Result<Vec<TenantSummary>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, slug, name, status, plan, created_at, contacts, conversations, messages, users \
         FROM platform_tenants($1, $2)",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Record that the tenant finished onboarding (now, unless it had before).
pub async fn mark_onboarded(tx: &mut TenantTx) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE tenants SET onboarding_completed_at = coalesce(onboarding_completed_at, now()), \
         updated_at = now() WHERE id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Delete the tenant and, by cascade, every row it owns. Returns whether it existed.
pub async fn delete(tx: &mut TenantTx) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(tx.tenant().as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Resolve a slug to an id (operators' tooling; no other column is visible this way).
pub async fn id_by_slug(pool: &PgPool, slug: &TenantSlug) -> Result<Option<TenantId>, DbError> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT tenant_id_by_slug($1)")
        .bind(slug.as_str())
        .fetch_one(pool)
        .await?;
    Ok(id.map(TenantId::from_uuid))
}
