//! The Telnyx "message" object: the `payload` of `message.received`, `message.sent` and
//! `message.finalized` webhooks, and the `data` of the `POST /v2/messages` response.
//!
//! ```text
//! { id, record_type: "message", direction: inbound|outbound, type: SMS|MMS,
//!   messaging_profile_id, from: {phone_number, carrier, line_type},
//!   to: [{phone_number, status, carrier, line_type}],   (or, in some payloads, "+1555…")
//!   text, subject?, media: [{url, content_type, size}], errors: [{code, title, detail?}],
//!   received_at, sent_at, completed_at, cost, … }
//! ```
//!
//! Inbound, `from` is the customer and `to[]` our number (status `webhook_delivered`);
//! outbound it is the other way round and `to[].status` is a [`DeliveryStatus`]. Strings are
//! borrowed from the body where it has no escapes.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::DeliveryStatus;
use super::de::{null_as_empty, optional_str};

#[derive(Debug, Clone, Deserialize)]
pub struct Message<'a> {
    /// The message id: shared by the send response and every status webhook of one message.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(default)]
    pub direction: Option<MessageDirection>,
    #[serde(rename = "type", default)]
    pub message_type: Option<MessageType>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub messaging_profile_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub from: Option<Endpoint<'a>>,
    #[serde(borrow, default, deserialize_with = "recipients")]
    pub to: Vec<Recipient<'a>>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub subject: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    pub media: Vec<Media<'a>>,
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    pub errors: Vec<ApiError<'a>>,
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
}

impl Message<'_> {
    /// The first recipient's number: our number on an inbound message, the customer's on an
    /// outbound one.
    pub fn first_recipient(&self) -> Option<&str> {
        self.to.first().map(|r| r.phone_number.as_ref())
    }

    pub fn sender(&self) -> Option<&str> {
        self.from.as_ref().map(|f| f.phone_number.as_ref())
    }

    pub fn media_urls(&self) -> impl Iterator<Item = &str> {
        self.media.iter().map(|m| m.url.as_ref())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageDirection {
    Inbound,
    Outbound,
    /// A value this build does not know.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MessageType {
    #[serde(rename = "SMS")]
    Sms,
    #[serde(rename = "MMS")]
    Mms,
    /// Another type (Telnyx also carries RCS and WhatsApp messages).
    #[serde(other)]
    Other,
}

/// The sender: `{phone_number, carrier, line_type}`; only the number is read.
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint<'a> {
    /// E.164 for numbers; a short code or an alphanumeric sender id otherwise.
    #[serde(borrow)]
    pub phone_number: Cow<'a, str>,
}

/// One entry of `to[]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Recipient<'a> {
    /// The recipient's number: ours on an inbound message, the customer's on an outbound one.
    #[serde(borrow)]
    pub phone_number: Cow<'a, str>,
    /// Telnyx's text; see [`Recipient::delivery_status`].
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub status: Option<Cow<'a, str>>,
}

impl Recipient<'_> {
    /// The outbound delivery status, if `status` is one.
    pub fn delivery_status(&self) -> Option<DeliveryStatus> {
        self.status.as_deref().and_then(DeliveryStatus::parse)
    }
}

/// One MMS attachment.
#[derive(Debug, Clone, Deserialize)]
pub struct Media<'a> {
    /// Where Telnyx keeps the file (for a limited time).
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    /// A MIME type such as `image/jpeg`.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub content_type: Option<Cow<'a, str>>,
    /// Bytes.
    #[serde(default)]
    pub size: Option<u64>,
}

/// A JSON:API error object, as in a message's `errors[]` and in API error responses
/// (`{"errors": [...]}`): `code` (a string such as `"40310"`), `title`, `detail`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiError<'a> {
    #[serde(default)]
    pub code: Option<ErrorCode>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub detail: Option<Cow<'a, str>>,
}

impl fmt::Display for ApiError<'_> {
    /// `40310 Invalid 'to' address: Source and destination …`, leaving out what is missing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            self.code.as_ref().map(|c| c.0.as_str()),
            self.title.as_deref(),
        ];
        let head: Vec<&str> = parts.into_iter().flatten().collect();
        f.write_str(&head.join(" "))?;
        match (&self.detail, head.is_empty()) {
            (Some(detail), true) => f.write_str(detail),
            (Some(detail), false) => write!(f, ": {detail}"),
            (None, _) => Ok(()),
        }
    }
}

