//! `/api/v1/conversations` and `/api/v1/messages`: read-only views of what was said, with
//! filters and cursor pagination.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::conversations::{self, Conversation, ConversationFilter};
use switchyard_shared::db::messages::{self, MessageFilter, MessageRecord};
use switchyard_shared::domain::Channel;
use utoipa::IntoParams;

use super::QueryParams;
use super::pagination::{self, Page};
use super::schema::{ConversationStatus, Direction, MessageStatus};
use super::validate::{Fields, channel, id, one_of, time};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::startup::IngressState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    #[param(value_type = Option<Channel>)]
    pub channel: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub contact_id: Option<String>,
    #[param(value_type = Option<ConversationStatus>, inline)]
    pub status: Option<String>,
    /// Last activity at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub since: Option<String>,
    /// Last activity before this time.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub until: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// List conversations in the order they started.
#[utoipa::path(
    get, path = "/conversations", tag = "conversations", params(ConversationQuery),
    responses((status = 200, description = "A page of conversations", body = Page<Conversation>)),
)]
pub async fn list_conversations(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(q): QueryParams<ConversationQuery>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    who.require(Role::Agent)?;
    let mut fields = Fields::default();
    let (limit, after) = pagination::parse(&mut fields, q.limit.as_deref(), q.after.as_deref());
    let filter = ConversationFilter {
        channel: channel(&mut fields, q.channel.as_deref()),
        contact_id: id(&mut fields, "contact_id", q.contact_id.as_deref()),
        status: one_of(
            &mut fields,
            "status",
            q.status.as_deref(),
            &["open", "closed"],
        ),
        active_since: time(&mut fields, "since", q.since.as_deref()),
        active_until: time(&mut fields, "until", q.until.as_deref()),
    };
    fields.finish()?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let items = conversations::list(&mut tx, &filter, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |c| c.id)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    #[param(value_type = Option<Uuid>)]
    pub conversation_id: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub contact_id: Option<String>,
    #[param(value_type = Option<Channel>)]
    pub channel: Option<String>,
    #[param(value_type = Option<Direction>, inline)]
    pub direction: Option<String>,
    #[param(value_type = Option<MessageStatus>, inline)]
    pub status: Option<String>,
    /// Created at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub since: Option<String>,
    /// Created before this time.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub until: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// List messages in the order they were stored.
#[utoipa::path(
    get, path = "/messages", tag = "conversations", params(MessageQuery),
    responses((status = 200, description = "A page of messages", body = Page<MessageRecord>)),
)]
pub async fn list_messages(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(q): QueryParams<MessageQuery>,
) -> Result<Json<Page<MessageRecord>>, ApiError> {
    who.require(Role::Agent)?;
    let mut fields = Fields::default();
    let (limit, after) = pagination::parse(&mut fields, q.limit.as_deref(), q.after.as_deref());
    let filter = MessageFilter {
        conversation_id: id(&mut fields, "conversation_id", q.conversation_id.as_deref()),
        contact_id: id(&mut fields, "contact_id", q.contact_id.as_deref()),
        channel: channel(&mut fields, q.channel.as_deref()),
        direction: one_of(
            &mut fields,
            "direction",
            q.direction.as_deref(),
            &["inbound", "outbound"],
        ),
        status: one_of(
            &mut fields,
            "status",
            q.status.as_deref(),
            &["received", "sent", "delivered", "read", "failed"],
        ),
        since: time(&mut fields, "since", q.since.as_deref()),
        until: time(&mut fields, "until", q.until.as_deref()),
    };
    fields.finish()?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let items = messages::list(&mut tx, &filter, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |m| m.id)))
}
