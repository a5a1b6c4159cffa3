//! `/api/v1/tenants` (platform admins) and `/api/v1/tenant` (a tenant's own record).
//!
//! Creating a tenant provisions it: a unique slug derived from the name (a suffix is added
//! when taken), the defaults of the schema, and a first API key, returned once.
//! `POST /tenants/ensure` does the same idempotently for integrations, keyed by their own org
//! id. Suspending a tenant keeps accepting and recording its webhooks without processing them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_shared::db::tenants::{self, NewTenant, Tenant, TenantSummary, TenantUpdate};
use switchyard_shared::db::{DbError, TenantTx, held_events, whatsapp_channels};
use switchyard_shared::domain::{TenantId, TenantSlug, TenantStatus};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::api_keys::{CreatedKey, issue};
use super::{JsonBody, QueryParams, audit};
use crate::auth::{PlatformAdmin, Principal, Role, TenantAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Derived from the name when absent.
    #[schema(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$")]
    pub slug: Option<String>,
    /// Sent to a contact's first WhatsApp message.
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub welcome_text: Option<String>,
}

fn parse_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::field("name", "must be 1-200 characters"));
    }
    Ok(name.to_owned())
}

fn parse_welcome(text: &Option<String>) -> Result<(), ApiError> {
    match text {
        Some(t) if t.trim().is_empty() || t.chars().count() > 4096 => {
            Err(ApiError::field("welcome_text", "must be 1-4096 characters"))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisionedTenant {
    #[serde(flatten)]
    pub tenant: Tenant,
    /// The tenant's first API key; shown only in this answer.
    pub api_key: CreatedKey,
}

/// Create the tenant and its first API key in one transaction. With a derived slug, a taken
/// one gets `-2` … `-5` appended, then a random suffix (many tenants share common names); an
/// explicit slug that is taken is a 409.
async fn provision(
    state: &IngressState,
    name: String,
    slug: Option<TenantSlug>,
    welcome_text: Option<String>,
    external_org_id: Option<String>,
) -> Result<ProvisionedTenant, ApiError> {
    let explicit = slug.is_some();
    let base = match slug {
        Some(slug) => slug,
        None => TenantSlug::from_name(&name).map_err(|e| ApiError::field("name", e.reason))?,
    };
    for attempt in 1..=20u32 {
        let stem: String = base.as_str().chars().take(54).collect();
        let slug = match attempt {
            1 => base.clone(),
            2..=5 => TenantSlug::parse(&format!("{stem}-{attempt}"))
                .map_err(|e| ApiError::Internal(e.to_string()))?,
            _ => TenantSlug::parse(&format!("{stem}-{:08x}", rand::random::<u32>()))
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        };
        let mut tx = TenantTx::begin(&state.pool, TenantId::new()).await?;
        let new = NewTenant {
            slug,
            name: name.clone(),
            welcome_text: welcome_text.clone(),
            external_org_id: external_org_id.clone(),
        };
        match tenants::create(&mut tx, &new).await {
            Ok(tenant) => {
                let api_key = issue(&mut tx, "default", Role::TenantAdmin).await?;
                tx.commit().await?;
                return Ok(ProvisionedTenant { tenant, api_key });
            }
            Err(DbError::Conflict { constraint })
                if constraint == "tenants_slug_key" && !explicit =>
            {
                tx.rollback().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "no free slug for this name; pass one explicitly".into(),
    ))
}

/// Provision a tenant: a unique slug, the defaults, and a first API key (shown once).
/// Platform admins.
#[utoipa::path(
    post, path = "/tenants", tag = "tenants", request_body = CreateTenant,
    responses(
        (status = 201, description = "The tenant and its first API key", body = ProvisionedTenant),
        (status = 409, description = "The explicit slug is taken", body = ErrorBody),
    ),
)]
pub async fn create(
    PlatformAdmin(who): PlatformAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<(StatusCode, Json<ProvisionedTenant>), ApiError> {
    let name = parse_name(&body.name)?;
    let slug = body
        .slug
        .as_deref()
        .map(TenantSlug::parse)
        .transpose()
        .map_err(|e| ApiError::field("slug", e.reason))?;
    parse_welcome(&body.welcome_text)?;
    let created = provision(&state, name, slug, body.welcome_text, None).await?;
    audit::record(
        &state,
        &who,
        Some(created.tenant.id),
        "tenant.create",
        None,
        serde_json::json!({ "slug": created.tenant.slug }),
    )
    .await;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnsureTenant {
    /// The integration's own id of the organisation.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub external_org_id: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnsuredTenant {
    pub created: bool,
    pub tenant: Tenant,
    /// Only when the tenant was created by this call.
    pub api_key: Option<CreatedKey>,
}

/// The tenant of an integration's org id: created (with a first API key) on the first call,
/// returned as it is on later calls. Platform admins.
#[utoipa::path(
    post, path = "/tenants/ensure", tag = "tenants", request_body = EnsureTenant,
    responses(
        (status = 200, description = "The tenant already existed", body = EnsuredTenant),
        (status = 201, description = "The tenant was created", body = EnsuredTenant),
        (status = 409, description = "A concurrent call for the same org id could not be resolved; retry", body = ErrorBody),
    ),
)]
pub async fn ensure(
    PlatformAdmin(who): PlatformAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<EnsureTenant>,
) -> Result<(StatusCode, Json<EnsuredTenant>), ApiError> {
    let org = body.external_org_id.trim().to_owned();
    if org.is_empty() || org.len() > 200 {
        return Err(ApiError::field(
            "external_org_id",
            "must be 1-200 characters",
        ));
    }
    let name = parse_name(&body.name)?;
    if let Some(existing) = existing_for_org(&state, &org).await? {
        return Ok((
            StatusCode::OK,
            Json(EnsuredTenant {
                created: false,
                tenant: existing,
                api_key: None,
            }),
        ));
    }
    match provision(&state, name, None, None, Some(org.clone())).await {
        Ok(created) => {
            audit::record(
                &state,
                &who,
                Some(created.tenant.id),
                "tenant.create",
                None,
                serde_json::json!({ "external_org_id": org }),
            )
            .await;
            Ok((
                StatusCode::CREATED,
                Json(EnsuredTenant {
                    created: true,
                    tenant: created.tenant,
                    api_key: Some(created.api_key),
                }),
            ))
        }
        // Someone ensured the same org a moment ago.
        Err(ApiError::Conflict(_)) => match existing_for_org(&state, &org).await? {
            Some(existing) => Ok((
                StatusCode::OK,
                Json(EnsuredTenant {
                    created: false,
                    tenant: existing,
                    api_key: None,
                }),
            )),
            None => Err(ApiError::Conflict("tenant could not be ensured".into())),
        },
        Err(e) => Err(e),
    }
}

async fn existing_for_org(state: &IngressState, org: &str) -> Result<Option<Tenant>, ApiError> {
    let Some(id) = tenants::id_by_external_org(&state.pool, org).await? else {
        return Ok(None);
    };
    load(state, id).await
}

async fn load(state: &IngressState, tenant: TenantId) -> Result<Option<Tenant>, ApiError> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let found = tenants::get(&mut tx).await?;
    tx.commit().await?;
    Ok(found)
}

pub(crate) fn parse_tenant_id(raw: &str) -> Result<TenantId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("no such tenant".into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The `next` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub after: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    pub tenants: Vec<TenantSummary>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<Uuid>,
}

/// Every tenant, with counts of contacts, conversations, messages and users. Platform admins.
#[utoipa::path(
    get, path = "/tenants", tag = "tenants", params(ListQuery),
    responses((status = 200, description = "A page of tenants", body = TenantPage)),
)]
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<TenantPage>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    let mut fields = super::validate::Fields::default();
    let (limit, after) =
        super::pagination::parse(&mut fields, query.limit.as_deref(), query.after.as_deref());
    fields.finish()?;
    let limit = i32::try_from(limit).map_err(|e| ApiError::Internal(e.to_string()))?;
    let tenants = tenants::list_with_counts(&state.pool, after, limit).await?;
    let next = (tenants.len() == usize::try_from(limit).unwrap_or(usize::MAX))
        .then(|| tenants.last().map(|t| t.id))
        .flatten();
    Ok(Json(TenantPage { tenants, next }))
}

