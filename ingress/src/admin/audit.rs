//! Recording admin mutations, and `GET /api/v1/platform/audit-log`.
//!
//! An entry is written after the mutation committed; if writing it fails, the failure is
//! logged as an error (the mutation is not rolled back).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use switchyard_shared::db::audit::{self, AuditEntry, AuditRecord};
use switchyard_shared::domain::TenantId;
use uuid::Uuid;

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

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    pub tenant_id: Option<Uuid>,
    /// Return entries older than this entry id (cursor of the previous page's last entry).
    pub before: Option<Uuid>,
    pub limit: Option<i64>,
}

/// Newest first. Platform admins only.
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditRecord>>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1-200"));
    }
    let entries = audit::list(
        &state.pool,
        query.tenant_id.map(TenantId::from_uuid),
        query.before,
        limit,
    )
    .await?;
    Ok(Json(entries))
}
