//! A fake Telnyx messaging API: `POST /v2/messages`.
//!
//! It checks what Telnyx checks (a bearer API key; `to`; `from` or `messaging_profile_id`;
//! `text` or `media_urls`; sender and recipient not the same number) and answers like Telnyx:
//! `{"data": <message object>}` with a fresh message id and `to[].status` `queued`, or a
//! JSON:API error list `{"errors": [{code, title, detail, source, meta}]}`.
//!
//! `Idempotency-Key` is honoured as Telnyx does: a second request with a key that was already
//! accepted gets the original answer and sends nothing. (Refused requests are not remembered,
//! so a retry after an injected 429 or 5xx goes through.)
//!
//! Failure injection: the next N sends can be refused with a given HTTP status and Telnyx
//! error code (a 429 can carry `Retry-After`), or answered after a delay — through
//! [`FakeTelnyx::fail_next`] in-process, or `POST /_sandbox/telnyx/fail` over HTTP. A delayed
//! success is recorded before the delay, as a real send would be: the caller may give up
//! waiting, yet the message went out. `GET /_sandbox/telnyx/sent` lists the accepted sends.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_shared::shutdown::Shutdown;
use tokio::net::TcpListener;

use super::server;

/// The number a messaging profile sends from when no `from` is given.
pub const POOL_NUMBER: &str = "+15550009999";

/// One send the fake accepted.
#[derive(Debug, Clone, Serialize)]
pub struct SentSms {
    pub api_key: String,
    pub idempotency_key: Option<String>,
    pub body: Value,
    pub message_id: String,
}

/// An injected failure for the next `count` sends.
#[derive(Debug, Clone, Deserialize)]
pub struct TelnyxFailure {
    pub count: u32,
    /// 429 unless told; a 2xx status means "accept, but answer late".
    #[serde(default = "TelnyxFailure::default_status")]
    pub status: u16,
    /// Telnyx error code; `10011` (too many requests) unless told.
    #[serde(default = "TelnyxFailure::default_code")]
    pub code: String,
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
    #[serde(default)]
    pub delay_ms: u64,
}

impl TelnyxFailure {
    fn default_status() -> u16 {
        429
    }

    fn default_code() -> String {
        "10011".into()
    }
}

#[derive(Default)]
struct Inner {
    sent: Vec<SentSms>,
    /// One entry per affected send, in order.
    failures: VecDeque<TelnyxFailure>,
    /// Accepted answers by `Idempotency-Key`.
    answers: HashMap<String, Value>,
}

/// A running fake; clones share state.
#[derive(Clone)]
pub struct FakeTelnyx {
    /// `http://addr`.
    origin: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeTelnyx {
    /// Serve on `addr` (port 0 for any free port) until `shutdown`.
    pub async fn start(addr: SocketAddr, shutdown: Shutdown) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let fake = Self {
            origin,
            inner: Arc::default(),
        };
        server::spawn(listener, fake.router(), shutdown, "telnyx");
        Ok(fake)
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/v2/messages", post(send_message))
            .route("/_sandbox/telnyx/sent", get(list_sent))
            .route("/_sandbox/telnyx/fail", post(inject_failure))
            .with_state(self.clone())
    }

    /// `http://addr/v2`: what `TELNYX_API_BASE` should be.
    pub fn api_base(&self) -> String {
        format!("{}/v2", self.origin)
    }

    /// `http://addr/_sandbox/telnyx`: the `sent` and `fail` endpoints.
    pub fn sandbox_base(&self) -> String {
        format!("{}/_sandbox/telnyx", self.origin)
    }

    /// Run `f` on the shared state.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A poisoned lock only means another request panicked mid-update of test data.
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The accepted sends, oldest first.
    pub fn sent(&self) -> Vec<SentSms> {
        self.with(|inner| inner.sent.clone())
    }

    /// Apply `failure` to the next `failure.count` sends (after any queued before).
    pub fn fail_next(&self, failure: TelnyxFailure) {
        let times = failure.count as usize;
        self.with(|inner| inner.failures.extend(std::iter::repeat_n(failure, times)));
    }
}

/// A refusal, answered as a JSON:API error list shaped like Telnyx's.
struct Refusal {
    status: StatusCode,
    code: String,
    title: &'static str,
    detail: String,
    /// The JSON pointer of the offending request field.
    pointer: &'static str,
}

impl Refusal {
    /// A missing or unusable parameter: 422, code 10015.
    fn invalid(detail: &str, pointer: &'static str) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "10015".into(),
            title: "Bad Request",
            detail: detail.into(),
            pointer,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let url = format!(
            "https://developers.telnyx.com/docs/overview/errors/{}",
            self.code
        );
        let error = json!({
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "source": { "pointer": self.pointer },
            "meta": { "url": url }
        });
        (self.status, Json(json!({ "errors": [error] }))).into_response()
    }
}

fn text_field<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

