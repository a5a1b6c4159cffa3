//! The fake Gmail API: `/gmail/v1/users/{userId}/…` with in-memory mailboxes.
//!
//! Calls need a live access token of the mailbox; `userId` is `me` or the mailbox address.
//! Errors use Google's JSON shape, `{"error": {code, message, errors: [{message, domain,
//! reason}], status}}`.
//!
//! - `GET profile`: `{emailAddress, messagesTotal, threadsTotal, historyId}`.
//! - `POST watch` `{topicName, labelIds?}`: recorded; answers `{historyId, expiration}`
//!   (expiration seven days ahead, epoch ms as text).
//! - `GET history?startHistoryId&historyTypes&labelId&maxResults&pageToken`: the
//!   `messagesAdded` records after `startHistoryId`, oldest first, paged with
//!   `nextPageToken`; 404 `notFound` when `startHistoryId` is older than the history kept
//!   ([`FakeGoogle::forget_history`]).
//! - `GET messages?maxResults&labelIds&pageToken`: `{messages: [{id, threadId}],
//!   resultSizeEstimate}`, newest first (what a resync reads).
//! - `GET messages/{id}?format=full|minimal`: the stored message.
//! - `POST messages/send` `{raw, threadId?}`: the decoded RFC 2822 text is recorded
//!   ([`FakeGoogle::sent`]) and the message joins the mailbox with label `SENT`, as Gmail does;
//!   answers `{id, threadId, labelIds: ["SENT"]}`.
//!
//! The mailboxes themselves, and how tests seed them, are in `google/mailbox.rs`.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use switchyard_shared::payloads::pubsub::decode_base64;

use super::mailbox::SentMail;
use super::{Endpoint, FakeGoogle};

pub(super) fn router() -> Router<FakeGoogle> {
    Router::new()
        .route("/profile", get(profile))
        .route("/watch", post(watch))
        .route("/history", get(history))
        .route("/messages", get(list_messages))
        .route("/messages/send", post(send))
        .route("/messages/{id}", get(get_message))
}

/// A refusal, answered as Google's JSON error.
pub(super) struct GmailError {
    status: StatusCode,
    message: String,
    reason: &'static str,
}

impl GmailError {
    fn new(status: StatusCode, message: impl Into<String>, reason: &'static str) -> Self {
        Self {
            status,
            message: message.into(),
            reason,
        }
    }

    fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Requested entity was not found.",
            "notFound",
        )
    }

    fn invalid(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, "invalidArgument")
    }
}

impl IntoResponse for GmailError {
    fn into_response(self) -> Response {
        let status_name = match self.status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        let error = json!({ "message": self.message, "domain": "global", "reason": self.reason });
        let body = json!({ "error": {
            "code": self.status.as_u16(), "message": self.message, "errors": [error],
            "status": status_name,
        }});
        (self.status, Json(body)).into_response()
    }
}

/// The mailbox a request may act on: the bearer token's, named as `me` or by address in the
/// path. Extracting it answers 401/403 (or an injected failure) for the handler.
struct Caller(String);

impl FromRequestParts<FakeGoogle> for Caller {
    type Rejection = GmailError;

    async fn from_request_parts(parts: &mut Parts, fake: &FakeGoogle) -> Result<Self, GmailError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, fake)
            .await
            .map_err(|_| GmailError::not_found())?;
        let user_id = params.get("user_id").map_or("me", String::as_str);
        caller(fake, &parts.headers, user_id).map(Self)
    }
}

fn caller(fake: &FakeGoogle, headers: &HeaderMap, user_id: &str) -> Result<String, GmailError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let mailbox = token.and_then(|t| fake.with(|inner| inner.access_tokens.get(t).cloned()));
    let Some(mailbox) = mailbox else {
        return Err(GmailError::new(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
            "authError",
        ));
    };
    if user_id != "me" && user_id != mailbox {
        return Err(GmailError::new(
            StatusCode::FORBIDDEN,
            format!("Delegation denied for {mailbox}"),
            "forbidden",
        ));
    }
    if let Some(status) = fake.injected_failure(Endpoint::Gmail) {
        return Err(GmailError::new(
            status,
            "Sandbox failure injection.",
            "backendError",
        ));
    }
    Ok(mailbox)
}