/// Read a tenant. Platform admins.
#[utoipa::path(
    get, path = "/tenants/{tenant_id}", tag = "tenants", params(("tenant_id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, description = "The tenant", body = Tenant)),
)]
pub async fn read(
    who: Principal,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    load(&state, parse_tenant_id(&tenant_id)?)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no such tenant".into()))
}

/// The fields to change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTenant {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 50, pattern = r"\S")]
    pub plan: Option<String>,
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_minute: Option<i32>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 4096, pattern = r"\S")]
    pub welcome_text: Option<Option<String>>,
    /// Any JSON object of at most 16 KiB; replaces the stored one.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Distinguish an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl PatchTenant {
    fn parse(self) -> Result<TenantUpdate, ApiError> {
        let mut fields = super::validate::Fields::default();
        let name = self.name.as_deref().and_then(|n| {
            fields.check(
                "name",
                parse_name(n).map_err(|_| "must be 1-200 characters"),
            )
        });
        if let Some(plan) = &self.plan
            && (plan.trim().is_empty() || plan.len() > 50)
        {
            fields.check::<(), _>("plan", Err("must be 1-50 characters"));
        }
        if let Some(limit) = self.rate_limit_per_minute
            && !(1..=1_000_000).contains(&limit)
        {
            fields.check::<(), _>("rate_limit_per_minute", Err("must be 1-1000000"));
        }
        if let Some(Some(text)) = &self.welcome_text
            && (text.trim().is_empty() || text.chars().count() > 4096)
        {
            fields.check::<(), _>("welcome_text", Err("must be 1-4096 characters"));
        }
        if let Some(metadata) = &self.metadata {
            fields.check("metadata", check_metadata(metadata));
        }
        fields.finish()?;
        Ok(TenantUpdate {
            name,
            plan: self.plan.map(|p| p.trim().to_owned()),
            rate_limit_per_minute: self.rate_limit_per_minute,
            welcome_text: self.welcome_text,
            metadata: self.metadata,
            status: None,
        })
    }
}

