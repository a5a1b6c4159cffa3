//! `/api/v1/dead-letters`: the events the workers gave up on — list them, inspect one, replay
//! one, discard one. Bulk replays are [`super::replays`].
//!
//! **Who.** Tenant admins and above. A tenant admin acts on their own tenant's dead letters
//! only (a tenant transaction: another tenant's are not found, 404); a platform admin on every
//! tenant's (a [`PlatformTx`](switchyard_shared::db::PlatformTx)), and narrows a list or a
//! bulk replay to one tenant with `tenant_id`, else with `X-Tenant-Id`. Agents get 403: a dead
//! letter holds the provider's raw payload and internal errors, and replaying is an
//! operator's decision.
//!
//! **Replay** publishes the stored envelope again — the same id and dedup key, `attempt` 0,
//! no `last_error` — and marks the row `replayed`. The worker's dedup then skips whatever the
//! event already did before it died, and if it dies again it updates the same row (`dead`
//! again). Only a `dead` row replays unless `force=true`: a `replayed` one may still be on its
//! way, a `discarded` one was set aside on purpose (409 without `force`).
//!
//! **Discard** sets a `dead` row aside (`discarded`). Discarding a discarded row changes
//! nothing; a `replayed` row cannot be discarded (409): it comes back as `dead` if it fails.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use switchyard_shared::db::ScopeTx;
use switchyard_shared::db::dead_letters::{
    self, DeadLetter, DeadLetterSummary, ErrorClass, Filter, Status,
};
use switchyard_shared::domain::{Channel, TenantId};
use switchyard_shared::envelope::EventKind;
use utoipa::IntoParams;

use super::QueryParams;
use super::audit;
use super::contacts::parse_id;
use super::pagination::{self, Page};
use super::schema::DeadLetterStatusFilter;
use super::validate::{self, Fields};
use crate::auth::{Principal, TenantAdmin};
use crate::error::ApiError;
use crate::startup::IngressState;

/// The longest `q` (characters).
const MAX_QUERY_CHARS: usize = 200;

/// Whose dead letters and replay jobs a request sees and touches.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scope {
    /// The tenant of the transaction: a tenant admin's own; `None` (the platform) for a
    /// platform admin.
    tenant: Option<TenantId>,
    /// The tenant lists and bulk replays narrow to.
    pub(super) only: Option<TenantId>,
}

impl Scope {
    /// `who`'s scope, narrowed to `asked` (the `tenant_id` of the request). Only a platform
    /// admin may name another tenant than their own (403).
    pub(super) fn of(who: &Principal, asked: Option<TenantId>) -> Result<Self, ApiError> {
        if who.is_platform_admin() {
            return Ok(Self {
                tenant: None,
                only: asked.or(who.acting_tenant),
            });
        }
        let own = who.tenant()?;
        if asked.is_some_and(|asked| asked != own) {
            return Err(ApiError::Forbidden(
                "only platform admins may name another tenant".into(),
            ));
        }
        Ok(Self {
            tenant: Some(own),
            only: Some(own),
        })
    }

    pub(super) async fn begin(&self, state: &IngressState) -> Result<ScopeTx, ApiError> {
        Ok(ScopeTx::begin(&state.pool, self.tenant).await?)
    }
}

/// The filter of a list or a bulk replay, as text from the query string or the body.
#[derive(Debug, Default)]
pub(super) struct FilterText<'a> {
    pub tenant_id: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub error_class: Option<&'a str>,
    pub q: Option<&'a str>,
    pub failed_after: Option<&'a str>,
    pub failed_before: Option<&'a str>,
}

