//! A fake Gemini: `POST /v1beta/models/{model}:generateContent` (and the same under `/v1`).
//!
//! It checks what Gemini checks and answers in Google's shapes (protocols.md §10):
//!
//! - the API key in `x-goog-api-key` must be [`FAKE_GEMINI_API_KEY`]: none is a 403
//!   `PERMISSION_DENIED`, another one a 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`
//!   (what Google answers for a wrong key);
//! - the model must be a `gemini-…` model, else 404 `NOT_FOUND`;
//! - the body must be a request Gemini accepts (`gemini/check.rs`): non-empty `contents` of
//!   `user`/`model` contents with parts, known fields only — else 400 `INVALID_ARGUMENT` with
//!   the reason.
//!
//! The answer is a deterministic reply made from the prompt (`gemini/reply.rs`) with token
//! counts of one per four characters. Every request that reaches the endpoint is recorded, body
//! and all, before any check: [`FakeGemini::requests`] in-process, `GET
//! /_sandbox/gemini/requests` over HTTP.
//!
//! Failure injection, in-process or over HTTP: [`FakeGemini::fail_next`] / `POST
//! /_sandbox/gemini/fail {"count", "status": 429|503|…, "retry_delay"?: "1s", "per_day"?:
//! bool}` answers the next requests with Google's error (a 429 carries a `QuotaFailure`,
//! per-minute or per-day, and a `RetryInfo` when given a delay); [`FakeGemini::block_next`] /
//! `POST /_sandbox/gemini/block {"count", "kind": "prompt"|"safety"}` answers them with a
//! blocked prompt or a safety stop. Failures are used before blocks.

mod check;
mod reply;
#[cfg(test)]
mod tests;

pub use reply::{ECHO_CHARS, tokens};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_shared::shutdown::Shutdown;

use super::server;

/// The only API key the fake accepts.
pub const FAKE_GEMINI_API_KEY: &str = "sandbox-gemini-api-key";

/// One `generateContent` request, as received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeminiRequest {
    /// The model of the path, e.g. `gemini-2.5-flash`.
    pub model: String,
    /// The body; a body that is not JSON is kept as a string.
    pub body: Value,
}

/// An injected refusal for the next `count` requests.
#[derive(Debug, Clone, Deserialize)]
pub struct GeminiFailure {
    pub count: u32,
    /// 429 unless told.
    #[serde(default = "GeminiFailure::default_status")]
    pub status: u16,
    /// A 429's `RetryInfo.retryDelay`, e.g. `"1s"`; none when unset.
    #[serde(default)]
    pub retry_delay: Option<String>,
    /// A 429 for the day's quota rather than the minute's.
    #[serde(default)]
    pub per_day: bool,
}

impl GeminiFailure {
    fn default_status() -> u16 {
        429
    }
}

/// What an injected block refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// The prompt: no candidates, `promptFeedback.blockReason: SAFETY`.
    Prompt,
    /// The reply: a candidate with `finishReason: SAFETY` and no content.
    Safety,
}

/// An injected block for the next `count` requests.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct GeminiBlock {
    pub count: u32,
    pub kind: BlockKind,
}

#[derive(Default)]
struct Inner {
    requests: Vec<GeminiRequest>,
    /// One entry per affected request, in order.
    failures: VecDeque<GeminiFailure>,
    blocks: VecDeque<BlockKind>,
    /// Requests that passed the checks (injected failures included); numbers the response ids.
    answered: u64,
}