/// A Telnyx error code. Documented as a string; a number is accepted too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode(pub String);

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CodeVisitor;
        impl Visitor<'_> for CodeVisitor {
            type Value = ErrorCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error code (string or integer)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorCode, E> {
                Ok(ErrorCode(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ErrorCode, E> {
                Ok(ErrorCode(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ErrorCode, E> {
                Ok(ErrorCode(v.to_string()))
            }
        }
        d.deserialize_any(CodeVisitor)
    }
}

/// `to` is an array of recipient objects; some payloads give one number as a plain string.
/// `null` reads as no recipients.
fn recipients<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Vec<Recipient<'a>>, D::Error> {
    struct RecipientsVisitor;
    impl<'de> Visitor<'de> for RecipientsVisitor {
        type Value = Vec<Recipient<'de>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of recipients or a phone number")
        }
        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
            let mut all = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
            while let Some(recipient) = seq.next_element()? {
                all.push(recipient);
            }
            Ok(all)
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(vec![plain(Cow::Borrowed(v))])
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![plain(Cow::Owned(v.to_owned()))])
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    fn plain(phone_number: Cow<'_, str>) -> Recipient<'_> {
        Recipient {
            phone_number,
            status: None,
        }
    }
    d.deserialize_any(RecipientsVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: &str) -> Result<Message<'_>, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn to_as_a_plain_string() {
        let m = message(r#"{"id": "m1", "to": "+15550003333"}"#).unwrap();
        assert_eq!(m.first_recipient(), Some("+15550003333"));
        assert!(matches!(m.to[0].phone_number, Cow::Borrowed(_)));
        assert_eq!(m.to[0].status, None);
        let escaped = message(r#"{"id": "m1", "to": "+1555000\u0033333"}"#).unwrap();
        assert_eq!(escaped.first_recipient(), Some("+15550003333"));
        let none = message(r#"{"id": "m1", "to": null, "media": null, "errors": null}"#).unwrap();
        assert!(none.to.is_empty() && none.media.is_empty() && none.errors.is_empty());
    }

    #[test]
    fn mms_with_media_and_unknown_values() {
        let m = message(
            r#"{"id": "m2", "type": "MMS", "direction": "sideways",
                "media": [{"url": "https://media.example.test/1.jpg", "content_type": "image/jpeg", "size": 1024},
                          {"url": "https://media.example.test/2.png"}]}"#,
        )
        .unwrap();
        assert_eq!(m.message_type, Some(MessageType::Mms));
        assert_eq!(m.direction, Some(MessageDirection::Other));
        assert_eq!(
            m.media_urls().collect::<Vec<_>>(),
            [
                "https://media.example.test/1.jpg",
                "https://media.example.test/2.png"
            ]
        );
        assert_eq!(m.media[0].size, Some(1024));
        let rcs = message(r#"{"id": "m3", "type": "RCS"}"#).unwrap();
        assert_eq!(rcs.message_type, Some(MessageType::Other));
    }

    #[test]
    fn errors_read_with_string_or_numeric_codes() {
        let m = message(
            r#"{"id": "m4", "errors": [
                {"code": "40008", "title": "Undeliverable", "detail": "The carrier refused it."},
                {"code": 40300},
                {"detail": "no code"}]}"#,
        )
        .unwrap();
        let shown: Vec<String> = m.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "40008 Undeliverable: The carrier refused it.",
                "40300",
                "no code"
            ]
        );
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        for (json, expected) in [
            (r#"{"to": []}"#, "missing field `id`"),
            (r#"{"id": 7}"#, "invalid type: integer `7`"),
            (
                r#"{"id": "m", "to": 7}"#,
                "an array of recipients or a phone number",
            ),
            (
                r#"{"id": "m", "to": [{"status": "sent"}]}"#,
                "missing field `phone_number`",
            ),
            (r#"{"id": "m", "from": "+1555"}"#, "invalid type: string"),
            (
                r#"{"id": "m", "sent_at": "yesterday"}"#,
                "input contains invalid characters",
            ),
        ] {
            let err = message(json).unwrap_err().to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
