//! The envelope: what travels on the queue.
//!
//! One JSON document per provider event, versioned (`v`). The ingress builds it after the
//! signature check and tenant resolution; the worker reads it back. `payload` is the provider's
//! own JSON for exactly this event — a Meta batch with several messages becomes several
//! envelopes, each a valid single-event webhook body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Channel, ConversationKey, DedupKey, TenantId};

/// The envelope format version this build writes and reads.
pub const ENVELOPE_VERSION: u16 = 1;

/// What happened, independent of the channel (the channel says which provider shape
/// `payload` has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A customer's inbound message.
    MessageReceived,
    /// A delivery receipt for a message we sent.
    MessageStatus,
    /// A phone call's progress (initiated, answered, hung up) or what its voice assistant
    /// reported (conversation ended, insights).
    Call,
    /// A mailbox changed (Gmail's push notification: new history up to a `historyId`); the
    /// worker fetches what is new.
    MailboxChanged,
    /// Anything else the provider reports that we keep but do not act on yet
    /// (account updates, errors without a message, …).
    Other,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        Self::MessageReceived,
        Self::MessageStatus,
        Self::Call,
        Self::MailboxChanged,
        Self::Other,
    ];

    /// The kind named `s` (as [`EventKind::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MessageReceived => "message_received",
            Self::MessageStatus => "message_status",
            Self::Call => "call",
            Self::MailboxChanged => "mailbox_changed",
            Self::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u16,
    /// UUIDv7: unique per envelope, time-ordered; the AMQP `message_id`.
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub channel: Channel,
    pub kind: EventKind,
    pub dedup_key: DedupKey,
    pub conversation_key: ConversationKey,
    pub received_at: DateTime<Utc>,
    /// 0 on first publish; incremented each time the event goes to a retry tier. A replay
    /// from the dead letters starts again at 0.
    pub attempt: u32,
    /// Why the previous attempt failed (absent on the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// W3C trace context of the request that accepted the event.
    pub traceparent: String,
    pub payload: serde_json::Value,
}

impl Envelope {
    /// A new envelope for an event accepted now, with a fresh trace.
    pub fn new(
        tenant_id: TenantId,
        channel: Channel,
        kind: EventKind,
        dedup_key: DedupKey,
        conversation_key: ConversationKey,
        traceparent: String,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            v: ENVELOPE_VERSION,
            id: Uuid::now_v7(),
            tenant_id,
            channel,
            kind,
            dedup_key,
            conversation_key,
            received_at: Utc::now(),
            attempt: 0,
            last_error: None,
            traceparent,
            payload,
        }
    }

    /// The routing key on the events exchange: `{channel}.{kind}`.
    pub fn routing_key(&self) -> String {
        format!("{}.{}", self.channel, self.kind.as_str())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        // Sized for a typical single-message envelope, so the buffer is not regrown.
        let mut out = Vec::with_capacity(1024);
        serde_json::to_writer(&mut out, self)?;
        Ok(out)
    }

    /// Parse an envelope from the queue, refusing versions this build does not know.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let envelope: Envelope = serde_json::from_slice(bytes)?;
        if envelope.v != ENVELOPE_VERSION {
            return Err(EnvelopeError::UnknownVersion(envelope.v));
        }
        Ok(envelope)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("malformed envelope: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("unknown envelope version {0}")]
    UnknownVersion(u16),
}

/// A new W3C `traceparent` (version 00, sampled) with random trace and span ids.
pub fn new_traceparent() -> String {
    let trace: u128 = rand::random();
    let span: u64 = rand::random();
    format!("00-{trace:032x}-{span:016x}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        let tenant = TenantId::new();
        Envelope::new(
            tenant,
            Channel::Whatsapp,
            EventKind::MessageReceived,
            DedupKey::parse("wa:msg:wamid.X").unwrap(),
            ConversationKey::new(tenant, Channel::Whatsapp, "15550001111"),
            new_traceparent(),
            serde_json::json!({"object": "whatsapp_business_account"}),
        )
    }

    #[test]
    fn round_trips() {
        let e = sample();
        let back = Envelope::from_bytes(&e.to_bytes().unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(e.routing_key(), "whatsapp.message_received");
    }

    #[test]
    fn refuses_unknown_version_and_garbage() {
        let mut e = sample();
        e.v = 99;
        let bytes = serde_json::to_vec(&e).unwrap();
        assert!(matches!(
            Envelope::from_bytes(&bytes),
            Err(EnvelopeError::UnknownVersion(99))
        ));
        assert!(matches!(
            Envelope::from_bytes(b"{"),
            Err(EnvelopeError::Malformed(_))
        ));
    }

    #[test]
    fn kinds_parse_back_from_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(EventKind::parse("Call"), None);
    }

    #[test]
    fn traceparent_shape() {
        let t = new_traceparent();
        let parts: Vec<_> = t.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
    }
}
