//! Telnyx webhooks: messaging (SMS/MMS), Call Control and the AI assistant, all on
//! `POST /webhooks/telnyx`, all signed the same way.
//!
//! 1. verify `telnyx-signature-ed25519` over `telnyx-timestamp|body` with the platform's public
//!    key (`TELNYX_PUBLIC_KEY`) or, failing that, with the key of the tenant the event names
//!    (a tenant on a Telnyx account of its own); a timestamp more than 300 s off is refused;
//! 2. read the v2 envelope: one event per request ([`Webhook`]);
//! 3. resolve the tenant: messaging by our number (`to[0]` inbound, `from` on status events),
//!    calls by the Call Control connection and then our number;
//! 4. publish with the event's `data.id` as the dedup key, wait for the confirm, answer 200 —
//!    or record the event as unroutable (also 200) when no active channel of a tenant claims
//!    it.
//!
//! As on WhatsApp, a tenant's own key speaks only for that tenant, and until the signature is
//! known good a malformed body is answered like a bad signature.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use chrono::Utc;
use std::sync::Arc;
use switchyard_shared::domain::{Channel, ConversationKey, TenantId};
use switchyard_shared::envelope::{Envelope, new_traceparent};
use switchyard_shared::payloads::telnyx::{Event, Routing, Webhook};

use super::stored::{self, FOREIGN_SIGNER, Routed};
use super::{Unroutable, publish_one, record_unroutable};
use crate::error::ApiError;
use crate::routing::{ChannelTenant, phone_key};
use crate::startup::IngressState;
use crate::verify::telnyx::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, TelnyxSignature, TelnyxSignatureError,
};

/// The tenant an event belongs to, and under which key it was found.
struct Resolved {
    key: String,
    tenant: Option<Arc<ChannelTenant>>,
}

async fn resolve(state: &IngressState, routing: &Routing) -> Result<Resolved, ApiError> {
    let candidates: Vec<String> = match routing {
        Routing::Messaging { our_number, .. } => vec![phone_key(our_number)],
        Routing::Voice {
            connection_id,
            our_number,
            ..
        } => connection_id
            .iter()
            .map(|c| format!("telnyx-connection:{c}"))
            .chain(our_number.iter().map(|n| phone_key(n)))
            .collect(),
    };
    let mut first = None;
    for key in candidates {
        let tenant = state
            .channel_routes
            .resolve(&key)
            .await
            .map_err(|e| ApiError::Unavailable(format!("tenant lookup: {e}")))?;
        if tenant.is_some() {
            return Ok(Resolved { key, tenant });
        }
        first.get_or_insert(key);
    }
    Ok(Resolved {
        key: first.unwrap_or_else(|| "telnyx:no-routing-key".into()),
        tenant: None,
    })
}

/// `POST /webhooks/telnyx`
#[tracing::instrument(name = "telnyx_webhook", skip_all, fields(bytes = body.len()))]
pub async fn receive(
    State(state): State<IngressState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes());
    let refused = |e: TelnyxSignatureError| ApiError::Unauthorized(e.to_string());
    let signature = TelnyxSignature::parse(header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER))
        .map_err(refused)?;
    let now = Utc::now();
    let by_platform = match &state.telnyx_public_key {
        Some(key) => match signature.verify(key, &body, now) {
            Ok(()) => true,
            Err(e @ (TelnyxSignatureError::Stale | TelnyxSignatureError::Future)) => {
                return Err(refused(e));
            }
            Err(_) => false,
        },
        None => false,
    };
    let unverified = || refused(TelnyxSignatureError::WrongSignature);

    let webhook = match Webhook::parse(&body) {
        Ok(webhook) => webhook,
        Err(e) if by_platform => return Err(ApiError::BadRequest(e.to_string())),
        Err(_) => return Err(unverified()),
    };
    let routing = match webhook.routing() {
        Ok(routing) => routing,
        Err(e) if by_platform => return Err(ApiError::BadRequest(e.to_string())),
        Err(_) => return Err(unverified()),
    };
    let resolved = match &routing {
        Some(routing) => Some(resolve(&state, routing).await?),
        None => None,
    };
    let tenant = resolved.as_ref().and_then(|r| r.tenant.as_ref());
    if !by_platform {
        // Only the tenant's own key can vouch now, and only for its own events.
        let own_key = tenant.and_then(|t| t.telnyx_public_key.as_ref());
        match own_key {
            Some(key) => signature.verify(key, &body, now).map_err(refused)?,
            None => return Err(unverified()),
        }
    }

    let payload: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let signer = if by_platform {
        None
    } else {
        tenant.map(|t| t.tenant_id)
    };
    match route(&webhook, routing.as_ref(), resolved, payload, signer) {
        Routed::Tenant(envelope) => publish_one(&state, envelope).await?,
        Routed::Unroutable(event) => record_unroutable(&state, "telnyx", &[event]).await?,
    }
    Ok(StatusCode::OK)
}

