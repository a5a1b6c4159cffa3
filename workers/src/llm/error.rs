//! What can go wrong asking Gemini, and which failures are worth another attempt
//! (protocols.md §10.4).
//!
//! Google's refusals come as `{"error": {code, message, status, details?: [...]}}` (some
//! proxies wrap it in a one-element array). [`interpret_refusal`] classifies them:
//!
//! | answer | meaning | here |
//! |---|---|---|
//! | 429 `RESOURCE_EXHAUSTED` | a quota ran out | retried after `RetryInfo.retryDelay` (capped by the client) |
//! | 429 with a per-day `QuotaFailure` | the day's quota ran out | [`LlmError::DailyQuotaExhausted`], not retried: it will not clear soon |
//! | 500, 502, 503 (`UNAVAILABLE`, "overloaded"), 504, 408 | Google failed for now | retried with exponential backoff |
//! | any other status (400 `INVALID_ARGUMENT`, 403, 404…) | the request is wrong | [`LlmError::Permanent`] with Google's message |
//!
//! Time-outs and connections that could not be made are retried like a 503. When the attempts
//! run out the caller gets [`LlmError::Unavailable`] with the last reason.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::response::{FinishReason, TokenUsage};

/// Why no reply came back from Gemini.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// Gemini refused the prompt itself (`promptFeedback.blockReason`).
    #[error("Gemini blocked the prompt: {reason}")]
    Blocked {
        reason: String,
        /// What the refusal was billed, when Gemini said.
        usage: Option<TokenUsage>,
    },
    /// Gemini answered without a reply that can be sent: a safety or policy filter withheld it,
    /// or it stopped with no text.
    #[error("Gemini gave no reply (finish reason {finish_reason})")]
    NoReply {
        finish_reason: FinishReason,
        usage: Option<TokenUsage>,
    },
    /// The API key's quota for the day is spent (a per-day `QuotaFailure`).
    #[error("Gemini's daily quota is exhausted: {0}")]
    DailyQuotaExhausted(String),
    /// The request is wrong and will stay wrong (bad argument, key, model or configuration).
    #[error("Gemini refused the request: {0}")]
    Permanent(String),
    /// Every attempt failed for a passing reason (overload, 5xx, time-out, per-minute quota).
    #[error("Gemini unavailable after {attempts} attempt(s): {last}")]
    Unavailable { attempts: u32, last: String },
}

impl LlmError {
    /// Tokens billed despite the failure (blocked prompts and withheld replies).
    pub fn usage(&self) -> Option<&TokenUsage> {
        match self {
            Self::Blocked { usage, .. } | Self::NoReply { usage, .. } => usage.as_ref(),
            _ => None,
        }
    }
}

/// How one call failed: worth another attempt, or final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// Try again, after `retry_delay` when Google named one.
    Retryable {
        retry_delay: Option<Duration>,
        reason: String,
    },
    Final(LlmError),
}

impl AttemptError {
    pub(crate) fn retryable(reason: impl Into<String>) -> Self {
        Self::Retryable {
            retry_delay: None,
            reason: reason.into(),
        }
    }
}

/// First the wrapped form: serde would read a one-element array as the struct itself.
#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorBody {
    Wrapped([ErrorEnvelope; 1]),
    Single(ErrorEnvelope),
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: GoogleError,
}

#[derive(Deserialize, Default)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

/// One of `error.details[]`; which fields it has depends on its `@type`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetail {
    #[serde(rename = "@type", default)]
    kind: String,
    retry_delay: Option<String>,
    #[serde(default)]
    violations: Vec<QuotaViolation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuotaViolation {
    #[serde(default)]
    quota_id: String,
}

impl ErrorDetail {
    fn is(&self, kind: &str) -> bool {
        self.kind.ends_with(kind)
    }
}

/// Classify a non-2xx answer.
pub fn interpret_refusal(status: StatusCode, body: &[u8]) -> AttemptError {
    let error = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody::Single(e)) => e.error,
        Ok(ErrorBody::Wrapped([e])) => e.error,
        Err(_) => GoogleError::default(),
    };
    let described = describe(status, &error);
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            let per_day = error
                .details
                .iter()
                .filter(|d| d.is("google.rpc.QuotaFailure"))
                .flat_map(|d| &d.violations)
                .any(|v| v.quota_id.to_ascii_lowercase().contains("perday"));
            if per_day {
                return AttemptError::Final(LlmError::DailyQuotaExhausted(described));
            }
            AttemptError::Retryable {
                retry_delay: error
                    .details
                    .iter()
                    .filter(|d| d.is("google.rpc.RetryInfo"))
                    .find_map(|d| d.retry_delay.as_deref().and_then(parse_duration)),
                reason: described,
            }
        }
        StatusCode::REQUEST_TIMEOUT
        | StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => AttemptError::retryable(described),
        _ => AttemptError::Final(LlmError::Permanent(described)),
    }
}

