//! Settling a delivery, whatever the backend: run the handler until the event's fate is
//! decided, the same way on RabbitMQ and Pub/Sub.
//!
//! - [`Outcome::Ack`][]: done.
//! - [`Outcome::Hold`][]: the database is down. Try again in place, 0.25 s up to
//!   [`HOLD_MAX_PAUSE`] apart, for as long as it takes, counting no attempt; a stopping
//!   consumer hands the event back instead.
//! - [`Outcome::Retry`][]: a few quick retries in place (`QUEUE_IN_PLACE_RETRIES`), then
//!   [`Fate::Later`]: the backend's way of trying again after a delay (a retry tier on
//!   RabbitMQ, a negative acknowledgement under the subscription's retry policy on Pub/Sub).
//! - [`Outcome::Dead`][]: [`Fate::Bury`] at once.
//!
//! Each backend turns the [`Fate`] into its own verbs; [`SettlePolicy::store`] keeps a dead
//! event through the handler, holding it like any other event while the database is down.

use std::sync::Arc;
use std::time::Duration;

use super::{Burial, Delivery, ErrorClass, EventHandler, Outcome};
use crate::envelope::Envelope;
use crate::shutdown::Shutdown;

/// The longest pause between two tries of an event held through an outage: also the longest
/// an event waits after the database is back.
pub const HOLD_MAX_PAUSE: Duration = Duration::from_secs(2);

/// How long a stopping (or released) consumer waits for its running events before handing the
/// rest back to the broker. Below the process's default `SHUTDOWN_GRACE_SECS` (25), so a
/// stopping worker settles its own deliveries.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// What became of a delivery.
#[derive(Debug)]
pub enum Fate {
    /// Applied (or found applied before): acknowledge it.
    Ack,
    /// The consumer is stopping while the event is held: give it back to the broker unsettled.
    HandBack,
    /// A transient failure outlasted the quick retries: try again later, with this error.
    Later(Envelope, String),
    /// It can never succeed: keep it as a dead letter.
    Bury(Burial),
}

/// How a consumer runs the handler on its deliveries; shared by its concurrent tasks.
pub struct SettlePolicy {
    pub handler: Arc<dyn EventHandler>,
    /// Quick retries before [`Fate::Later`].
    pub in_place_retries: u32,
    /// Triggered when the consumer stops: held events are handed back.
    pub stop: Shutdown,
}

impl SettlePolicy {
    /// Run `envelope` through the handler until its fate is decided.
    pub async fn decide(&self, envelope: Envelope, redelivered: bool) -> Fate {
        let mut in_place = 0;
        let mut held = 0;
        loop {
            let outcome = self
                .handler
                .handle(Delivery {
                    envelope: envelope.clone(),
                    redelivered,
                })
                .await;
            match outcome {
                Outcome::Ack => return Fate::Ack,
                Outcome::Hold(reason) => {
                    held += 1;
                    if !self.pause_held(&reason, held).await {
                        return Fate::HandBack;
                    }
                }
                Outcome::Retry(reason) if in_place < self.in_place_retries => {
                    in_place += 1;
                    let pause = Duration::from_millis(200 << in_place.min(6));
                    tracing::warn!(%reason, in_place, ?pause, "transient failure; retrying in place");
                    tokio::time::sleep(pause).await;
                }
                Outcome::Retry(reason) => return Fate::Later(envelope, reason),
                Outcome::Dead(reason) => {
                    return Fate::Bury(Burial {
                        attempts: envelope.attempt.saturating_add(1),
                        envelope,
                        class: ErrorClass::Permanent,
                        error: reason,
                    });
                }
            }
        }
    }

    /// Store `burial` as a dead letter; `true` once stored, `false` if the consumer stopped
    /// first (the event is then to be handed back).
    pub async fn store(&self, burial: Burial) -> bool {
        tracing::error!(class = %burial.class, error = %burial.error, attempts = burial.attempts,
            "event is dead; keeping it as a dead letter");
        let mut held = 0;
        loop {
            match self.handler.bury(burial.clone()).await {
                Outcome::Ack => return true,
                other => {
                    held += 1;
                    let reason = format!("storing the dead letter: {other:?}");
                    if !self.pause_held(&reason, held).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Wait before trying a held event again; `false` if the consumer is stopping instead.
    async fn pause_held(&self, reason: &str, held: u32) -> bool {
        let pause =
            Duration::from_millis(250u64.saturating_mul(1 << held.min(5))).min(HOLD_MAX_PAUSE);
        if held == 1 || held.is_multiple_of(20) {
            tracing::warn!(%reason, held, "dependency unavailable; holding the event until it is back");
        }
        tokio::select! {
            _ = self.stop.wait() => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }
}
