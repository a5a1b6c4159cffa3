//! `held_events`: envelopes of a suspended tenant, kept until it is reactivated.

use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::envelope::Envelope;

/// Keep `envelope`; a second copy of the same event is ignored.
pub async fn hold(tx: &mut TenantTx, envelope: &Envelope) -> Result<(), DbError> {
    let json = serde_json::to_value(envelope).map_err(|e| DbError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO held_events (id, tenant_id, dedup_key, envelope) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, dedup_key) DO NOTHING",
    )
    .bind(envelope.id)
    .bind(tx.tenant().as_uuid())
    .bind(envelope.dedup_key.as_str())
    .bind(json)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The oldest held envelopes of the transaction's tenant, at most `limit`.
pub async fn oldest(tx: &mut TenantTx, limit: i64) -> Result<Vec<(Uuid, Envelope)>, DbError> {
    let rows: Vec<(Uuid, serde_json::Value)> =
        sqlx::query_as("SELECT id, envelope FROM held_events ORDER BY held_at, id LIMIT $1")
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
    rows.into_iter()
        .map(|(id, json)| {
            serde_json::from_value(json)
                .map(|envelope| (id, envelope))
                .map_err(|e| DbError::Corrupt(format!("held event {id}: {e}")))
        })
        .collect()
}

pub async fn release(tx: &mut TenantTx, ids: &[Uuid]) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM held_events WHERE id = ANY($1)")
        .bind(ids)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}
