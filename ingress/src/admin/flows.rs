//! `/api/v1/flows` and `/api/v1/tenant-modules/{id}/flows`: a tenant's message flows, each
//! owned by one of its modules.
//!
//! A flow's steps are checked as a whole by
//! [`FlowDefinition::parse`](switchyard_shared::flows::FlowDefinition::parse) — references
//! resolve, buttons fit WhatsApp's limits, no cycle runs without waiting for the customer — and
//! a refusal is a 422 whose `fields` name the step (`steps[2].next`) and say what is wrong with
//! it. Steps are replaced all at once (`PUT /flows/{id}/steps`), never one by one, because a
//! flow is only valid as a whole.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::flows::{self, FlowRecord, FlowSettings};
use switchyard_shared::db::tenant_modules;
use switchyard_shared::flows::{
    Flow, FlowDefinition, FlowError, StepDefinition, Trigger, TriggerDefinition,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::contacts::parse_id;
use super::validate::Fields;
use super::{JsonBody, QueryParams, audit};
use crate::auth::{Principal, Role, TenantAdmin};
use crate::error::ApiError;
use crate::startup::IngressState;

/// A new flow with its steps.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFlow {
    /// The tenant module that owns the flow.
    #[schema(value_type = Uuid)]
    pub tenant_module_id: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Main menu"
    )]
    pub name: String,
    pub trigger: TriggerDefinition,
    /// Default `true`.
    pub is_active: Option<bool>,
    /// In order; the first step is where the flow starts.
    #[schema(min_items = 1, max_items = 100)]
    pub steps: Vec<StepDefinition>,
}

/// A flow's settings: all of them, replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowSettingsBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Main menu"
    )]
    pub name: String,
    pub trigger: TriggerDefinition,
    pub is_active: bool,
}

/// The name, trimmed: 1-200 characters, not blank, no control characters.
fn name(fields: &mut Fields, raw: &str) -> Option<String> {
    let name = raw.trim();
    let valid =
        !name.is_empty() && raw.chars().count() <= 200 && !name.chars().any(char::is_control);
    fields.check(
        "name",
        if valid {
            Ok(name.to_owned())
        } else {
            Err("must be 1-200 characters, without control characters")
        },
    )
}

fn flow_error(fields: &mut Fields, e: FlowError) {
    fields.check::<(), _>(&e.path(), Err(e.to_string()));
}

fn settings(
    fields: &mut Fields,
    raw_name: &str,
    trigger: &TriggerDefinition,
    is_active: bool,
) -> Option<FlowSettings> {
    let name = name(fields, raw_name);
    let trigger = Trigger::parse(trigger)
        .map_err(|e| flow_error(fields, e))
        .ok();
    Some(FlowSettings {
        name: name?,
        trigger: trigger?,
        is_active,
    })
}

fn steps(fields: &mut Fields, steps: Vec<StepDefinition>) -> Option<Flow> {
    FlowDefinition { steps }
        .parse()
        .map_err(|e| flow_error(fields, e))
        .ok()
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such flow".into())
}