/// A running fake; clones share state.
#[derive(Clone)]
pub struct FakeGemini {
    /// `http://addr`.
    origin: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGemini {
    /// Serve on `addr` (port 0 for any free port) until `shutdown`.
    pub async fn start(addr: SocketAddr, shutdown: Shutdown) -> std::io::Result<Self> {
        let (listener, origin) = server::bind(addr).await?;
        let fake = Self {
            origin,
            inner: Arc::default(),
        };
        server::spawn(listener, fake.router(), shutdown, "gemini");
        Ok(fake)
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/v1beta/models/{call}", post(generate))
            .route("/v1/models/{call}", post(generate))
            .route("/_sandbox/gemini/requests", get(list_requests))
            .route("/_sandbox/gemini/fail", post(inject_failure))
            .route("/_sandbox/gemini/block", post(inject_block))
            .with_state(self.clone())
    }

    /// `http://addr/v1beta`: what `GEMINI_API_BASE` should be.
    pub fn api_base(&self) -> String {
        format!("{}/v1beta", self.origin)
    }

    /// `http://addr/_sandbox/gemini`: the `requests`, `fail` and `block` endpoints.
    pub fn sandbox_base(&self) -> String {
        format!("{}/_sandbox/gemini", self.origin)
    }

    /// Run `f` on the shared state.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A poisoned lock only means another request panicked mid-update of test data.
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<GeminiRequest> {
        self.with(|inner| inner.requests.clone())
    }

    /// Refuse the next `failure.count` requests (after any queued before).
    pub fn fail_next(&self, failure: GeminiFailure) {
        let times = failure.count as usize;
        self.with(|inner| inner.failures.extend(std::iter::repeat_n(failure, times)));
    }

    /// Block the next `block.count` requests (after any queued before).
    pub fn block_next(&self, block: GeminiBlock) {
        self.with(|inner| {
            inner
                .blocks
                .extend(std::iter::repeat_n(block.kind, block.count as usize));
        });
    }
}

/// Google's error shape: `{"error": {code, message, status, details?}}`.
fn google_error(status: StatusCode, rpc_status: &str, message: &str, details: Value) -> Response {
    let mut error = json!({
        "code": status.as_u16(),
        "message": message,
        "status": rpc_status,
    });
    if details.as_array().is_some_and(|d| !d.is_empty()) {
        error["details"] = details;
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn invalid_argument(message: &str) -> Response {
    google_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        message,
        json!([]),
    )
}

/// The key check: `None` when the key is the sandbox's.
fn refuse_key(headers: &HeaderMap) -> Option<Response> {
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty());
    match key {
        Some(FAKE_GEMINI_API_KEY) => None,
        None => Some(google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
            json!([]),
        )),
        Some(_) => Some(google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }]),
        )),
    }
}

async fn generate(
    State(fake): State<FakeGemini>,
    Path(call): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some((model, "generateContent")) = call.split_once(':') else {
        return google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("The sandbox serves only models/{{model}}:generateContent, not {call}."),
            json!([]),
        );
    };
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    fake.with(|inner| {
        inner.requests.push(GeminiRequest {
            model: model.to_owned(),
            body: parsed
                .clone()
                .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
        });
    });
    if let Some(refusal) = refuse_key(&headers) {
        return refusal;
    }
    if !model.starts_with("gemini-") {
        return google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!(
                "models/{model} is not found for API version v1beta, or is not supported for \
                 generateContent. Call ListModels to see the list of available models and their \
                 supported methods."
            ),
            json!([]),
        );
    }
    let Some(body) = parsed else {
        return invalid_argument("Invalid JSON payload received. Unexpected token.");
    };
    if let Err(reason) = check::check_request(&body) {
        return invalid_argument(&reason);
    }
    let (failure, block, answered) = fake.with(|inner| {
        inner.answered += 1;
        let failure = inner.failures.pop_front();
        let block = failure
            .is_none()
            .then(|| inner.blocks.pop_front())
            .flatten();
        (failure, block, inner.answered)
    });
    if let Some(failure) = failure {
        return injected(&failure, model);
    }
    let response_id = format!("sandbox-{answered:016x}");
    let answer = match block {
        None => reply::answer(&body, model, &response_id),
        Some(BlockKind::Prompt) => reply::blocked_prompt(&body, model, &response_id),
        Some(BlockKind::Safety) => reply::safety_stop(&body, model, &response_id),
    };
    Json(answer).into_response()
}

/// An injected refusal in Google's words.
fn injected(failure: &GeminiFailure, model: &str) -> Response {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match status.as_u16() {
        429 => {
            let quota_id = if failure.per_day {
                "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
            } else {
                "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
            };
            let mut details = vec![
                json!({
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": quota_id,
                        "quotaDimensions": {"location": "global", "model": model},
                    }],
                }),
                json!({
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [{
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }],
                }),
            ];
            if let Some(delay) = &failure.retry_delay {
                details.push(json!({
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": delay,
                }));
            }
            google_error(
                status,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details. \
                 For more information on this error, head to: \
                 https://ai.google.dev/gemini-api/docs/rate-limits.",
                Value::Array(details),
            )
        }
        503 => google_error(
            status,
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
            json!([]),
        ),
        500 => google_error(
            status,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in \
             https://developers.generativeai.google/guide/troubleshooting",
            json!([]),
        ),
        504 => google_error(
            status,
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
            json!([]),
        ),
        _ => google_error(status, "UNKNOWN", "Sandbox failure injection.", json!([])),
    }
}

async fn list_requests(State(fake): State<FakeGemini>) -> Json<Vec<GeminiRequest>> {
    Json(fake.requests())
}

async fn inject_failure(
    State(fake): State<FakeGemini>,
    Json(failure): Json<GeminiFailure>,
) -> StatusCode {
    fake.fail_next(failure);
    StatusCode::NO_CONTENT
}

async fn inject_block(
    State(fake): State<FakeGemini>,
    Json(block): Json<GeminiBlock>,
) -> StatusCode {
    fake.block_next(block);
    StatusCode::NO_CONTENT
}
