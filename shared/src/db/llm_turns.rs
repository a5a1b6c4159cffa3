//! `llm_turns`: a conversation's pending answer by the LLM, gathering the messages that arrive
//! within a short window so one call answers them all (see the migration).

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::TenantId;

/// Schedule (or join) the conversation's pending turn: due `window` from now, but no later
/// than `max_wait` after the turn's first message. Returns the turn's id.
pub async fn schedule(
    tx: &mut TenantTx,
    conversation_id: Uuid,
    window: Duration,
    max_wait: Duration,
) -> Result<Uuid, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO llm_turns (id, tenant_id, conversation_id, due_at, latest_at) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4), \
                 now() + make_interval(secs => greatest($4, $5))) \
         ON CONFLICT (conversation_id) WHERE status = 'pending' DO UPDATE SET \
           due_at = least(now() + make_interval(secs => $4), llm_turns.latest_at), \
           messages = llm_turns.messages + 1, updated_at = now() \
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(conversation_id)
    .bind(window.as_secs_f64())
    .bind(max_wait.as_secs_f64())
    .fetch_one(tx.conn())
    .await?)
}

/// A claimed turn.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Turn {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub messages: i32,
    pub attempts: i32,
}

/// Claim a due turn for `lease`; `None` when it is not due or someone else has it.
pub async fn claim(tx: &mut TenantTx, id: Uuid, lease: Duration) -> Result<Option<Turn>, DbError> {
    Ok(sqlx::query_as(
        "UPDATE llm_turns SET status = 'running', attempts = attempts + 1, \
           claimed_until = now() + make_interval(secs => $2), updated_at = now() \
         WHERE id = $1 AND ((status = 'pending' AND due_at <= now()) \
                            OR (status = 'running' AND claimed_until < now())) \
         RETURNING id, conversation_id, messages, attempts",
    )
    .bind(id)
    .bind(lease.as_secs_f64())
    .fetch_optional(tx.conn())
    .await?)
}

/// The turn is answered (or given up on with `error`).
pub async fn finish(tx: &mut TenantTx, id: Uuid, error: Option<&str>) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE llm_turns SET status = CASE WHEN $2::text IS NULL THEN 'done' ELSE 'failed' END, \
           last_error = $2, claimed_until = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Try the turn again after `delay` (the LLM was unavailable). When newer messages already
/// scheduled another turn, that one answers them all and this one is closed instead; returns
/// whether this turn will run again.
pub async fn retry(
    tx: &mut TenantTx,
    id: Uuid,
    error: &str,
    delay: Duration,
) -> Result<bool, DbError> {
    let retried = sqlx::query(
        "UPDATE llm_turns t SET status = 'pending', last_error = $2, \
           due_at = now() + make_interval(secs => $3), latest_at = now() + make_interval(secs => $3), \
           claimed_until = NULL, updated_at = now() \
         WHERE t.id = $1 AND NOT EXISTS (SELECT 1 FROM llm_turns p \
           WHERE p.conversation_id = t.conversation_id AND p.status = 'pending')",
    )
    .bind(id)
    .bind(error)
    .bind(delay.as_secs_f64())
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1;
    if !retried {
        finish(tx, id, None).await?;
    }
    Ok(retried)
}

/// Due turns across tenants, round-robin (ids only).
pub async fn due(pool: &PgPool, limit: i32) -> Result<Vec<(TenantId, Uuid)>, DbError> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as("SELECT tenant_id, id FROM llm_turns_due($1)")
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, id)| (TenantId::from_uuid(tenant), id))
        .collect())
}
