//! A fake Meta Graph API: `POST /{version}/{phone_number_id}/messages`.
//!
//! It checks what Meta checks first (a bearer token, a well-formed text message) and answers
//! like Meta: `{"messaging_product", "contacts": [{input, wa_id}], "messages": [{id}]}` on
//! success, a Graph error envelope otherwise. It records every accepted send.
//!
//! Failure injection: the next N sends can be refused with a given HTTP status and Graph error
//! code (e.g. 130429, the throughput limit), or answered after a delay — through
//! [`FakeGraph::fail_next`] in-process, or `POST /_sandbox/whatsapp/fail` over HTTP.
//! `GET /_sandbox/whatsapp/sent` lists the recorded sends.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_shared::shutdown::Shutdown;
use tokio::net::TcpListener;

/// One send the fake accepted.
#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    pub phone_number_id: String,
    pub bearer_token: String,
    pub body: Value,
    pub wamid: String,
}

/// An injected failure for the next sends.
#[derive(Debug, Clone, Deserialize)]
pub struct Failure {
    pub count: u32,
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default = "default_code")]
    pub code: i64,
    #[serde(default)]
    pub delay_ms: u64,
}

fn default_status() -> u16 {
    400
}

fn default_code() -> i64 {
    130429
}

#[derive(Default)]
struct Inner {
    sent: Vec<SentMessage>,
    failures: VecDeque<Failure>,
    next_id: u64,
    /// Send requests being answered now, and the most there ever were at once.
    sends_in_flight: usize,
    most_sends_in_flight: usize,
}

/// A running fake; clones share state.
#[derive(Clone)]
pub struct FakeGraph {
    inner: Arc<Mutex<Inner>>,
    addr: SocketAddr,
}

impl FakeGraph {
    /// Serve on `addr` (port 0 for any free port) until `shutdown`.
    pub async fn start(addr: SocketAddr, shutdown: Shutdown) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let fake = Self {
            inner: Arc::default(),
            addr: listener.local_addr()?,
        };
        let app = Router::new()
            .route("/{version}/{phone_number_id}/messages", post(send_message))
            .route("/{version}/oauth/access_token", get(exchange_code))
            .route("/{version}/debug_token", get(debug_token))
            .route("/{version}/{waba_id}/phone_numbers", get(phone_numbers))
            .route("/{version}/{waba_id}/subscribed_apps", post(subscribe_app))
            .route("/_sandbox/whatsapp/sent", get(list_sent))
            .route("/_sandbox/whatsapp/fail", post(inject_failure))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.wait().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "fake Graph API stopped");
            }
        });
        Ok(fake)
    }

    /// `http://addr/v25.0`: what `WHATSAPP_API_BASE` should be.
    pub fn api_base(&self) -> String {
        format!("http://{}/v25.0", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another request panicked mid-update of test data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn sent(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    /// The most send requests the fake was answering at one time: how many sends the caller
    /// had in flight at its busiest.
    pub fn most_sends_in_flight(&self) -> usize {
        self.lock().most_sends_in_flight
    }

    pub fn fail_next(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    /// Take the next injected failure, if any is left.
    fn next_failure(&self) -> Option<Failure> {
        let mut inner = self.lock();
        let front = inner.failures.front_mut()?;
        let failure = front.clone();
        front.count = front.count.saturating_sub(1);
        if front.count == 0 {
            inner.failures.pop_front();
        }
        (failure.count > 0).then_some(failure)
    }
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(json!({
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code,
                "error_data": { "messaging_product": "whatsapp", "details": message },
                "fbtrace_id": "SandboxFbTraceId"
            }
        })),
    )
        .into_response()
}

async fn send_message(
    State(fake): State<FakeGraph>,
    Path((_version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let _in_flight = SendInFlight::enter(&fake);
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
    else {
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.");
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Invalid JSON body");
    };
    let recipient = body
        .get("to")
        .or_else(|| body.get("recipient"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let shape_ok = body.get("messaging_product") == Some(&json!("whatsapp"))
        && match body.get("type").and_then(Value::as_str) {
            Some("text") => text_ok(&body, "/text/body", 4096),
            Some("interactive") => reply_buttons_ok(&body),
            _ => false,
        };
    let Some(recipient) = recipient.filter(|_| shape_ok) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "(#100) Invalid parameter: expected messaging_product, to, and type=text with text.body \
             or type=interactive with 1-3 reply buttons (titles of at most 20 characters)",
        );
    };
    let failure = fake.next_failure();
    if let Some(failure) = &failure {
        let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST);
        if !status.is_success() {
            tokio::time::sleep(Duration::from_millis(failure.delay_ms)).await;
            return graph_error(status, failure.code, "Injected failure");
        }
    }
    // Accepted: recorded now, even if the answer below is delayed past the caller's patience.
    let wamid = {
        let mut inner = fake.lock();
        inner.next_id += 1;
        let wamid = format!(
            "wamid.SANDBOX_{:08}_{}",
            inner.next_id,
            uuid::Uuid::new_v4().simple()
        );
        inner.sent.push(SentMessage {
            phone_number_id,
            bearer_token: token.to_owned(),
            body,
            wamid: wamid.clone(),
        });
        wamid
    };
    if let Some(failure) = failure {
        tokio::time::sleep(Duration::from_millis(failure.delay_ms)).await;
    }
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": recipient, "wa_id": recipient.trim_start_matches('+') }],
        "messages": [{ "id": wamid }]
    }))
    .into_response()
}

/// Counts one send request as in flight for as long as it lives.
struct SendInFlight<'a>(&'a FakeGraph);

