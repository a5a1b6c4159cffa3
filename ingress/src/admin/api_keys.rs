//! `/api/v1/api-keys`: a tenant's API keys. The key is shown once, in the creation answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::api_keys::{self, ApiKey};
use utoipa::ToSchema;

use super::schema::KeyRole;
use super::{JsonBody, audit};
use crate::auth::{Principal, Role, TenantAdmin, api_keys as keys};
use crate::error::ApiError;
use crate::startup::IngressState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// `tenant_admin` (default) or `agent`.
    #[schema(value_type = Option<KeyRole>)]
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub record: ApiKey,
    /// The whole key. Store it now: it is never shown again.
    pub key: String,
}

/// Create a key for the transaction's tenant.
pub async fn issue(tx: &mut TenantTx, name: &str, role: Role) -> Result<CreatedKey, ApiError> {
    let new = keys::generate();
    let record = api_keys::create(tx, name, &new.prefix, &new.hash, role.as_str()).await?;
    Ok(CreatedKey {
        record,
        key: new.key,
    })
}

/// Create an API key; the answer holds the key, shown only this once. Tenant admins.
#[utoipa::path(
    post, path = "/api-keys", tag = "api-keys", request_body = CreateKey,
    responses((status = 201, description = "The key, in full, once", body = CreatedKey)),
)]
pub async fn create(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field("name", "must be 1-100 characters"));
    }
    let role = match body.role.as_deref() {
        None | Some("tenant_admin") => Role::TenantAdmin,
        Some("agent") => Role::Agent,
        Some(_) => return Err(ApiError::field("role", "must be tenant_admin or agent")),
    };
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let created = issue(&mut tx, name, role).await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "api_key.create",
        Some(format!("api_key:{}", created.record.id)),
        serde_json::json!({ "name": name }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// List the tenant's API keys: names, prefixes and use, never the keys. Tenant admins.
#[utoipa::path(
    get, path = "/api-keys", tag = "api-keys",
    responses((status = 200, description = "Every key of the tenant", body = Vec<ApiKey>)),
)]
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Vec<ApiKey>>, ApiError> {
    who.require(Role::TenantAdmin)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let all = api_keys::list(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(all))
}

/// Revoke an API key; it stops working at once. Tenant admins.
#[utoipa::path(
    delete, path = "/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked")),
)]
pub async fn revoke(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::TenantAdmin)?;
    let id = super::contacts::parse_id(&id)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let found = api_keys::revoke(&mut tx, id).await?;
    tx.commit().await?;
    if !found {
        return Err(ApiError::NotFound("no such API key".into()));
    }
    audit::record(
        &state,
        &who,
        Some(tenant),
        "api_key.revoke",
        Some(format!("api_key:{id}")),
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
