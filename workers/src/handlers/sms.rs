//! Applying SMS events. Two providers feed the `sms` channel, told apart by the envelope's
//! payload:
//!
//! - Telnyx messaging: the whole verified webhook (`{"data": {…}, "meta": {…}}`).
//!   `message.received` is a customer's SMS/MMS; `message.sent` and `message.finalized` report
//!   how far a message we sent got, per recipient (`to[].status`).
//! - Legacy Twilio numbers: `{"provider": "twilio", "params": {…}}`, inbound messages only.
//!
//! An inbound message becomes a contact (found by phone number, created if new), the
//! contact's `sms` conversation and the message (text, and MMS media URLs in `media`); a
//! contact's first message queues the tenant's welcome text, as on WhatsApp.
//!
//! Receipts find the outbound message by its Telnyx id — the id the send returned, which the
//! outbox records — and move its status forward only, by Telnyx's rule
//! ([`DeliveryStatus::may_replace`]): `sent`, then `delivered`, or `failed` (with Telnyx's
//! errors) for any of the failure statuses; `queued` and `sending` are not stored states.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use switchyard_shared::db::messages::{
    self, DeliveryStatus as Stored, InboundMessage, StatusUpdate,
};
use switchyard_shared::db::{TenantTx, contacts, conversations};
use switchyard_shared::domain::{Channel, E164Number};
use switchyard_shared::envelope::{Envelope, EventKind};
use switchyard_shared::payloads::telnyx::{DeliveryStatus, Event, Message, MessageType, Webhook};
use switchyard_shared::payloads::twilio::InboundSms;

use super::{Answerable, Applied, HandleError, permanent};

/// Apply one SMS envelope inside `tx` (whose dedup key the caller has claimed).
pub async fn apply(tx: &mut TenantTx, envelope: &Envelope) -> Result<Applied, HandleError> {
    if InboundSms::is_envelope_payload(&envelope.payload) {
        return apply_twilio(tx, envelope).await;
    }
    let body = serde_json::to_vec(&envelope.payload).map_err(|e| permanent("payload", e))?;
    let webhook = Webhook::parse(&body).map_err(|e| permanent("payload", e))?;
    match webhook.event().map_err(|e| permanent("payload", e))? {
        Event::MessageReceived(message) => {
            let media: Vec<Value> = message
                .media
                .iter()
                .map(|m| json!({ "url": m.url, "content_type": m.content_type }))
                .collect();
            let mms = message.message_type == Some(MessageType::Mms) || !media.is_empty();
            let inbound = Inbound {
                provider_message_id: &message.id,
                from: message.sender().unwrap_or_default(),
                text: message.text.as_deref(),
                mms,
                media,
                at: message.received_at.or(webhook.occurred_at()),
                raw: envelope
                    .payload
                    .pointer("/data/payload")
                    .unwrap_or(&Value::Null),
            };
            apply_inbound(tx, inbound).await
        }
        Event::MessageSent(message) | Event::MessageFinalized(message) => {
            apply_status(tx, &webhook, &message, &envelope.payload).await?;
            Ok(Applied::default())
        }
        _ => {
            tracing::info!(event_type = %webhook.event_type(), "Telnyx event kept without action");
            Ok(Applied::default())
        }
    }
}

async fn apply_twilio(tx: &mut TenantTx, envelope: &Envelope) -> Result<Applied, HandleError> {
    if envelope.kind != EventKind::MessageReceived {
        tracing::info!(
            kind = envelope.kind.as_str(),
            "Twilio event kept without action"
        );
        return Ok(Applied::default());
    }
    let sms = InboundSms::from_envelope_payload(&envelope.payload)
        .map_err(|e| permanent("Twilio payload", e))?;
    let media: Vec<Value> = sms
        .media
        .iter()
        .map(|m| json!({ "url": m.url, "content_type": m.content_type }))
        .collect();
    let inbound = Inbound {
        provider_message_id: &sms.message_sid,
        from: &sms.from,
        text: Some(sms.body.as_str()),
        mms: !media.is_empty(),
        media,
        // Twilio's form has no time of its own.
        at: Some(envelope.received_at),
        raw: envelope.payload.get("params").unwrap_or(&Value::Null),
    };
    apply_inbound(tx, inbound).await
}

/// An inbound SMS or MMS, whichever provider brought it.
struct Inbound<'a> {
    provider_message_id: &'a str,
    /// The customer's number.
    from: &'a str,
    text: Option<&'a str>,
    mms: bool,
    /// `[{url, content_type}]`.
    media: Vec<Value>,
    at: Option<DateTime<Utc>>,
    raw: &'a Value,
}

