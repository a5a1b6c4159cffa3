//! Telnyx messaging: `POST {TELNYX_API_BASE}/messages` (the base ends in `/v2`) with the
//! tenant's API key as a bearer token.
//!
//! The body is `{from | messaging_profile_id, to, text, media_urls?}`. Every request carries an
//! `Idempotency-Key` — the outbox row id — so a request Telnyx already accepted is answered
//! with the original message instead of being sent again.
//!
//! Success is `200 {"data": <message object>}`; `data.id` is the message id that the
//! `message.sent` / `message.finalized` webhooks carry. Refusals are JSON:API error lists
//! `{"errors": [{code, title, detail}]}`, classified by HTTP status:
//!
//! - 429 (with `Retry-After`, kept in [`TelnyxSendError::retry_after`]), 408 and 5xx, and a
//!   connection that could not be opened: not sent, safe to retry;
//! - a time-out or a broken connection once the request went out: retried too, unlike on
//!   WhatsApp — the retry carries the same `Idempotency-Key`, so if the first request was
//!   accepted Telnyx answers with that message instead of sending another;
//! - any other 4xx: refused for good, with Telnyx's code, title and detail;
//! - a success whose body names no message: the outcome is unknown (a retry would get the same
//!   answer), so it is left for an operator.
//!
//! [`interpret`] reads an answer and is pure, so it is tested on the documented responses.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use switchyard_shared::payloads::telnyx::{ApiError, Message};
use switchyard_shared::secrets::SecretString;
use uuid::Uuid;

use super::{Answer, SendError, parse_retry_after};

#[derive(Clone)]
pub struct TelnyxSender {
    http: reqwest::Client,
    api_base: String,
}

/// Who a message is sent as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SmsSender {
    /// One of the tenant's numbers (or a short code or alphanumeric sender id).
    Number { from: String },
    /// A messaging profile: Telnyx picks a number from its pool.
    Profile { messaging_profile_id: String },
}

/// An SMS (text) or MMS (`media_urls`) to one recipient. Serialised, it is the request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundSms {
    #[serde(flatten)]
    pub sender: SmsSender,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_urls: Vec<String>,
}

/// A send that did not return a message id: the [`SendError`] class, and how long Telnyx asked
/// us to wait before the next try (`Retry-After` of a 429).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct TelnyxSendError {
    pub error: SendError,
    pub retry_after: Option<Duration>,
}

impl From<SendError> for TelnyxSendError {
    fn from(error: SendError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl From<TelnyxSendError> for SendError {
    fn from(e: TelnyxSendError) -> Self {
        e.error
    }
}

#[derive(Deserialize)]
struct SendResponse<'a> {
    #[serde(borrow)]
    data: Message<'a>,
}

#[derive(Deserialize)]
struct ErrorResponse<'a> {
    #[serde(borrow, default)]
    errors: Vec<ApiError<'a>>,
}

impl TelnyxSender {
    /// A sender on `http`, whose time-outs bound each call (one client can serve every
    /// sender, sharing its connection pool). `api_base` ends in `/v2`.
    pub fn new(http: reqwest::Client, api_base: &str) -> Self {
        Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
        }
    }

    /// Send `message` with the tenant's `api_key`; `idempotency_key` is the outbox row id.
    /// `Ok` carries the Telnyx message id.
    pub async fn send(
        &self,
        api_key: &SecretString,
        idempotency_key: Uuid,
        message: &OutboundSms,
    ) -> Result<String, TelnyxSendError> {
        if message.to.is_empty() {
            return Err(SendError::Permanent("no recipient".into()).into());
        }
        if message.text.as_deref().is_none_or(str::is_empty) && message.media_urls.is_empty() {
            return Err(SendError::Permanent("neither text nor media".into()).into());
        }
        let response = self
            .http
            .post(format!("{}/messages", self.api_base))
            .bearer_auth(api_key.expose())
            .header("idempotency-key", idempotency_key.to_string())
            .json(message)
            .send()
            .await
            .map_err(|e| TelnyxSendError::from(unanswered(&e)))?;
        let Answer {
            status,
            retry_after,
            body,
        } = Answer::read(response).await;
        // Accepted, but the answer was cut: the retry's Idempotency-Key fetches it again.
        let body = body.map_err(|e| SendError::Retryable(format!("response body: {e}")))?;
        interpret(status, retry_after.as_deref(), &body, Utc::now())
    }
}

