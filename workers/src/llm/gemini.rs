//! The Gemini client: one `generateContent` call, tried again while the failure is passing.
//!
//! `POST {GEMINI_API_BASE}/models/{model}:generateContent` with the platform's API key in
//! `x-goog-api-key` and the body built by [`super::prompt::build_request`]. Each attempt is
//! bounded by `GEMINI_TIMEOUT_MS`; at most `GEMINI_MAX_ATTEMPTS` attempts are made. Between
//! attempts the client waits:
//!
//! - after a 429, the `RetryInfo.retryDelay` Google asked for, but never longer than
//!   `GEMINI_MAX_RETRY_DELAY_MS` (a per-day quota is not retried at all);
//! - after a 5xx, a 408, a time-out or a failed connection, an exponential backoff starting at
//!   `GEMINI_RETRY_BASE_MS`, doubling, with jitter (`backon`).
//!
//! What an answer means is decided by the pure functions [`super::response::interpret_success`]
//! and [`super::error::interpret_refusal`]; this file only makes the calls. Generating has no
//! effect at Google beyond its cost, so a call whose answer was lost is simply made again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::Url;
use switchyard_shared::config::GeminiConfig;
use switchyard_shared::secrets::SecretString;

use super::error::{AttemptError, LlmError, interpret_refusal};
use super::request::GenerateContentRequest;
use super::response::{Generated, interpret_success};

/// The longest pause between two attempts after a 5xx or a time-out.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Calls Gemini; cheap to clone (the HTTP client is shared).
#[derive(Clone)]
pub struct GeminiClient {
    http: reqwest::Client,
    api_base: String,
    api_key: Option<SecretString>,
    default_model: String,
    timeout: Duration,
    max_attempts: u32,
    retry_base: Duration,
    max_retry_delay: Duration,
}

impl GeminiClient {
    pub fn new(http: reqwest::Client, config: &GeminiConfig) -> Self {
        Self {
            http,
            api_base: config.api_base.trim_end_matches('/').to_owned(),
            api_key: config.api_key.clone(),
            default_model: config.model.clone(),
            timeout: config.timeout(),
            max_attempts: config.max_attempts.max(1),
            retry_base: config.retry_base(),
            max_retry_delay: config.max_retry_delay(),
        }
    }

    /// The model to ask when the tenant names none (`GEMINI_MODEL`).
    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    /// Ask `model` (e.g. `gemini-2.5-flash`; a `models/` prefix is accepted) for the next
    /// reply of `request`'s conversation.
    #[tracing::instrument(skip_all, fields(model = %model))]
    pub async fn generate(
        &self,
        model: &str,
        request: &GenerateContentRequest,
    ) -> Result<Generated, LlmError> {
        let api_key = self
            .api_key
            .as_ref()
            .ok_or_else(|| LlmError::Permanent("GEMINI_API_KEY is not set".into()))?;
        if request.contents.is_empty() {
            return Err(LlmError::Permanent(
                "nothing to answer: the conversation has no text".into(),
            ));
        }
        let url = self.url(model)?;
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry_base)
            .with_max_delay(MAX_BACKOFF.max(self.retry_base))
            .with_jitter()
            .with_max_times(self.max_attempts.saturating_sub(1) as usize);
        let result = (|| {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(url.clone(), api_key, request)
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, AttemptError::Retryable { .. }))
        .adjust(|e, backoff| match e {
            AttemptError::Retryable {
                retry_delay: Some(asked),
                ..
            } => backoff.map(|_| (*asked).min(self.max_retry_delay)),
            _ => backoff,
        })
        .notify(|e, wait| {
            if let AttemptError::Retryable { reason, .. } = e {
                tracing::warn!(reason = %reason, wait_ms = wait.as_millis(), "Gemini call failed; trying again");
            }
        })
        .await;
        result.map_err(|e| match e {
            AttemptError::Final(e) => e,
            AttemptError::Retryable { reason, .. } => LlmError::Unavailable {
                attempts: attempts.load(Ordering::Relaxed),
                last: reason,
            },
        })
    }

    /// `{base}/models/{model}:generateContent`; the model must be a plain name.
    fn url(&self, model: &str) -> Result<Url, LlmError> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        let plain = !model.is_empty()
            && model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !plain {
            return Err(LlmError::Permanent(format!(
                "'{model}' is not a Gemini model name"
            )));
        }
        Url::parse(&format!("{}/models/{model}:generateContent", self.api_base))
            .map_err(|e| LlmError::Permanent(format!("GEMINI_API_BASE: {e}")))
    }

    /// One call, its answer classified.
    async fn attempt(
        &self,
        url: Url,
        api_key: &SecretString,
        request: &GenerateContentRequest,
    ) -> Result<Generated, AttemptError> {
        let response = self
            .http
            .post(url)
            .header("x-goog-api-key", api_key.expose())
            .timeout(self.timeout)
            .json(request)
            .send()
            .await
            .map_err(|e| self.unanswered(&e))?;
        let status = response.status();
        let body = response.bytes().await;
        if !status.is_success() {
            // A refusal stays a refusal even if its explanation got lost.
            return Err(interpret_refusal(status, &body.unwrap_or_default()));
        }
        let body = body.map_err(|e| self.unanswered(&e))?;
        interpret_success(&body)
    }

    fn unanswered(&self, e: &reqwest::Error) -> AttemptError {
        if e.is_builder() {
            AttemptError::Final(LlmError::Permanent(format!("request: {e}")))
        } else if e.is_timeout() {
            AttemptError::retryable(format!("no answer within {} ms", self.timeout.as_millis()))
        } else {
            AttemptError::retryable(format!("no answer: {e}"))
        }
    }
}

#[cfg(test)]
mod tests;