type Params = Query<Vec<(String, String)>>;

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn all<'a>(params: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    params
        .iter()
        .filter(move |(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `answer` with one page of `items` as `field` (left out when empty), per `maxResults`
/// (default 100, at most 500) and `pageToken` (an offset), and the `nextPageToken` if more.
fn paged(mut answer: Value, field: &str, items: Vec<Value>, params: &[(String, String)]) -> Value {
    let size = param(params, "maxResults")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let start = param(params, "pageToken")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let end = start.saturating_add(size);
    if end < items.len() {
        answer["nextPageToken"] = json!(end.to_string());
    }
    let page: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    if !page.is_empty() {
        answer[field] = json!(page);
    }
    answer
}

/// `labelIds` of a message summary contain `label`.
fn has_label(message: &Value, label: &str) -> bool {
    message["labelIds"]
        .as_array()
        .is_some_and(|labels| labels.iter().any(|l| l == label))
}

async fn profile(
    State(fake): State<FakeGoogle>,
    Caller(mailbox): Caller,
) -> Result<Json<Value>, GmailError> {
    let answer = fake.mailbox(&mailbox, |m| {
        let threads: std::collections::HashSet<_> = m
            .messages
            .iter()
            .map(|msg| msg["threadId"].clone())
            .collect();
        json!({
            "emailAddress": mailbox,
            "messagesTotal": m.messages.len(),
            "threadsTotal": threads.len(),
            "historyId": m.history_id.to_string(),
        })
    });
    answer.map(Json).ok_or_else(GmailError::not_found)
}

async fn watch(
    State(fake): State<FakeGoogle>,
    Caller(mailbox): Caller,
    Json(body): Json<Value>,
) -> Result<Json<Value>, GmailError> {
    if body["topicName"].as_str().is_none_or(str::is_empty) {
        return Err(GmailError::invalid(
            "Invalid topicName does not match projects/.*/topics/.*",
        ));
    }
    let expiration = chrono::Utc::now() + chrono::Duration::days(7);
    let answer = fake.mailbox(&mailbox, |m| {
        m.watches.push(body);
        json!({
            "historyId": m.history_id.to_string(),
            "expiration": expiration.timestamp_millis().to_string(),
        })
    });
    answer.map(Json).ok_or_else(GmailError::not_found)
}

async fn history(
    State(fake): State<FakeGoogle>,
    Caller(mailbox): Caller,
    Query(params): Params,
) -> Result<Json<Value>, GmailError> {
    let Some(start) = param(&params, "startHistoryId").and_then(|v| v.parse::<u64>().ok()) else {
        return Err(GmailError::invalid("Invalid startHistoryId"));
    };
    let added_wanted = {
        let mut types = all(&params, "historyTypes").peekable();
        types.peek().is_none() || types.any(|t| t == "messageAdded")
    };
    let label = param(&params, "labelId");
    let listed = fake.mailbox(&mailbox, |m| {
        if start < m.oldest_history_id {
            return None;
        }
        let records: Vec<Value> = m
            .history
            .iter()
            .filter(|(id, message)| {
                *id > start && added_wanted && label.is_none_or(|l| has_label(message, l))
            })
            .map(|(id, message)| {
                let summary = json!({ "id": message["id"], "threadId": message["threadId"] });
                json!({
                    "id": id.to_string(),
                    "messages": [summary],
                    "messagesAdded": [{ "message": message }],
                })
            })
            .collect();
        Some((records, m.history_id))
    });
    let Some(Some((records, history_id))) = listed else {
        return Err(GmailError::not_found());
    };
    let answer = json!({ "historyId": history_id.to_string() });
    Ok(Json(paged(answer, "history", records, &params)))
}

async fn list_messages(
    State(fake): State<FakeGoogle>,
    Caller(mailbox): Caller,
    Query(params): Params,
) -> Result<Json<Value>, GmailError> {
    let labels: Vec<&str> = all(&params, "labelIds").collect();
    let matching = fake
        .mailbox(&mailbox, |m| {
            m.messages
                .iter()
                .rev()
                .filter(|msg| labels.iter().all(|l| has_label(msg, l)))
                .map(|msg| json!({ "id": msg["id"], "threadId": msg["threadId"] }))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let answer = json!({ "resultSizeEstimate": matching.len() });
    Ok(Json(paged(answer, "messages", matching, &params)))
}

async fn get_message(
    State(fake): State<FakeGoogle>,
    Caller(mailbox): Caller,
    Path((_, id)): Path<(String, String)>,
    Query(params): Params,
) -> Result<Json<Value>, GmailError> {
    let format = param(&params, "format").unwrap_or("full");
    if !matches!(format, "full" | "minimal") {
        return Err(GmailError::invalid(
            "The sandbox serves format=full and format=minimal only",
        ));
    }
    let found = fake.mailbox(&mailbox, |m| {
        m.messages
            .iter()
            .find(|msg| msg["id"] == id.as_str())
            .cloned()
    });
    let Some(Some(mut message)) = found else {
        return Err(GmailError::not_found());
    };
    if format == "minimal"
        && let Some(fields) = message.as_object_mut()
    {
        fields.remove("payload");
    }
    Ok(Json(message))
}

async fn send(
    State(fake): State<FakeGoogle>,
    Caller(mailbox): Caller,
    Json(body): Json<Value>,
) -> Result<Json<Value>, GmailError> {
    let Some(raw) = body["raw"].as_str().filter(|raw| !raw.is_empty()) else {
        return Err(GmailError::invalid(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        ));
    };
    let Ok(message) = decode_base64(raw).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    else {
        return Err(GmailError::invalid("Invalid value for ByteString"));
    };
    let id = fake.with(|inner| inner.fresh("19d"));
    let thread_id = body["threadId"].as_str().unwrap_or(&id).to_owned();
    let resource = json!({
        "id": id, "threadId": thread_id, "labelIds": ["SENT"], "raw": raw,
        "internalDate": chrono::Utc::now().timestamp_millis().to_string(),
    });
    let sent = SentMail {
        id: id.clone(),
        thread_id: thread_id.clone(),
        message,
    };
    fake.mailbox(&mailbox, |m| {
        m.add(resource);
        m.sent.push(sent);
    });
    Ok(Json(
        json!({ "id": id, "threadId": thread_id, "labelIds": ["SENT"] }),
    ))
}
