//! Channel senders: turn an outbound intent into the provider's API call and classify the
//! answer so the outbox knows whether a retry is safe.

use std::time::Duration;

use chrono::{DateTime, Utc};

pub mod telnyx;
pub mod whatsapp;

/// Why a send did not return a provider message id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The provider refused for now (rate limit, overload) or the request never left: safe to
    /// send again later.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The provider refused for good (bad recipient, closed window, revoked token).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The request may have reached the provider (a time-out, a dropped connection, an answer
    /// we cannot read). Sending again could deliver twice, so it is not retried.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    /// Held back before the request left — the sender is at its throughput limit — to go
    /// after `wait`. Not a failed attempt.
    #[error("deferred: {reason}")]
    Deferred { reason: String, wait: Duration },
}

/// The longest wait a `Retry-After` is taken at its word for. A provider that asks for more
/// is asked again after a day; unbounded, a huge value would overflow the clock the outbox
/// schedules the retry on.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `Retry-After`: delay-seconds, or an HTTP date (a date in the past means now), at most
/// [`MAX_RETRY_AFTER`].
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&Utc) - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// A provider's HTTP answer, read whole: the status, the `Retry-After` header, and the body.
pub(crate) struct Answer {
    pub status: reqwest::StatusCode,
    pub retry_after: Option<String>,
    /// An error only for a success whose body was cut: a refusal is a refusal even if its
    /// explanation got lost, so its unreadable body reads as empty.
    pub body: Result<bytes::Bytes, reqwest::Error>,
}

impl Answer {
    pub(crate) async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match response.bytes().await {
            Err(_) if !status.is_success() => Ok(bytes::Bytes::new()),
            body => body,
        };
        Self {
            status,
            retry_after,
            body,
        }
    }
}
