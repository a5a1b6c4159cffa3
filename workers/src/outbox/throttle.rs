//! What holds a send back before it leaves: its sender's throughput, and WhatsApp's 24-hour
//! customer-service window.
//!
//! **Throughput.** Every send first takes a slot in its sender's bucket (`whatsapp:<phone
//! number id>`, `sms:<number or messaging profile>`), kept in PostgreSQL so the limit holds
//! across workers (`db::send_rate`). A slot free within [`MAX_INLINE_WAIT`] is waited for in
//! place; a longer wait puts the row back ([`SendError::Deferred`]) for when the bucket has
//! room, without spending one of its attempts. Provider refusals for rate (WhatsApp 130429 and
//! 131056, Telnyx 429) are retried later by the dispatcher as usual, after `Retry-After` when
//! given; a WhatsApp pair-rate refusal (131056: too many messages to one customer) waits at
//! least [`PAIR_RATE_PAUSE`], doubling per attempt.
//!
//! **Window.** WhatsApp delivers a free-form message only within 24 hours of the customer's
//! last message; outside it only a template may be sent. A reply whose conversation's last
//! inbound message arrived longer ago fails before it is sent, saying so, rather than being
//! refused by Meta (131047). The window is counted from when the message arrived here (a
//! webhook comes within seconds of the message); Meta's own refusal still covers the rest.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;
use switchyard_shared::db::send_rate;

use crate::senders::SendError;

/// The longest a send waits in place for its sender's next slot.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(1);

/// WhatsApp's customer-service window.
pub const WHATSAPP_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The first pause after a WhatsApp pair-rate refusal (131056).
pub const PAIR_RATE_PAUSE: Duration = Duration::from_secs(6);

/// Take a slot of `bucket` at `per_second` (bursts of as many): wait for it when it is near,
/// else defer the send.
pub async fn take_slot(pool: &PgPool, bucket: &str, per_second: u32) -> Result<(), SendError> {
    let mut waited = Duration::ZERO;
    loop {
        let wait = send_rate::take_slot(pool, bucket, f64::from(per_second), per_second)
            .await
            .map_err(|e| SendError::Retryable(format!("send rate of {bucket}: {e}")))?;
        if wait.is_zero() {
            return Ok(());
        }
        if waited + wait > MAX_INLINE_WAIT {
            return Err(SendError::Deferred {
                reason: format!("{bucket} is at its limit of {per_second} messages per second"),
                wait,
            });
        }
        tokio::time::sleep(wait).await;
        waited += wait;
    }
}

/// Refuse a free-form WhatsApp reply outside the 24-hour window after `last_received_at`.
pub fn check_whatsapp_window(
    last_received_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), SendError> {
    match last_received_at {
        Some(at) if now - at <= WHATSAPP_WINDOW => Ok(()),
        Some(at) => Err(SendError::Permanent(format!(
            "outside WhatsApp's 24-hour customer-service window (the customer last wrote at \
             {}); only a template message can be sent now",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))),
        None => Err(SendError::Permanent(
            "the customer has not written on WhatsApp: only a template message can be sent".into(),
        )),
    }
}

/// How long to wait after the `attempts`-th pair-rate refusal.
pub fn pair_rate_pause(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(6);
    PAIR_RATE_PAUSE.saturating_mul(1 << doublings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours_ago: i64) -> Option<DateTime<Utc>> {
        Some(now() - TimeDelta::hours(hours_ago))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    #[test]
    fn the_window_is_24_hours_after_the_last_inbound_message() {
        assert!(check_whatsapp_window(at(1), now()).is_ok());
        assert!(check_whatsapp_window(at(24), now()).is_ok());
        let closed = check_whatsapp_window(at(25), now()).unwrap_err();
        assert!(
            matches!(&closed, SendError::Permanent(r) if r.contains("24-hour") && r.contains("2025-12-30T23:00:00Z")),
            "{closed}"
        );
        assert!(check_whatsapp_window(None, now()).is_err());
    }

    #[test]
    fn pair_rate_pauses_double() {
        assert_eq!(pair_rate_pause(1), Duration::from_secs(6));
        assert_eq!(pair_rate_pause(3), Duration::from_secs(24));
        assert_eq!(pair_rate_pause(100), Duration::from_secs(6 * 64));
    }
}
