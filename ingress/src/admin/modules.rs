//! `/api/v1/modules` and `/api/v1/tenant-modules`: the platform's module catalogue, and the
//! modules a tenant enabled, in its order.
//!
//! A new order lists every one of the tenant's modules exactly once. An id that is not one of
//! them — another tenant's module, or nothing at all — is a 422 naming the entry, like a
//! duplicate or a missing id, and nothing changes: a tenant cannot tell another tenant's
//! module from an id that does not exist.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchyard_shared::db::modules::{self, Module};
use switchyard_shared::db::tenant_modules::{self, TenantModule};
use switchyard_shared::db::{DbError, TenantTx};
use switchyard_shared::flows::{ModuleOrder, OrderError};
use utoipa::ToSchema;
use uuid::Uuid;

use super::contacts::parse_id;
use super::validate::Fields;
use super::{JsonBody, audit};
use crate::auth::{Principal, Role, TenantAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

/// The module catalogue: what a tenant can enable.
#[utoipa::path(
    get, path = "/modules", tag = "flows",
    responses((status = 200, description = "Every catalogue module, by key", body = Vec<Module>)),
)]
pub async fn catalogue(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Vec<Module>>, ApiError> {
    who.require(Role::Agent)?;
    Ok(Json(modules::list(&state.pool).await?))
}

/// The tenant's modules, in its order.
#[utoipa::path(
    get, path = "/tenant-modules", tag = "flows",
    responses((status = 200, description = "The tenant's modules, first first", body = Vec<TenantModule>)),
)]
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Vec<TenantModule>>, ApiError> {
    who.require(Role::Agent)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let list = tenant_modules::list(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// A catalogue module to enable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableModule {
    /// The catalogue module's `key`.
    #[schema(example = "booking", pattern = r"^[a-z][a-z0-9_]{0,62}$")]
    pub module_key: String,
    /// Default `true`.
    pub is_active: Option<bool>,
}

/// Enable a catalogue module for the tenant; it goes last in the order. Tenant admins.
#[utoipa::path(
    post, path = "/tenant-modules", tag = "flows", request_body = EnableModule,
    responses(
        (status = 201, description = "The tenant's new module", body = TenantModule),
        (status = 409, description = "The tenant has this module already", body = ErrorBody),
    ),
)]
pub async fn enable(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<EnableModule>,
) -> Result<(StatusCode, Json<TenantModule>), ApiError> {
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let module = modules::by_key(&mut tx, &body.module_key)
        .await?
        .ok_or_else(|| ApiError::field("module_key", "no catalogue module has this key"))?;
    let enabled = tenant_modules::enable(&mut tx, module.id, body.is_active.unwrap_or(true))
        .await
        .map_err(|e| match e {
            DbError::Conflict { .. } => {
                ApiError::Conflict(format!("the tenant has the {} module already", module.key))
            }
            other => other.into(),
        })?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "tenant_module.enable",
        Some(format!("tenant_module:{}", enabled.id)),
        serde_json::json!({ "module_key": module.key }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(enabled)))
}

/// A tenant module's switch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModulePatch {
    /// Whether the module's flows may run.
    pub is_active: bool,
}

/// Switch one of the tenant's modules on or off. Tenant admins.
#[utoipa::path(
    patch, path = "/tenant-modules/{id}", tag = "flows",
    params(("id" = Uuid, Path, description = "The tenant module's id")),
    request_body = ModulePatch,
    responses((status = 200, description = "The updated module", body = TenantModule)),
)]
pub async fn update(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ModulePatch>,
) -> Result<Json<TenantModule>, ApiError> {
    let id = parse_id(&id)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let updated = tenant_modules::set_active(&mut tx, id, body.is_active).await?;
    tx.commit().await?;
    let updated = updated.ok_or_else(|| ApiError::NotFound("no such tenant module".into()))?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "tenant_module.update",
        Some(format!("tenant_module:{id}")),
        serde_json::json!({ "is_active": body.is_active }),
    )
    .await;
    Ok(Json(updated))
}

/// The tenant's modules in a new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleOrderBody {
    /// Every one of the tenant's module ids, once each, first first.
    #[schema(value_type = Vec<Uuid>, max_items = 1000)]
    pub tenant_module_ids: Vec<String>,
}

/// Reorder the tenant's modules: the body lists all of them, once each. Tenant admins.
#[utoipa::path(
    put, path = "/tenant-modules/order", tag = "flows", request_body = ModuleOrderBody,
    responses((status = 200, description = "The tenant's modules in their new order", body = Vec<TenantModule>)),
)]
pub async fn reorder(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<ModuleOrderBody>,
) -> Result<Json<Vec<TenantModule>>, ApiError> {
    if body.tenant_module_ids.len() > 1000 {
        return Err(ApiError::field("tenant_module_ids", "at most 1000 ids"));
    }
    let mut fields = Fields::default();
    let requested: Vec<Uuid> = body
        .tenant_module_ids
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            fields.check(
                &format!("tenant_module_ids[{i}]"),
                raw.parse::<Uuid>()
                    .map_err(|_| "must be a tenant module id"),
            )
        })
        .collect();
    fields.finish()?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let owned = tenant_modules::lock_ids(&mut tx).await?;
    let order = ModuleOrder::parse(&requested, &owned).map_err(order_error)?;
    let reordered = tenant_modules::reorder(&mut tx, &order).await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "tenant_module.reorder",
        None,
        serde_json::json!({ "tenant_module_ids": order.ids() }),
    )
    .await;
    Ok(Json(reordered))
}

fn order_error(e: OrderError) -> ApiError {
    let field = match e.index() {
        Some(i) => format!("tenant_module_ids[{i}]"),
        None => "tenant_module_ids".to_owned(),
    };
    ApiError::field(&field, e.to_string())
}
