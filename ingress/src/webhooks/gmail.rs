//! Gmail notifications through Google Pub/Sub push: `POST /webhooks/gmail`.
//!
//! 1. verify the push subscription's OIDC token in `Authorization` — signed by Google (keys
//!    from `GOOGLE_CERTS_URL`, cached), for our audience, from our push service account
//!    ([`PushAuthPolicy`]); 401 otherwise, 503 when Google's keys cannot be fetched (Pub/Sub
//!    retries);
//! 2. read the push body and the Gmail notification in `message.data` (`emailAddress`,
//!    `historyId`); 400 with the reason when it is not one;
//! 3. resolve the tenant by the connected address (the `email` config's routing key);
//! 4. publish with `pubsub:<messageId>` as the dedup key and the mailbox as the ordering key,
//!    so one mailbox's notifications are applied one at a time, in order — or record it as
//!    unroutable. Either way the answer is 204, which Pub/Sub counts as an acknowledgement,
//!    and only once the event is stored.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use chrono::Utc;
use serde_json::json;
use switchyard_shared::domain::{Channel, ConversationKey, DedupKey};
use switchyard_shared::envelope::{Envelope, EventKind, new_traceparent};
use switchyard_shared::payloads::pubsub::{PushMessage, message_dedup_key};

use super::stored::{self, Routed};
use super::{Unroutable, publish_one, record_unroutable};
use crate::error::ApiError;
use crate::startup::IngressState;

/// `POST /webhooks/gmail`
#[tracing::instrument(name = "gmail_push", skip_all, fields(bytes = body.len()))]
pub async fn receive(
    State(state): State<IngressState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Some(policy) = state.gmail_push.as_ref() else {
        return Err(ApiError::Unavailable(
            "Gmail push is not configured (PUBSUB_PUSH_AUDIENCE, PUBSUB_PUSH_SERVICE_ACCOUNT)"
                .into(),
        ));
    };
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    policy
        .verify(&state.google_keys, authorization, Utc::now())
        .await
        .map_err(|e| {
            if e.is_transient() {
                ApiError::Unavailable(e.to_string())
            } else {
                ApiError::Unauthorized(e.to_string())
            }
        })?;
    let push = PushMessage::parse(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let notification = push
        .gmail_notification()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let address = notification.email_address.trim().to_lowercase();
    let payload = json!({
        "provider": "gmail",
        "message_id": push.message_id(),
        "email_address": address,
        "history_id": notification.history_id,
        "publish_time": push.publish_time(),
    });
    match route(&state, &address, push.dedup_key().clone(), payload).await? {
        Routed::Tenant(envelope) => publish_one(&state, envelope).await?,
        Routed::Unroutable(event) => record_unroutable(&state, "gmail", &[event]).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Route a stored (unroutable) notification again; see [`stored`]. The payload is the one
/// [`receive`] built.
pub async fn route_stored(
    state: &IngressState,
    payload: &serde_json::Value,
) -> Result<Routed, ApiError> {
    let text = |field: &str| payload.get(field).and_then(serde_json::Value::as_str);
    let dedup_key = text("message_id").and_then(|id| message_dedup_key(id).ok());
    let (Some(dedup_key), Some(address)) = (dedup_key, text("email_address")) else {
        return Ok(stored::unreadable(
            payload,
            None,
            "not a Gmail notification",
        ));
    };
    route(state, address, dedup_key, payload.clone()).await
}

/// Where a notification for mailbox `address` goes: an envelope for the tenant that connected
/// it, or unroutable with the reason.
async fn route(
    state: &IngressState,
    address: &str,
    dedup_key: DedupKey,
    payload: serde_json::Value,
) -> Result<Routed, ApiError> {
    let key = format!("email:{address}");
    let tenant = state
        .channel_routes
        .resolve(&key)
        .await
        .map_err(|e| ApiError::Unavailable(format!("tenant lookup: {e}")))?;
    let refusal = match &tenant {
        None => Some("no tenant has connected this mailbox"),
        Some(t) => t.refusal(Channel::Email),
    };
    Ok(match (tenant, refusal) {
        (Some(tenant), None) => Routed::Tenant(Envelope::new(
            tenant.tenant_id,
            Channel::Email,
            EventKind::MailboxChanged,
            dedup_key,
            ConversationKey::new(tenant.tenant_id, Channel::Email, address),
            new_traceparent(),
            payload,
        )),
        (_, reason) => Routed::Unroutable(Unroutable {
            routing_key: key,
            reason: reason.unwrap_or("no tenant has connected this mailbox"),
            payload,
            // Google's push token vouches for every notification, not a tenant's key.
            signer: None,
        }),
    })
}
