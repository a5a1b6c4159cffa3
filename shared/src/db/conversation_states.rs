//! `conversation_states`: where each conversation stands with the flows. The flow engine locks
//! a conversation's state ([`lock`]) while it handles one of its messages, and writes the new
//! state ([`upsert`]) in the same transaction as the replies it queues.
//!
//! A conversation without a row is idle. A state whose flow was deleted has no `flow_id`; the
//! engine reads a waiting state without a flow as idle.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::flows::FlowStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationState {
    pub conversation_id: Uuid,
    pub flow_id: Option<Uuid>,
    /// The step the conversation is at, by its id in the flow.
    pub step_key: Option<String>,
    pub status: FlowStatus,
    pub updated_at: DateTime<Utc>,
}

/// A state to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewState<'a> {
    pub flow_id: Option<Uuid>,
    pub step_key: Option<&'a str>,
    pub status: FlowStatus,
}

impl NewState<'_> {
    pub const IDLE: NewState<'static> = NewState {
        flow_id: None,
        step_key: None,
        status: FlowStatus::Idle,
    };
}

#[derive(sqlx::FromRow)]
struct StateRow {
    conversation_id: Uuid,
    flow_id: Option<Uuid>,
    step_key: Option<String>,
    status: String,
    updated_at: DateTime<Utc>,
}

impl TryFrom<StateRow> for ConversationState {
    type Error = DbError;

    fn try_from(row: StateRow) -> Result<Self, DbError> {
        let status = FlowStatus::parse(&row.status).ok_or_else(|| {
            DbError::Corrupt(format!(
                "conversation {}: status '{}'",
                row.conversation_id, row.status
            ))
        })?;
        Ok(Self {
            conversation_id: row.conversation_id,
            flow_id: row.flow_id,
            step_key: row.step_key,
            status,
            updated_at: row.updated_at,
        })
    }
}

macro_rules! state_columns {
    () => {
        "conversation_id, flow_id, step_key, status, updated_at"
    };
}

/// The conversation's state, without locking it; `None` if it never had one (idle).
pub async fn get(
    tx: &mut TenantTx,
    conversation_id: Uuid,
) -> Result<Option<ConversationState>, DbError> {
    let row: Option<StateRow> = sqlx::query_as(concat!(
        "SELECT ",
        state_columns!(),
        " FROM conversation_states WHERE conversation_id = $1"
    ))
    .bind(conversation_id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(ConversationState::try_from).transpose()
}

/// The conversation's state, created idle if it has none, locked (`FOR UPDATE`) until the
/// transaction ends; `None` if the tenant has no such conversation.
pub async fn lock(
    tx: &mut TenantTx,
    conversation_id: Uuid,
) -> Result<Option<ConversationState>, DbError> {
    let created = sqlx::query(
        "INSERT INTO conversation_states (conversation_id, tenant_id) VALUES ($1, $2) \
         ON CONFLICT (conversation_id) DO NOTHING",
    )
    .bind(conversation_id)
    .bind(tx.tenant().as_uuid())
    .execute(tx.conn())
    .await;
    match created.map_err(DbError::from) {
        Ok(_) => {}
        Err(DbError::MissingReference { .. }) => return Ok(None),
        Err(e) => return Err(e),
    }
    // Another tenant's conversation with a state conflicts above, yet stays invisible here.
    let row: Option<StateRow> = sqlx::query_as(concat!(
        "SELECT ",
        state_columns!(),
        " FROM conversation_states WHERE conversation_id = $1 FOR UPDATE"
    ))
    .bind(conversation_id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(ConversationState::try_from).transpose()
}

/// Write the conversation's state. Refused for a conversation or flow that is not the
/// tenant's.
pub async fn upsert(
    tx: &mut TenantTx,
    conversation_id: Uuid,
    state: &NewState<'_>,
) -> Result<ConversationState, DbError> {
    let row: StateRow = sqlx::query_as(concat!(
        "INSERT INTO conversation_states (conversation_id, tenant_id, flow_id, step_key, status) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (conversation_id) DO UPDATE SET flow_id = EXCLUDED.flow_id, \
           step_key = EXCLUDED.step_key, status = EXCLUDED.status, updated_at = now() \
         RETURNING ",
        state_columns!()
    ))
    .bind(conversation_id)
    .bind(tx.tenant().as_uuid())
    .bind(state.flow_id)
    .bind(state.step_key)
    .bind(state.status.as_str())
    .fetch_one(tx.conn())
    .await?;
    row.try_into()
}
