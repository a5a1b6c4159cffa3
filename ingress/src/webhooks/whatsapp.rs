//! WhatsApp Cloud API webhooks.
//!
//! `GET /webhooks/whatsapp` answers Meta's subscription handshake. `POST /webhooks/whatsapp`
//! takes event batches:
//!
//! 1. verify `X-Hub-Signature-256` over the raw body with the platform's app secret
//!    (`WHATSAPP_APP_SECRET`) or, failing that, with the own app secret of a tenant the batch
//!    names;
//! 2. split the batch into one event per message and per status, over all entries and changes
//!    ([`split`]);
//! 3. resolve each event's tenant by `metadata.phone_number_id`, cross-checked with the WABA id;
//! 4. publish the envelopes and wait for every confirm (or spool them while the broker is
//!    unavailable), record the unroutable events, answer 200.
//!
//! An event is accepted for a tenant only if the key that verified the body may speak for that
//! tenant: the platform's key speaks for everyone; a tenant's own key only for that tenant (a
//! tenant cannot inject events into another by signing with its own secret).

mod split;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use switchyard_shared::domain::{Channel, ConversationKey, PhoneNumberId, TenantId};
use switchyard_shared::envelope::{Envelope, new_traceparent};
use switchyard_shared::payloads::whatsapp::WebhookBody;

pub use split::{SplitEvent, split};

use super::stored::{self, Routed};
use super::{Unroutable, publish, record_unroutable};
use crate::error::ApiError;
use crate::routing::WhatsAppTenant;
use crate::startup::IngressState;
use crate::verify::meta::HubSignature;

/// `GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
pub async fn verify_subscription(
    State(state): State<IngressState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expected = state.config.whatsapp_verify_token.as_ref();
    let mode_ok = query.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token_ok = match (expected, query.get("hub.verify_token")) {
        (Some(expected), Some(given)) => {
            bool::from(expected.expose().as_bytes().ct_eq(given.as_bytes()))
        }
        _ => false,
    };
    match query.get("hub.challenge") {
        Some(challenge) if mode_ok && token_ok => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            challenge.clone(),
        )
            .into_response(),
        _ => (StatusCode::FORBIDDEN, "verification failed").into_response(),
    }
}

/// Who vouched for the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    Platform,
    Tenant(TenantId),
}

impl Signer {
    fn speaks_for(&self, tenant: TenantId) -> bool {
        match self {
            Signer::Platform => true,
            Signer::Tenant(own) => *own == tenant,
        }
    }
}

/// `POST /webhooks/whatsapp`
#[tracing::instrument(name = "whatsapp_webhook", skip_all, fields(bytes = body.len()))]
pub async fn receive(
    State(state): State<IngressState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let signature = HubSignature::parse(
        headers
            .get("x-hub-signature-256")
            .map(|value| value.as_bytes()),
    )
    .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let by_platform = state
        .config
        .whatsapp_app_secret
        .as_ref()
        .is_some_and(|secret| signature.matches(secret.expose().as_bytes(), &body));
    // Until the signature is known good, a parse failure is reported as a signature failure:
    // an unauthenticated sender learns nothing about what we accept.
    let unverified = || ApiError::Unauthorized("signature does not match".into());

    let webhook: WebhookBody = match serde_json::from_slice(&body) {
        Ok(webhook) => webhook,
        Err(e) if by_platform => return Err(ApiError::BadRequest(format!("malformed JSON: {e}"))),
        Err(_) => return Err(unverified()),
    };
    let events = match split(&webhook) {
        Ok(events) => events,
        Err(reason) if by_platform => return Err(ApiError::BadRequest(reason)),
        Err(_) => return Err(unverified()),
    };

    let routes = resolve_all(&state, &events).await?;
    let signer = if by_platform {
        Signer::Platform
    } else {
        routes
            .values()
            .flatten()
            .find(|t| {
                t.app_secret
                    .as_ref()
                    .is_some_and(|s| signature.matches(s.expose().as_bytes(), &body))
            })
            .map(|t| Signer::Tenant(t.tenant_id()))
            .ok_or_else(unverified)?
    };

    let traceparent = new_traceparent();
    let mut envelopes = Vec::with_capacity(events.len());
    let mut unroutable = Vec::new();
    for event in events {
        match route(event, &routes, signer, &traceparent) {
            Routed::Tenant(envelope) => envelopes.push(envelope),
            Routed::Unroutable(event) => unroutable.push(event),
        }
    }

    publish(&state, &envelopes).await?;
    record_unroutable(&state, "whatsapp", &unroutable).await?;
    Ok(StatusCode::OK)
}

