//! Webhook endpoints, one file per provider ([`whatsapp`], [`telnyx`], [`twilio`], [`gmail`]), each with
//! the same steps: verify the raw body, split it into events, route each to its tenant, publish
//! (or record as unroutable), answer. Every one publishes through [`publish`], so what "accepted"
//! means (confirmed by the broker, or stored in the spool) is decided in one place. [`stored`]
//! routes a recorded unroutable event again, with each provider's own routing (`route_stored`).

pub mod gmail;
pub mod stored;
pub mod telnyx;
pub mod twilio;
pub mod whatsapp;

use switchyard_shared::db::unroutable::{self, NewUnroutable};
use switchyard_shared::domain::TenantId;
use switchyard_shared::envelope::Envelope;

use crate::error::ApiError;
use crate::publish::Accepted;
use crate::startup::IngressState;

/// A verified event that no tenant can take, kept for replay.
#[derive(Debug)]
pub struct Unroutable {
    pub routing_key: String,
    pub reason: &'static str,
    pub payload: serde_json::Value,
    /// The tenant whose own key verified it (`None`: the platform's key or the provider's
    /// token); a replay may route it to that tenant only.
    pub signer: Option<TenantId>,
}

/// Make a request's events durable before it is answered: published with the broker's
/// confirms, or spooled while the broker is unavailable ([`crate::publish`]). An error (503) means
/// they are stored nowhere and the provider must retry.
pub async fn publish(state: &IngressState, envelopes: &[Envelope]) -> Result<(), ApiError> {
    let accepted = state.publisher.publish(envelopes).await?;
    for envelope in envelopes {
        match accepted {
            Accepted::Published => tracing::debug!(tenant_id = %envelope.tenant_id,
                event_id = %envelope.id, channel = %envelope.channel,
                kind = envelope.kind.as_str(), "published"),
            Accepted::Spooled => tracing::info!(tenant_id = %envelope.tenant_id,
                event_id = %envelope.id, channel = %envelope.channel,
                kind = envelope.kind.as_str(), "spooled until the broker takes it"),
        }
    }
    Ok(())
}

/// [`publish`] for a request that carries one event.
pub async fn publish_one(state: &IngressState, envelope: Envelope) -> Result<(), ApiError> {
    publish(state, std::slice::from_ref(&envelope)).await
}

/// Store the unroutable events of one request. Any failure fails the request (503), so the
/// provider retries and nothing is lost.
pub async fn record_unroutable(
    state: &IngressState,
    provider: &str,
    events: &[Unroutable],
) -> Result<(), ApiError> {
    for event in events {
        tracing::warn!(provider, routing_key = %event.routing_key, reason = event.reason,
            "event matches no tenant; recorded for replay");
        unroutable::record(
            &state.pool,
            &NewUnroutable {
                provider,
                routing_key: &event.routing_key,
                reason: event.reason,
                payload: &event.payload,
                signer: event.signer,
            },
        )
        .await?;
    }
    Ok(())
}
