//! `vault_entries`: a tenant's credentials for other systems, secrets sealed one by one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DbError, TenantTx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VaultRow {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub fields: serde_json::Value,
    /// name → sealed secret.
    pub secrets: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, kind, name, fields, secrets, created_at, updated_at"
    };
}

/// Create (`id` new) or replace (same `id`) an entry. A name another entry of the tenant has
/// is a [`DbError::Conflict`].
pub async fn put(
    tx: &mut TenantTx,
    id: Uuid,
    kind: &str,
    name: &str,
    fields: &serde_json::Value,
    secrets: &serde_json::Value,
) -> Result<VaultRow, DbError> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO vault_entries (id, tenant_id, kind, name, fields, secrets) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, \
           fields = EXCLUDED.fields, secrets = EXCLUDED.secrets, updated_at = now() \
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(tx.tenant().as_uuid())
    .bind(kind)
    .bind(name)
    .bind(fields)
    .bind(secrets)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<VaultRow>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM vault_entries WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<VaultRow>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM vault_entries ORDER BY name"
    ))
    .fetch_all(tx.conn())
    .await?)
}

pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM vault_entries WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
