//! `unroutable_events`: verified events whose routing key matches no tenant.
//!
//! The provider still gets its 200 (the event was authentic; retrying would not help), and
//! nothing is lost: the event waits here until an admin configures the tenant and replays it
//! (the ingress routes the stored payload again, with the code its webhooks use). Platform
//! data, not a tenant's: there is no tenant yet, and the routing keys of unknown tenants are
//! for platform admins only. The functions that read take a [`PlatformTx`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, PlatformTx, ScopedTx};
use crate::domain::TenantId;

#[derive(Debug, Clone)]
pub struct NewUnroutable<'a> {
    pub provider: &'a str,
    pub routing_key: &'a str,
    pub reason: &'a str,
    pub payload: &'a serde_json::Value,
    /// The tenant whose own key verified the event (`None`: the platform's key or the
    /// provider's token did); a replay routes it to that tenant only.
    pub signer: Option<TenantId>,
}

pub async fn record(pool: &PgPool, event: &NewUnroutable<'_>) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO unroutable_events \
           (id, provider, routing_key, reason, payload, signer_tenant_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(event.provider)
    .bind(event.routing_key)
    .bind(event.reason)
    .bind(event.payload)
    .bind(event.signer.map(|t| t.as_uuid()))
    .execute(pool)
    .await?;
    Ok(id)
}

macro_rules! columns {
    () => {
        "id, provider, routing_key, reason, payload, signer_tenant_id, received_at, replayed_at"
    };
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UnroutableEvent {
    pub id: Uuid,
    /// `whatsapp`, `telnyx`, `twilio` or `gmail`.
    pub provider: String,
    /// The key no tenant claimed (`phone:+1555…`, a `phone_number_id`, `email:…`).
    pub routing_key: String,
    /// Why it was not routed when it arrived.
    pub reason: String,
    /// The provider's JSON for exactly this event (for Twilio and Gmail, the fields the
    /// ingress read from it).
    pub payload: serde_json::Value,
    /// The tenant whose own key verified it; a replay routes it to that tenant only.
    pub signer_tenant_id: Option<Uuid>,
    pub received_at: DateTime<Utc>,
    /// When it was replayed; absent while it is pending.
    pub replayed_at: Option<DateTime<Utc>>,
}

impl UnroutableEvent {
    pub fn signer(&self) -> Option<TenantId> {
        self.signer_tenant_id.map(TenantId::from_uuid)
    }
}

/// Which unroutable events a list or a bulk replay takes.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub provider: Option<&'a str>,
    pub routing_key: Option<&'a str>,
    /// `Some(true)`: only those replayed; `Some(false)`: only those pending; `None`: all.
    pub replayed: Option<bool>,
}

/// A page of the events `filter` matches, in the order they arrived, after `after`.
pub async fn list(
    tx: &mut PlatformTx,
    filter: &Filter<'_>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<UnroutableEvent>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM unroutable_events \
         WHERE ($1::text IS NULL OR provider = $1) AND ($2::text IS NULL OR routing_key = $2) \
           AND ($3::boolean IS NULL OR (replayed_at IS NOT NULL) = $3) \
           AND ($4::uuid IS NULL OR id > $4) \
         ORDER BY id LIMIT $5"
    ))
    .bind(filter.provider)
    .bind(filter.routing_key)
    .bind(filter.replayed)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// One event, locked until the transaction ends (to replay it).
pub async fn lock(tx: &mut PlatformTx, id: Uuid) -> Result<Option<UnroutableEvent>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM unroutable_events WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Mark an event replayed now; returns it.
pub async fn mark_replayed(tx: &mut PlatformTx, id: Uuid) -> Result<UnroutableEvent, DbError> {
    Ok(sqlx::query_as(concat!(
        "UPDATE unroutable_events SET replayed_at = now() WHERE id = $1 RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_one(tx.conn())
    .await?)
}
