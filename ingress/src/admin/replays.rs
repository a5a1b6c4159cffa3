//! `/api/v1/dead-letters/replays`: bulk replays of the dead letters a filter matches.
//!
//! `POST` with `dry_run` counts the matching `dead` rows and shows a sample, and changes
//! nothing. Without it, it creates a `replay_jobs` row (202): the replayer of whichever
//! ingress replica claims it publishes the rows in id order at `rate_per_second`, recording
//! progress after each batch ([`crate::replayer`]). `GET …/replays/{id}` shows how far it got;
//! `POST …/{id}/cancel` stops it before its next batch.
//!
//! The scope is that of [`super::dead_letters`]: a tenant admin's job is their own tenant's,
//! whatever the body says (naming another tenant is 403); a platform admin's covers every
//! tenant unless `tenant_id` (or `X-Tenant-Id`) names one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchyard_shared::db::dead_letters::{self, DeadLetterSummary, ErrorClass, Status};
use switchyard_shared::db::replay_jobs::{self, JobStatus, NewReplayJob, ReplayJob};
use switchyard_shared::domain::{Channel, TenantId};
use switchyard_shared::envelope::EventKind;
use utoipa::{IntoParams, ToSchema};

use super::contacts::parse_id;
use super::dead_letters::{FilterText, Scope, parse_filter};
use super::pagination::{self, Page};
use super::validate::{self, Fields};
use super::{JsonBody, QueryParams, audit};
use crate::auth::TenantAdmin;
use crate::error::ApiError;
use crate::startup::IngressState;

/// The rate of a job that does not say (dead letters per second).
const DEFAULT_RATE: i64 = 10;
/// The most dead letters a job publishes per second.
const MAX_RATE: i64 = 10_000;
/// How many matching dead letters a dry run shows.
const SAMPLE_SIZE: i64 = 10;

/// A bulk replay: which `dead` rows, and how fast.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkReplay {
    /// Only this tenant's dead letters (a tenant admin may name only their own; platform
    /// admins default to `X-Tenant-Id`, else every tenant).
    #[schema(value_type = Option<Uuid>)]
    pub tenant_id: Option<String>,
    #[schema(value_type = Option<Channel>)]
    pub channel: Option<String>,
    #[schema(value_type = Option<EventKind>)]
    pub kind: Option<String>,
    #[schema(value_type = Option<ErrorClass>)]
    pub error_class: Option<String>,
    /// The error contains this text (case-insensitive, taken literally).
    #[schema(max_length = 200)]
    pub q: Option<String>,
    /// Failed last at or after this time (RFC 3339).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub failed_after: Option<String>,
    /// Failed last before this time (RFC 3339).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub failed_before: Option<String>,
    /// Dead letters published per second (default 10).
    #[schema(minimum = 1, maximum = 10000)]
    pub rate_per_second: Option<i64>,
    /// Count and sample the matching dead letters; start nothing (default false).
    pub dry_run: Option<bool>,
}

/// What a bulk replay would take.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRun {
    pub dry_run: bool,
    /// Matching `dead` rows.
    pub total: i64,
    /// The first of them (at most 10), in the order a job would replay them.
    pub sample: Vec<DeadLetterSummary>,
    /// The filter, as a job would store it.
    pub filter: serde_json::Value,
}

