//! `outbox`: outbound sends, written in the same transaction as the effects that cause them.
//!
//! Life of a row: `pending` → claimed (`sending`, with a lease, in its own short transaction)
//! → the provider call → `sent` (with the provider's message id) or back to `pending` with a
//! later `next_attempt_at` (a rejection the provider says is temporary) or `failed`. A row
//! whose lease ran out while `sending` belonged to a worker that stopped mid-call: it becomes
//! `unknown` and is never sent again, because the provider may already have delivered it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::{Channel, TenantId};

#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    pub channel: Channel,
    pub conversation_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    /// Unique per tenant: the same cause never queues two sends.
    pub idempotency_key: &'a str,
    pub request: serde_json::Value,
    pub source_event_id: Option<Uuid>,
}

/// Queue a send; `None` when one with the same idempotency key exists already.
pub async fn enqueue(tx: &mut TenantTx, new: &NewOutbound<'_>) -> Result<Option<Uuid>, DbError> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO outbox (id, tenant_id, channel, conversation_id, contact_id, \
           idempotency_key, request, source_event_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(new.channel.as_str())
    .bind(new.conversation_id)
    .bind(new.contact_id)
    .bind(new.idempotency_key)
    .bind(&new.request)
    .bind(new.source_event_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(id)
}

/// A claimed row, ready to be sent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxItem {
    pub id: Uuid,
    pub channel: String,
    pub conversation_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub request: serde_json::Value,
    pub attempts: i32,
}

/// Claim a due row for `lease`; `None` if it is not pending and due (someone else has it, or
/// it is done), or if an earlier row of its conversation has not left yet: one conversation's
/// messages go out in the order they were queued (a flow's text before its buttons), whoever
/// sends them.
pub async fn claim(
    tx: &mut TenantTx,
    id: Uuid,
    lease: Duration,
) -> Result<Option<OutboxItem>, DbError> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    Ok(sqlx::query_as(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, \
           claimed_until = now() + make_interval(secs => $2::double precision / 1000), \
           updated_at = now() \
         WHERE id = $1 AND status = 'pending' AND next_attempt_at <= now() \
           AND NOT EXISTS (SELECT 1 FROM outbox e \
             WHERE e.conversation_id = outbox.conversation_id \
               AND e.status IN ('pending', 'sending') \
               AND (e.created_at, e.id) < (outbox.created_at, outbox.id)) \
         RETURNING id, channel, conversation_id, contact_id, request, attempts",
    )
    .bind(id)
    .bind(lease_ms)
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn mark_sent(
    tx: &mut TenantTx,
    id: Uuid,
    provider_message_id: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE outbox SET status = 'sent', provider_message_id = $2, sent_at = now(), \
           claimed_until = NULL, last_error = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(provider_message_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn mark_retry(
    tx: &mut TenantTx,
    id: Uuid,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE outbox SET status = 'pending', last_error = $2, next_attempt_at = $3, \
           claimed_until = NULL, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(next_attempt_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Put a claimed row back without spending an attempt: it was held back (its sender's rate)
/// rather than refused, and goes at `until`.
pub async fn defer(
    tx: &mut TenantTx,
    id: Uuid,
    reason: &str,
    until: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE outbox SET status = 'pending', attempts = greatest(attempts - 1, 0), \
           last_error = $2, next_attempt_at = $3, claimed_until = NULL, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .bind(until)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The provider refused for good (or retries ran out): never sent.
pub async fn mark_failed(tx: &mut TenantTx, id: Uuid, error: &str) -> Result<(), DbError> {
    finish(tx, id, "failed", error).await
}

/// The send may or may not have reached the provider: never send it again.
pub async fn mark_unknown(tx: &mut TenantTx, id: Uuid, error: &str) -> Result<(), DbError> {
    finish(tx, id, "unknown", error).await
}

async fn finish(tx: &mut TenantTx, id: Uuid, status: &str, error: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE outbox SET status = $2, last_error = $3, claimed_until = NULL, \
           updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Pending rows whose time has come, across tenants (ids only).
pub async fn due(pool: &PgPool, limit: i32) -> Result<Vec<(TenantId, Uuid)>, DbError> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as("SELECT tenant_id, id FROM outbox_due($1)")
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, id)| (TenantId::from_uuid(tenant), id))
        .collect())
}

/// Mark rows whose sender stopped mid-call as `unknown`; returns how many.
pub async fn mark_abandoned(pool: &PgPool) -> Result<i32, DbError> {
    Ok(sqlx::query_scalar("SELECT outbox_mark_abandoned()")
        .fetch_one(pool)
        .await?)
}
