//! `leads`: prospective customers to follow up, one open lead per contact and source channel.
//!
//! A lead is open until it is `won` or `lost`; while it is open, new activity of the contact
//! on the same channel (another call) updates it instead of adding one. A closed lead stays
//! as it is, and the next activity opens a new one.

use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::Channel;

/// The contact's open lead from `source`, created if there is none, with `notes` and the call
/// that caused it. Returns its id and whether it was created.
pub async fn upsert_open(
    tx: &mut TenantTx,
    contact_id: Uuid,
    source: Channel,
    notes: Option<&str>,
    call_id: Option<Uuid>,
) -> Result<(Uuid, bool), DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO leads (id, tenant_id, contact_id, source_channel, notes, last_call_id) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, contact_id, source_channel) WHERE status NOT IN ('won', 'lost') \
         DO UPDATE SET notes = coalesce(EXCLUDED.notes, leads.notes), \
           last_call_id = coalesce(EXCLUDED.last_call_id, leads.last_call_id), \
           updated_at = now() \
         RETURNING id, (xmax = 0)",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(contact_id)
    .bind(source.as_str())
    .bind(notes)
    .bind(call_id)
    .fetch_one(tx.conn())
    .await?)
}

/// Replace the notes of the open lead that call `call_id` last updated (its summary got
/// better); returns whether there was one.
pub async fn note_call(tx: &mut TenantTx, call_id: Uuid, notes: &str) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE leads SET notes = $2, updated_at = now() \
         WHERE last_call_id = $1 AND status NOT IN ('won', 'lost')",
    )
    .bind(call_id)
    .bind(notes)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A lead as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Lead {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub source_channel: String,
    /// `new`, `contacted`, `qualified`, `won` or `lost`.
    pub status: String,
    pub notes: Option<String>,
    pub last_call_id: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

macro_rules! lead_columns {
    () => {
        "id, contact_id, source_channel, status, notes, last_call_id, created_at, updated_at"
    };
}

/// The acting tenant's leads in the order they were opened, optionally filtered.
pub async fn list(
    tx: &mut TenantTx,
    status: Option<&str>,
    contact_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Lead>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        lead_columns!(),
        " FROM leads \
         WHERE ($1::uuid IS NULL OR id > $1) AND ($2::text IS NULL OR status = $2) \
           AND ($3::uuid IS NULL OR contact_id = $3) \
         ORDER BY id LIMIT $4"
    ))
    .bind(after)
    .bind(status)
    .bind(contact_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Move a lead along (`status`) and/or replace its notes; `None` when there is no such lead.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    status: Option<&str>,
    notes: Option<&str>,
) -> Result<Option<Lead>, DbError> {
    Ok(sqlx::query_as(concat!(
        "UPDATE leads SET status = coalesce($2, status), notes = coalesce($3, notes), \
           updated_at = now() \
         WHERE id = $1 RETURNING ",
        lead_columns!()
    ))
    .bind(id)
    .bind(status)
    .bind(notes)
    .fetch_optional(tx.conn())
    .await?)
}