/// Parse a filter, reporting bad fields into `fields`; the tenant asked for comes back apart
/// (see [`Scope::of`]).
pub(super) fn parse_filter(
    fields: &mut Fields,
    text: &FilterText<'_>,
) -> (Option<TenantId>, Filter) {
    let tenant = validate::id(fields, "tenant_id", text.tenant_id).map(TenantId::from_uuid);
    let kind = text.kind.and_then(|raw| {
        let names = EventKind::ALL.map(|k| k.as_str()).join(", ");
        fields.check(
            "kind",
            EventKind::parse(raw).ok_or_else(|| format!("must be one of {names}")),
        )
    });
    let error_class = text.error_class.and_then(|raw| {
        fields.check(
            "error_class",
            ErrorClass::parse(raw).ok_or("must be permanent, exhausted or delivery_limit"),
        )
    });
    let q = text.q.map(str::trim).filter(|q| !q.is_empty());
    let error_contains = q.and_then(|q| {
        fields.check(
            "q",
            if q.chars().count() <= MAX_QUERY_CHARS {
                Ok(q.to_owned())
            } else {
                Err(format!("must be at most {MAX_QUERY_CHARS} characters"))
            },
        )
    });
    let failed_after = validate::time(fields, "failed_after", text.failed_after);
    let failed_before = validate::time(fields, "failed_before", text.failed_before);
    if let (Some(after), Some(before)) = (failed_after, failed_before)
        && after >= before
    {
        fields.check::<(), _>("failed_before", Err("must be later than failed_after"));
    }
    let filter = Filter {
        tenant_id: None,
        channel: validate::channel(fields, text.channel),
        kind,
        error_class,
        status: None,
        error_contains,
        failed_after,
        failed_before,
    };
    (tenant, filter)
}

fn no_such_dead_letter() -> ApiError {
    ApiError::NotFound("no such dead letter".into())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this tenant's (a tenant admin may name only their own; platform admins default to
    /// `X-Tenant-Id`, else every tenant).
    #[param(value_type = Option<Uuid>)]
    pub tenant_id: Option<String>,
    #[param(value_type = Option<Channel>)]
    pub channel: Option<String>,
    #[param(value_type = Option<EventKind>)]
    pub kind: Option<String>,
    #[param(value_type = Option<ErrorClass>)]
    pub error_class: Option<String>,
    /// By status; `dead` when absent, `all` for any.
    #[param(value_type = Option<DeadLetterStatusFilter>, inline)]
    pub status: Option<String>,
    /// The error contains this text: case-insensitive, taken literally (`%` and `_` are not
    /// wildcards).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Failed last at or after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub failed_after: Option<String>,
    /// Failed last before this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub failed_before: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// List dead letters in the order their events arrived. Tenant admins see their tenant's;
/// platform admins every tenant's.
#[utoipa::path(
    get, path = "/dead-letters", tag = "dead-letters", params(DeadLetterQuery),
    responses((status = 200, description = "A page of dead letters, without their envelopes",
        body = Page<DeadLetterSummary>)),
)]
pub async fn list(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    QueryParams(q): QueryParams<DeadLetterQuery>,
) -> Result<Json<Page<DeadLetterSummary>>, ApiError> {
    let mut fields = Fields::default();
    let (limit, after) = pagination::parse(&mut fields, q.limit.as_deref(), q.after.as_deref());
    let (asked, mut filter) = parse_filter(
        &mut fields,
        &FilterText {
            tenant_id: q.tenant_id.as_deref(),
            channel: q.channel.as_deref(),
            kind: q.kind.as_deref(),
            error_class: q.error_class.as_deref(),
            q: q.q.as_deref(),
            failed_after: q.failed_after.as_deref(),
            failed_before: q.failed_before.as_deref(),
        },
    );
    filter.status = match q.status.as_deref() {
        None => Some(Status::Dead),
        Some("all") => None,
        Some(raw) => fields.check(
            "status",
            Status::parse(raw).ok_or("must be dead, replayed, discarded or all"),
        ),
    };
    fields.finish()?;
    let scope = Scope::of(&who, asked)?;
    filter.tenant_id = scope.only;
    let mut tx = scope.begin(&state).await?;
    let items = dead_letters::list(&mut tx, &filter, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |d| d.id)))
}