/// The largest `metadata` object, serialized.
const MAX_METADATA_BYTES: usize = 16 * 1024;

/// `metadata` is a JSON object of at most 16 KiB whose numbers stay well inside the range of a
/// double: PostgreSQL stores them as exact decimals, and a number at the edge of the range may
/// not read back as one.
fn check_metadata(metadata: &serde_json::Value) -> Result<(), &'static str> {
    fn numbers_in_range(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f.abs() < 1e300),
            serde_json::Value::Array(items) => items.iter().all(numbers_in_range),
            serde_json::Value::Object(map) => map.values().all(numbers_in_range),
            _ => true,
        }
    }
    if !metadata.is_object() {
        return Err("must be a JSON object");
    }
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err("must be at most 16 KiB");
    }
    if !numbers_in_range(metadata) {
        return Err("numbers must be between -1e300 and 1e300");
    }
    Ok(())
}

async fn apply(
    state: &IngressState,
    who: &Principal,
    tenant: TenantId,
    change: TenantUpdate,
    action: &str,
) -> Result<Json<Tenant>, ApiError> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let updated = tenants::update(&mut tx, &change).await?;
    tx.commit().await?;
    let updated = updated.ok_or_else(|| ApiError::NotFound("no such tenant".into()))?;
    audit::record(
        state,
        who,
        Some(tenant),
        action,
        None,
        serde_json::json!({}),
    )
    .await;
    Ok(Json(updated))
}

