//! `conversations`: one per tenant, channel and contact — or, for email, one per mailbox
//! thread (`thread_key`, the Gmail `threadId`), whoever writes in it.

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
    upsert_keyed(tx, contact_id, channel, None, inbound_at).await
}

/// The conversation of thread `thread_key` on `channel`, created (with `contact_id`, who
/// started it) if new, with its activity times moved forward (never back) to `inbound_at`.
pub async fn upsert_thread(
    tx: &mut TenantTx,
    contact_id: Uuid,
    channel: Channel,
    thread_key: &str,
    inbound_at: Option<DateTime<Utc>>,
) -> Result<Uuid, DbError> {
    upsert_keyed(tx, contact_id, channel, Some(thread_key), inbound_at).await
}

/// The upsert, on the unique index of its key (`$target`, an index's columns and predicate).
macro_rules! upsert_on {
    ($target:literal) => {
        concat!(
            "INSERT INTO conversations \
               (id, tenant_id, contact_id, channel, thread_key, last_inbound_at, last_message_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT ",
            $target,
            " DO UPDATE SET \
               last_inbound_at = greatest(conversations.last_inbound_at, EXCLUDED.last_inbound_at), \
               last_message_at = greatest(conversations.last_message_at, EXCLUDED.last_message_at), \
               updated_at = now() \
             RETURNING id"
        )
    };
}

async fn upsert_keyed(
    tx: &mut TenantTx,
    contact_id: Uuid,
    channel: Channel,
    thread_key: Option<&str>,
    inbound_at: Option<DateTime<Utc>>,
) -> Result<Uuid, DbError> {
    let sql = match thread_key {
        None => upsert_on!("(tenant_id, channel, contact_id) WHERE thread_key IS NULL"),
        Some(_) => upsert_on!("(tenant_id, channel, thread_key) WHERE thread_key IS NOT NULL"),
    };
    let id: Uuid = sqlx::query_scalar(sql)
        .bind(Uuid::now_v7())
        .bind(tx.tenant().as_uuid())
        .bind(contact_id)
        .bind(channel.as_str())
        .bind(thread_key)
        .bind(inbound_at)
        .fetch_one(tx.conn())
        .await?;
    Ok(id)
}

/// When the last message of the customer of conversation `id` was received, if ever (the
/// time it was stored, not the provider's timestamp: a replayed or late webhook still counts
/// from when it arrived).
pub async fn last_received_at(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<Option<DateTime<Utc>>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT max(created_at) FROM messages \
         WHERE conversation_id = $1 AND direction = 'inbound'",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?)
}

/// Who a conversation is with, as a reply needs it: its channel, its contact's identifiers,
/// and the headers of the contact's last email in it (for email threads).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Parties {
    pub channel: String,
    pub contact_id: Uuid,
    pub phone: Option<String>,
    pub whatsapp_id: Option<String>,
    pub whatsapp_user_id: Option<String>,
    pub last_email: Option<serde_json::Value>,
}

/// The parties of conversation `id`; `None` if the tenant has no such conversation.
pub async fn parties(tx: &mut TenantTx, id: Uuid) -> Result<Option<Parties>, DbError> {
    Ok(sqlx::query_as(
        "SELECT c.channel, c.contact_id, p.phone, p.whatsapp_id, p.whatsapp_user_id, \
           (SELECT m.raw FROM messages m WHERE m.conversation_id = c.id \
              AND m.direction = 'inbound' AND m.channel = 'email' \
            ORDER BY m.created_at DESC LIMIT 1) AS last_email \
         FROM conversations c JOIN contacts p ON p.id = c.contact_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub channel: String,
    pub status: String,
    /// The provider's thread, for channels whose conversations are threads (email: the Gmail
    /// `threadId`).
    pub thread_key: Option<String>,
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
        "SELECT id, contact_id, channel, status, thread_key, last_inbound_at, last_message_at, created_at \
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
