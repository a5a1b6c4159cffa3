//! Tools a tenant's voice assistant calls during a live call (Telnyx AI assistant "webhook
//! tools"): `POST /tools/{tenant}/send-sms` and `POST /tools/{tenant}/business-info`.
//!
//! The path names the tenant (its slug or id) — there is never a default tenant — and every
//! call carries the tenant's tool secret (`tool_secret` of its voice channel config) as
//! `Authorization: Bearer <secret>`. Unknown tenant: 404; missing or wrong secret, or none
//! configured: 401.
//!
//! The assistant waits for the answer while the caller listens, so a tool does no provider call
//! of its own: `send-sms` only writes the message to the outbox (one short transaction) and
//! answers 202; the outbox relay sends it through the tenant's SMS channel moments later, with
//! the outbox row id as Telnyx's `Idempotency-Key`. An `Idempotency-Key` header on the tool
//! call makes a retried call queue nothing new.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use switchyard_shared::db::outbox::{self, NewOutbound};
use switchyard_shared::db::{TenantTx, channel_configs, tenants};
use switchyard_shared::domain::{Channel, E164Number, TenantId, TenantSlug};
use switchyard_shared::tenancy::channel_secrets_context;
use uuid::Uuid;

use crate::admin::JsonBody;
use crate::error::ApiError;
use crate::startup::IngressState;

/// The longest text a tool may send (10 concatenated SMS segments).
const MAX_SMS_CHARS: usize = 1600;

/// The tenant named in the path, once its tool secret matched.
async fn authorize(
    state: &IngressState,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<TenantId, ApiError> {
    let not_found = || ApiError::NotFound("no such tenant".into());
    let tenant_id = match tenant.parse::<TenantId>() {
        Ok(id) => id,
        Err(_) => {
            let slug = TenantSlug::parse(tenant).map_err(|_| not_found())?;
            tenants::id_by_slug(&state.pool, &slug)
                .await?
                .ok_or_else(not_found)?
        }
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("missing bearer tool secret".into()))?;
    let mut tx = TenantTx::begin(&state.pool, tenant_id).await?;
    let exists = tenants::get(&mut tx).await?.is_some();
    let voice = channel_configs::get(&mut tx, Channel::Voice).await?;
    tx.commit().await?;
    if !exists {
        return Err(not_found());
    }
    let sealed = voice
        .as_ref()
        .and_then(|v| v.secrets.get("tool_secret"))
        .and_then(|v| v.as_str())
        .ok_or_else(|| ApiError::Unauthorized("the tenant has no tool secret configured".into()))?;
    let expected = state
        .secrets
        .open(
            sealed,
            &format!(
                "{}:tool_secret",
                channel_secrets_context(Channel::Voice, tenant_id)
            ),
        )
        .map_err(|e| ApiError::Internal(format!("tool secret of {tenant_id}: {e}")))?;
    if bool::from(expected.expose().as_bytes().ct_eq(presented.as_bytes())) {
        Ok(tenant_id)
    } else {
        Err(ApiError::Unauthorized("wrong tool secret".into()))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendSms {
    /// The recipient, E.164.
    pub to: String,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct Queued {
    pub status: &'static str,
    /// The outbox row; absent when an earlier call with the same `Idempotency-Key` queued it.
    pub outbox_id: Option<Uuid>,
}

/// `POST /tools/{tenant}/send-sms` → 202: the SMS is queued.
#[tracing::instrument(name = "tool_send_sms", skip_all, fields(tenant = %tenant))]
pub async fn send_sms(
    State(state): State<IngressState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SendSms>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let tenant_id = authorize(&state, &tenant, &headers).await?;
    let to = E164Number::parse(&body.to).map_err(|e| ApiError::field("to", e.reason))?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > MAX_SMS_CHARS {
        return Err(ApiError::field("text", "must be 1-1600 characters"));
    }
    let key = match headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        Some(key) if !key.is_empty() && key.len() <= 200 => format!("tool:{key}"),
        Some(_) => {
            return Err(ApiError::field(
                "Idempotency-Key",
                "must be 1-200 characters",
            ));
        }
        None => format!("tool:{}", Uuid::now_v7()),
    };
    let mut tx = TenantTx::begin(&state.pool, tenant_id).await?;
    if channel_configs::get(&mut tx, Channel::Sms).await?.is_none() {
        return Err(ApiError::Conflict(
            "the tenant has no SMS channel to send from".into(),
        ));
    }
    let outbox_id = outbox::enqueue(
        &mut tx,
        &NewOutbound {
            channel: Channel::Sms,
            conversation_id: None,
            contact_id: None,
            idempotency_key: &key,
            request: json!({ "to": to.as_str(), "text": text }),
            source_event_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant_id, ?outbox_id, "assistant queued an SMS");
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            status: "queued",
            outbox_id,
        }),
    ))
}

#[derive(Debug, Serialize)]
pub struct BusinessInfo {
    pub name: String,
    pub welcome_text: Option<String>,
    /// The tenant's `metadata`: its business profile (hours, address, links, …).
    pub profile: serde_json::Value,
}

/// `POST /tools/{tenant}/business-info`: what the assistant may tell callers.
#[tracing::instrument(name = "tool_business_info", skip_all, fields(tenant = %tenant))]
pub async fn business_info(
    State(state): State<IngressState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<BusinessInfo>, ApiError> {
    let tenant_id = authorize(&state, &tenant, &headers).await?;
    let mut tx = TenantTx::begin(&state.pool, tenant_id).await?;
    let found = tenants::get(&mut tx).await?;
    tx.commit().await?;
    let tenant = found.ok_or_else(|| ApiError::NotFound("no such tenant".into()))?;
    Ok(Json(BusinessInfo {
        name: tenant.name,
        welcome_text: tenant.welcome_text,
        profile: tenant.metadata,
    }))
}
