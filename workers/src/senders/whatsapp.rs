//! WhatsApp Cloud API: `POST {WHATSAPP_API_BASE}/{phone_number_id}/messages` with the tenant's
//! bearer token. Success is `{"messages": [{"id": "wamid.…"}]}`; errors are Graph error
//! envelopes `{"error": {"code", "message", …}}`, classified by `code`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_shared::secrets::SecretString;

use super::SendError;

/// Graph error codes that mean "not now": throughput (130429), spam and pair rate limits
/// (131048, 131056), generic server error (131000), app rate limits (4, 80007), service
/// unavailable (2).
const RETRYABLE_CODES: [i64; 7] = [130429, 131000, 131048, 131056, 4, 80007, 2];

#[derive(Clone)]
pub struct WhatsAppSender {
    http: reqwest::Client,
    api_base: String,
}

/// A text message to one recipient: the phone number (`to`) or, for username users, the
/// business-scoped user id (`recipient`); with `buttons`, an interactive message whose reply
/// buttons the customer taps (at most 3, titles of at most 20 characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextMessage {
    pub phone_number_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ReplyButton>,
}

/// A reply button: the id comes back in the customer's `button_reply`, the title is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

impl TextMessage {
    /// `interactive` with buttons, else `text` (the stored message's type).
    pub fn message_type(&self) -> &'static str {
        if self.buttons.is_empty() {
            "text"
        } else {
            "interactive"
        }
    }
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

impl WhatsAppSender {
    pub fn new(api_base: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
        })
    }

    /// The request body Meta documents for a text message, or for an interactive message
    /// with reply buttons.
    pub fn body(message: &TextMessage) -> serde_json::Value {
        let mut body = if message.buttons.is_empty() {
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "type": "text",
                "text": { "preview_url": false, "body": message.text },
            })
        } else {
            let buttons: Vec<serde_json::Value> = message
                .buttons
                .iter()
                .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
                .collect();
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": { "text": message.text },
                    "action": { "buttons": buttons },
                },
            })
        };
        if let Some(to) = &message.to {
            body["to"] = json!(to);
        } else if let Some(recipient) = &message.recipient {
            body["recipient"] = json!(recipient);
        }
        if let Some(quoted) = &message.reply_to {
            body["context"] = json!({ "message_id": quoted });
        }
        body
    }

    /// Send; `Ok` carries the wamid.
    pub async fn send_text(
        &self,
        token: &SecretString,
        message: &TextMessage,
    ) -> Result<String, SendError> {
        if message.to.is_none() && message.recipient.is_none() {
            return Err(SendError::Permanent("no recipient".into()));
        }
        let url = format!("{}/{}/messages", self.api_base, message.phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .json(&Self::body(message))
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    SendError::Retryable(format!("connect: {e}"))
                } else {
                    SendError::Ambiguous(format!("request: {e}"))
                }
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| SendError::Ambiguous(format!("response body: {e}")))?;
        interpret(status, &bytes)
    }
}

/// Read Graph's answer: the wamid on success, else the refusal classified by its Graph error
/// code (falling back to the HTTP status).
pub fn interpret(status: reqwest::StatusCode, body: &[u8]) -> Result<String, SendError> {
    if status.is_success() {
        let parsed: SendResponse = serde_json::from_slice(body)
            .map_err(|e| SendError::Ambiguous(format!("unreadable success response: {e}")))?;
        return parsed
            .messages
            .into_iter()
            .next()
            .map(|m| m.id)
            .ok_or_else(|| SendError::Ambiguous("success response without a message id".into()));
    }
    let error = serde_json::from_slice::<GraphErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let described = match &error {
        Some(e) => format!("HTTP {status}, Graph error {}: {}", e.code, e.message),
        None => format!("HTTP {status}"),
    };
    let retryable = error
        .as_ref()
        .is_some_and(|e| RETRYABLE_CODES.contains(&e.code))
        || status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    Err(if retryable {
        SendError::Retryable(described)
    } else {
        SendError::Permanent(described)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_matches_the_documented_shape() {
        let body = WhatsAppSender::body(&TextMessage {
            phone_number_id: "100000000000001".into(),
            to: Some("15550001111".into()),
            recipient: None,
            text: "Yes! We are open Saturday 9am-2pm.".into(),
            reply_to: Some("wamid.FAKE_INBOUND_TEXT_0001".into()),
            buttons: Vec::new(),
        });
        let fixture: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/whatsapp/send_text_request.json"
        ))
        .unwrap();
        assert_eq!(body, fixture);
    }

    #[test]
    fn reads_the_documented_answers() {
        let ok = include_bytes!("../../../tests/fixtures/whatsapp/send_text_response.json");
        assert_eq!(
            interpret(reqwest::StatusCode::OK, ok),
            Ok("wamid.FAKE_OUTBOUND_TEXT_0001".to_owned())
        );
        let throttled = include_bytes!("../../../tests/fixtures/whatsapp/send_error_response.json");
        assert!(matches!(
            interpret(reqwest::StatusCode::BAD_REQUEST, throttled),
            Err(SendError::Retryable(m)) if m.contains("130429")
        ));
        let invalid = br#"{"error":{"message":"(#100) Invalid parameter","code":100}}"#;
        assert!(matches!(
            interpret(reqwest::StatusCode::BAD_REQUEST, invalid),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            interpret(reqwest::StatusCode::BAD_GATEWAY, b"<html>"),
            Err(SendError::Retryable(_))
        ));
        assert!(matches!(
            interpret(reqwest::StatusCode::OK, br#"{"messages":[]}"#),
            Err(SendError::Ambiguous(_))
        ));
    }

    #[test]
    fn username_users_get_the_bsuid_as_recipient() {
        let body = WhatsAppSender::body(&TextMessage {
            phone_number_id: "1".into(),
            to: None,
            recipient: Some("US.1".into()),
            text: "hi".into(),
            reply_to: None,
            buttons: Vec::new(),
        });
        assert_eq!(body["recipient"], "US.1");
        assert!(body.get("to").is_none());
    }

    #[test]
    fn buttons_make_an_interactive_message() {
        let message = TextMessage {
            phone_number_id: "1".into(),
            to: Some("15550001111".into()),
            recipient: None,
            text: "Which day suits you?".into(),
            reply_to: None,
            buttons: vec![
                ReplyButton {
                    id: "day-sat".into(),
                    title: "Saturday".into(),
                },
                ReplyButton {
                    id: "day-sun".into(),
                    title: "Sunday".into(),
                },
            ],
        };
        assert_eq!(message.message_type(), "interactive");
        let body = WhatsAppSender::body(&message);
        assert_eq!(
            body,
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "15550001111",
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": { "text": "Which day suits you?" },
                    "action": { "buttons": [
                        { "type": "reply", "reply": { "id": "day-sat", "title": "Saturday" } },
                        { "type": "reply", "reply": { "id": "day-sun", "title": "Sunday" } },
                    ]},
                },
            })
        );
        // What the outbox stores round-trips.
        let stored = serde_json::to_value(&message).unwrap();
        assert_eq!(
            serde_json::from_value::<TextMessage>(stored).unwrap(),
            message
        );
    }
}
