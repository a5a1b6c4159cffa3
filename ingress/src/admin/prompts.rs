//! `/api/v1/prompts…`: the prompt bundles the LLM's instructions are made of.
//!
//! The global bundle (`/prompts/global`) is the platform's, inherited by every tenant; only
//! platform admins replace it. Each tenant has its own bundle (`/prompts`) that overrides
//! global sections by key and adds its own; tenant admins replace it, agents read it.
//! `/prompts/effective` shows the two merged, exactly as the LLM gets them (the rule is
//! `switchyard_shared::prompts::merge`). A replace is atomic: the body is the whole bundle,
//! in order.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::prompts::{self, StoredSection};
use switchyard_shared::prompts::{Bundle, EffectiveSection};
use utoipa::ToSchema;

use super::validate::Fields;
use super::{JsonBody, audit};
use crate::auth::{PlatformAdmin, Principal, Role, TenantAdmin};
use crate::error::ApiError;
use crate::startup::IngressState;

/// One section of a bundle being replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionInput {
    /// Unique within the bundle.
    #[schema(pattern = r"^[a-z0-9][a-z0-9_.-]{0,63}$", example = "tone")]
    pub section_key: String,
    /// At most 32 KiB (UTF-8). In a tenant's bundle, an empty content hides the global
    /// section of the same key.
    #[schema(max_length = 32768, example = "Answer warmly and briefly.")]
    pub content: String,
}

/// A whole bundle, in order; it replaces the stored one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBundle {
    #[schema(max_items = 100)]
    pub sections: Vec<SectionInput>,
}

impl PutBundle {
    /// Every refused section is named by its index: `sections[2].section_key`.
    fn parse(self) -> Result<Bundle, ApiError> {
        let items = self
            .sections
            .into_iter()
            .map(|s| (s.section_key, s.content))
            .collect();
        Bundle::parse(items).map_err(|errors| {
            let mut fields = Fields::default();
            for e in errors {
                let field = match e.index {
                    Some(index) => format!("sections[{index}].{}", e.field),
                    None => e.field.to_owned(),
                };
                fields.check::<(), _>(&field, Err(e.reason));
            }
            fields
                .finish()
                .err()
                .unwrap_or_else(|| ApiError::Internal("a refused bundle had no reason".into()))
        })
    }
}

/// A stored bundle, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BundleView {
    pub sections: Vec<StoredSection>,
}

/// The merged prompt, in the order the LLM gets it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveView {
    pub sections: Vec<EffectiveSection>,
}

fn keys(bundle: &Bundle) -> serde_json::Value {
    serde_json::json!({ "sections": bundle.keys().map(|k| k.as_str()).collect::<Vec<_>>() })
}

/// The global bundle every tenant inherits.
#[utoipa::path(
    get, path = "/prompts/global", tag = "prompts",
    responses((status = 200, description = "The global bundle", body = BundleView)),
)]
pub async fn read_global(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<BundleView>, ApiError> {
    who.require(Role::Agent)?;
    let sections = prompts::global(&state.pool).await?;
    Ok(Json(BundleView { sections }))
}

/// Replace the global bundle. Platform admins.
#[utoipa::path(
    put, path = "/prompts/global", tag = "prompts", request_body = PutBundle,
    responses((status = 200, description = "The global bundle as stored", body = BundleView)),
)]
pub async fn put_global(
    PlatformAdmin(who): PlatformAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<PutBundle>,
) -> Result<Json<BundleView>, ApiError> {
    let bundle = body.parse()?;
    let sections = prompts::replace_global(&state.pool, &bundle).await?;
    audit::record(
        &state,
        &who,
        None,
        "prompts.global.replace",
        Some("prompts:global".into()),
        keys(&bundle),
    )
    .await;
    Ok(Json(BundleView { sections }))
}

/// The tenant's own bundle (without the global sections it inherits).
#[utoipa::path(
    get, path = "/prompts", tag = "prompts",
    responses((status = 200, description = "The tenant's bundle", body = BundleView)),
)]
pub async fn read(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<BundleView>, ApiError> {
    who.require(Role::Agent)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let sections = prompts::own(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(BundleView { sections }))
}

/// Replace the tenant's own bundle. Tenant admins.
#[utoipa::path(
    put, path = "/prompts", tag = "prompts", request_body = PutBundle,
    responses((status = 200, description = "The tenant's bundle as stored", body = BundleView)),
)]
pub async fn put(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<PutBundle>,
) -> Result<Json<BundleView>, ApiError> {
    let bundle = body.parse()?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let sections = prompts::replace_own(&mut tx, &bundle).await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "prompts.replace",
        Some("prompts:tenant".into()),
        keys(&bundle),
    )
    .await;
    Ok(Json(BundleView { sections }))
}

/// The global and the tenant's bundle merged: the global order, each section the tenant
/// overrides replaced in place, then the tenant's own sections; empty sections left out.
#[utoipa::path(
    get, path = "/prompts/effective", tag = "prompts",
    responses((status = 200, description = "The sections the LLM gets, in order", body = EffectiveView)),
)]
pub async fn effective(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<EffectiveView>, ApiError> {
    who.require(Role::Agent)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let sections = prompts::effective(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(EffectiveView { sections }))
}
