//! Telnyx v2 webhooks: messaging (SMS/MMS), voice (Call Control) and AI assistant events.
//!
//! Every Telnyx webhook is one event in the same envelope:
//!
//! ```text
//! { "data": { "record_type": "event", "id": "<event uuid>", "event_type": "<name>",
//!             "occurred_at": "<RFC 3339>", "payload": { … } },
//!   "meta": { "attempt": 1, "delivered_to": "<url>" } }
//! ```
//!
//! [`Webhook::parse`] reads the envelope of a verified body and keeps `payload` as raw JSON;
//! the rest follows from it:
//!
//! - [`Webhook::dedup_key`]: `data.id`, unique per event, so redeliveries (`meta.attempt` > 1)
//!   change nothing. (`payload.id` is the *message* id, shared by `message.sent` and
//!   `message.finalized`, so it is not an event identity.)
//! - [`Webhook::envelope_kind`]: inbound message, delivery status, or other.
//! - [`Webhook::routing`]: the tenant's routing keys and the contact of the conversation, per
//!   DESIGN.md — inbound messages by `to[0].phone_number`, status events by
//!   `from.phone_number`, calls by `connection_id` and the number on our side.
//! - [`Webhook::event`]: the typed payload ([`Event`]), for the worker.
//!
//! Event types this build does not know are not errors: they parse as
//! [`EventType::Other`] / [`Event::Other`] and travel on unchanged.
//!
//! The payload shapes live beside this file: [`messaging`](Message) for `message.*`,
//! [`voice`](CallLeg) for `call.*`, and [`DeliveryStatus`] with its ordering rule.

mod de;
mod messaging;
mod status;
mod voice;

pub use messaging::{
    ApiError, Endpoint, ErrorCode, Media, Message, MessageDirection, MessageType, Recipient,
};
pub use status::DeliveryStatus;
pub use voice::{
    CallLeg, CallProgress, ConversationEnded, Direction, InsightResult, InsightsGenerated, Role,
    TranscriptMessage,
};

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::{Channel, DedupKey};
use crate::envelope::EventKind;

/// Why a verified Telnyx body cannot be taken; the message is fit for a 400 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelnyxPayloadError {
    #[error("malformed Telnyx webhook: {0}")]
    Envelope(String),
    #[error("malformed {event_type} payload: {reason}")]
    Payload { event_type: String, reason: String },
    #[error("{event_type} payload has no {what} to route by")]
    NoRoutingKey {
        event_type: String,
        what: &'static str,
    },
}

/// The Telnyx event types Switchyard reads; any other name is kept as [`EventType::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    MessageReceived,
    MessageSent,
    MessageFinalized,
    CallInitiated,
    CallAnswered,
    CallHangup,
    ConversationEnded,
    ConversationInsightsGenerated,
    Other(String),
}

impl EventType {
    const KNOWN: [(Self, &'static str); 8] = [
        (Self::MessageReceived, "message.received"),
        (Self::MessageSent, "message.sent"),
        (Self::MessageFinalized, "message.finalized"),
        (Self::CallInitiated, "call.initiated"),
        (Self::CallAnswered, "call.answered"),
        (Self::CallHangup, "call.hangup"),
        (Self::ConversationEnded, "call.conversation.ended"),
        (
            Self::ConversationInsightsGenerated,
            "call.conversation_insights.generated",
        ),
    ];

    pub fn parse(name: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|(_, known)| *known == name)
            .map_or_else(|| Self::Other(name.to_owned()), |(kind, _)| kind)
    }

