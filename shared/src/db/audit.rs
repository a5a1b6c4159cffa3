//! `audit_log`: every admin mutation — who, which tenant, what, when.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::DbError;
use crate::domain::TenantId;

#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub tenant_id: Option<TenantId>,
    pub actor: &'a str,
    pub actor_role: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub details: serde_json::Value,
}

pub async fn record(pool: &PgPool, entry: &AuditEntry<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor, actor_role, action, target, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(entry.tenant_id.map(|t| t.as_uuid()))
    .bind(entry.actor)
    .bind(entry.actor_role)
    .bind(entry.action)
    .bind(entry.target)
    .bind(&entry.details)
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// Newest first; `tenant` narrows to one tenant; `before` pages back by id.
pub async fn list(
    pool: &PgPool,
    tenant: Option<TenantId>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AuditRecord>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, actor, actor_role, action, target, details, at FROM audit_log \
         WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(tenant.map(|t| t.as_uuid()))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
