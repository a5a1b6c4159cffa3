//! Bearer-token authentication of the bootstrap admin.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::startup::IngressState;

/// Proof that the request carried the admin token. Take it as a handler argument.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuth;

impl FromRequestParts<IngressState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &IngressState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.config.admin_token.as_ref() else {
            return Err(ApiError::Unauthorized(
                "the admin API is disabled: ADMIN_TOKEN is not configured".into(),
            ));
        };
        let given = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
        if bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
            Ok(AdminAuth)
        } else {
            Err(ApiError::Unauthorized("invalid bearer token".into()))
        }
    }
}