async fn apply_inbound(tx: &mut TenantTx, inbound: Inbound<'_>) -> Result<Applied, HandleError> {
    let phone = E164Number::parse(inbound.from).map_err(|e| permanent("sender", e))?;
    let (contact_id, first_contact) = contacts::upsert_phone(tx, &phone).await?;
    let at = inbound.at.unwrap_or_else(Utc::now);
    let conversation_id = conversations::upsert(tx, contact_id, Channel::Sms, Some(at)).await?;
    let stored = messages::insert_inbound(
        tx,
        &InboundMessage {
            conversation_id,
            contact_id,
            channel: Channel::Sms,
            provider_message_id: inbound.provider_message_id,
            message_type: if inbound.mms { "mms" } else { "sms" },
            body: inbound.text.filter(|t| !t.is_empty()),
            media: (!inbound.media.is_empty()).then_some(Value::Array(inbound.media)),
            reply_to_provider_id: None,
            provider_timestamp: inbound.at,
            raw: inbound.raw,
        },
    )
    .await?;

    let mut applied = Applied::default();
    if stored {
        applied.answerable.push(Answerable {
            conversation_id,
            contact_id,
            provider_message_id: inbound.provider_message_id.to_owned(),
            first_contact,
            text: inbound.text.unwrap_or_default().to_owned(),
            button_id: None,
        });
    }
    Ok(applied)
}

/// The stored state a Telnyx status becomes; `None` for the steps before `sent`.
fn stored(status: DeliveryStatus) -> Option<Stored> {
    match status {
        DeliveryStatus::Queued | DeliveryStatus::Sending => None,
        DeliveryStatus::Sent => Some(Stored::Sent),
        DeliveryStatus::Delivered => Some(Stored::Delivered),
        _ => Some(Stored::Failed),
    }
}

/// The Telnyx status a stored state stands for (any failure is terminal, like
/// `delivery_failed`).
fn as_telnyx(stored: &str) -> Option<DeliveryStatus> {
    match stored {
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" | "read" => Some(DeliveryStatus::Delivered),
        "failed" => Some(DeliveryStatus::DeliveryFailed),
        _ => None,
    }
}

async fn apply_status(
    tx: &mut TenantTx,
    webhook: &Webhook<'_>,
    message: &Message<'_>,
    payload: &Value,
) -> Result<(), HandleError> {
    // We send to one recipient per message, so its status is the message's.
    let Some(status) = message.to.iter().find_map(|r| r.delivery_status()) else {
        tracing::info!(message_id = %message.id, "Telnyx receipt without a delivery status");
        return Ok(());
    };
    let Some(new) = stored(status) else {
        tracing::debug!(%status, "Telnyx status before sent kept without action");
        return Ok(());
    };
    let current = messages::status_of(tx, &message.id).await?;
    if !DeliveryStatus::may_replace(current.as_deref().and_then(as_telnyx), status) {
        tracing::debug!(%status, ?current, "late Telnyx receipt; status kept");
        return Ok(());
    }
    let at = match new {
        Stored::Sent => message.sent_at,
        _ => message.completed_at,
    }
    .or(webhook.occurred_at())
    .unwrap_or_else(Utc::now);
    let error = payload
        .pointer("/data/payload/errors")
        .filter(|e| e.as_array().is_some_and(|errors| !errors.is_empty()))
        .cloned();
    messages::apply_status(
        tx,
        &StatusUpdate {
            channel: Channel::Sms,
            provider_message_id: &message.id,
            status: new,
            at,
            error,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telnyx_statuses_map_onto_stored_states_and_back() {
        assert_eq!(stored(DeliveryStatus::Queued), None);
        assert_eq!(stored(DeliveryStatus::Sent), Some(Stored::Sent));
        assert_eq!(stored(DeliveryStatus::Delivered), Some(Stored::Delivered));
        for failure in [
            DeliveryStatus::SendingFailed,
            DeliveryStatus::DeliveryFailed,
            DeliveryStatus::DeliveryUnconfirmed,
        ] {
            assert_eq!(stored(failure), Some(Stored::Failed));
            // A stored failure is terminal: nothing replaces it.
            let back = as_telnyx(Stored::Failed.as_str());
            assert!(!DeliveryStatus::may_replace(
                back,
                DeliveryStatus::Delivered
            ));
        }
        for s in [Stored::Sent, Stored::Delivered] {
            let telnyx = as_telnyx(s.as_str()).unwrap();
            assert_eq!(stored(telnyx), Some(s));
        }
        assert_eq!(as_telnyx("received"), None);
    }
}
