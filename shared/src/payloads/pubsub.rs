//! Google Cloud Pub/Sub push deliveries, and the Gmail notification they carry.
//!
//! A push subscription POSTs each message wrapped in one JSON body:
//!
//! ```text
//! { "message": { "data": "<base64>", "messageId": "…", "message_id": "…",
//!                "publishTime": "<RFC 3339>", "attributes"?: {…}, "orderingKey"?: "…" },
//!   "subscription": "projects/<p>/subscriptions/<s>",
//!   "deliveryAttempt"?: <int> }
//! ```
//!
//! [`PushMessage::parse`] reads that body once its `Authorization` token has been verified
//! (`switchyard_ingress::verify::google_oidc`). `data` is decoded on the spot: Pub/Sub sends
//! standard base64 while Gmail's documentation says base64url, so both alphabets are accepted,
//! with or without padding. `messageId` (or its snake-case twin) identifies the message across
//! redeliveries, so it is the [`PushMessage::dedup_key`]: `pubsub:<messageId>`.
//!
//! Gmail publishes `{"emailAddress": "<mailbox>", "historyId": <id>}` as the data;
//! [`PushMessage::gmail_notification`] reads it into a [`GmailNotification`]. The history id
//! is a JSON string in the docs and a JSON number in real deliveries; both become a `u64`. It
//! says only that the mailbox changed up to that point: the worker lists history from its own
//! cursor, not from this id.
//!
//! Errors are [`PubSubPayloadError`]s whose messages are fit for a 400 body.

use std::collections::BTreeMap;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{DedupKey, ParseError};

/// Why a push body (or the notification in it) cannot be taken; fit for a 400 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PubSubPayloadError {
    #[error("malformed Pub/Sub push body: {0}")]
    Body(String),
    #[error("Pub/Sub push body has no {0}")]
    MissingField(&'static str),
    #[error("message.data is not base64")]
    DataNotBase64,
    #[error("message.data is not a Gmail notification: {0}")]
    NotGmailNotification(String),
}

/// A push delivery, parsed. Holding one means it had a message id and decodable data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    message_id: String,
    dedup_key: DedupKey,
    data: Vec<u8>,
    publish_time: Option<DateTime<Utc>>,
    attributes: BTreeMap<String, String>,
    ordering_key: Option<String>,
    subscription: String,
    delivery_attempt: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    message: Option<Message>,
    subscription: Option<String>,
    delivery_attempt: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    data: Option<String>,
    message_id: Option<String>,
    #[serde(rename = "message_id")]
    message_id_snake: Option<String>,
    publish_time: Option<DateTime<Utc>>,
    #[serde(rename = "publish_time")]
    publish_time_snake: Option<DateTime<Utc>>,
    #[serde(default)]
    attributes: Option<BTreeMap<String, String>>,
    ordering_key: Option<String>,
}

/// Standard or URL-safe base64, padded or not: Pub/Sub's `data`, and Gmail's base64url bodies
/// and `raw` messages (whose padding varies), all decode with this.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let standard: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    LENIENT.decode(standard)
}

/// `pubsub:<messageId>`: the dedup key of Pub/Sub message `message_id` (see
/// [`PushMessage::dedup_key`]).
pub fn message_dedup_key(message_id: &str) -> Result<DedupKey, ParseError> {
    DedupKey::from_parts(&["pubsub", message_id])
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl PushMessage {
    /// Read a push body.
    pub fn parse(body: &[u8]) -> Result<Self, PubSubPayloadError> {
        let body: Body =
            serde_json::from_slice(body).map_err(|e| PubSubPayloadError::Body(e.to_string()))?;
        let message = body
            .message
            .ok_or(PubSubPayloadError::MissingField("message"))?;
        let message_id = non_empty(message.message_id)
            .or_else(|| non_empty(message.message_id_snake))
            .ok_or(PubSubPayloadError::MissingField("message.messageId"))?;
        let subscription =
            non_empty(body.subscription).ok_or(PubSubPayloadError::MissingField("subscription"))?;
        let dedup_key = message_dedup_key(&message_id)
            .map_err(|e| PubSubPayloadError::Body(format!("message.messageId: {e}")))?;
        let data = message
            .data
            .as_deref()
            .map(|data| decode_base64(data).map_err(|_| PubSubPayloadError::DataNotBase64))
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            message_id,
            dedup_key,
            data,
            publish_time: message.publish_time.or(message.publish_time_snake),
            attributes: message.attributes.unwrap_or_default(),
            ordering_key: non_empty(message.ordering_key),
            subscription,
            delivery_attempt: body.delivery_attempt,
        })
    }

    /// Pub/Sub's id of the message, the same on every redelivery.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// `pubsub:<messageId>`.
    pub fn dedup_key(&self) -> &DedupKey {
        &self.dedup_key
    }

    /// The published bytes, decoded (empty when the message had none).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn publish_time(&self) -> Option<DateTime<Utc>> {
        self.publish_time
    }

    /// The message attributes (Gmail publishes none).
    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.attributes
    }

    pub fn ordering_key(&self) -> Option<&str> {
        self.ordering_key.as_deref()
    }

    /// `projects/<p>/subscriptions/<s>`.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// Present only when the subscription has a dead-letter policy; the first delivery is 1.
    pub fn delivery_attempt(&self) -> Option<u32> {
        self.delivery_attempt
    }

    /// The data read as a Gmail change notification.
    pub fn gmail_notification(&self) -> Result<GmailNotification, PubSubPayloadError> {
        GmailNotification::parse(&self.data)
    }
}

/// Gmail's "this mailbox changed" notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GmailNotification {
    /// The mailbox that changed, as Gmail spells it.
    pub email_address: String,
    /// The mailbox's history id after the change.
    pub history_id: u64,
}

/// A history id as JSON text or a JSON number.
#[derive(Deserialize)]
#[serde(untagged)]
enum HistoryId {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    email_address: Option<String>,
    history_id: Option<HistoryId>,
}

impl GmailNotification {
    /// Read the decoded `data` of a Gmail push.
    pub fn parse(data: &[u8]) -> Result<Self, PubSubPayloadError> {
        let bad = PubSubPayloadError::NotGmailNotification;
        let raw: RawNotification = serde_json::from_slice(data).map_err(|e| bad(e.to_string()))?;
        let email_address = non_empty(raw.email_address)
            .filter(|address| address.contains('@'))
            .ok_or_else(|| bad("no emailAddress".into()))?;
        let history_id = match raw.history_id.ok_or_else(|| bad("no historyId".into()))? {
            HistoryId::Number(id) => id,
            HistoryId::Text(text) => text
                .trim()
                .parse()
                .map_err(|_| bad("historyId is not an unsigned integer".into()))?,
        };
        Ok(Self {
            email_address,
            history_id,
        })
    }

    /// The JSON Gmail publishes (historyId as a number), to be base64-encoded as `data`.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising two plain fields cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
