//! `modules`: the platform's catalogue of modules a tenant can enable. It belongs to no tenant
//! and is written only by migrations.

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};

/// A catalogue module.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Module {
    pub id: Uuid,
    /// Stable name for code and requests, e.g. `welcome`, `faq`, `booking`, `handover`.
    #[schema(example = "booking")]
    pub key: String,
    pub name: String,
    pub description: String,
}

/// The whole catalogue, by key.
pub async fn list(pool: &PgPool) -> Result<Vec<Module>, DbError> {
    Ok(
        sqlx::query_as("SELECT id, key, name, description FROM modules ORDER BY key")
            .fetch_all(pool)
            .await?,
    )
}

pub async fn by_key(tx: &mut TenantTx, key: &str) -> Result<Option<Module>, DbError> {
    Ok(
        sqlx::query_as("SELECT id, key, name, description FROM modules WHERE key = $1")
            .bind(key)
            .fetch_optional(tx.conn())
            .await?,
    )
}
