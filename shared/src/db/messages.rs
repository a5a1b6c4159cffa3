//! `messages`: what was said, in both directions, and how far each outbound message got.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::Channel;

/// Delivery state of an outbound message. It only moves forward (`sent` < `delivered` <
/// `read`); `failed` is terminal. A `read` without a `delivered` before it is normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct InboundMessage<'a> {
    pub conversation_id: Uuid,
    pub contact_id: Uuid,
    pub channel: Channel,
    pub provider_message_id: &'a str,
    pub message_type: &'a str,
    pub body: Option<&'a str>,
    pub media: Option<serde_json::Value>,
    pub reply_to_provider_id: Option<&'a str>,
    pub provider_timestamp: Option<DateTime<Utc>>,
    pub raw: &'a serde_json::Value,
}

/// Store an inbound message; `false` when a message with that provider id is already stored.
pub async fn insert_inbound(tx: &mut TenantTx, m: &InboundMessage<'_>) -> Result<bool, DbError> {
    let done = sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, contact_id, channel, direction, \
           provider_message_id, message_type, body, media, reply_to_provider_id, status, \
           provider_timestamp, raw) \
         VALUES ($1, $2, $3, $4, $5, 'inbound', $6, $7, $8, $9, $10, 'received', $11, $12) \
         ON CONFLICT (tenant_id, provider_message_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(m.conversation_id)
    .bind(m.contact_id)
    .bind(m.channel.as_str())
    .bind(m.provider_message_id)
    .bind(m.message_type)
    .bind(m.body)
    .bind(&m.media)
    .bind(m.reply_to_provider_id)
    .bind(m.provider_timestamp)
    .bind(m.raw)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone)]
pub struct StatusUpdate<'a> {
    pub channel: Channel,
    pub provider_message_id: &'a str,
    pub status: DeliveryStatus,
    pub at: DateTime<Utc>,
    pub error: Option<serde_json::Value>,
}

/// Apply a delivery receipt. The status moves only forward; each state's timestamp is kept
/// the first time it is seen, even when the state itself is already past it. A receipt for a
/// message not recorded yet (the send's response is still on its way) creates a stub that the
/// send fills in.
pub async fn apply_status(tx: &mut TenantTx, s: &StatusUpdate<'_>) -> Result<(), DbError> {
    let at = |want: DeliveryStatus| (s.status == want).then_some(s.at);
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, channel, direction, provider_message_id, \
           message_type, status, sent_at, delivered_at, read_at, failed_at, error) \
         VALUES ($1, $2, $3, 'outbound', $4, 'unknown', $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (tenant_id, provider_message_id) DO UPDATE SET \
           status = CASE WHEN message_status_rank(EXCLUDED.status) > message_status_rank(messages.status) \
                         THEN EXCLUDED.status ELSE messages.status END, \
           sent_at = coalesce(messages.sent_at, EXCLUDED.sent_at), \
           delivered_at = coalesce(messages.delivered_at, EXCLUDED.delivered_at), \
           read_at = coalesce(messages.read_at, EXCLUDED.read_at), \
           failed_at = coalesce(messages.failed_at, EXCLUDED.failed_at), \
           error = coalesce(EXCLUDED.error, messages.error), \
           updated_at = now()",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(s.channel.as_str())
    .bind(s.provider_message_id)
    .bind(s.status.as_str())
    .bind(at(DeliveryStatus::Sent))
    .bind(at(DeliveryStatus::Delivered))
    .bind(at(DeliveryStatus::Read))
    .bind(at(DeliveryStatus::Failed))
    .bind(&s.error)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The stored status of the message with `provider_message_id` (`sent`, `delivered`, …),
/// locked until the transaction ends so concurrent receipts apply one after the other.
pub async fn status_of(
    tx: &mut TenantTx,
    provider_message_id: &str,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT status FROM messages WHERE tenant_id = $1 AND provider_message_id = $2 FOR UPDATE",
    )
    .bind(tx.tenant().as_uuid())
    .bind(provider_message_id)
    .fetch_optional(tx.conn())
    .await?)
}

#[derive(Debug, Clone)]
pub struct OutboundMessage<'a> {
    pub conversation_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub channel: Channel,
    pub provider_message_id: &'a str,
    pub message_type: &'a str,
    pub body: Option<&'a str>,
    pub reply_to_provider_id: Option<&'a str>,
    pub sent_at: DateTime<Utc>,
}

/// Record a message we sent, merging with a receipt stub that may have arrived first.
pub async fn record_outbound(tx: &mut TenantTx, m: &OutboundMessage<'_>) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, contact_id, channel, direction, \
           provider_message_id, message_type, body, reply_to_provider_id, status, sent_at) \
         VALUES ($1, $2, $3, $4, $5, 'outbound', $6, $7, $8, $9, 'sent', $10) \
         ON CONFLICT (tenant_id, provider_message_id) DO UPDATE SET \
           conversation_id = EXCLUDED.conversation_id, contact_id = EXCLUDED.contact_id, \
           message_type = EXCLUDED.message_type, body = EXCLUDED.body, \
           reply_to_provider_id = EXCLUDED.reply_to_provider_id, \
           sent_at = coalesce(messages.sent_at, EXCLUDED.sent_at), updated_at = now()",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(m.conversation_id)
    .bind(m.contact_id)
    .bind(m.channel.as_str())
    .bind(m.provider_message_id)
    .bind(m.message_type)
    .bind(m.body)
    .bind(m.reply_to_provider_id)
    .bind(m.sent_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One message of a conversation's history, as the LLM sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryEntry {
    /// `inbound` (the customer) or `outbound` (the business).
    pub direction: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The last `limit` messages with text of conversation `id`, oldest first.
pub async fn recent_history(
    tx: &mut TenantTx,
    conversation_id: Uuid,
    limit: i64,
) -> Result<Vec<HistoryEntry>, DbError> {
    let mut entries: Vec<HistoryEntry> = sqlx::query_as(
        "SELECT direction, body, created_at FROM messages \
         WHERE conversation_id = $1 AND body IS NOT NULL AND body <> '' \
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(conversation_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    entries.reverse();
    Ok(entries)
}

/// A message as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MessageRecord {
    pub id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub channel: String,
    pub direction: String,
    pub provider_message_id: String,
    pub message_type: String,
    pub body: Option<String>,
    pub media: Option<serde_json::Value>,
    pub status: String,
    pub error: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub conversation_id: Option<Uuid>,
    pub contact_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub direction: Option<String>,
    pub status: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page of messages in creation order (ids are time-ordered), after `after`.
pub async fn list(
    tx: &mut TenantTx,
    filter: &MessageFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MessageRecord>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, conversation_id, contact_id, channel, direction, provider_message_id, \
           message_type, body, media, status, error, created_at, sent_at, delivered_at, read_at \
         FROM messages \
         WHERE ($1::uuid IS NULL OR id > $1) AND ($2::uuid IS NULL OR conversation_id = $2) \
           AND ($3::uuid IS NULL OR contact_id = $3) AND ($4::text IS NULL OR channel = $4) \
           AND ($5::text IS NULL OR direction = $5) AND ($6::text IS NULL OR status = $6) \
           AND ($7::timestamptz IS NULL OR created_at >= $7) \
           AND ($8::timestamptz IS NULL OR created_at < $8) \
         ORDER BY id LIMIT $9",
    )
    .bind(after)
    .bind(filter.conversation_id)
    .bind(filter.contact_id)
    .bind(filter.channel.map(|c| c.as_str()))
    .bind(&filter.direction)
    .bind(&filter.status)
    .bind(filter.since)
    .bind(filter.until)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
