//! `/api/v1/unroutable`: verified webhook events no tenant took — list them and, once the
//! tenant is configured, replay them. Platform admins only: the routing keys of tenants that
//! do not exist yet are nobody's data but the platform's.
//!
//! A replay routes the stored payload again with the webhook's own code
//! ([`crate::webhooks::stored`]): the same lookup, refusals and dedup key as if the event
//! arrived now, so replaying an event that was applied some other way does nothing. Routed,
//! it is published and marked replayed; still unroutable, it stays pending (409 for one, a
//! line with the reason in a bulk answer).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use switchyard_shared::db::PlatformTx;
use switchyard_shared::db::unroutable::{self, Filter, UnroutableEvent};
use switchyard_shared::domain::TenantId;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::contacts::parse_id;
use super::pagination::{self, Page};
use super::schema::{Provider, UnroutableState};
use super::validate::{self, Fields};
use super::{JsonBody, QueryParams, audit};
use crate::auth::PlatformAdmin;
use crate::error::ApiError;
use crate::startup::IngressState;
use crate::webhooks::stored::{self, Routed};

const PROVIDERS: [&str; 4] = ["whatsapp", "telnyx", "twilio", "gmail"];
/// The longest routing key a filter takes (characters).
const MAX_KEY_CHARS: usize = 320;
/// Events one bulk replay call goes through at most, and by default.
const MAX_BULK: i64 = 500;
const DEFAULT_BULK: i64 = 100;

fn provider(fields: &mut Fields, raw: Option<&str>) -> Option<String> {
    validate::one_of(fields, "provider", raw, &PROVIDERS)
}

fn routing_key<'a>(fields: &mut Fields, raw: Option<&'a str>) -> Option<&'a str> {
    raw.and_then(|key| {
        fields.check(
            "routing_key",
            if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
                Err(format!("must be 1-{MAX_KEY_CHARS} characters"))
            } else {
                Ok(key)
            },
        )
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnroutableQuery {
    #[param(value_type = Option<Provider>, inline)]
    pub provider: Option<String>,
    /// Exactly this routing key (`phone:+15550003333`, a `phone_number_id`, `email:…`).
    #[param(min_length = 1, max_length = 320)]
    pub routing_key: Option<String>,
    /// `pending` (default), `replayed` or `all`.
    #[param(value_type = Option<UnroutableState>, inline)]
    pub state: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// List unroutable events in the order they arrived. Platform admins.
#[utoipa::path(
    get, path = "/unroutable", tag = "unroutable", params(UnroutableQuery),
    responses((status = 200, description = "A page of unroutable events",
        body = Page<UnroutableEvent>)),
)]
pub async fn list(
    PlatformAdmin(_): PlatformAdmin,
    State(state): State<IngressState>,
    QueryParams(q): QueryParams<UnroutableQuery>,
) -> Result<Json<Page<UnroutableEvent>>, ApiError> {
    let mut fields = Fields::default();
    let (limit, after) = pagination::parse(&mut fields, q.limit.as_deref(), q.after.as_deref());
    let provider = provider(&mut fields, q.provider.as_deref());
    let routing_key = routing_key(&mut fields, q.routing_key.as_deref());
    let replayed = match q.state.as_deref() {
        None | Some("pending") => Some(false),
        Some("replayed") => Some(true),
        Some("all") => None,
        Some(_) => fields.check("state", Err("must be pending, replayed or all")),
    };
    fields.finish()?;
    let filter = Filter {
        provider: provider.as_deref(),
        routing_key,
        replayed,
    };
    let mut tx = PlatformTx::begin(&state.pool).await?;
    let items = unroutable::list(&mut tx, &filter, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |e| e.id)))
}

/// What became of one replayed event.
enum Outcome {
    Replayed(Box<ReplayedEvent>),
    /// Routed, on a dry run: nothing was published.
    Routable,
    Unroutable(&'static str),
    AlreadyReplayed,
    NotFound,
}

/// Route event `id` again; unless `dry_run`, publish it and mark it replayed. The row is
/// locked meanwhile, so two replays of one event publish it once.
async fn replay_one(state: &IngressState, id: Uuid, dry_run: bool) -> Result<Outcome, ApiError> {
    let mut tx = PlatformTx::begin(&state.pool).await?;
    let Some(event) = unroutable::lock(&mut tx, id).await? else {
        return Ok(Outcome::NotFound);
    };
    if event.replayed_at.is_some() {
        return Ok(Outcome::AlreadyReplayed);
    }
    let envelope = match stored::route(state, &event).await? {
        Routed::Unroutable(still) => return Ok(Outcome::Unroutable(still.reason)),
        Routed::Tenant(envelope) => envelope,
    };
    if dry_run {
        return Ok(Outcome::Routable);
    }
    state.queue.publish(std::slice::from_ref(&envelope)).await?;
    let event = unroutable::mark_replayed(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %envelope.tenant_id, event_id = %envelope.id,
        channel = %envelope.channel, provider = %event.provider, "unroutable event replayed");
    Ok(Outcome::Replayed(Box::new(ReplayedEvent {
        event,
        tenant_id: envelope.tenant_id.as_uuid(),
        envelope_id: envelope.id,
        dedup_key: envelope.dedup_key.to_string(),
    })))
}

/// A replayed unroutable event, and the envelope it became.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayedEvent {
    pub event: UnroutableEvent,
    pub tenant_id: Uuid,
    pub envelope_id: Uuid,
    /// The same as the webhook would have given it.
    pub dedup_key: String,
}

