//! The Gmail API calls a mailbox sync and a reply need, over `reqwest`, with the mailbox's OAuth
//! access token as a bearer token. The base is `GMAIL_API_BASE` (default
//! [`DEFAULT_API_BASE`], ending in `/gmail/v1`) so tests point it at a fake.
//!
//! | call | request | answer |
//! |---|---|---|
//! | [`GmailClient::history_list`] | `GET users/{user}/history?startHistoryId&historyTypes=messageAdded&pageToken` | [`HistoryPage`] |
//! | [`GmailClient::message_full`] | `GET users/{user}/messages/{id}?format=full` | [`GmailMessage`] |
//! | [`GmailClient::list_recent`] | `GET users/{user}/messages?labelIds=INBOX&maxResults` (resync) | [`MessageRef`]s, newest first |
//! | [`GmailClient::send_raw`] | `POST users/{user}/messages/send {raw, threadId}` | [`SentMessage`] |
//!
//! Refusals come in Google's error shape `{"error": {code, message, errors: [{reason}],
//! status}}` and are classified into [`GmailError`]:
//!
//! - 401 → [`GmailError::Unauthorized`]: the access token expired or was revoked. The caller
//!   refreshes it ([`super::oauth`]) and retries **once**; a second 401 is permanent.
//! - 404 on `history.list` → [`GmailError::HistoryTooOld`]: the cursor is older than Gmail keeps
//!   (a week, sometimes hours); the caller resyncs recent messages instead of failing.
//! - 404 on `messages.get` → [`GmailError::MessageGone`]: deleted between the listing and the
//!   fetch; the sync skips it.
//! - 429, or 403 with reason `rateLimitExceeded` / `userRateLimitExceeded` →
//!   [`GmailError::RateLimited`], with the `Retry-After` delay when Gmail gives one.
//! - 5xx, 408, time-outs and connections that could not be opened → [`GmailError::Transient`].
//! - A send whose request left but whose answer never came → [`GmailError::Ambiguous`]: Gmail has
//!   no idempotency key, so sending again could deliver the reply twice.
//! - Any other 4xx → [`GmailError::Permanent`], with Google's message and reason.
//!
//! The `interpret_*` functions read an answer and are pure, so they are tested on the
//! documented responses in `tests/fixtures/gmail/`.

use std::time::Duration;

use chrono::Utc;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use switchyard_shared::secrets::SecretString;

use super::mime::GmailMessage;
use super::sync::HistoryId;
use crate::senders::{Answer, SendError, parse_retry_after};

/// Where the Gmail API lives when `GMAIL_API_BASE` is not set.
pub const DEFAULT_API_BASE: &str = "https://gmail.googleapis.com/gmail/v1";

/// Why a Gmail call did not give its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GmailError {
    /// 401: refresh the access token and try once more.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 404 on `history.list`: the start id is too old; resync recent messages.
    #[error("startHistoryId is too old")]
    HistoryTooOld,
    /// 404 on `messages.get`: the message was deleted since it was listed.
    #[error("the message no longer exists")]
    MessageGone,
    /// Gmail asked us to slow down; wait `retry_after` when given.
    #[error("rate limited: {reason}")]
    RateLimited {
        retry_after: Option<Duration>,
        reason: String,
    },
    /// Gmail or the network failed for now; safe to try again later.
    #[error("transient: {0}")]
    Transient(String),
    /// A send may have reached Gmail but gave no readable answer; not safe to repeat.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    /// Refused for good.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<GmailError> for SendError {
    /// How the outbox treats a failed `messages.send` (after the one retry on a fresh token).
    fn from(e: GmailError) -> Self {
        match e {
            GmailError::RateLimited { .. } | GmailError::Transient(_) => {
                SendError::Retryable(e.to_string())
            }
            GmailError::Ambiguous(_) => SendError::Ambiguous(e.to_string()),
            GmailError::Unauthorized(_)
            | GmailError::HistoryTooOld
            | GmailError::MessageGone
            | GmailError::Permanent(_) => SendError::Permanent(e.to_string()),
        }
    }
}

/// A message named by a listing: its id and thread, and its labels when the listing gives them
/// (`history.list` does, `messages.list` does not).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageRef {
    pub id: String,
    #[serde(default)]
    pub thread_id: String,
    #[serde(default)]
    pub label_ids: Vec<String>,
}

