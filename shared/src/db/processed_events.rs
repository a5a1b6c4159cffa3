//! `processed_events`: the dedup keys of events whose effects are committed.
//!
//! The worker claims the key first thing in the event's transaction. If the claim conflicts,
//! the event was applied before (a redelivery, a provider retry, a replay): the worker counts
//! the duplicate on the row (`duplicates`) and acknowledges the event without doing anything
//! else. The count shows operators how much repeated delivery the dedup absorbed.

use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::DedupKey;

/// Record `key`; `false` when it was already recorded, in which case the duplicate is counted.
pub async fn claim(tx: &mut TenantTx, key: &DedupKey, event_id: Uuid) -> Result<bool, DbError> {
    let inserted = sqlx::query(
        "INSERT INTO processed_events (tenant_id, dedup_key, event_id) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, dedup_key) DO NOTHING",
    )
    .bind(tx.tenant().as_uuid())
    .bind(key.as_str())
    .bind(event_id)
    .execute(tx.conn())
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(true);
    }
    sqlx::query(
        "UPDATE processed_events SET duplicates = duplicates + 1 \
         WHERE tenant_id = $1 AND dedup_key = $2",
    )
    .bind(tx.tenant().as_uuid())
    .bind(key.as_str())
    .execute(tx.conn())
    .await?;
    Ok(false)
}
