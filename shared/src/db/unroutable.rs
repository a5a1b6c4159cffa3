//! `unroutable_events`: verified events whose routing key matches no tenant.
//!
//! The provider still gets its 200 (the event was authentic; retrying would not help), and
//! nothing is lost: the event waits here until an admin configures the tenant and replays it.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::DbError;

#[derive(Debug, Clone)]
pub struct NewUnroutable<'a> {
    pub provider: &'a str,
    pub routing_key: &'a str,
    pub reason: &'a str,
    pub payload: &'a serde_json::Value,
}

pub async fn record(pool: &PgPool, event: &NewUnroutable<'_>) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO unroutable_events (id, provider, routing_key, reason, payload) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(event.provider)
    .bind(event.routing_key)
    .bind(event.reason)
    .bind(event.payload)
    .execute(pool)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnroutableEvent {
    pub id: Uuid,
    pub provider: String,
    pub routing_key: String,
    pub reason: String,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
}

/// Events still waiting for a tenant, oldest first.
pub async fn list_pending(pool: &PgPool, limit: i64) -> Result<Vec<UnroutableEvent>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, provider, routing_key, reason, payload, received_at, replayed_at \
         FROM unroutable_events WHERE replayed_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
