//! `calls`: one row per phone call, keyed by Telnyx's `call_session_id`, filled in by the
//! call's webhooks in whatever order they come.
//!
//! Every event upserts the row with what it knows ([`record`]): identifiers and parties are
//! kept once known, each time (started, answered, ended) is kept the first time it is seen,
//! and the state only moves forward (`initiated < answered < ended`), so a `call.initiated`
//! that arrives after the `call.hangup` changes nothing it should not. The duration is
//! computed by the database from the start and end times. The AI assistant's events add the
//! transcript and a summary ([`set_conversation`], [`set_summary`]).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DbError, TenantTx};

/// How far a call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Initiated,
    Answered,
    Ended,
}

impl CallState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Initiated => "initiated",
            Self::Answered => "answered",
            Self::Ended => "ended",
        }
    }
}

/// What one call event says about its call; `None` fields are not known from this event.
#[derive(Debug, Clone)]
pub struct CallEvent<'a> {
    pub call_session_id: &'a str,
    pub call_control_id: Option<&'a str>,
    pub connection_id: Option<&'a str>,
    /// `incoming` or `outgoing`.
    pub direction: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    /// The other party's contact.
    pub contact_id: Option<Uuid>,
    /// The state this event proves the call reached (`Initiated` for events that prove
    /// nothing, such as the assistant's).
    pub state: CallState,
    pub started_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub hangup_cause: Option<&'a str>,
    pub hangup_source: Option<&'a str>,
    pub sip_hangup_cause: Option<&'a str>,
}

/// Merge `event` into its call, creating the call if it is the first event seen; returns the
/// call's id.
pub async fn record(tx: &mut TenantTx, event: &CallEvent<'_>) -> Result<Uuid, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO calls (id, tenant_id, call_session_id, call_control_id, connection_id, \
           direction, from_number, to_number, contact_id, state, started_at, answered_at, \
           ended_at, hangup_cause, hangup_source, sip_hangup_cause) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (tenant_id, call_session_id) DO UPDATE SET \
           call_control_id = coalesce(calls.call_control_id, EXCLUDED.call_control_id), \
           connection_id = coalesce(calls.connection_id, EXCLUDED.connection_id), \
           direction = coalesce(calls.direction, EXCLUDED.direction), \
           from_number = coalesce(calls.from_number, EXCLUDED.from_number), \
           to_number = coalesce(calls.to_number, EXCLUDED.to_number), \
           contact_id = coalesce(calls.contact_id, EXCLUDED.contact_id), \
           state = CASE WHEN call_state_rank(EXCLUDED.state) > call_state_rank(calls.state) \
                        THEN EXCLUDED.state ELSE calls.state END, \
           started_at = coalesce(calls.started_at, EXCLUDED.started_at), \
           answered_at = coalesce(calls.answered_at, EXCLUDED.answered_at), \
           ended_at = coalesce(calls.ended_at, EXCLUDED.ended_at), \
           hangup_cause = coalesce(calls.hangup_cause, EXCLUDED.hangup_cause), \
           hangup_source = coalesce(calls.hangup_source, EXCLUDED.hangup_source), \
           sip_hangup_cause = coalesce(calls.sip_hangup_cause, EXCLUDED.sip_hangup_cause), \
           updated_at = now() \
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(event.call_session_id)
    .bind(event.call_control_id)
    .bind(event.connection_id)
    .bind(event.direction)
    .bind(event.from)
    .bind(event.to)
    .bind(event.contact_id)
    .bind(event.state.as_str())
    .bind(event.started_at)
    .bind(event.answered_at)
    .bind(event.ended_at)
    .bind(event.hangup_cause)
    .bind(event.hangup_source)
    .bind(event.sip_hangup_cause)
    .fetch_one(tx.conn())
    .await?)
}

/// Store the assistant's conversation on call `id`: its id, the transcript (when given) and
/// `summary` unless the call has one already (insights may have come first). Returns the
/// call's summary as stored.
pub async fn set_conversation(
    tx: &mut TenantTx,
    id: Uuid,
    conversation_id: Option<&str>,
    transcript: Option<&serde_json::Value>,
    summary: &str,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "UPDATE calls SET \
           assistant_conversation_id = coalesce($2, assistant_conversation_id), \
           transcript = coalesce($3, transcript), summary = coalesce(summary, $4), \
           updated_at = now() \
         WHERE id = $1 RETURNING summary",
    )
    .bind(id)
    .bind(conversation_id)
    .bind(transcript)
    .bind(summary)
    .fetch_optional(tx.conn())
    .await?
    .flatten())
}

/// Replace the summary of call `id` (the assistant's insights are the better summary).
pub async fn set_summary(tx: &mut TenantTx, id: Uuid, summary: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE calls SET summary = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(summary)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A call as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CallRecord {
    pub id: Uuid,
    pub call_session_id: String,
    pub connection_id: Option<String>,
    /// `incoming` or `outgoing`, once an event said so.
    pub direction: Option<String>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub contact_id: Option<Uuid>,
    /// `initiated`, `answered` or `ended`.
    pub state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<i32>,
    pub hangup_cause: Option<String>,
    pub hangup_source: Option<String>,
    /// The voice assistant's conversation: `[{role, content, timestamp, …}]`.
    pub transcript: Option<serde_json::Value>,
    pub summary: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The acting tenant's calls in the order they were recorded, optionally of one contact.
pub async fn list(
    tx: &mut TenantTx,
    contact_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CallRecord>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, call_session_id, connection_id, direction, from_number, to_number, \
           contact_id, state, started_at, answered_at, ended_at, duration_secs, hangup_cause, \
           hangup_source, transcript, summary, created_at \
         FROM calls \
         WHERE ($1::uuid IS NULL OR id > $1) AND ($2::uuid IS NULL OR contact_id = $2) \
         ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(contact_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
