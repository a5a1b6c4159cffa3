//! `tenant_modules`: the catalogue modules a tenant enabled, in the tenant's order.
//!
//! Enabling and reordering take a per-tenant transaction lock first, so two of them at once
//! cannot both pick the next position or reorder from a stale list.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::flows::ModuleOrder;

/// One of the tenant's modules, with what the catalogue says about it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TenantModule {
    pub id: Uuid,
    pub module_id: Uuid,
    #[schema(example = "booking")]
    pub module_key: String,
    pub name: String,
    pub description: String,
    /// 0 for the first module; the tenant's modules have consecutive positions.
    pub position: i32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! select_modules {
    ($where:literal) => {
        concat!(
            "SELECT t.id, t.module_id, m.key AS module_key, m.name, m.description, t.position, \
               t.is_active, t.created_at, t.updated_at \
             FROM tenant_modules t JOIN modules m ON m.id = t.module_id ",
            $where
        )
    };
}

/// Hold the tenant's module list still until the transaction ends.
async fn lock(tx: &mut TenantTx) -> Result<(), DbError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('tenant_modules:' || $1::text, 0))")
        .bind(tx.tenant().as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The tenant's modules in order.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<TenantModule>, DbError> {
    Ok(sqlx::query_as(select_modules!("ORDER BY t.position, t.id"))
        .fetch_all(tx.conn())
        .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<TenantModule>, DbError> {
    Ok(sqlx::query_as(select_modules!("WHERE t.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

/// Enable catalogue module `module_id` for the tenant, last in its order. Enabling it twice
/// is a [`DbError::Conflict`].
pub async fn enable(
    tx: &mut TenantTx,
    module_id: Uuid,
    is_active: bool,
) -> Result<TenantModule, DbError> {
    lock(tx).await?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO tenant_modules (id, tenant_id, module_id, position, is_active) \
         SELECT $1, $2, $3, coalesce(max(position) + 1, 0), $4 FROM tenant_modules \
         WHERE tenant_id = $2",
    )
    .bind(id)
    .bind(tx.tenant().as_uuid())
    .bind(module_id)
    .bind(is_active)
    .execute(tx.conn())
    .await?;
    get(tx, id)
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("tenant module {id} vanished after insert")))
}

/// Switch a module on or off; `None` if the tenant has no such module.
pub async fn set_active(
    tx: &mut TenantTx,
    id: Uuid,
    is_active: bool,
) -> Result<Option<TenantModule>, DbError> {
    let done =
        sqlx::query("UPDATE tenant_modules SET is_active = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(is_active)
            .execute(tx.conn())
            .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    get(tx, id).await
}

/// Lock the tenant's module list and return its ids, for checking a new order against.
pub async fn lock_ids(tx: &mut TenantTx) -> Result<Vec<Uuid>, DbError> {
    lock(tx).await?;
    Ok(
        sqlx::query_scalar("SELECT id FROM tenant_modules ORDER BY position, id")
            .fetch_all(tx.conn())
            .await?,
    )
}

/// Put the tenant's modules in `order` (checked against [`lock_ids`] in this transaction).
pub async fn reorder(tx: &mut TenantTx, order: &ModuleOrder) -> Result<Vec<TenantModule>, DbError> {
    sqlx::query(
        "UPDATE tenant_modules t SET position = o.ord - 1, updated_at = now() \
         FROM unnest($1::uuid[]) WITH ORDINALITY AS o (id, ord) \
         WHERE t.id = o.id AND t.position <> o.ord - 1",
    )
    .bind(order.ids())
    .execute(tx.conn())
    .await?;
    list(tx).await
}
