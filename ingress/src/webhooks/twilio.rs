//! Legacy Twilio SMS: `POST /webhooks/twilio/sms`, form-encoded.
//!
//! Twilio signs the public URL it called plus the decoded form fields (sorted) with the
//! account's auth token, in `X-Twilio-Signature`. So:
//!
//! 1. decode the fields ([`FormParams`]) — nothing is trusted yet;
//! 2. resolve the tenant by the `To` number (the SMS config's `twilio_phone_number`);
//! 3. verify with the platform's `TWILIO_AUTH_TOKEN`, else the tenant's own auth token, over
//!    the URL Twilio called. The ingress sits behind proxies that change scheme, host and port,
//!    so the URL is `PUBLIC_BASE_URL` + the request's path and query; without that setting it
//!    is rebuilt from `X-Forwarded-Proto` / `Host`;
//! 4. read the message ([`InboundSms`]; 400 with the reason when a verified form is not an
//!    inbound SMS), publish with `twilio:<MessageSid>` as the dedup key, and answer with empty
//!    TwiML once the broker confirmed — or record it as unroutable.
//!
//! Without a platform token, a request for a number no tenant has cannot be verified: 401.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use switchyard_shared::domain::{Channel, ConversationKey, TenantId};
use switchyard_shared::envelope::{Envelope, EventKind, new_traceparent};
use switchyard_shared::payloads::twilio::{FormParams, InboundSms};

use super::stored::{self, FOREIGN_SIGNER, Routed};
use super::{Unroutable, publish_one, record_unroutable};
use crate::error::ApiError;
use crate::routing::{ChannelTenant, phone_key};
use crate::startup::IngressState;
use crate::verify::twilio::{self, SIGNATURE_HEADER};

/// What Twilio gets back: an empty TwiML document (no automatic reply).
const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// The URL Twilio called, as it signed it.
fn public_url(state: &IngressState, headers: &HeaderMap, uri: &Uri) -> String {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_else(|| uri.path());
    if let Some(base) = &state.config.public_base_url {
        return format!("{}{path}", base.trim_end_matches('/'));
    }
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    let host = text(header::HOST).unwrap_or("localhost");
    format!("{scheme}://{host}{path}")
}

/// `POST /webhooks/twilio/sms`
#[tracing::instrument(name = "twilio_webhook", skip_all, fields(bytes = body.len()))]
pub async fn receive_sms(
    State(state): State<IngressState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let signature = headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes());
    if signature.is_none() {
        return Err(ApiError::Unauthorized(format!(
            "missing {SIGNATURE_HEADER} header"
        )));
    }
    let params = FormParams::parse(&body);
    let url = public_url(&state, &headers, &uri);
    let refused = |e: twilio::TwilioSignatureError| ApiError::Unauthorized(e.to_string());

    let to = params.single("To").ok().flatten().unwrap_or_default();
    let key = phone_key(to);
    let tenant = resolve(&state, &key).await?;

    let by_platform = state
        .config
        .twilio_auth_token
        .as_ref()
        .is_some_and(|token| {
            twilio::verify(signature, token.expose().as_bytes(), &url, params.pairs()).is_ok()
        });
    if !by_platform {
        let own = tenant.as_ref().and_then(|t| t.twilio_auth_token.as_ref());
        match own {
            Some(token) => {
                twilio::verify(signature, token.expose().as_bytes(), &url, params.pairs())
                    .map_err(refused)?
            }
            None => return Err(refused(twilio::TwilioSignatureError::WrongSignature)),
        }
    }

    let sms = InboundSms::from_params(params).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let signer = if by_platform {
        None
    } else {
        tenant.as_ref().map(|t| t.tenant_id)
    };
    match route(tenant.as_deref(), key, &sms, signer) {
        Routed::Tenant(envelope) => publish_one(&state, envelope).await?,
        Routed::Unroutable(event) => record_unroutable(&state, "twilio", &[event]).await?,
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml")],
        EMPTY_TWIML,
    )
        .into_response())
}

async fn resolve(
    state: &IngressState,
    key: &str,
) -> Result<Option<std::sync::Arc<ChannelTenant>>, ApiError> {
    state
        .channel_routes
        .resolve(key)
        .await
        .map_err(|e| ApiError::Unavailable(format!("tenant lookup: {e}")))
}

/// Route a stored (unroutable) Twilio message again; see [`stored`].
pub async fn route_stored(
    state: &IngressState,
    payload: &serde_json::Value,
    signer: Option<TenantId>,
) -> Result<Routed, ApiError> {
    let Ok(sms) = InboundSms::from_envelope_payload(payload) else {
        return Ok(stored::unreadable(payload, signer, "not a Twilio message"));
    };
    let key = phone_key(&sms.to);
    let tenant = resolve(state, &key).await?;
    Ok(route(tenant.as_deref(), key, &sms, signer))
}

/// Where a verified message goes: an envelope for `tenant`, the owner of our number `key`, or
/// unroutable with the reason. `signer` is the tenant whose own auth token verified it.
fn route(
    tenant: Option<&ChannelTenant>,
    key: String,
    sms: &InboundSms,
    signer: Option<TenantId>,
) -> Routed {
    let refusal = match tenant {
        None => Some("no tenant has this number"),
        Some(t) if signer.is_some_and(|s| s != t.tenant_id) => Some(FOREIGN_SIGNER),
        Some(t) => t.refusal(Channel::Sms),
    };
    match (tenant, refusal) {
        (Some(tenant), None) => Routed::Tenant(Envelope::new(
            tenant.tenant_id,
            Channel::Sms,
            EventKind::MessageReceived,
            sms.dedup_key().clone(),
            ConversationKey::new(tenant.tenant_id, Channel::Sms, &sms.from),
            new_traceparent(),
            sms.envelope_payload(),
        )),
        (_, reason) => Routed::Unroutable(Unroutable {
            routing_key: key,
            reason: reason.unwrap_or("no tenant has this number"),
            payload: sms.envelope_payload(),
            signer,
        }),
    }
}