/// Route a stored (unroutable) Telnyx event again; see [`stored`].
pub async fn route_stored(
    state: &IngressState,
    payload: &serde_json::Value,
    signer: Option<TenantId>,
) -> Result<Routed, ApiError> {
    let unreadable = || stored::unreadable(payload, signer, "not a Telnyx webhook");
    let body = serde_json::to_vec(payload).map_err(|e| ApiError::Internal(e.to_string()))?;
    let Ok(webhook) = Webhook::parse(&body) else {
        return Ok(unreadable());
    };
    let Ok(routing) = webhook.routing() else {
        return Ok(unreadable());
    };
    let resolved = match &routing {
        Some(routing) => Some(resolve(state, routing).await?),
        None => None,
    };
    Ok(route(
        &webhook,
        routing.as_ref(),
        resolved,
        payload.clone(),
        signer,
    ))
}

/// Where a verified event goes: an envelope for the tenant `resolved` names, or unroutable
/// with the reason. `signer` is the tenant whose own key verified it (`None`: the platform's).
fn route(
    webhook: &Webhook<'_>,
    routing: Option<&Routing>,
    resolved: Option<Resolved>,
    payload: serde_json::Value,
    signer: Option<TenantId>,
) -> Routed {
    let tenant = resolved.as_ref().and_then(|r| r.tenant.as_ref());
    let channel = webhook.event_type().channel();
    let refusal = match (tenant, channel) {
        (_, None) => Some("event type is neither messaging nor voice"),
        (None, Some(Channel::Voice)) => Some("no tenant has this connection or number"),
        (None, _) => Some("no tenant has this number"),
        (Some(t), _) if signer.is_some_and(|s| s != t.tenant_id) => Some(FOREIGN_SIGNER),
        (Some(t), Some(channel)) => t.refusal(channel),
    };
    let (Some(tenant), Some(channel), None) = (tenant, channel, refusal) else {
        return Routed::Unroutable(Unroutable {
            routing_key: resolved
                .map(|r| r.key)
                .unwrap_or_else(|| format!("telnyx-event:{}", webhook.event_type())),
            reason: refusal.unwrap_or("no tenant"),
            payload,
            signer,
        });
    };
    let contact = conversation_contact(webhook, routing, tenant);
    Routed::Tenant(Envelope::new(
        tenant.tenant_id,
        channel,
        webhook.envelope_kind(),
        webhook.dedup_key().clone(),
        ConversationKey::new(tenant.tenant_id, channel, &contact),
        new_traceparent(),
        payload,
    ))
}

/// Whose conversation the event belongs to: the customer's number. A call event that does not
/// say which way the call goes (`call.hangup`, the assistant's events) names both parties; the
/// one that is not among the tenant's numbers is the customer. All events of a call then share
/// the caller's key, so they stay in order. Failing that, the call session keys the event.
fn conversation_contact(
    webhook: &Webhook<'_>,
    routing: Option<&Routing>,
    tenant: &ChannelTenant,
) -> String {
    let leg = match webhook.event() {
        Ok(
            Event::CallInitiated(leg, _)
            | Event::CallAnswered(leg, _)
            | Event::CallHangup(leg, _)
            | Event::ConversationEnded(leg, _)
            | Event::InsightsGenerated(leg, _),
        ) => Some(leg),
        _ => None,
    };
    match routing {
        Some(Routing::Messaging { contact, .. })
        | Some(Routing::Voice {
            contact: Some(contact),
            ..
        }) => return contact.clone(),
        _ => {}
    }
    let Some(leg) = leg else {
        return format!("event:{}", webhook.event_id());
    };
    tenant
        .numbers
        .iter()
        .find_map(|ours| leg.remote_party_given(ours))
        .map(str::to_owned)
        .or_else(|| leg.call_session_id.as_ref().map(|s| format!("call:{s}")))
        .unwrap_or_else(|| format!("event:{}", webhook.event_id()))
}