/// The checks Telnyx makes on a send; `Ok` gives (from, to).
fn check_send(body: &Value) -> Result<(String, String), Refusal> {
    let to = text_field(body, "to")
        .ok_or_else(|| Refusal::invalid("The 'to' parameter is required.", "/to"))?;
    let from = match (
        text_field(body, "from"),
        text_field(body, "messaging_profile_id"),
    ) {
        (Some(from), _) => from,
        (None, Some(_)) => POOL_NUMBER,
        (None, None) => {
            return Err(Refusal::invalid(
                "Either 'from' or 'messaging_profile_id' is required.",
                "/from",
            ));
        }
    };
    let has_media = body
        .get("media_urls")
        .and_then(Value::as_array)
        .is_some_and(|urls| !urls.is_empty());
    if text_field(body, "text").is_none() && !has_media {
        return Err(Refusal::invalid(
            "Either 'text' or 'media_urls' is required.",
            "/text",
        ));
    }
    if from == to {
        return Err(Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "40310".into(),
            title: "Invalid 'to' address",
            detail: format!("Source and destination cannot be the same number: {to}"),
            pointer: "/to",
        });
    }
    Ok((from.to_owned(), to.to_owned()))
}

/// The message object Telnyx answers an accepted send with.
fn queued_message(id: &str, from: &str, to: &str, body: &Value) -> Value {
    let media: Vec<Value> = body
        .get("media_urls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|url| json!({ "url": url, "content_type": null, "size": null }))
        .collect();
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
    let now = chrono::Utc::now();
    json!({
        "record_type": "message",
        "direction": "outbound",
        "id": id,
        "type": if media.is_empty() { "SMS" } else { "MMS" },
        "messaging_profile_id": body.get("messaging_profile_id").cloned().unwrap_or(Value::Null),
        "organization_id": "40000000-0000-4000-8000-000000000002",
        "from": { "phone_number": from, "carrier": "Telnyx", "line_type": "VoIP" },
        "to": [{ "phone_number": to, "status": "queued", "carrier": "Sandbox", "line_type": "Wireless" }],
        "cc": [],
        "text": text,
        "media": media,
        "encoding": if text.is_ascii() { "GSM-7" } else { "UCS-2" },
        "parts": text.chars().count().div_ceil(160).max(1),
        "tags": [],
        "errors": [],
        "cost": null,
        "received_at": now.to_rfc3339(),
        "sent_at": null,
        "completed_at": null,
        "valid_until": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "webhook_url": body.get("webhook_url").cloned().unwrap_or(Value::Null),
        "webhook_failover_url": body.get("webhook_failover_url").cloned().unwrap_or(Value::Null),
    })
}

async fn send_message(
    State(fake): State<FakeTelnyx>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let header_text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(api_key) = header_text(header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|key| !key.trim().is_empty())
    else {
        return Refusal {
            status: StatusCode::UNAUTHORIZED,
            code: "10009".into(),
            title: "Authentication failed",
            detail: "Could not understand the provided credentials.".into(),
            pointer: "/",
        }
        .into_response();
    };
    let idempotency_key = header_text(header::HeaderName::from_static("idempotency-key"));
    if let Some(answer) =
        idempotency_key.and_then(|key| fake.with(|inner| inner.answers.get(key).cloned()))
    {
        return Json(answer).into_response();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return Refusal {
            status: StatusCode::BAD_REQUEST,
            ..Refusal::invalid("The request body is not valid JSON.", "/")
        }
        .into_response();
    };
    let (from, to) = match check_send(&body) {
        Ok(numbers) => numbers,
        Err(refusal) => return refusal.into_response(),
    };
    let failure = fake.with(|inner| inner.failures.pop_front());
    let delay = Duration::from_millis(failure.as_ref().map_or(0, |f| f.delay_ms));
    if let Some(failure) = failure.as_ref().filter(|f| !(200..300).contains(&f.status)) {
        tokio::time::sleep(delay).await;
        return injected(failure);
    }
    // Accepted: recorded now, even if the answer below is delayed past the caller's patience.
    let answer = fake.with(|inner| {
        // A concurrent request with the same key may have been accepted meanwhile.
        if let Some(answer) = idempotency_key.and_then(|key| inner.answers.get(key)) {
            return answer.clone();
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        let answer = json!({ "data": queued_message(&message_id, &from, &to, &body) });
        if let Some(key) = idempotency_key {
            inner.answers.insert(key.to_owned(), answer.clone());
        }
        inner.sent.push(SentSms {
            api_key: api_key.to_owned(),
            idempotency_key: idempotency_key.map(str::to_owned),
            body,
            message_id,
        });
        answer
    });
    tokio::time::sleep(delay).await;
    Json(answer).into_response()
}

fn injected(failure: &TelnyxFailure) -> Response {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut response = Refusal {
        status,
        code: failure.code.clone(),
        title: "Injected failure",
        detail: "Sandbox failure injection.".into(),
        pointer: "/",
    }
    .into_response();
    if let Some(secs) = failure.retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}

async fn list_sent(State(fake): State<FakeTelnyx>) -> Json<Vec<SentSms>> {
    Json(fake.sent())
}

async fn inject_failure(
    State(fake): State<FakeTelnyx>,
    Json(failure): Json<TelnyxFailure>,
) -> StatusCode {
    fake.fail_next(failure);
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests;
