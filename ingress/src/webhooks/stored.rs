//! Routing a stored unroutable event again, once an admin has configured its tenant.
//!
//! Each provider's file exposes `route_stored`, which reads the stored payload (what its
//! webhook handler recorded: the provider's JSON for exactly this event, or for Twilio and
//! Gmail the fields it read) and runs the same routing code as the webhook: the same tenant
//! lookup, the same refusals (an inactive channel, a WABA id that does not match), and the
//! same dedup key — so replaying an event that was applied some other way changes nothing.
//!
//! The signature is not checked again: the event was verified when it arrived. Who verified
//! it still counts, though: an event vouched for by a tenant's own key goes to that tenant or
//! nowhere.

use switchyard_shared::db::unroutable::UnroutableEvent;
use switchyard_shared::domain::TenantId;
use switchyard_shared::envelope::Envelope;

use super::{Unroutable, gmail, telnyx, twilio, whatsapp};
use crate::error::ApiError;
use crate::startup::IngressState;

/// Where a verified event goes.
#[derive(Debug)]
pub enum Routed {
    /// A tenant takes it: publish this.
    Tenant(Envelope),
    /// Still no tenant, and why.
    Unroutable(Unroutable),
}

/// Why a Telnyx or Twilio event is refused for the tenant that claims its number.
pub const FOREIGN_SIGNER: &str = "verified with another tenant's own key";

/// Route a recorded unroutable event again. `Err` only when a dependency is down (the tenant
/// lookup); an event that still matches no tenant is `Ok(Routed::Unroutable(..))`.
pub async fn route(state: &IngressState, event: &UnroutableEvent) -> Result<Routed, ApiError> {
    let signer = event.signer();
    match event.provider.as_str() {
        "whatsapp" => whatsapp::route_stored(state, &event.payload, signer).await,
        "telnyx" => telnyx::route_stored(state, &event.payload, signer).await,
        "twilio" => twilio::route_stored(state, &event.payload, signer).await,
        "gmail" => gmail::route_stored(state, &event.payload).await,
        _ => Ok(unreadable(
            &event.payload,
            signer,
            "no routing for this provider",
        )),
    }
}

/// A stored payload that no configuration can route (the provider's routing cannot read it).
pub(super) fn unreadable(
    payload: &serde_json::Value,
    signer: Option<TenantId>,
    reason: &'static str,
) -> Routed {
    Routed::Unroutable(Unroutable {
        routing_key: "unreadable".into(),
        reason,
        payload: payload.clone(),
        signer,
    })
}
