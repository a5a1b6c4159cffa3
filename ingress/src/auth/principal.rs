//! The authenticated caller, extracted from the request's credentials.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use switchyard_shared::db::users;
use switchyard_shared::domain::TenantId;

use super::api_keys;
use crate::error::ApiError;
use crate::startup::IngressState;

/// Roles, ordered by privilege.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    TenantAdmin,
    PlatformAdmin,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::TenantAdmin => "tenant_admin",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Role::Agent),
            "tenant_admin" => Some(Role::TenantAdmin),
            "platform_admin" => Some(Role::PlatformAdmin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Principal {
    /// `admin_token`, `user:<id>` or `api_key:<id>`: what the audit log records.
    pub actor: String,
    pub role: Role,
    /// The tenant the credential belongs to (none for platform admins).
    pub home_tenant: Option<TenantId>,
    /// The tenant this request acts for: the home tenant, or `X-Tenant-Id` of a platform
    /// admin.
    pub acting_tenant: Option<TenantId>,
}

impl Principal {
    /// The tenant this request acts for; platform admins must name one with `X-Tenant-Id`.
    pub fn tenant(&self) -> Result<TenantId, ApiError> {
        self.acting_tenant.ok_or_else(|| {
            ApiError::BadRequest(
                "platform admins name the tenant with the X-Tenant-Id header".into(),
            )
        })
    }

    /// 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "requires the {} role",
                role.as_str()
            )))
        }
    }

    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))
}

impl FromRequestParts<IngressState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &IngressState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let is_admin_token = state
            .config
            .admin_token
            .as_ref()
            .is_some_and(|admin| bool::from(token.as_bytes().ct_eq(admin.expose().as_bytes())));
        let (actor, role, home_tenant) = if is_admin_token {
            ("admin_token".to_owned(), Role::PlatformAdmin, None)
        } else if token.starts_with(api_keys::KEY_PREFIX) {
            let key = api_keys::authenticate(&state.pool, token).await?;
            (format!("api_key:{}", key.id), key.role, Some(key.tenant))
        } else {
            let claims = state.auth.jwt.verify(token)?;
            let role = Role::parse(&claims.role)
                .ok_or_else(|| ApiError::Unauthorized("invalid token".into()))?;
            let tenant = match claims.tid {
                Some(tid) => {
                    let tenant = TenantId::from_uuid(tid);
                    let current = users::tenant_auth_state(&state.pool, tenant)
                        .await?
                        .ok_or_else(|| ApiError::Unauthorized("token revoked".into()))?;
                    if current.token_generation != claims.generation {
                        return Err(ApiError::Unauthorized("token revoked".into()));
                    }
                    Some(tenant)
                }
                None if role == Role::PlatformAdmin => None,
                None => return Err(ApiError::Unauthorized("invalid token".into())),
            };
            (format!("user:{}", claims.sub), role, tenant)
        };

        let named = match parts.headers.get("x-tenant-id") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| v.parse::<TenantId>().ok())
                    .ok_or_else(|| ApiError::field("X-Tenant-Id", "must be a tenant id (UUID)"))?,
            ),
        };
        let acting_tenant = match (role, named) {
            (Role::PlatformAdmin, named) => named,
            (_, Some(named)) if Some(named) != home_tenant => {
                return Err(ApiError::Forbidden(
                    "only platform admins may act for another tenant".into(),
                ));
            }
            _ => home_tenant,
        };
        Ok(Principal {
            actor,
            role,
            home_tenant,
            acting_tenant,
        })
    }
}

/// A [`Principal`] with at least the tenant admin role. As a handler argument it is checked
/// before the body is read, so a caller without the role learns nothing about validation.
pub struct TenantAdmin(pub Principal);

/// A [`Principal`] who is a platform admin; checked before the body is read.
pub struct PlatformAdmin(pub Principal);

impl FromRequestParts<IngressState> for TenantAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &IngressState) -> Result<Self, ApiError> {
        let who = Principal::from_request_parts(parts, state).await?;
        who.require(Role::TenantAdmin)?;
        Ok(Self(who))
    }
}

impl FromRequestParts<IngressState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &IngressState) -> Result<Self, ApiError> {
        let who = Principal::from_request_parts(parts, state).await?;
        who.require(Role::PlatformAdmin)?;
        Ok(Self(who))
    }
}
