//! One error type for every HTTP handler, and the one place it becomes a response.
//!
//! Every error body has the same shape:
//! `{"error": {"code": "<machine code>", "message": "<for a human>", "fields": {…}?}}`.
//! Internal details (database errors, broker errors) are logged, never sent.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchyard_shared::db::DbError;
use switchyard_shared::queue::QueueError;
use switchyard_shared::tenancy::TenancyError;

use crate::publish::PublishError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("the body is larger than the limit")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("request body is invalid")]
    Validation(BTreeMap<String, String>),
    /// A provider (e.g. Meta) refused a call made on the caller's behalf.
    #[error("{message}")]
    Provider { message: String, provider_code: i64 },
    /// A dependency (database, broker) is down; the provider should retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// The body of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `forbidden`, `not_found`, `bad_request`, `conflict`,
    /// `too_many_requests`, `payload_too_large`, `unsupported_media_type`, `validation_failed`,
    /// `provider_error`, `unavailable`, `internal`.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    /// For a human.
    pub message: String,
    /// One message per invalid field (`validation_failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// The provider's own error code (`provider_error` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<i64>,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::Provider { .. } => (StatusCode::BAD_GATEWAY, "provider_error"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// A 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.to_owned(), message.into())]))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error".to_owned()
            }
            Self::Unavailable(detail) => {
                tracing::warn!(%detail, "dependency unavailable");
                "temporarily unavailable, retry later".to_owned()
            }
            other => other.to_string(),
        };
        let provider_code = match &self {
            Self::Provider { provider_code, .. } => Some(*provider_code),
            _ => None,
        };
        let fields = match self {
            Self::Validation(fields) => Some(fields),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                fields,
                provider_code,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict { constraint } => {
                ApiError::Conflict(format!("already exists ({constraint})"))
            }
            DbError::MissingReference { constraint } if constraint.ends_with("tenant_id_fkey") => {
                ApiError::NotFound("no such tenant".into())
            }
            DbError::MissingReference { constraint } => ApiError::NotFound(format!(
                "a referenced resource does not exist ({constraint})"
            )),
            e if e.is_transient() => ApiError::Unavailable(e.to_string()),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<TenancyError> for ApiError {
    fn from(e: TenancyError) -> Self {
        match e {
            TenancyError::Db(db) => db.into(),
            TenancyError::Secrets(s) => ApiError::Internal(s.to_string()),
            TenancyError::NoSuchTenant => ApiError::NotFound("no such tenant".into()),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => ApiError::field("body", e.body_text()),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}