    /// Telnyx's name for it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(name) => name,
            known => Self::KNOWN
                .iter()
                .find(|(kind, _)| kind == known)
                .map_or("", |(_, name)| name),
        }
    }

    /// `message.*` events are SMS, `call.*` events voice; anything else has no channel.
    pub fn channel(&self) -> Option<Channel> {
        let name = self.as_str();
        if name.starts_with("message.") {
            Some(Channel::Sms)
        } else if name.starts_with("call.") {
            Some(Channel::Voice)
        } else {
            None
        }
    }

    /// The kind the envelope carries: an inbound message, a delivery status of a message we
    /// sent, or something kept but not acted on.
    pub fn envelope_kind(&self) -> EventKind {
        match self {
            Self::MessageReceived => EventKind::MessageReceived,
            Self::MessageSent | Self::MessageFinalized => EventKind::MessageStatus,
            other if other.channel() == Some(Channel::Voice) => EventKind::Call,
            _ => EventKind::Other,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verified Telnyx webhook, its envelope read. The payload stays raw until asked for.
#[derive(Debug, Clone)]
pub struct Webhook<'a> {
    event_id: Cow<'a, str>,
    dedup_key: DedupKey,
    event_type: EventType,
    occurred_at: Option<DateTime<Utc>>,
    attempt: u32,
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    data: Data<'a>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(default)]
    occurred_at: Option<DateTime<Utc>>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    attempt: Option<u32>,
}

impl<'a> Webhook<'a> {
    /// Read the envelope of a verified body.
    pub fn parse(body: &'a [u8]) -> Result<Self, TelnyxPayloadError> {
        let body: Body<'a> = serde_json::from_slice(body)
            .map_err(|e| TelnyxPayloadError::Envelope(e.to_string()))?;
        if body.data.id.trim().is_empty() {
            return Err(TelnyxPayloadError::Envelope("data.id is empty".into()));
        }
        let dedup_key = DedupKey::from_parts(&["telnyx", &body.data.id])
            .map_err(|e| TelnyxPayloadError::Envelope(format!("data.id: {e}")))?;
        Ok(Self {
            dedup_key,
            event_type: EventType::parse(&body.data.event_type),
            event_id: body.data.id,
            occurred_at: body.data.occurred_at,
            attempt: body.meta.and_then(|m| m.attempt).unwrap_or(1),
            payload: body.data.payload,
        })
    }

    /// `data.id`: Telnyx's identity of this event.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// `telnyx:<data.id>`, the idempotency key of the event.
    pub fn dedup_key(&self) -> &DedupKey {
        &self.dedup_key
    }

    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    pub fn envelope_kind(&self) -> EventKind {
        self.event_type.envelope_kind()
    }

    pub fn occurred_at(&self) -> Option<DateTime<Utc>> {
        self.occurred_at
    }

    /// `meta.attempt`: 1 on first delivery (also when absent).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The payload, typed by event type.
    pub fn event(&self) -> Result<Event<'a>, TelnyxPayloadError> {
        Ok(match self.event_type {
            EventType::MessageReceived => Event::MessageReceived(self.payload()?),
            EventType::MessageSent => Event::MessageSent(self.payload()?),
            EventType::MessageFinalized => Event::MessageFinalized(self.payload()?),
            EventType::CallInitiated => Event::CallInitiated(self.payload()?, self.payload()?),
            EventType::CallAnswered => Event::CallAnswered(self.payload()?, self.payload()?),
            EventType::CallHangup => Event::CallHangup(self.payload()?, self.payload()?),
            EventType::ConversationEnded => {
                Event::ConversationEnded(self.payload()?, self.payload()?)
            }
            EventType::ConversationInsightsGenerated => {
                Event::InsightsGenerated(self.payload()?, self.payload()?)
            }
            EventType::Other(_) => Event::Other,
        })
    }

    /// Where the event goes. `Ok(None)` for event types outside messaging and voice: they
    /// have no routing key Switchyard knows, so they are kept as unroutable.
    pub fn routing(&self) -> Result<Option<Routing>, TelnyxPayloadError> {
        match self.event_type.channel() {
            Some(Channel::Sms) => self.messaging_routing().map(Some),
            Some(_) => self.voice_routing().map(Some),
            None => Ok(None),
        }
    }

    fn messaging_routing(&self) -> Result<Routing, TelnyxPayloadError> {
        let message: Message = self.payload()?;
        // Inbound: our number is the recipient; anything we sent: our number is the sender.
        let inbound = match message.direction {
            Some(MessageDirection::Inbound) => true,
            Some(MessageDirection::Outbound) => false,
            _ => self.event_type == EventType::MessageReceived,
        };
        let (ours, theirs) = if inbound {
            (
                ("to[].phone_number", message.first_recipient()),
                ("from.phone_number", message.sender()),
            )
        } else {
            (
                ("from.phone_number", message.sender()),
                ("to[].phone_number", message.first_recipient()),
            )
        };
        Ok(Routing::Messaging {
            our_number: self.required(ours)?,
            contact: self.required(theirs)?,
            messaging_profile_id: message.messaging_profile_id.map(Cow::into_owned),
        })
    }

    fn voice_routing(&self) -> Result<Routing, TelnyxPayloadError> {
        let leg: CallLeg = self.payload()?;
        let our_number = leg.our_number().map(str::to_owned);
        if leg.connection_id.is_none() && our_number.is_none() {
            return Err(self.no_routing_key("connection_id"));
        }
        Ok(Routing::Voice {
            contact: leg.remote_party().map(str::to_owned),
            our_number,
            connection_id: leg.connection_id.map(Cow::into_owned),
        })
    }

    fn required(
        &self,
        (what, value): (&'static str, Option<&str>),
    ) -> Result<String, TelnyxPayloadError> {
        value
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| self.no_routing_key(what))
    }

    fn no_routing_key(&self, what: &'static str) -> TelnyxPayloadError {
        TelnyxPayloadError::NoRoutingKey {
            event_type: self.event_type.to_string(),
            what,
        }
    }

    fn payload<T: Deserialize<'a>>(&self) -> Result<T, TelnyxPayloadError> {
        let invalid = |reason: String| TelnyxPayloadError::Payload {
            event_type: self.event_type.to_string(),
            reason,
        };
        let raw = self
            .payload
            .ok_or_else(|| invalid("missing data.payload".into()))?;
        serde_json::from_str(raw.get()).map_err(|e| invalid(e.to_string()))
    }
}

/// A typed payload. Call events come as their [`CallLeg`] (identifiers, parties) plus what
/// the event adds.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    MessageReceived(Message<'a>),
    MessageSent(Message<'a>),
    MessageFinalized(Message<'a>),
    CallInitiated(CallLeg<'a>, CallProgress<'a>),
    CallAnswered(CallLeg<'a>, CallProgress<'a>),
    CallHangup(CallLeg<'a>, CallProgress<'a>),
    ConversationEnded(CallLeg<'a>, ConversationEnded<'a>),
    InsightsGenerated(CallLeg<'a>, InsightsGenerated<'a>),
    /// An event type this build does not read; its payload travels on unchanged.
    Other,
}

/// The keys that resolve an event to its tenant, and the contact of its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// An SMS/MMS event: resolved by our number (the SMS channel config's key).
    Messaging {
        /// `to[0].phone_number` inbound, `from.phone_number` on status events.
        our_number: String,
        /// The customer: the other side.
        contact: String,
        messaging_profile_id: Option<String>,
    },
    /// A call event: resolved by the Call Control connection and, when the payload has a
    /// direction, our number. Without a direction, tell the parties apart with
    /// [`CallLeg::remote_party_given`] once the tenant's number is known.
    Voice {
        connection_id: Option<String>,
        our_number: Option<String>,
        contact: Option<String>,
    },
}

#[cfg(test)]
mod tests;
