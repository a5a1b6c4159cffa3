//! `/api/v1/tenants`: create, read and delete tenants.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::tenants::{self, NewTenant, Tenant};
use switchyard_shared::domain::{TenantId, TenantSlug};
use switchyard_shared::tenancy;

use super::{AdminAuth, JsonBody};
use crate::error::ApiError;
use crate::startup::IngressState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
    /// Sent to a contact's first WhatsApp message.
    pub welcome_text: Option<String>,
}

impl CreateTenant {
    fn parse(self) -> Result<NewTenant, ApiError> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ApiError::field("name", "must be 1-200 characters"));
        }
        let slug = match &self.slug {
            Some(slug) => TenantSlug::parse(slug),
            None => TenantSlug::from_name(&name),
        }
        .map_err(|e| ApiError::field("slug", e.reason))?;
        if let Some(text) = &self.welcome_text
            && (text.trim().is_empty() || text.chars().count() > 4096)
        {
            return Err(ApiError::field("welcome_text", "must be 1-4096 characters"));
        }
        Ok(NewTenant {
            slug,
            name,
            welcome_text: self.welcome_text,
        })
    }
}

/// `POST /api/v1/tenants` → 201 with the tenant; 409 if the slug is taken.
pub async fn create(
    _: AdminAuth,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let new = body.parse()?;
    let tenant = tenancy::create_tenant(&state.pool, &new).await?;
    tracing::info!(tenant_id = %tenant.id, slug = %tenant.slug, "tenant created");
    Ok((StatusCode::CREATED, Json(tenant)))
}

pub(crate) fn parse_tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("no such tenant".into()))
}

/// `GET /api/v1/tenants/{tenant_id}`
pub async fn read(
    _: AdminAuth,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    let mut tx = TenantTx::begin(&state.pool, parse_tenant_id(&tenant_id)?).await?;
    let tenant = tenants::get(&mut tx).await?;
    tx.commit().await?;
    tenant
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no such tenant".into()))
}

/// `DELETE /api/v1/tenants/{tenant_id}` → 204; everything the tenant owns goes with it.
pub async fn delete(
    _: AdminAuth,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = parse_tenant_id(&tenant_id)?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let channel = switchyard_shared::db::whatsapp_channels::get(&mut tx).await?;
    let existed = tenants::delete(&mut tx).await?;
    tx.commit().await?;
    if let Some(channel) = channel {
        state
            .whatsapp_routes
            .invalidate(&channel.phone_number_id)
            .await;
    }
    if existed {
        tracing::info!(tenant_id = %tenant, "tenant deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such tenant".into()))
    }
}
