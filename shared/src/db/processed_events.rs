//! `processed_events`: the dedup keys of events whose effects are committed.
//!
//! The worker claims the key first thing in the event's transaction. If the claim conflicts,
//! the event was applied before (a redelivery, a provider retry, a replay) and the worker
//! acknowledges it without doing anything.

use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::DedupKey;

/// Record `key`; `false` when it was already recorded.
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
    Ok(inserted.rows_affected() == 1)
}
