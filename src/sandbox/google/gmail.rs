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
//! Every change (a seeded or sent message) takes the mailbox's history id a few steps
//! forward: ids grow but are not contiguous, like Gmail's.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde::Serialize;
use serde_json::{Value, json};
use switchyard_shared::payloads::pubsub::{GmailNotification, decode_base64};

use super::{Endpoint, FakeGoogle};

const MESSAGE_TEMPLATE: &str = include_str!("../../../tests/fixtures/gmail/message_full.json");
/// A new mailbox's history id.
const FIRST_HISTORY_ID: u64 = 1000;
/// How far one change moves the history id.
const HISTORY_STEP: u64 = 7;

/// A message to put in a mailbox, shaped like the fixture (`multipart/alternative` with a
/// plain and an HTML part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub from: String,
    pub subject: String,
    pub text: String,
    /// A new thread of its own unless given.
    pub thread_id: Option<String>,
    pub label_ids: Vec<String>,
}

impl NewMessage {
    /// An unread message in the inbox.
    pub fn inbound(from: &str, subject: &str, text: &str) -> Self {
        Self {
            from: from.into(),
            subject: subject.into(),
            text: text.into(),
            thread_id: None,
            label_ids: vec!["UNREAD".into(), "INBOX".into()],
        }
    }
}

/// A message sent through `messages.send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentMail {
    pub id: String,
    pub thread_id: String,
    /// The RFC 2822 message, decoded from `raw`.
    pub message: String,
}

/// One mailbox's state.
pub(super) struct Mailbox {
    history_id: u64,
    /// History before this id is gone: listing from earlier answers 404.
    oldest_history_id: u64,
    /// Full message resources, oldest first.
    messages: Vec<Value>,
    /// `(history id, {id, threadId, labelIds})` of each added message, oldest first.
    history: Vec<(u64, Value)>,
    sent: Vec<SentMail>,
    watches: Vec<Value>,
}

impl Mailbox {
    pub(super) fn new() -> Self {
        Self {
            history_id: FIRST_HISTORY_ID,
            oldest_history_id: FIRST_HISTORY_ID,
            messages: Vec::new(),
            history: Vec::new(),
            sent: Vec::new(),
            watches: Vec::new(),
        }
    }

    /// Add `message` (a full resource with `id`, `threadId`, `labelIds`) as the next change.
    fn add(&mut self, mut message: Value) -> u64 {
        self.history_id += HISTORY_STEP;
        message["historyId"] = json!(self.history_id.to_string());
        let summary = json!({
            "id": message["id"],
            "threadId": message["threadId"],
            "labelIds": message["labelIds"],
        });
        self.history.push((self.history_id, summary));
        self.messages.push(message);
        self.history_id
    }
}

/// A message resource like the fixture's, with this message's fields.
fn full_message(id: &str, mailbox: &str, new: &NewMessage) -> Value {
    let mut message: Value = serde_json::from_str(MESSAGE_TEMPLATE).unwrap_or_default();
    let header = |name: &str| match name {
        "From" => Some(new.from.clone()),
        "To" | "Delivered-To" => Some(mailbox.to_owned()),
        "Subject" => Some(new.subject.clone()),
        "Message-ID" => Some(format!("<{id}@sandbox.example>")),
        _ => None,
    };
    if let Some(headers) = message["payload"]["headers"].as_array_mut() {
        for entry in headers {
            if let Some(value) = entry["name"].as_str().and_then(header) {
                entry["value"] = json!(value);
            }
        }
    }
    let html = format!("<div dir=\"ltr\">{}</div>", new.text.replace('\n', "<br>"));
    for (index, body) in [new.text.as_str(), &html].into_iter().enumerate() {
        message["payload"]["parts"][index]["body"] =
            json!({ "size": body.len(), "data": URL_SAFE.encode(body) });
    }
    message["id"] = json!(id);
    message["threadId"] = json!(new.thread_id.as_deref().unwrap_or(id));
    message["labelIds"] = json!(new.label_ids);
    message["snippet"] = json!(new.text.chars().take(100).collect::<String>());
    message["internalDate"] = json!(chrono::Utc::now().timestamp_millis().to_string());
    message
}

impl FakeGoogle {
    fn mailbox<R>(&self, mailbox: &str, f: impl FnOnce(&mut Mailbox) -> R) -> Option<R> {
        self.with(|inner| inner.mailboxes.get_mut(mailbox).map(f))
    }

    /// Put `new` in `mailbox` (created if need be); its message id and the history id after.
    pub fn add_message(&self, mailbox: &str, new: &NewMessage) -> (String, u64) {
        self.add_mailbox(mailbox);
        let id = self.with(|inner| inner.fresh("19c"));
        let message = full_message(&id, mailbox, new);
        let history_id = self
            .mailbox(mailbox, |m| m.add(message))
            .unwrap_or_default();
        (id, history_id)
    }

    /// Put the fixture message (`tests/fixtures/gmail/message_full.json`, unchanged but for
    /// its history id) in `mailbox`; the history id after.
    pub fn add_fixture_message(&self, mailbox: &str) -> u64 {
        self.add_mailbox(mailbox);
        let message = serde_json::from_str(MESSAGE_TEMPLATE).unwrap_or_default();
        self.mailbox(mailbox, |m| m.add(message))
            .unwrap_or_default()
    }

    /// Drop the history kept so far: listing from any earlier id answers 404.
    pub fn forget_history(&self, mailbox: &str) {
        self.mailbox(mailbox, |m| {
            m.oldest_history_id = m.history_id;
            m.history.clear();
        });
    }

    /// The mailbox's current history id.
    pub fn history_id(&self, mailbox: &str) -> Option<u64> {
        self.mailbox(mailbox, |m| m.history_id)
    }

    /// The notification Gmail would publish for the mailbox now.
    pub fn notification(&self, mailbox: &str) -> Option<GmailNotification> {
        Some(GmailNotification {
            email_address: mailbox.to_owned(),
            history_id: self.history_id(mailbox)?,
        })
    }

    /// Messages sent from `mailbox`, oldest first.
    pub fn sent(&self, mailbox: &str) -> Vec<SentMail> {
        self.mailbox(mailbox, |m| m.sent.clone())
            .unwrap_or_default()
    }

    /// The `watch` request bodies for `mailbox`, oldest first.
    pub fn watches(&self, mailbox: &str) -> Vec<Value> {
        self.mailbox(mailbox, |m| m.watches.clone())
            .unwrap_or_default()
    }
}

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
