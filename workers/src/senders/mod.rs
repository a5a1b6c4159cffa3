//! Channel senders: turn an outbound intent into the provider's API call and classify the
//! answer so the outbox knows whether a retry is safe.

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
}