impl<'a> SendInFlight<'a> {
    fn enter(fake: &'a FakeGraph) -> Self {
        let mut inner = fake.lock();
        inner.sends_in_flight += 1;
        inner.most_sends_in_flight = inner.most_sends_in_flight.max(inner.sends_in_flight);
        Self(fake)
    }
}

impl Drop for SendInFlight<'_> {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.sends_in_flight = inner.sends_in_flight.saturating_sub(1);
    }
}

// Embedded signup. The fake WABA is the fixtures' 200000000000002 with number
// 100000000000001. A signup `code` steers failures: `bad…` is refused at the exchange,
// `fail-subscribe…` at the subscription, `no-numbers…` yields a WABA without numbers.

#[derive(Deserialize)]
struct ExchangeQuery {
    client_id: Option<String>,
    client_secret: Option<String>,
    code: Option<String>,
}

async fn exchange_code(Query(q): Query<ExchangeQuery>) -> Response {
    let (Some(_), Some(_), Some(code)) = (q.client_id, q.client_secret, q.code) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "Missing client_id, client_secret or code",
        );
    };
    if code.starts_with("bad") {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "Invalid verification code format.",
        );
    }
    Json(json!({ "access_token": format!("EAAFAKE_{code}"), "token_type": "bearer" }))
        .into_response()
}

#[derive(Deserialize)]
struct DebugQuery {
    input_token: Option<String>,
    access_token: Option<String>,
}

async fn debug_token(Query(q): Query<DebugQuery>) -> Response {
    let app_id = q
        .access_token
        .as_deref()
        .and_then(|t| t.split_once('|'))
        .map(|(id, _)| id.to_owned());
    let (Some(_), Some(app_id)) = (q.input_token, app_id) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "input_token and an app access_token are required",
        );
    };
    let wabas = json!(["200000000000002"]);
    Json(json!({ "data": {
        "app_id": app_id, "type": "SYSTEM_USER", "application": "Sandbox App", "expires_at": 0,
        "is_valid": true, "scopes": ["whatsapp_business_management", "whatsapp_business_messaging"],
        "granular_scopes": [
            { "scope": "whatsapp_business_management", "target_ids": wabas },
            { "scope": "whatsapp_business_messaging", "target_ids": wabas }
        ]
    }}))
    .into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

async fn phone_numbers(
    Path((_version, waba_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.");
    };
    if waba_id != "200000000000002" {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Unsupported get request.");
    }
    let numbers = if token.contains("no-numbers") {
        json!([])
    } else {
        json!([{ "verified_name": "Sandbox Bakery", "code_verification_status": "VERIFIED",
                 "display_phone_number": "+1 555-000-2222", "quality_rating": "GREEN",
                 "platform_type": "CLOUD_API", "throughput": { "level": "STANDARD" },
                 "id": "100000000000001" }])
    };
    Json(json!({ "data": numbers })).into_response()
}

async fn subscribe_app(
    Path((_version, _waba_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match bearer(&headers) {
        None => graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token."),
        Some(token) if token.contains("fail-subscribe") => {
            graph_error(StatusCode::FORBIDDEN, 200, "(#200) Permissions error")
        }
        Some(_) => Json(json!({ "success": true })).into_response(),
    }
}

async fn list_sent(State(fake): State<FakeGraph>) -> Json<Vec<SentMessage>> {
    Json(fake.sent())
}

async fn inject_failure(State(fake): State<FakeGraph>, Json(failure): Json<Failure>) -> StatusCode {
    fake.fail_next(failure);
    StatusCode::NO_CONTENT
}

/// Whether `body` has non-empty text of at most `max` characters at `pointer`.
fn text_ok(body: &Value, pointer: &str, max: usize) -> bool {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty() && t.chars().count() <= max)
}

/// An interactive reply-buttons message as Meta documents it: a body text (at most 1024
/// characters) and 1-3 buttons, each `{type: reply, reply: {id, title}}` with a title of at
/// most 20 characters and distinct ids.
fn reply_buttons_ok(body: &Value) -> bool {
    let Some(buttons) = body
        .pointer("/interactive/action/buttons")
        .and_then(Value::as_array)
    else {
        return false;
    };
    let ids: std::collections::HashSet<&str> = buttons
        .iter()
        .filter_map(|b| b.pointer("/reply/id").and_then(Value::as_str))
        .collect();
    body.pointer("/interactive/type") == Some(&json!("button"))
        && text_ok(body, "/interactive/body/text", 1024)
        && (1..=3).contains(&buttons.len())
        && ids.len() == buttons.len()
        && buttons.iter().all(|b| {
            b.get("type") == Some(&json!("reply"))
                && text_ok(b, "/reply/id", 256)
                && text_ok(b, "/reply/title", 20)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interactive(buttons: Value) -> Value {
        json!({
            "messaging_product": "whatsapp", "to": "15550001111", "type": "interactive",
            "interactive": { "type": "button", "body": { "text": "Pick one" },
                             "action": { "buttons": buttons } },
        })
    }

    fn button(id: &str, title: &str) -> Value {
        json!({ "type": "reply", "reply": { "id": id, "title": title } })
    }

    #[test]
    fn reply_buttons_are_checked_like_meta_does() {
        assert!(reply_buttons_ok(&interactive(json!([
            button("a", "Yes"),
            button("b", "No")
        ]))));
        for bad in [
            json!([]),
            json!([
                button("a", "1"),
                button("b", "2"),
                button("c", "3"),
                button("d", "4")
            ]),
            json!([button("a", "A title longer than twenty")]),
            json!([button("a", "Yes"), button("a", "No")]),
            json!([button("", "Yes")]),
        ] {
            assert!(!reply_buttons_ok(&interactive(bad.clone())), "{bad}");
        }
    }
}