/// One dead letter, with the envelope as it last failed.
#[utoipa::path(
    get, path = "/dead-letters/{id}", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The dead letter's id (its envelope id)")),
    responses((status = 200, description = "The dead letter", body = DeadLetter)),
)]
pub async fn read(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<DeadLetter>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = Scope::of(&who, None)?.begin(&state).await?;
    let dead = dead_letters::get(&mut tx, id)
        .await?
        .ok_or_else(no_such_dead_letter)?;
    tx.commit().await?;
    Ok(Json(dead))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// Replay a row that was replayed or discarded before (default false).
    #[param(value_type = Option<bool>)]
    pub force: Option<String>,
}

/// Publish a dead letter's event again: the same envelope id and dedup key (so the worker
/// skips effects that already happened), `attempt` 0, no `last_error`. The row becomes
/// `replayed`; it is `dead` again if the event fails again.
#[utoipa::path(
    post, path = "/dead-letters/{id}/replay", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The dead letter's id"), ReplayQuery),
    responses(
        (status = 200, description = "Published again; the row as it is now", body = DeadLetter),
        (status = 409, description = "Replayed or discarded before (pass force=true)",
            body = crate::error::ErrorBody),
    ),
)]
pub async fn replay(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<ReplayQuery>,
) -> Result<Json<DeadLetter>, ApiError> {
    let id = parse_id(&id)?;
    let mut fields = Fields::default();
    let force = match q.force.as_deref() {
        None => Some(false),
        Some(raw) => fields.check(
            "force",
            raw.parse::<bool>().map_err(|_| "must be true or false"),
        ),
    };
    fields.finish()?;
    let force = force.unwrap_or(false);
    let mut tx = Scope::of(&who, None)?.begin(&state).await?;
    let dead = dead_letters::lock(&mut tx, id)
        .await?
        .ok_or_else(no_such_dead_letter)?;
    if !force && dead.status != Status::Dead.as_str() {
        return Err(ApiError::Conflict(format!(
            "the dead letter is {}; replay it again with force=true",
            dead.status
        )));
    }
    let envelope = dead.replay_envelope()?;
    state.queue.publish(std::slice::from_ref(&envelope)).await?;
    dead_letters::mark_replayed(&mut tx, &[id]).await?;
    let replayed = dead_letters::get(&mut tx, id)
        .await?
        .ok_or_else(no_such_dead_letter)?;
    tx.commit().await?;
    tracing::info!(tenant_id = %envelope.tenant_id, event_id = %envelope.id,
        channel = %envelope.channel, force, "dead letter replayed");
    audit::record(
        &state,
        &who,
        Some(envelope.tenant_id),
        "dead_letter.replay",
        Some(format!("dead_letter:{id}")),
        serde_json::json!({ "force": force, "previous_status": dead.status }),
    )
    .await;
    Ok(Json(replayed))
}

/// Set a dead letter aside: nothing more is to be done about it.
#[utoipa::path(
    post, path = "/dead-letters/{id}/discard", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "Discarded (or discarded before)", body = DeadLetter),
        (status = 409, description = "It was replayed: it comes back as dead if it fails again",
            body = crate::error::ErrorBody),
    ),
)]
pub async fn discard(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<DeadLetter>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = Scope::of(&who, None)?.begin(&state).await?;
    let dead = dead_letters::lock(&mut tx, id)
        .await?
        .ok_or_else(no_such_dead_letter)?;
    match Status::parse(&dead.status) {
        Some(Status::Discarded) => return Ok(Json(dead)),
        Some(Status::Dead) => {}
        _ => {
            return Err(ApiError::Conflict(format!(
                "the dead letter is {}; it is dead again if it fails again",
                dead.status
            )));
        }
    }
    let discarded = dead_letters::mark_discarded(&mut tx, id)
        .await?
        .ok_or_else(no_such_dead_letter)?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(TenantId::from_uuid(dead.tenant_id)),
        "dead_letter.discard",
        Some(format!("dead_letter:{id}")),
        serde_json::json!({ "error_class": dead.error_class }),
    )
    .await;
    Ok(Json(discarded))
}