/// One page of `history.list`, reduced to what a sync needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// Messages added, in history order (a message can appear more than once).
    pub added: Vec<MessageRef>,
    /// The mailbox's current history id: the new cursor once the last page is processed.
    pub history_id: HistoryId,
    pub next_page_token: Option<String>,
}

/// The message Gmail stored for a `messages.send`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    pub id: String,
    #[serde(default)]
    pub thread_id: String,
}

/// `users.watch`'s answer: where the mailbox's history stands, and when the watch lapses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchAnswer {
    pub history_id: HistoryId,
    /// Unix milliseconds, as text.
    #[serde(default)]
    pub expiration: Option<String>,
}

impl WatchAnswer {
    /// When the watch lapses, if Gmail said.
    pub fn expires_at(&self) -> Option<chrono::DateTime<Utc>> {
        self.expiration
            .as_deref()
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(chrono::DateTime::from_timestamp_millis)
    }
}

/// The body of `messages.send`: a base64url RFC 2822 message, in a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    pub raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryResponse {
    #[serde(default)]
    history: Vec<History>,
    history_id: HistoryId,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct History {
    #[serde(default)]
    messages_added: Vec<Added>,
}

#[derive(Deserialize)]
struct Added {
    message: MessageRef,
}

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    messages: Vec<MessageRef>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// Which call an answer belongs to; a 404 means different things to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    HistoryList,
    Message,
    Read,
    Send,
}

#[derive(Clone)]
pub struct GmailClient {
    http: reqwest::Client,
    api_base: String,
}

impl GmailClient {
    /// A client on `http` (whose time-outs bound each call); `api_base` ends in `/gmail/v1`.
    pub fn new(http: reqwest::Client, api_base: &str) -> Self {
        Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
        }
    }

    /// One page of messages added since `start`; `user` is `me` or the mailbox address.
    pub async fn history_list(
        &self,
        token: &SecretString,
        user: &str,
        start: HistoryId,
        page_token: Option<&str>,
    ) -> Result<HistoryPage, GmailError> {
        let mut url = self.url(user, &["history"])?;
        url.query_pairs_mut()
            .append_pair("startHistoryId", &start.to_string())
            .append_pair("historyTypes", "messageAdded");
        if let Some(page_token) = page_token {
            url.query_pairs_mut().append_pair("pageToken", page_token);
        }
        let (status, body) = self
            .call(self.http.get(url), token, Call::HistoryList)
            .await?;
        interpret_history_list(status, &body)
    }

    /// The message `id` with its MIME tree (`format=full`).
    pub async fn message_full(
        &self,
        token: &SecretString,
        user: &str,
        id: &str,
    ) -> Result<GmailMessage, GmailError> {
        let mut url = self.url(user, &["messages", id])?;
        url.query_pairs_mut().append_pair("format", "full");
        let (status, body) = self.call(self.http.get(url), token, Call::Message).await?;
        interpret_message_full(status, &body)
    }

    /// The `max` most recent inbox messages, newest first: the resync after
    /// [`GmailError::HistoryTooOld`].
    pub async fn list_recent(
        &self,
        token: &SecretString,
        user: &str,
        max: u32,
    ) -> Result<Vec<MessageRef>, GmailError> {
        let mut url = self.url(user, &["messages"])?;
        url.query_pairs_mut()
            .append_pair("labelIds", "INBOX")
            .append_pair("maxResults", &max.clamp(1, 500).to_string());
        let (status, body) = self.call(self.http.get(url), token, Call::Read).await?;
        interpret_list(status, &body)
    }

    /// Send a base64url RFC 2822 message (see [`super::reply`]) in `thread_id`.
    pub async fn send_raw(
        &self,
        token: &SecretString,
        user: &str,
        raw_base64url: &str,
        thread_id: Option<&str>,
    ) -> Result<SentMessage, GmailError> {
        let url = self.url(user, &["messages", "send"])?;
        let request = SendRequest {
            raw: raw_base64url.to_owned(),
            thread_id: thread_id.map(str::to_owned),
        };
        let (status, body) = self
            .call(self.http.post(url).json(&request), token, Call::Send)
            .await?;
        interpret_send(status, &body)
    }

    /// (Re)start the mailbox's push notifications of new INBOX mail to the Pub/Sub `topic`;
    /// Gmail requires this at least every 7 days.
    pub async fn watch(
        &self,
        token: &SecretString,
        user: &str,
        topic: &str,
    ) -> Result<WatchAnswer, GmailError> {
        let url = self.url(user, &["watch"])?;
        let request = serde_json::json!({
            "topicName": topic,
            "labelIds": ["INBOX"],
            "labelFilterBehavior": "include",
        });
        let (status, body) = self
            .call(self.http.post(url).json(&request), token, Call::Read)
            .await?;
        success(status, &body, Call::Read)
    }

    /// `{base}/users/{user}/{segments…}`, each segment percent-encoded.
    fn url(&self, user: &str, segments: &[&str]) -> Result<Url, GmailError> {
        let mut url = Url::parse(&format!("{}/users", self.api_base))
            .map_err(|e| GmailError::Permanent(format!("GMAIL_API_BASE: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| GmailError::Permanent("GMAIL_API_BASE cannot be a base".into()))?
            .push(user)
            .extend(segments);
        Ok(url)
    }

    /// Send the request; a refusal is classified here, an answer is returned for its
    /// `interpret_*` function.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        token: &SecretString,
        call: Call,
    ) -> Result<(StatusCode, bytes::Bytes), GmailError> {
        let response = request
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| unanswered(&e, call))?;
        let Answer {
            status,
            retry_after,
            body,
        } = Answer::read(response).await;
        let body = body.map_err(|e| unreadable(call, format!("response body: {e}")))?;
        if status.is_success() {
            return Ok((status, body));
        }
        Err(match refusal(status, &body, call) {
            GmailError::RateLimited { reason, .. } => GmailError::RateLimited {
                retry_after: retry_after.and_then(|v| parse_retry_after(&v, Utc::now())),
                reason,
            },
            other => other,
        })
    }
}