/// A request that got no answer. Even one that left is safe to retry: the retry carries the
/// same `Idempotency-Key`.
fn unanswered(e: &reqwest::Error) -> SendError {
    if e.is_builder() {
        SendError::Permanent(format!("request: {e}"))
    } else if e.is_connect() {
        SendError::Retryable(format!("connect: {e}"))
    } else {
        SendError::Retryable(format!(
            "no answer (retried under the same Idempotency-Key): {e}"
        ))
    }
}

/// Read Telnyx's answer: the message id on success, else the refusal classified by HTTP
/// status, described with Telnyx's errors. `retry_after` is the `Retry-After` header; `now`
/// is the clock it is read against when it is a date.
pub fn interpret(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<String, TelnyxSendError> {
    if status.is_success() {
        let parsed: SendResponse = serde_json::from_slice(body)
            .map_err(|e| SendError::Ambiguous(format!("unreadable success response: {e}")))?;
        return Some(parsed.data.id.into_owned())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                SendError::Ambiguous("success response without a message id".into()).into()
            });
    }
    let errors = serde_json::from_slice::<ErrorResponse>(body)
        .map(|r| r.errors)
        .unwrap_or_default();
    let described = if errors.is_empty() {
        format!("HTTP {status}")
    } else {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!("HTTP {status}, Telnyx error {}", errors.join("; "))
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(TelnyxSendError {
            error: SendError::Retryable(described),
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
        });
    }
    let retryable = status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT;
    Err(if retryable {
        SendError::Retryable(described)
    } else {
        SendError::Permanent(described)
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEND_REQUEST: &str =
        include_str!("../../../tests/fixtures/telnyx/send_message_request.json");
    const SEND_RESPONSE: &[u8] =
        include_bytes!("../../../tests/fixtures/telnyx/send_message_response.json");
    const ERROR_RESPONSE: &[u8] =
        include_bytes!("../../../tests/fixtures/telnyx/error_response.json");

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    fn read(
        status: u16,
        retry_after: Option<&str>,
        body: &[u8],
    ) -> Result<String, TelnyxSendError> {
        interpret(
            StatusCode::from_u16(status).unwrap(),
            retry_after,
            body,
            now(),
        )
    }

    fn sms(sender: SmsSender) -> OutboundSms {
        OutboundSms {
            sender,
            to: "+15550001111".into(),
            text: Some("Yes! Table for 4 at 7pm is booked.".into()),
            media_urls: Vec::new(),
        }
    }

    #[test]
    fn body_has_the_documented_fields() {
        let body = serde_json::to_value(sms(SmsSender::Number {
            from: "+15550003333".into(),
        }))
        .unwrap();
        // The fixture also sets optional fields (type, webhook_url, …) that we leave to the
        // messaging profile.
        let mut fixture: serde_json::Value = serde_json::from_str(SEND_REQUEST).unwrap();
        let fixture = fixture.as_object_mut().unwrap();
        fixture.retain(|k, _| ["from", "to", "text"].contains(&k.as_str()));
        assert_eq!(body, serde_json::Value::Object(fixture.clone()));

        let mut mms = sms(SmsSender::Profile {
            messaging_profile_id: "40000000-0000-4000-8000-000000000001".into(),
        });
        mms.text = None;
        mms.media_urls = vec!["https://media.example.test/menu.jpg".into()];
        let body = serde_json::to_value(&mms).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "messaging_profile_id": "40000000-0000-4000-8000-000000000001",
                "to": "+15550001111",
                "media_urls": ["https://media.example.test/menu.jpg"]
            })
        );
        // The outbox stores the same JSON and reads it back.
        assert_eq!(serde_json::from_value::<OutboundSms>(body).unwrap(), mms);
    }

    #[test]
    fn reads_the_documented_success() {
        assert_eq!(
            read(200, None, SEND_RESPONSE),
            Ok("d0000000-0000-4000-8000-000000000001".to_owned())
        );
    }

    #[test]
    fn unreadable_successes_are_ambiguous() {
        for body in [
            &b"<html>"[..],
            br#"{"data": {}}"#,
            br#"{"data": {"id": ""}}"#,
        ] {
            assert!(
                matches!(
                    read(200, None, body),
                    Err(TelnyxSendError {
                        error: SendError::Ambiguous(_),
                        ..
                    })
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn client_errors_are_permanent_with_telnyx_reasons() {
        let Err(TelnyxSendError {
            error: SendError::Permanent(reason),
            retry_after: None,
        }) = read(422, None, ERROR_RESPONSE)
        else {
            panic!("not permanent");
        };
        assert_eq!(
            reason,
            "HTTP 422 Unprocessable Entity, Telnyx error 40310 Invalid 'to' address: \
             Source and destination cannot be the same number: +15550003333"
        );
        let auth = br#"{"errors": [{"code": "10009", "title": "Authentication failed"}]}"#;
        assert_eq!(
            read(401, None, auth).map_err(SendError::from),
            Err(SendError::Permanent(
                "HTTP 401 Unauthorized, Telnyx error 10009 Authentication failed".into()
            ))
        );
        assert_eq!(
            read(400, None, b"").map_err(SendError::from),
            Err(SendError::Permanent("HTTP 400 Bad Request".into()))
        );
    }

    #[test]
    fn rate_limits_are_retryable_after_the_given_delay() {
        let limited = br#"{"errors": [{"code": "10011", "title": "Too many requests"}]}"#;
        let Err(e) = read(429, Some("30"), limited) else {
            panic!("accepted");
        };
        assert!(
            matches!(&e.error, SendError::Retryable(r) if r.contains("10011")),
            "{e}"
        );
        assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
        let at = read(429, Some("Thu, 01 Jan 2026 00:01:30 GMT"), b"").unwrap_err();
        assert_eq!(at.retry_after, Some(Duration::from_secs(90)));
        let past = read(429, Some("Wed, 31 Dec 2025 23:00:00 GMT"), b"").unwrap_err();
        assert_eq!(past.retry_after, Some(Duration::ZERO));
        // Found by the telnyx_send_answer fuzz target: a huge wait used to overflow the date
        // the outbox schedules the retry at. Past a day, a day.
        for huge in [
            "99999999999999",
            "18446744073709551615",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let e = read(429, Some(huge), b"").unwrap_err();
            assert_eq!(e.retry_after, Some(super::super::MAX_RETRY_AFTER), "{huge}");
            let delay = chrono::TimeDelta::from_std(super::super::MAX_RETRY_AFTER).unwrap();
            assert!(Utc::now().checked_add_signed(delay).is_some());
        }
        for unusable in [None, Some("soon"), Some("-5")] {
            let e = read(429, unusable, b"").unwrap_err();
            assert_eq!(
                (e.error, e.retry_after),
                (
                    SendError::Retryable("HTTP 429 Too Many Requests".into()),
                    None
                )
            );
        }
    }

    #[test]
    fn server_errors_and_timeouts_are_retryable() {
        let overloaded = br#"{"errors": [{"code": "10007", "title": "Unexpected error"}]}"#;
        for (status, body) in [
            (500, &overloaded[..]),
            (502, b"<html>"),
            (503, b""),
            (408, b""),
        ] {
            let e = read(status, Some("5"), body).unwrap_err();
            assert!(matches!(e.error, SendError::Retryable(_)), "{status}: {e}");
            // Only a 429 is asked to wait.
            assert_eq!(e.retry_after, None);
        }
    }
}