/// Create a flow with its steps. Tenant admins.
#[utoipa::path(
    post, path = "/flows", tag = "flows", request_body = NewFlow,
    responses((status = 201, description = "The new flow", body = FlowRecord)),
)]
pub async fn create(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<NewFlow>,
) -> Result<(StatusCode, Json<FlowRecord>), ApiError> {
    let mut fields = Fields::default();
    let module_id = fields.check(
        "tenant_module_id",
        body.tenant_module_id
            .parse::<Uuid>()
            .map_err(|_| "must be a tenant module id"),
    );
    let settings = settings(
        &mut fields,
        &body.name,
        &body.trigger,
        body.is_active.unwrap_or(true),
    );
    let flow = steps(&mut fields, body.steps);
    fields.finish()?;
    let (Some(module_id), Some(settings), Some(flow)) = (module_id, settings, flow) else {
        return Err(ApiError::field("body", "invalid flow"));
    };
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    if tenant_modules::get(&mut tx, module_id).await?.is_none() {
        return Err(ApiError::field(
            "tenant_module_id",
            "is not one of this tenant's modules",
        ));
    }
    let created = flows::create(&mut tx, module_id, &settings, &flow).await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "flow.create",
        Some(format!("flow:{}", created.id)),
        serde_json::json!({ "name": created.name, "tenant_module_id": module_id }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Read a flow with its steps.
#[utoipa::path(
    get, path = "/flows/{id}", tag = "flows", params(("id" = Uuid, Path, description = "The flow's id")),
    responses((status = 200, description = "The flow", body = FlowRecord)),
)]
pub async fn read(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<FlowRecord>, ApiError> {
    who.require(Role::Agent)?;
    let id = parse_id(&id)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let found = flows::get(&mut tx, id).await?;
    tx.commit().await?;
    found.map(Json).ok_or_else(not_found)
}

/// Replace a flow's name, trigger and switch. Tenant admins.
#[utoipa::path(
    put, path = "/flows/{id}", tag = "flows", params(("id" = Uuid, Path, description = "The flow's id")),
    request_body = FlowSettingsBody,
    responses((status = 200, description = "The updated flow", body = FlowRecord)),
)]
pub async fn update(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<FlowSettingsBody>,
) -> Result<Json<FlowRecord>, ApiError> {
    let id = parse_id(&id)?;
    let mut fields = Fields::default();
    let settings = settings(&mut fields, &body.name, &body.trigger, body.is_active);
    fields.finish()?;
    let Some(settings) = settings else {
        return Err(ApiError::field("body", "invalid flow settings"));
    };
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let updated = flows::update(&mut tx, id, &settings).await?;
    tx.commit().await?;
    let updated = updated.ok_or_else(not_found)?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "flow.update",
        Some(format!("flow:{id}")),
        serde_json::json!({ "name": updated.name, "is_active": updated.is_active }),
    )
    .await;
    Ok(Json(updated))
}

/// Replace all of a flow's steps, checked as a whole. Tenant admins.
#[utoipa::path(
    put, path = "/flows/{id}/steps", tag = "flows", params(("id" = Uuid, Path, description = "The flow's id")),
    request_body = FlowDefinition,
    responses((status = 200, description = "The flow with its new steps", body = FlowRecord)),
)]
pub async fn replace_steps(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<FlowDefinition>,
) -> Result<Json<FlowRecord>, ApiError> {
    let id = parse_id(&id)?;
    let mut fields = Fields::default();
    let flow = steps(&mut fields, body.steps);
    fields.finish()?;
    let Some(flow) = flow else {
        return Err(ApiError::field("steps", "invalid steps"));
    };
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let updated = flows::replace_steps(&mut tx, id, &flow).await?;
    tx.commit().await?;
    let updated = updated.ok_or_else(not_found)?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "flow.replace_steps",
        Some(format!("flow:{id}")),
        serde_json::json!({ "steps": updated.steps.len() }),
    )
    .await;
    Ok(Json(updated))
}

/// Delete a flow; conversations in it become idle. Tenant admins.
#[utoipa::path(
    delete, path = "/flows/{id}", tag = "flows", params(("id" = Uuid, Path, description = "The flow's id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let found = flows::delete(&mut tx, id).await?;
    tx.commit().await?;
    if !found {
        return Err(not_found());
    }
    audit::record(
        &state,
        &who,
        Some(tenant),
        "flow.delete",
        Some(format!("flow:{id}")),
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModuleFlowsQuery {
    /// `true` lists inactive flows too (default `false`: active flows only).
    #[param(value_type = Option<bool>)]
    pub include_inactive: Option<String>,
}

/// A tenant module's flows with their steps, oldest first: the active ones, or all with
/// `include_inactive=true`.
#[utoipa::path(
    get, path = "/tenant-modules/{id}/flows", tag = "flows",
    params(("id" = Uuid, Path, description = "The tenant module's id"), ModuleFlowsQuery),
    responses((status = 200, description = "The module's flows", body = Vec<FlowRecord>)),
)]
pub async fn of_module(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<ModuleFlowsQuery>,
) -> Result<Json<Vec<FlowRecord>>, ApiError> {
    who.require(Role::Agent)?;
    let id = parse_id(&id)?;
    let include_inactive = match query.include_inactive.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::field("include_inactive", "must be true or false")),
    };
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    if tenant_modules::get(&mut tx, id).await?.is_none() {
        return Err(ApiError::NotFound("no such tenant module".into()));
    }
    let list = flows::of_module(&mut tx, id, include_inactive).await?;
    tx.commit().await?;
    Ok(Json(list))
}
