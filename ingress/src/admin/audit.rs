//! Recording admin mutations, and `GET /api/v1/platform/audit-log`.
//!
//! An entry is written after the mutation committed; if writing it fails, the failure is
//! logged as an error (the mutation is not rolled back).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use switchyard_shared::db::audit::{self, AuditEntry, AuditRecord};
use switchyard_shared::domain::TenantId;
use utoipa::IntoParams;
use uuid::Uuid;

use super::QueryParams;
use super::pagination;
use super::validate::Fields;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::startup::IngressState;

pub async fn record(
    state: &IngressState,
    who: &Principal,
    tenant: Option<TenantId>,
    action: &str,
    target: Option<String>,
    details: serde_json::Value,
) {
    let entry = AuditEntry {
        tenant_id: tenant,
        actor: &who.actor,
        actor_role: who.role.as_str(),
        action,
        target: target.as_deref(),
        details,
    };
    if let Err(e) = audit::record(&state.pool, &entry).await {
        tracing::error!(error = %e, action, actor = %who.actor, "could not write the audit log");
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this tenant's entries.
    #[param(value_type = Option<Uuid>)]
    pub tenant_id: Option<String>,
    /// Entries older than this entry id (the last id of the previous page).
    #[param(value_type = Option<Uuid>)]
    pub before: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
}

/// The audit log of admin mutations, newest first. Platform admins.
#[utoipa::path(
    get, path = "/platform/audit-log", tag = "platform", params(AuditQuery),
    responses((status = 200, description = "Entries, newest first", body = Vec<AuditRecord>)),
)]
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    let mut fields = Fields::default();
    let (limit, _) = pagination::parse(&mut fields, query.limit.as_deref(), None);
    let mut id = |name: &str, raw: Option<&str>| {
        raw.and_then(|raw| fields.check(name, raw.parse::<Uuid>().map_err(|_| "must be an id")))
    };
    let before = id("before", query.before.as_deref());
    let tenant = id("tenant_id", query.tenant_id.as_deref());
    fields.finish()?;
    let entries = audit::list(&state.pool, tenant.map(TenantId::from_uuid), before, limit).await?;
    Ok(Json(entries))
}