/// A request that got no answer: one that never left is safe to repeat; a send that may have
/// left is not.
fn unanswered(e: &reqwest::Error, call: Call) -> GmailError {
    if e.is_builder() {
        GmailError::Permanent(format!("request: {e}"))
    } else if e.is_connect() || call != Call::Send {
        GmailError::Transient(format!("no answer: {e}"))
    } else {
        GmailError::Ambiguous(format!("no answer to the send: {e}"))
    }
}

/// Read a `history.list` answer.
pub fn interpret_history_list(status: StatusCode, body: &[u8]) -> Result<HistoryPage, GmailError> {
    let response: HistoryResponse = success(status, body, Call::HistoryList)?;
    Ok(HistoryPage {
        added: response
            .history
            .into_iter()
            .flat_map(|h| h.messages_added)
            .map(|a| a.message)
            .collect(),
        history_id: response.history_id,
        next_page_token: response.next_page_token,
    })
}

/// Read a `messages.get?format=full` answer.
pub fn interpret_message_full(status: StatusCode, body: &[u8]) -> Result<GmailMessage, GmailError> {
    success(status, body, Call::Message)
}

/// Read a `messages.list` answer (no `messages` when the mailbox is empty).
pub fn interpret_list(status: StatusCode, body: &[u8]) -> Result<Vec<MessageRef>, GmailError> {
    success::<ListResponse>(status, body, Call::Read).map(|r| r.messages)
}

/// Read a `messages.send` answer.
pub fn interpret_send(status: StatusCode, body: &[u8]) -> Result<SentMessage, GmailError> {
    let sent: SentMessage = success(status, body, Call::Send)?;
    if sent.id.is_empty() {
        return Err(GmailError::Ambiguous("sent message without an id".into()));
    }
    Ok(sent)
}

/// The parsed body of a success, or the classified refusal.
fn success<T: serde::de::DeserializeOwned>(
    status: StatusCode,
    body: &[u8],
    call: Call,
) -> Result<T, GmailError> {
    if !status.is_success() {
        return Err(refusal(status, body, call));
    }
    serde_json::from_slice(body).map_err(|e| unreadable(call, format!("unreadable answer: {e}")))
}

/// A success we cannot read: a read is tried again; a send Gmail accepted must not be.
fn unreadable(call: Call, reason: String) -> GmailError {
    if call == Call::Send {
        GmailError::Ambiguous(reason)
    } else {
        GmailError::Transient(reason)
    }
}