/// Route one unroutable event again and publish it for the tenant that now claims it.
#[utoipa::path(
    post, path = "/unroutable/{id}/replay", tag = "unroutable",
    params(("id" = Uuid, Path, description = "The unroutable event's id")),
    responses(
        (status = 200, description = "Routed and published", body = ReplayedEvent),
        (status = 409, description = "Still no tenant takes it (the message says why), or it \
            was replayed before", body = crate::error::ErrorBody),
    ),
)]
pub async fn replay(
    PlatformAdmin(who): PlatformAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<ReplayedEvent>, ApiError> {
    let id = parse_id(&id)?;
    match replay_one(&state, id, false).await? {
        Outcome::Replayed(replayed) => {
            audit::record(
                &state,
                &who,
                Some(TenantId::from_uuid(replayed.tenant_id)),
                "unroutable.replay",
                Some(format!("unroutable:{id}")),
                serde_json::json!({ "provider": replayed.event.provider,
                    "routing_key": replayed.event.routing_key,
                    "envelope_id": replayed.envelope_id }),
            )
            .await;
            Ok(Json(*replayed))
        }
        Outcome::Unroutable(reason) => {
            Err(ApiError::Conflict(format!("still unroutable: {reason}")))
        }
        Outcome::AlreadyReplayed => Err(ApiError::Conflict("already replayed".into())),
        Outcome::NotFound => Err(ApiError::NotFound("no such unroutable event".into())),
        Outcome::Routable => Err(ApiError::Internal("a replay ran as a dry run".into())),
    }
}

/// Which pending events a bulk replay goes through.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkUnroutableReplay {
    #[schema(value_type = Option<Provider>)]
    pub provider: Option<String>,
    #[schema(min_length = 1, max_length = 320)]
    pub routing_key: Option<String>,
    /// Route them, publish nothing, change nothing (default false).
    pub dry_run: Option<bool>,
    /// At most this many events, oldest first (default 100).
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Go on after this event (the `next` of the previous answer).
    #[schema(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// One event a bulk replay could not route.
#[derive(Debug, Serialize, ToSchema)]
pub struct StillUnroutable {
    pub id: Uuid,
    pub provider: String,
    pub routing_key: String,
    pub reason: String,
}

/// What a bulk replay did (or, on a dry run, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkUnroutableResult {
    pub dry_run: bool,
    /// Pending events it went through.
    pub matched: usize,
    /// Routed to a tenant (and, unless a dry run, published and marked replayed).
    pub replayed: usize,
    /// Still no tenant takes these; they stay pending.
    pub still_unroutable: Vec<StillUnroutable>,
    /// Pass as `after` to go on; absent when no more may match.
    pub next: Option<Uuid>,
}

/// Route the pending events a filter matches again, and publish those a tenant now claims.
#[utoipa::path(
    post, path = "/unroutable/replay", tag = "unroutable", request_body = BulkUnroutableReplay,
    responses((status = 200, description = "What was replayed, and what is still unroutable",
        body = BulkUnroutableResult)),
)]
pub async fn replay_bulk(
    PlatformAdmin(who): PlatformAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<BulkUnroutableReplay>,
) -> Result<Json<BulkUnroutableResult>, ApiError> {
    let mut fields = Fields::default();
    let provider = provider(&mut fields, body.provider.as_deref());
    let routing_key = routing_key(&mut fields, body.routing_key.as_deref());
    let after = validate::id(&mut fields, "after", body.after.as_deref());
    let limit = fields.check(
        "limit",
        match body.limit {
            None => Ok(DEFAULT_BULK),
            Some(n) if (1..=MAX_BULK).contains(&n) => Ok(n),
            Some(_) => Err(format!("must be 1-{MAX_BULK}")),
        },
    );
    fields.finish()?;
    let limit = limit.unwrap_or(DEFAULT_BULK);
    let dry_run = body.dry_run.unwrap_or(false);
    let filter = Filter {
        provider: provider.as_deref(),
        routing_key,
        replayed: Some(false),
    };
    let mut tx = PlatformTx::begin(&state.pool).await?;
    let pending = unroutable::list(&mut tx, &filter, after, limit).await?;
    tx.commit().await?;

    let mut replayed = 0;
    let mut still_unroutable = Vec::new();
    for event in &pending {
        match replay_one(&state, event.id, dry_run).await? {
            Outcome::Replayed(_) | Outcome::Routable => replayed += 1,
            Outcome::Unroutable(reason) => still_unroutable.push(StillUnroutable {
                id: event.id,
                provider: event.provider.clone(),
                routing_key: event.routing_key.clone(),
                reason: reason.to_owned(),
            }),
            // Replayed by someone else meanwhile.
            Outcome::AlreadyReplayed | Outcome::NotFound => {}
        }
    }
    let page = Page::new(pending, limit, |e| e.id);
    if !dry_run && !page.items.is_empty() {
        audit::record(
            &state,
            &who,
            None,
            "unroutable.replay_bulk",
            None,
            serde_json::json!({ "provider": provider, "routing_key": routing_key,
                "matched": page.items.len(), "replayed": replayed,
                "still_unroutable": still_unroutable.len() }),
        )
        .await;
    }
    Ok(Json(BulkUnroutableResult {
        dry_run,
        matched: page.items.len(),
        replayed,
        still_unroutable,
        next: page.next,
    }))
}
