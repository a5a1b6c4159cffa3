//! `api_keys`: tenant API keys, stored as a lookup prefix and a SHA-256 of the whole key.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn create(
    tx: &mut TenantTx,
    name: &str,
    prefix: &str,
    key_hash: &[u8],
    role: &str,
) -> Result<ApiKey, DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, name, prefix, role, created_at, last_used_at, revoked_at",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(role)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<ApiKey>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, name, prefix, role, created_at, last_used_at, revoked_at \
         FROM api_keys ORDER BY created_at",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Revoke a key of the transaction's tenant; `false` if there is no such key.
pub async fn revoke(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
    Ok(done.rows_affected() == 1)
}

/// What authenticating a key needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub role: String,
    pub key_hash: Vec<u8>,
    pub revoked: bool,
}

pub async fn by_prefix(pool: &PgPool, prefix: &str) -> Result<Option<KeyRecord>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, role, key_hash, revoked FROM auth_api_key_by_prefix($1)",
    )
    .bind(prefix)
    .fetch_optional(pool)
    .await?)
}

/// Record use (at most once a minute per key, to keep hot keys cheap).
pub async fn touch(pool: &PgPool, id: Uuid) -> Result<(), DbError> {
    sqlx::query("SELECT auth_touch_api_key($1)")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
