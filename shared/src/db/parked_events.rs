//! `parked_events`: events of a tenant over its fair processing rate, waiting in order for
//! the workers' drain (see the migration `parked_events` and `workers::fairness`).

use sqlx::PgPool;

use super::{DbError, TenantTx};
use crate::domain::{ConversationKey, TenantId};
use crate::envelope::Envelope;

/// Park `envelope` behind its conversation's earlier parked events; a second copy of the same
/// event is ignored.
pub async fn park(tx: &mut TenantTx, envelope: &Envelope) -> Result<(), DbError> {
    let json = serde_json::to_value(envelope).map_err(|e| DbError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO parked_events (tenant_id, conversation_key, event_id, envelope) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, event_id) DO NOTHING",
    )
    .bind(tx.tenant().as_uuid())
    .bind(envelope.conversation_key.as_str())
    .bind(envelope.id)
    .bind(json)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether `conversation` has parked events (its next event must wait behind them).
pub async fn any_in(tx: &mut TenantTx, conversation: &ConversationKey) -> Result<bool, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM parked_events WHERE tenant_id = $1 AND conversation_key = $2)",
    )
    .bind(tx.tenant().as_uuid())
    .bind(conversation.as_str())
    .fetch_one(tx.conn())
    .await?)
}

/// The oldest parked event of any conversation of the transaction's tenant whose earlier
/// events are all done, locked until the transaction ends (other drains skip it, and skip its
/// conversation's later events, which still have it ahead of them).
pub async fn claim_next(tx: &mut TenantTx) -> Result<Option<(i64, Envelope)>, DbError> {
    let row: Option<(i64, serde_json::Value)> = sqlx::query_as(
        "SELECT p.seq, p.envelope FROM parked_events p \
         WHERE p.tenant_id = $1 AND NOT EXISTS ( \
           SELECT 1 FROM parked_events q \
           WHERE q.tenant_id = p.tenant_id AND q.conversation_key = p.conversation_key \
             AND q.seq < p.seq) \
         ORDER BY p.seq LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .bind(tx.tenant().as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|(seq, json)| {
        serde_json::from_value(json)
            .map(|envelope| (seq, envelope))
            .map_err(|e| DbError::Corrupt(format!("parked event {seq}: {e}")))
    })
    .transpose()
}

/// Remove a parked event (applied, or buried as a dead letter).
pub async fn remove(tx: &mut TenantTx, seq: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM parked_events WHERE seq = $1")
        .bind(seq)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Tenants with parked events, longest-waiting first.
pub async fn tenants_waiting(pool: &PgPool, limit: i64) -> Result<Vec<TenantId>, DbError> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT tenant_id FROM parked_tenants($1)")
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .fetch_all(pool)
        .await?;
    Ok(ids.into_iter().map(TenantId::from_uuid).collect())
}