/// `HTTP 503 UNAVAILABLE: The model is overloaded…`, with as much as Google said.
fn describe(status: StatusCode, error: &GoogleError) -> String {
    let mut described = format!("HTTP {}", status.as_u16());
    if !error.status.is_empty() {
        described.push(' ');
        described.push_str(&error.status);
    }
    if !error.message.is_empty() {
        described.push_str(": ");
        described.push_str(&error.message);
    }
    described
}

/// A protobuf `Duration` in JSON: decimal seconds with an `s` suffix (`"27s"`, `"1.5s"`).
pub fn parse_duration(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ERROR_429: &[u8] = include_bytes!("../../../tests/fixtures/gemini/error_429.json");
    const ERROR_503: &[u8] = include_bytes!("../../../tests/fixtures/gemini/error_503.json");

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn quota_429(quota_id: &str, delay: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({"error": {
            "code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                 "quotaId": quota_id}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}
            ]
        }}))
        .unwrap()
    }

    #[test]
    fn the_fixture_429_is_retried_after_its_delay() {
        let error = interpret_refusal(status(429), ERROR_429);
        let AttemptError::Retryable {
            retry_delay,
            reason,
        } = error
        else {
            panic!("{error:?}")
        };
        assert_eq!(retry_delay, Some(Duration::from_secs(27)));
        assert!(reason.starts_with("HTTP 429 RESOURCE_EXHAUSTED: You exceeded your current quota"));
    }

    #[test]
    fn a_per_day_quota_is_final() {
        let body = quota_429("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "40s");
        assert!(matches!(
            interpret_refusal(status(429), &body),
            AttemptError::Final(LlmError::DailyQuotaExhausted(m)) if m.contains("current quota")
        ));
        let body = quota_429(
            "GenerateContentInputTokensPerModelPerMinute-FreeTier",
            "1.5s",
        );
        assert_eq!(
            interpret_refusal(status(429), &body),
            AttemptError::Retryable {
                retry_delay: Some(Duration::from_millis(1500)),
                reason: "HTTP 429 RESOURCE_EXHAUSTED: You exceeded your current quota.".into(),
            }
        );
    }

    #[test]
    fn overload_and_server_errors_are_retried_without_a_delay() {
        assert_eq!(
            interpret_refusal(status(503), ERROR_503),
            AttemptError::retryable(
                "HTTP 503 UNAVAILABLE: The model is overloaded. Please try again later."
            )
        );
        for code in [408, 500, 502, 504] {
            assert!(matches!(
                interpret_refusal(status(code), b""),
                AttemptError::Retryable {
                    retry_delay: None,
                    ..
                }
            ));
        }
        // A 429 without RetryInfo backs off like an overload.
        assert_eq!(
            interpret_refusal(status(429), b"not json"),
            AttemptError::retryable("HTTP 429")
        );
    }

    #[test]
    fn client_errors_are_permanent_with_googles_message() {
        let body = br#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}"#;
        assert_eq!(
            interpret_refusal(status(400), body),
            AttemptError::Final(LlmError::Permanent(
                "HTTP 400 INVALID_ARGUMENT: API key not valid. Please pass a valid API key.".into()
            ))
        );
        // The array-wrapped form some proxies produce.
        let wrapped = br#"[{"error": {"code": 404, "message": "models/nope is not found", "status": "NOT_FOUND"}}]"#;
        assert_eq!(
            interpret_refusal(status(404), wrapped),
            AttemptError::Final(LlmError::Permanent(
                "HTTP 404 NOT_FOUND: models/nope is not found".into()
            ))
        );
        assert!(matches!(
            interpret_refusal(status(403), b""),
            AttemptError::Final(LlmError::Permanent(m)) if m == "HTTP 403"
        ));
    }

    #[test]
    fn parses_protobuf_durations() {
        assert_eq!(parse_duration("27s"), Some(Duration::from_secs(27)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.2s"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("27"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("abcs"), None);
    }
}
