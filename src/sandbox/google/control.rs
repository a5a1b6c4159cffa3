//! The fake Google's control endpoints, under `/_sandbox/gmail`: what tests do in-process
//! ([`FakeGoogle::add_message`], [`FakeGoogle::sent`]), over HTTP, so another process —
//! `switchyard simulate gmail`, or `curl` — can drive the fake that `serve --sandbox` runs.
//!
//! - `POST messages` `{mailbox, from, subject, text, thread_id?}`: an unread inbox message
//!   arrives in `mailbox` (which must exist: granted or connected before); answers
//!   `{id, history_id}`, the history id being the one Gmail would now notify.
//! - `GET sent?mailbox=…`: what the mailbox sent through `messages.send`, oldest first.
//!
//! Refusals are `{"error": <reason>}`: 400 for a body or query that does not parse, 422 for
//! one that parses but cannot be used (an empty field, an unknown mailbox).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::FakeGoogle;
use super::mailbox::{NewMessage, SentMail};

pub(super) fn router() -> Router<FakeGoogle> {
    Router::new()
        .route("/messages", post(add_message))
        .route("/sent", get(sent))
}

/// An inbound email to put in a mailbox: the body of `POST /_sandbox/gmail/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMail {
    pub mailbox: String,
    /// The `From` header, e.g. `Alex <alex@example.org>`.
    pub from: String,
    pub subject: String,
    pub text: String,
    /// The thread to join; a new thread of its own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
}

/// The answer to `POST /_sandbox/gmail/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedMail {
    /// The new message's Gmail id.
    pub id: String,
    /// The mailbox's history id after the message: what the notification carries.
    pub history_id: u64,
}

/// A refusal: `{"error": <reason>}` with its status.
struct Refusal(StatusCode, String);

impl Refusal {
    fn malformed(reason: impl std::fmt::Display) -> Self {
        Self(StatusCode::BAD_REQUEST, reason.to_string())
    }

    fn unusable(reason: impl Into<String>) -> Self {
        Self(StatusCode::UNPROCESSABLE_ENTITY, reason.into())
    }

    fn unknown_mailbox(mailbox: &str) -> Self {
        Self::unusable(format!(
            "the fake Google has no mailbox {mailbox}: only granted or connected mailboxes exist"
        ))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// `value` unless it is empty (or only white space).
fn required<'a>(value: &'a str, field: &str) -> Result<&'a str, Refusal> {
    if value.trim().is_empty() {
        return Err(Refusal::unusable(format!("{field} must not be empty")));
    }
    Ok(value)
}

async fn add_message(
    State(fake): State<FakeGoogle>,
    body: Bytes,
) -> Result<Json<AddedMail>, Refusal> {
    let mail: InboundMail = serde_json::from_slice(&body)
        .map_err(|e| Refusal::malformed(format!("the body is not an inbound mail: {e}")))?;
    let mailbox = required(&mail.mailbox, "mailbox")?;
    let from = required(&mail.from, "from")?;
    let thread_id = match mail.thread_id.as_deref() {
        Some(thread) => Some(required(thread, "thread_id")?.to_owned()),
        None => None,
    };
    if fake.history_id(mailbox).is_none() {
        return Err(Refusal::unknown_mailbox(mailbox));
    }
    let new = NewMessage {
        thread_id,
        ..NewMessage::inbound(from, &mail.subject, &mail.text)
    };
    let (id, history_id) = fake.add_message(mailbox, &new);
    Ok(Json(AddedMail { id, history_id }))
}

#[derive(Deserialize)]
struct SentQuery {
    mailbox: Option<String>,
}

async fn sent(
    State(fake): State<FakeGoogle>,
    query: Result<Query<SentQuery>, QueryRejection>,
) -> Result<Json<Vec<SentMail>>, Refusal> {
    let Query(query) = query.map_err(|e| Refusal::malformed(e.body_text()))?;
    let Some(mailbox) = query.mailbox else {
        return Err(Refusal::malformed(
            "the mailbox query parameter is required",
        ));
    };
    let mailbox = required(&mailbox, "mailbox")?;
    if fake.history_id(mailbox).is_none() {
        return Err(Refusal::unknown_mailbox(mailbox));
    }
    Ok(Json(fake.sent(mailbox)))
}