/// Route a stored (unroutable) event again; see [`stored`]. The payload is a single-event
/// webhook body, as [`split`] made it.
pub async fn route_stored(
    state: &IngressState,
    payload: &serde_json::Value,
    signer: Option<TenantId>,
) -> Result<Routed, ApiError> {
    let unreadable = || stored::unreadable(payload, signer, "not a WhatsApp event");
    let Ok(webhook) = WebhookBody::deserialize(payload) else {
        return Ok(unreadable());
    };
    let Ok(mut events) = split(&webhook) else {
        return Ok(unreadable());
    };
    let (Some(event), None) = (events.pop(), events.pop()) else {
        return Ok(unreadable());
    };
    let routes = resolve_all(state, std::slice::from_ref(&event)).await?;
    let signer = signer.map_or(Signer::Platform, Signer::Tenant);
    Ok(route(event, &routes, signer, &new_traceparent()))
}

/// Where one event of a verified batch goes: an envelope for the tenant that owns its
/// `phone_number_id` (found in `routes`), or unroutable with the reason.
fn route(
    event: SplitEvent,
    routes: &HashMap<String, Option<Arc<WhatsAppTenant>>>,
    signer: Signer,
    traceparent: &str,
) -> Routed {
    let route = event
        .phone_number_id
        .as_deref()
        .and_then(|key| routes.get(key))
        .and_then(Option::as_ref);
    let refused = match route {
        None if event.phone_number_id.is_none() => {
            Some("the notification names no phone_number_id (account-level)")
        }
        None => Some("no tenant has this phone_number_id"),
        Some(t) if t.route.waba_id != event.waba_id => {
            Some("WABA id does not match the tenant's configuration")
        }
        Some(t) if !signer.speaks_for(t.tenant_id()) => {
            Some("signed with an app secret that does not belong to this tenant")
        }
        Some(t) if !t.route.is_active => Some("the tenant's WhatsApp channel is inactive"),
        Some(_) => None,
    };
    match (refused, route) {
        (None, Some(tenant)) => {
            let tenant_id = tenant.tenant_id();
            Routed::Tenant(Envelope::new(
                tenant_id,
                Channel::Whatsapp,
                event.kind,
                event.dedup_key,
                ConversationKey::new(tenant_id, Channel::Whatsapp, &event.contact),
                traceparent.to_owned(),
                event.payload,
            ))
        }
        (reason, _) => Routed::Unroutable(Unroutable {
            routing_key: event
                .phone_number_id
                .unwrap_or_else(|| format!("waba:{}", event.waba_id)),
            reason: reason.unwrap_or("no tenant has this phone_number_id"),
            payload: event.payload,
            signer: match signer {
                Signer::Platform => None,
                Signer::Tenant(tenant) => Some(tenant),
            },
        }),
    }
}

/// Resolve every distinct, well-formed `phone_number_id` of the batch once.
async fn resolve_all(
    state: &IngressState,
    events: &[SplitEvent],
) -> Result<HashMap<String, Option<Arc<WhatsAppTenant>>>, ApiError> {
    let mut routes = HashMap::new();
    for key in events.iter().filter_map(|e| e.phone_number_id.as_deref()) {
        if routes.contains_key(key) {
            continue;
        }
        let resolved = match PhoneNumberId::parse(key) {
            Ok(id) => state
                .whatsapp_routes
                .resolve(&id)
                .await
                .map_err(|e| ApiError::Unavailable(format!("tenant lookup: {e}")))?,
            Err(_) => None,
        };
        routes.insert(key.to_owned(), resolved);
    }
    Ok(routes)
}