/// Change a tenant. Platform admins.
#[utoipa::path(
    patch, path = "/tenants/{tenant_id}", tag = "tenants", params(("tenant_id" = Uuid, Path, description = "The tenant's id")), request_body = PatchTenant,
    responses((status = 200, description = "The updated tenant", body = Tenant)),
)]
pub async fn patch(
    PlatformAdmin(who): PlatformAdmin,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<PatchTenant>,
) -> Result<Json<Tenant>, ApiError> {
    let tenant = parse_tenant_id(&tenant_id)?;
    apply(&state, &who, tenant, body.parse()?, "tenant.update").await
}

/// Suspend a tenant: its webhooks are still accepted and recorded, but not processed until
/// it is reactivated. Platform admins.
#[utoipa::path(
    post, path = "/tenants/{tenant_id}/suspend", tag = "tenants", params(("tenant_id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, description = "The suspended tenant", body = Tenant)),
)]
pub async fn suspend(
    who: Principal,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    let change = TenantUpdate {
        status: Some(TenantStatus::Suspended),
        ..Default::default()
    };
    apply(
        &state,
        &who,
        parse_tenant_id(&tenant_id)?,
        change,
        "tenant.suspend",
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reactivated {
    #[serde(flatten)]
    pub tenant: Tenant,
    /// Events received while suspended, now published for processing.
    pub released_events: u64,
}

/// Reactivate a tenant and publish, in arrival order, the events held while it was
/// suspended. If the broker fails midway the answer is 503 and calling again releases the rest
/// (dedup makes a repeat harmless). Platform admins.
#[utoipa::path(
    post, path = "/tenants/{tenant_id}/reactivate", tag = "tenants", params(("tenant_id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, description = "The active tenant and how many events were released", body = Reactivated)),
)]
pub async fn reactivate(
    who: Principal,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
) -> Result<Json<Reactivated>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    let tenant = parse_tenant_id(&tenant_id)?;
    let change = TenantUpdate {
        status: Some(TenantStatus::Active),
        ..Default::default()
    };
    let Json(updated) = apply(&state, &who, tenant, change, "tenant.reactivate").await?;
    let mut released = 0;
    loop {
        let mut tx = TenantTx::begin(&state.pool, tenant).await?;
        let batch = held_events::oldest(&mut tx, 500).await?;
        if batch.is_empty() {
            tx.commit().await?;
            break;
        }
        let (ids, envelopes): (Vec<Uuid>, Vec<_>) = batch.into_iter().unzip();
        state.queue.publish(&envelopes).await?;
        released += held_events::release(&mut tx, &ids).await?;
        tx.commit().await?;
    }
    Ok(Json(Reactivated {
        tenant: updated,
        released_events: released,
    }))
}

/// The caller's own tenant (or `X-Tenant-Id`'s, for platform admins).
#[utoipa::path(
    get, path = "/tenant", tag = "tenants",
    responses((status = 200, description = "The tenant", body = Tenant)),
)]
pub async fn read_own(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Tenant>, ApiError> {
    load(&state, who.tenant()?)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no such tenant".into()))
}

/// Change the caller's own tenant. Tenant admins.
#[utoipa::path(
    patch, path = "/tenant", tag = "tenants", request_body = PatchTenant,
    responses((status = 200, description = "The updated tenant", body = Tenant)),
)]
pub async fn patch_own(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<PatchTenant>,
) -> Result<Json<Tenant>, ApiError> {
    let tenant = who.tenant()?;
    apply(&state, &who, tenant, body.parse()?, "tenant.update").await
}

/// Delete a tenant and everything it owns. Platform admins.
#[utoipa::path(
    delete, path = "/tenants/{tenant_id}", tag = "tenants", params(("tenant_id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(
    who: Principal,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::PlatformAdmin)?;
    let tenant = parse_tenant_id(&tenant_id)?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let channel = whatsapp_channels::get(&mut tx).await?;
    let existed = tenants::delete(&mut tx).await?;
    tx.commit().await?;
    if let Some(channel) = channel {
        state
            .whatsapp_routes
            .invalidate(&channel.phone_number_id)
            .await;
    }
    if existed {
        audit::record(
            &state,
            &who,
            Some(tenant),
            "tenant.delete",
            None,
            serde_json::json!({}),
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such tenant".into()))
    }
}
