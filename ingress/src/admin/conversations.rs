//! `/api/v1/conversations` and `/api/v1/messages`: read-only views of what was said, with
//! filters and cursor pagination.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::conversations::{self, Conversation, ConversationFilter};
use switchyard_shared::db::messages::{self, MessageFilter, MessageRecord};
use switchyard_shared::domain::Channel;
use uuid::Uuid;

use super::pagination::{self, Page};
use super::validate::Fields;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::startup::IngressState;

fn one_of(fields: &mut Fields, name: &str, raw: Option<&str>, allowed: &[&str]) -> Option<String> {
    let raw = raw?;
    if allowed.contains(&raw) {
        Some(raw.to_owned())
    } else {
        fields.check::<(), _>(name, Err(format!("must be one of {}", allowed.join(", "))));
        None
    }
}

fn time(fields: &mut Fields, name: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(|raw| {
        fields.check(
            name,
            DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| "must be an RFC 3339 time, e.g. 2026-01-01T00:00:00Z"),
        )
    })
}

fn id(fields: &mut Fields, name: &str, raw: Option<&str>) -> Option<Uuid> {
    raw.and_then(|raw| fields.check(name, raw.parse::<Uuid>().map_err(|_| "must be an id")))
}

fn channel(fields: &mut Fields, raw: Option<&str>) -> Option<Channel> {
    raw.and_then(|raw| {
        fields.check(
            "channel",
            Channel::parse(raw).map_err(|_| "must be whatsapp, sms, voice or email"),
        )
    })
}

#[derive(Debug, Deserialize)]
pub struct ConversationQuery {
    pub channel: Option<String>,
    pub contact_id: Option<String>,
    pub status: Option<String>,
    /// Last activity at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Last activity before this time.
    pub until: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
}

/// `GET /api/v1/conversations`
pub async fn list_conversations(
    who: Principal,
    State(state): State<IngressState>,
    Query(q): Query<ConversationQuery>,
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

#[derive(Debug, Deserialize)]
pub struct MessageQuery {
    pub conversation_id: Option<String>,
    pub contact_id: Option<String>,
    pub channel: Option<String>,
    pub direction: Option<String>,
    pub status: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
}

/// `GET /api/v1/messages`
pub async fn list_messages(
    who: Principal,
    State(state): State<IngressState>,
    Query(q): Query<MessageQuery>,
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
