//! `conversations`: one per tenant, channel and contact.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::Channel;

/// The conversation with `contact_id` on `channel`, created if new, with its activity times
/// moved forward (never back) to `inbound_at`.
pub async fn upsert(
    tx: &mut TenantTx,
    contact_id: Uuid,
    channel: Channel,
    inbound_at: Option<DateTime<Utc>>,
) -> Result<Uuid, DbError> {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO conversations (id, tenant_id, contact_id, channel, last_inbound_at, last_message_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (tenant_id, channel, contact_id) DO UPDATE SET \
           last_inbound_at = greatest(conversations.last_inbound_at, EXCLUDED.last_inbound_at), \
           last_message_at = greatest(conversations.last_message_at, EXCLUDED.last_message_at), \
           updated_at = now() \
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(contact_id)
    .bind(channel.as_str())
    .bind(inbound_at)
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub channel: String,
    pub status: String,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Filters of the conversation list; every one is optional.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub channel: Option<Channel>,
    pub contact_id: Option<Uuid>,
    pub status: Option<String>,
    pub active_since: Option<DateTime<Utc>>,
    pub active_until: Option<DateTime<Utc>>,
}

/// A page of conversations by id after `after`.
pub async fn list(
    tx: &mut TenantTx,
    filter: &ConversationFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Conversation>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, contact_id, channel, status, last_inbound_at, last_message_at, created_at \
         FROM conversations \
         WHERE ($1::uuid IS NULL OR id > $1) AND ($2::text IS NULL OR channel = $2) \
           AND ($3::uuid IS NULL OR contact_id = $3) AND ($4::text IS NULL OR status = $4) \
           AND ($5::timestamptz IS NULL OR last_message_at >= $5) \
           AND ($6::timestamptz IS NULL OR last_message_at < $6) \
         ORDER BY id LIMIT $7",
    )
    .bind(after)
    .bind(filter.channel.map(|c| c.as_str()))
    .bind(filter.contact_id)
    .bind(&filter.status)
    .bind(filter.active_since)
    .bind(filter.active_until)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
