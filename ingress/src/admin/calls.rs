//! `/api/v1/calls` and `/api/v1/leads`: what the voice channel recorded — each phone call with
//! its times, hang-up cause, the assistant's transcript and summary — and the leads opened for
//! callers, which agents move along (`new → contacted → qualified → won | lost`).

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::calls::{self, CallRecord};
use switchyard_shared::db::leads::{self, Lead};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::contacts::parse_id;
use super::pagination::{self, Page};
use super::schema::LeadStatus;
use super::validate::Fields;
use super::{JsonBody, QueryParams, audit};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::startup::IngressState;

const LEAD_STATUSES: [&str; 5] = ["new", "contacted", "qualified", "won", "lost"];

fn contact_filter(fields: &mut Fields, raw: Option<&str>) -> Option<Uuid> {
    raw.and_then(|raw| {
        fields.check(
            "contact_id",
            raw.parse::<Uuid>().map_err(|_| "must be an id"),
        )
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    /// Only this contact's calls.
    #[param(value_type = Option<Uuid>)]
    pub contact_id: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// List calls in the order they were recorded, with transcripts and summaries.
#[utoipa::path(
    get, path = "/calls", tag = "conversations", params(CallQuery),
    responses((status = 200, description = "A page of calls", body = Page<CallRecord>)),
)]
pub async fn list_calls(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(q): QueryParams<CallQuery>,
) -> Result<Json<Page<CallRecord>>, ApiError> {
    who.require(Role::Agent)?;
    let mut fields = Fields::default();
    let (limit, after) = pagination::parse(&mut fields, q.limit.as_deref(), q.after.as_deref());
    let contact = contact_filter(&mut fields, q.contact_id.as_deref());
    fields.finish()?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let items = calls::list(&mut tx, contact, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |c| c.id)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadQuery {
    #[param(value_type = Option<LeadStatus>, inline)]
    pub status: Option<String>,
    /// Only this contact's leads.
    #[param(value_type = Option<Uuid>)]
    pub contact_id: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
}

/// List leads in the order they were opened.
#[utoipa::path(
    get, path = "/leads", tag = "conversations", params(LeadQuery),
    responses((status = 200, description = "A page of leads", body = Page<Lead>)),
)]
pub async fn list_leads(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(q): QueryParams<LeadQuery>,
) -> Result<Json<Page<Lead>>, ApiError> {
    who.require(Role::Agent)?;
    let mut fields = Fields::default();
    let (limit, after) = pagination::parse(&mut fields, q.limit.as_deref(), q.after.as_deref());
    let contact = contact_filter(&mut fields, q.contact_id.as_deref());
    if let Some(status) = q.status.as_deref()
        && !LEAD_STATUSES.contains(&status)
    {
        fields.check::<(), _>(
            "status",
            Err("must be new, contacted, qualified, won or lost"),
        );
    }
    fields.finish()?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let items = leads::list(&mut tx, q.status.as_deref(), contact, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |l| l.id)))
}

/// What an agent changes on a lead; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchLead {
    #[schema(value_type = Option<LeadStatus>)]
    pub status: Option<String>,
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub notes: Option<String>,
}

/// Move a lead along or replace its notes.
#[utoipa::path(
    patch, path = "/leads/{id}", tag = "conversations",
    params(("id" = Uuid, Path, description = "The lead's id")), request_body = PatchLead,
    responses((status = 200, description = "The updated lead", body = Lead)),
)]
pub async fn update_lead(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchLead>,
) -> Result<Json<Lead>, ApiError> {
    who.require(Role::Agent)?;
    let id = parse_id(&id)?;
    let mut fields = Fields::default();
    if let Some(status) = body.status.as_deref()
        && !LEAD_STATUSES.contains(&status)
    {
        fields.check::<(), _>(
            "status",
            Err("must be new, contacted, qualified, won or lost"),
        );
    }
    let notes = body.notes.as_deref().map(str::trim);
    if notes.is_some_and(|n| n.is_empty() || n.chars().count() > 4096) {
        fields.check::<(), _>("notes", Err("must be 1-4096 characters"));
    }
    fields.finish()?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let updated = leads::update(&mut tx, id, body.status.as_deref(), notes).await;
    let updated = match updated {
        // Reopening a lead while the contact has another open one from the same channel.
        Err(switchyard_shared::db::DbError::Conflict { .. }) => {
            return Err(ApiError::Conflict(
                "the contact already has an open lead from this channel".into(),
            ));
        }
        other => other?,
    };
    tx.commit().await?;
    let lead = updated.ok_or_else(|| ApiError::NotFound("no such lead".into()))?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "lead.update",
        Some(format!("lead:{id}")),
        serde_json::json!({ "status": lead.status }),
    )
    .await;
    Ok(Json(lead))
}
