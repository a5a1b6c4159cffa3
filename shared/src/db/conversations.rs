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