/// Classify a non-success answer, described with Google's message and reasons.
fn refusal(status: StatusCode, body: &[u8], call: Call) -> GmailError {
    let error = serde_json::from_slice::<ErrorResponse>(body)
        .ok()
        .map(|r| r.error);
    let reasons: Vec<&str> = error
        .iter()
        .flat_map(|e| e.errors.iter().map(|i| i.reason.as_str()))
        .filter(|r| !r.is_empty())
        .collect();
    let described = match &error {
        Some(e) if !e.message.is_empty() && !reasons.is_empty() => {
            format!("HTTP {status}, {} ({})", e.message, reasons.join(", "))
        }
        Some(e) if !e.message.is_empty() => format!("HTTP {status}, {}", e.message),
        _ => format!("HTTP {status}"),
    };
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && reasons
                .iter()
                .any(|r| matches!(*r, "rateLimitExceeded" | "userRateLimitExceeded")));
    match status {
        _ if rate_limited => GmailError::RateLimited {
            retry_after: None,
            reason: described,
        },
        StatusCode::UNAUTHORIZED => GmailError::Unauthorized(described),
        StatusCode::NOT_FOUND if call == Call::HistoryList => GmailError::HistoryTooOld,
        StatusCode::NOT_FOUND if call == Call::Message => GmailError::MessageGone,
        StatusCode::REQUEST_TIMEOUT => GmailError::Transient(described),
        s if s.is_server_error() => GmailError::Transient(described),
        _ => GmailError::Permanent(described),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake_server;
    use super::*;

    const HISTORY: &[u8] = include_bytes!("../../../tests/fixtures/gmail/history_list.json");
    const MESSAGE: &[u8] = include_bytes!("../../../tests/fixtures/gmail/message_full.json");
    const SEND_REQUEST: &str = include_str!("../../../tests/fixtures/gmail/send_request.json");
    const SEND_RESPONSE: &[u8] = include_bytes!("../../../tests/fixtures/gmail/send_response.json");
    const HISTORY_404: &[u8] =
        include_bytes!("../../../tests/fixtures/gmail/error_404_history.json");

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn google_error(code: u16, message: &str, reason: &str, status: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"error": {
            "code": code, "message": message, "status": status,
            "errors": [{"message": message, "domain": "global", "reason": reason}]
        }}))
        .unwrap()
    }

    #[test]
    fn reads_the_fixture_history_page() {
        let page = interpret_history_list(StatusCode::OK, HISTORY).unwrap();
        assert_eq!(page.history_id, HistoryId::new(4_251_009));
        assert_eq!(page.next_page_token, None);
        // Only messagesAdded count; the labelsRemoved record is ignored.
        let added: Vec<(&str, &str, &[String])> = page
            .added
            .iter()
            .map(|m| (m.id.as_str(), m.thread_id.as_str(), m.label_ids.as_slice()))
            .collect();
        assert_eq!(added.len(), 2);
        assert_eq!(added[0].0, "19b7f0a1c2d3e4f5");
        assert_eq!(added[0].1, "19b7f0a1c2d3e4f5");
        assert_eq!(added[0].2, ["UNREAD", "CATEGORY_PERSONAL", "INBOX"]);
        assert_eq!(added[1].0, "19b7f0b2d3e4f506");
        assert_eq!(added[1].2, ["SENT"]);
    }

    #[test]
    fn a_page_without_changes_still_carries_the_history_id() {
        let page = interpret_history_list(
            StatusCode::OK,
            br#"{"historyId": "77", "nextPageToken": "n"}"#,
        )
        .unwrap();
        assert!(page.added.is_empty());
        assert_eq!(page.history_id, HistoryId::new(77));
        assert_eq!(page.next_page_token.as_deref(), Some("n"));
        assert!(matches!(
            interpret_history_list(StatusCode::OK, b"{}"),
            Err(GmailError::Transient(_))
        ));
    }

    #[test]
    fn a_404_on_history_means_resync_and_on_a_message_that_it_is_gone() {
        assert_eq!(
            interpret_history_list(status(404), HISTORY_404),
            Err(GmailError::HistoryTooOld)
        );
        assert_eq!(
            interpret_message_full(status(404), HISTORY_404),
            Err(GmailError::MessageGone)
        );
        // On other calls a 404 is a plain refusal.
        assert_eq!(
            interpret_list(status(404), HISTORY_404).unwrap_err(),
            GmailError::Permanent(
                "HTTP 404 Not Found, Requested entity was not found. (notFound)".into()
            )
        );
    }

    #[test]
    fn reads_the_fixture_message() {
        let message = interpret_message_full(StatusCode::OK, MESSAGE).unwrap();
        assert_eq!(message.id, "19b7f0a1c2d3e4f5");
        assert_eq!(message.thread_id, "19b7f0a1c2d3e4f5");
        assert_eq!(message.history_id, Some(HistoryId::new(4_251_009)));
    }

    #[test]
    fn reads_a_message_listing() {
        let listed = interpret_list(
            StatusCode::OK,
            br#"{"messages": [{"id": "b", "threadId": "tb"}, {"id": "a", "threadId": "ta"}],
                 "resultSizeEstimate": 2}"#,
        )
        .unwrap();
        assert_eq!(
            listed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        assert_eq!(
            interpret_list(StatusCode::OK, br#"{"resultSizeEstimate": 0}"#),
            Ok(Vec::new())
        );
    }

    #[test]
    fn send_body_and_answer_match_the_fixtures() {
        let fixture: SendRequest = serde_json::from_str(SEND_REQUEST).unwrap();
        assert_eq!(
            serde_json::to_value(&fixture).unwrap(),
            serde_json::from_str::<serde_json::Value>(SEND_REQUEST).unwrap()
        );
        assert_eq!(
            interpret_send(StatusCode::OK, SEND_RESPONSE),
            Ok(SentMessage {
                id: "19b7f0c3e4f50617".into(),
                thread_id: "19b7f0a1c2d3e4f5".into()
            })
        );
        for unreadable in [&b"<html>"[..], br#"{"id": ""}"#] {
            assert!(matches!(
                interpret_send(StatusCode::OK, unreadable),
                Err(GmailError::Ambiguous(_))
            ));
        }
    }

    #[test]
    fn a_401_asks_for_a_fresh_token() {
        let body = google_error(
            401,
            "Request had invalid authentication credentials.",
            "authError",
            "UNAUTHENTICATED",
        );
        let e = interpret_send(status(401), &body).unwrap_err();
        assert_eq!(
            e,
            GmailError::Unauthorized(
                "HTTP 401 Unauthorized, Request had invalid authentication credentials. \
                 (authError)"
                    .into()
            )
        );
        assert!(matches!(SendError::from(e), SendError::Permanent(_)));
    }

    #[test]
    fn rate_limits_are_recognised_on_429_and_403() {
        let limited = google_error(429, "Too many requests", "rateLimitExceeded", "");
        let user_limited =
            google_error(403, "User-rate limit exceeded", "userRateLimitExceeded", "");
        for (code, body) in [(429, &limited[..]), (403, &user_limited[..]), (429, b"")] {
            let e = interpret_history_list(status(code), body).unwrap_err();
            assert!(
                matches!(
                    &e,
                    GmailError::RateLimited {
                        retry_after: None,
                        ..
                    }
                ),
                "{code}: {e}"
            );
            assert!(matches!(SendError::from(e), SendError::Retryable(_)));
        }
        // A 403 for another reason is a refusal.
        let forbidden = google_error(
            403,
            "Insufficient Permission",
            "insufficientPermissions",
            "",
        );
        assert!(matches!(
            interpret_send(status(403), &forbidden),
            Err(GmailError::Permanent(r)) if r.contains("insufficientPermissions")
        ));
    }

    #[test]
    fn server_errors_are_transient_and_client_errors_permanent() {
        let backend = google_error(500, "Backend Error", "backendError", "INTERNAL");
        for (code, body) in [(500, &backend[..]), (503, b"<html>"), (408, b"")] {
            let e = interpret_message_full(status(code), body).unwrap_err();
            assert!(matches!(e, GmailError::Transient(_)), "{code}: {e}");
        }
        let invalid = google_error(
            400,
            "Invalid to header",
            "invalidArgument",
            "INVALID_ARGUMENT",
        );
        assert_eq!(
            interpret_send(status(400), &invalid),
            Err(GmailError::Permanent(
                "HTTP 400 Bad Request, Invalid to header (invalidArgument)".into()
            ))
        );
    }

    #[test]
    fn urls_encode_the_mailbox_and_ids() {
        let client = GmailClient::new(reqwest::Client::new(), "http://127.0.0.1:9/gmail/v1/");
        assert_eq!(
            client
                .url("tenant inbox@example.com", &["messages", "a/b"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/gmail/v1/users/tenant%20inbox@example.com/messages/a%2Fb"
        );
    }

    fn token() -> SecretString {
        SecretString::new("ya29.token")
    }

    async fn client_for(
        status: u16,
        headers: &str,
        body: &[u8],
    ) -> (GmailClient, tokio::task::JoinHandle<fake_server::Recorded>) {
        let body = std::str::from_utf8(body).unwrap();
        let (base, request) = fake_server::serve_once(status, headers, body).await;
        let client = GmailClient::new(reqwest::Client::new(), &format!("{base}/gmail/v1"));
        (client, request)
    }

    #[tokio::test]
    async fn history_list_asks_for_added_messages_from_the_cursor() {
        let (client, request) = client_for(200, "", HISTORY).await;
        let page = client
            .history_list(&token(), "me", HistoryId::new(4_251_000), Some("p 2"))
            .await
            .unwrap();
        assert_eq!(page.history_id, HistoryId::new(4_251_009));
        let request = request.await.unwrap();
        assert_eq!(
            request.request_line,
            "GET /gmail/v1/users/me/history?startHistoryId=4251000&historyTypes=messageAdded\
             &pageToken=p+2 HTTP/1.1"
        );
        assert!(
            request.headers.contains("authorization: bearer ya29.token"),
            "{}",
            request.headers
        );
    }

    #[tokio::test]
    async fn message_full_and_list_recent_ask_gmail_as_documented() {
        let (client, request) = client_for(200, "", MESSAGE).await;
        let message = client
            .message_full(&token(), "tenant.inbox@example.com", "19b7f0a1c2d3e4f5")
            .await
            .unwrap();
        assert_eq!(message.id, "19b7f0a1c2d3e4f5");
        assert_eq!(
            request.await.unwrap().request_line,
            "GET /gmail/v1/users/tenant.inbox@example.com/messages/19b7f0a1c2d3e4f5?format=full HTTP/1.1"
        );
        let (client, request) =
            client_for(200, "", br#"{"messages": [{"id": "a", "threadId": "t"}]}"#).await;
        assert_eq!(
            client
                .list_recent(&token(), "me", 2000)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            request.await.unwrap().request_line,
            "GET /gmail/v1/users/me/messages?labelIds=INBOX&maxResults=500 HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn send_raw_posts_the_documented_body() {
        let (client, request) = client_for(200, "", SEND_RESPONSE).await;
        let fixture: SendRequest = serde_json::from_str(SEND_REQUEST).unwrap();
        let sent = client
            .send_raw(&token(), "me", &fixture.raw, fixture.thread_id.as_deref())
            .await
            .unwrap();
        assert_eq!(sent.id, "19b7f0c3e4f50617");
        let request = request.await.unwrap();
        assert_eq!(
            request.request_line,
            "POST /gmail/v1/users/me/messages/send HTTP/1.1"
        );
        assert!(request.headers.contains("content-type: application/json"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&request.body).unwrap(),
            serde_json::from_str::<serde_json::Value>(SEND_REQUEST).unwrap()
        );
    }

    #[tokio::test]
    async fn a_429_carries_its_retry_after() {
        let body = google_error(429, "Too many requests", "rateLimitExceeded", "");
        let (client, _request) = client_for(429, "retry-after: 7\r\n", &body).await;
        let e = client
            .history_list(&token(), "me", HistoryId::new(1), None)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            GmailError::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
                reason: "HTTP 429 Too Many Requests, Too many requests (rateLimitExceeded)".into()
            }
        );
    }

    #[tokio::test]
    async fn an_unreachable_gmail_is_transient() {
        // Nothing listens on the port once the listener is dropped.
        let port = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = GmailClient::new(
            reqwest::Client::new(),
            &format!("http://127.0.0.1:{port}/gmail/v1"),
        );
        let read = client.message_full(&token(), "me", "x").await.unwrap_err();
        assert!(matches!(read, GmailError::Transient(_)), "{read}");
        // A send that never connected was never sent: safe to retry too.
        let send = client
            .send_raw(&token(), "me", "cmF3", None)
            .await
            .unwrap_err();
        assert!(matches!(send, GmailError::Transient(_)), "{send}");
    }
}
