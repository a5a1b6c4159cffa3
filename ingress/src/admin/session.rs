//! `/api/v1/auth/*` and `/api/v1/me`: logging in, logging a tenant out everywhere, and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_shared::db::{TenantTx, users};
use switchyard_shared::domain::TenantId;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{JsonBody, audit};
use crate::auth::{Principal, Role, passwords};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginToken {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    #[schema(value_type = Role)]
    pub role: String,
    pub tenant_id: Option<Uuid>,
}

/// Log in with email and password for a bearer token (a JWT). A wrong email and a wrong
/// password get the same answer, in about the same time.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth", request_body = Login, operation_id = "login",
    responses(
        (status = 200, description = "A bearer token", body = LoginToken),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many attempts for this address; retry in a minute", body = ErrorBody),
    ),
)]
pub async fn login(
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<LoginToken>, ApiError> {
    if !state.auth.login.try_attempt(&body.email) {
        return Err(ApiError::TooManyRequests(
            "too many login attempts for this address; try again in a minute".into(),
        ));
    }
    let refused = || ApiError::Unauthorized("wrong email or password".into());
    let record = users::login_record(&state.pool, body.email.trim()).await?;
    let stored = record
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| passwords::decoy().to_owned());
    let matches = passwords::verify(body.password, stored).await?;
    let record = match record {
        Some(record) if matches => record,
        _ => return Err(refused()),
    };
    let generation = match record.tenant_id {
        Some(tenant) => {
            users::tenant_auth_state(&state.pool, TenantId::from_uuid(tenant))
                .await?
                .ok_or_else(refused)?
                .token_generation
        }
        None => 0,
    };
    let token = state
        .auth
        .jwt
        .issue(record.id, record.tenant_id, &record.role, generation)?;
    users::record_login(&state.pool, record.id).await?;
    Ok(Json(LoginToken {
        access_token: token,
        token_type: "Bearer",
        expires_in: state.auth.jwt.ttl.as_secs(),
        role: record.role,
        tenant_id: record.tenant_id,
    }))
}

/// Every login token issued for the tenant stops working at once. Tenant admins.
#[utoipa::path(
    post, path = "/auth/logout-everywhere", tag = "auth",
    responses((status = 204, description = "Every token of the tenant is revoked")),
)]
pub async fn logout_everywhere(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::TenantAdmin)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    users::bump_token_generation(&mut tx).await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "tenant.logout_everywhere",
        None,
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `admin_token`, `user:<id>` or `api_key:<id>`.
    pub actor: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
    pub acting_tenant_id: Option<TenantId>,
}

/// Who the credentials belong to, and which tenant the request acts for.
#[utoipa::path(
    get, path = "/me", tag = "auth",
    responses((status = 200, description = "The caller", body = Me)),
)]
pub async fn me(who: Principal) -> Json<Me> {
    Json(Me {
        actor: who.actor,
        role: who.role,
        tenant_id: who.home_tenant,
        acting_tenant_id: who.acting_tenant,
    })
}