/// Count, or start replaying, the `dead` rows a filter matches.
#[utoipa::path(
    post, path = "/dead-letters/replays", tag = "dead-letters", request_body = BulkReplay,
    responses(
        (status = 200, description = "Dry run: what would be replayed; nothing changed",
            body = DryRun),
        (status = 202, description = "The job, started (already `completed` when nothing matched)",
            body = ReplayJob),
    ),
)]
pub async fn create(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<BulkReplay>,
) -> Result<Response, ApiError> {
    let mut fields = Fields::default();
    let (asked, mut filter) = parse_filter(
        &mut fields,
        &FilterText {
            tenant_id: body.tenant_id.as_deref(),
            channel: body.channel.as_deref(),
            kind: body.kind.as_deref(),
            error_class: body.error_class.as_deref(),
            q: body.q.as_deref(),
            failed_after: body.failed_after.as_deref(),
            failed_before: body.failed_before.as_deref(),
        },
    );
    let rate = fields.check(
        "rate_per_second",
        match body.rate_per_second {
            None => Ok(DEFAULT_RATE),
            Some(rate) if (1..=MAX_RATE).contains(&rate) => Ok(rate),
            Some(_) => Err(format!("must be 1-{MAX_RATE}")),
        },
    );
    fields.finish()?;
    let scope = Scope::of(&who, asked)?;
    filter.tenant_id = scope.only;
    let stored = serde_json::to_value(&filter).map_err(|e| ApiError::Internal(e.to_string()))?;
    filter.status = Some(Status::Dead);

    let mut tx = scope.begin(&state).await?;
    let total = dead_letters::count(&mut tx, &filter).await?;
    if body.dry_run.unwrap_or(false) {
        let sample = dead_letters::list(&mut tx, &filter, None, SAMPLE_SIZE).await?;
        tx.commit().await?;
        let answer = DryRun {
            dry_run: true,
            total,
            sample,
            filter: stored,
        };
        return Ok(Json(answer).into_response());
    }
    let job = replay_jobs::create(
        &mut tx,
        &NewReplayJob {
            tenant: scope.only,
            filter: stored,
            rate_per_second: i32::try_from(rate.unwrap_or(DEFAULT_RATE)).unwrap_or(1),
            total: i32::try_from(total).unwrap_or(i32::MAX),
            created_by: &who.actor,
        },
    )
    .await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        scope.only,
        "dead_letter.replay_job.create",
        Some(format!("replay_job:{}", job.id)),
        serde_json::json!({ "filter": job.filter, "total": job.total,
            "rate_per_second": job.rate_per_second }),
    )
    .await;
    Ok((StatusCode::ACCEPTED, Json(job)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only jobs over this tenant's dead letters (platform admins; default `X-Tenant-Id`,
    /// else all jobs).
    #[param(value_type = Option<Uuid>)]
    pub tenant_id: Option<String>,
    #[param(value_type = Option<JobStatus>)]
    pub status: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// List bulk replays in the order they were started.
#[utoipa::path(
    get, path = "/dead-letters/replays", tag = "dead-letters", params(JobQuery),
    responses((status = 200, description = "A page of replay jobs", body = Page<ReplayJob>)),
)]
pub async fn list(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    QueryParams(q): QueryParams<JobQuery>,
) -> Result<Json<Page<ReplayJob>>, ApiError> {
    let mut fields = Fields::default();
    let (limit, after) = pagination::parse(&mut fields, q.limit.as_deref(), q.after.as_deref());
    let asked = validate::id(&mut fields, "tenant_id", q.tenant_id.as_deref());
    let status = q.status.as_deref().and_then(|raw| {
        fields.check(
            "status",
            JobStatus::parse(raw).ok_or("must be running, completed, cancelled or failed"),
        )
    });
    fields.finish()?;
    let scope = Scope::of(&who, asked.map(TenantId::from_uuid))?;
    let mut tx = scope.begin(&state).await?;
    let items = replay_jobs::list(&mut tx, scope.only, status, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |j| j.id)))
}

fn no_such_job() -> ApiError {
    ApiError::NotFound("no such replay job".into())
}

/// A bulk replay and how far it got (`total`, `replayed`, `status`).
#[utoipa::path(
    get, path = "/dead-letters/replays/{id}", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The job's id")),
    responses((status = 200, description = "The job", body = ReplayJob)),
)]
pub async fn read(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<ReplayJob>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = Scope::of(&who, None)?.begin(&state).await?;
    let job = replay_jobs::get(&mut tx, id)
        .await?
        .ok_or_else(no_such_job)?;
    tx.commit().await?;
    Ok(Json(job))
}

/// Stop a running bulk replay before its next batch. Cancelling a cancelled job changes
/// nothing.
#[utoipa::path(
    post, path = "/dead-letters/replays/{id}/cancel", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job, cancelled", body = ReplayJob),
        (status = 409, description = "The job has completed or failed",
            body = crate::error::ErrorBody),
    ),
)]
pub async fn cancel(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<ReplayJob>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = Scope::of(&who, None)?.begin(&state).await?;
    let Some(job) = replay_jobs::cancel(&mut tx, id).await? else {
        let job = replay_jobs::get(&mut tx, id)
            .await?
            .ok_or_else(no_such_job)?;
        tx.commit().await?;
        return if job.status == JobStatus::Cancelled.as_str() {
            Ok(Json(job))
        } else {
            Err(ApiError::Conflict(format!("the job has {}", job.status)))
        };
    };
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        job.tenant_id.map(TenantId::from_uuid),
        "dead_letter.replay_job.cancel",
        Some(format!("replay_job:{id}")),
        serde_json::json!({ "replayed": job.replayed, "total": job.total }),
    )
    .await;
    Ok(Json(job))
}
