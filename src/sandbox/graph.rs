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

use axum::extract::{Path, State};
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
    let text_ok = body
        .pointer("/text/body")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty() && t.chars().count() <= 4096);
    let shape_ok = body.get("messaging_product") == Some(&json!("whatsapp"))
        && body.get("type") == Some(&json!("text"))
        && text_ok;
    let Some(recipient) = recipient.filter(|_| shape_ok) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            "(#100) Invalid parameter: expected messaging_product, to, type=text, text.body",
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

async fn list_sent(State(fake): State<FakeGraph>) -> Json<Vec<SentMessage>> {
    Json(fake.sent())
}

async fn inject_failure(State(fake): State<FakeGraph>, Json(failure): Json<Failure>) -> StatusCode {
    fake.fail_next(failure);
    StatusCode::NO_CONTENT
}
