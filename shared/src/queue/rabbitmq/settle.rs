//! What happens to one delivery after the handler ran: acknowledge it, hold it while the
//! database is down, retry it in place, send it to its next retry tier, or bury it as a dead
//! letter.
//!
//! The order matters for "nothing lost, nothing doubled": a retried copy is acknowledged only
//! after the broker confirmed the copy in its tier queue, and a dead event only after the
//! handler stored it. A crash in between leaves the original unacknowledged, so the broker
//! redelivers it; the worker's dedup makes a second copy harmless.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions};
use lapin::{Channel, message::Delivery as AmqpDelivery};

use super::{RabbitMq, confirmed, unavailable};
use crate::envelope::Envelope;
use crate::queue::retry::RetryTiers;
use crate::queue::{Burial, Delivery, ErrorClass, EventHandler, Outcome, QueueError};
use crate::shutdown::Shutdown;

/// The longest pause between two tries of an event held through an outage: also the longest
/// an event waits after the database is back.
const HOLD_MAX_PAUSE: Duration = Duration::from_secs(2);

/// What a partition consumer needs to settle its deliveries; shared by its lanes.
pub(super) struct Settler {
    pub handler: Arc<dyn EventHandler>,
    /// A confirm-mode channel on the consumer's connection, for retried copies.
    pub retries: Channel,
    pub tiers: RetryTiers,
    /// Quick retries before a tier (`QUEUE_IN_PLACE_RETRIES`).
    pub in_place_retries: u32,
    /// `{prefix}.retry.{delay}` of each tier, in tier order.
    pub tier_exchanges: Vec<String>,
    pub partitions: u16,
    pub stop: Shutdown,
}

impl Settler {
    pub fn new(
        queue: &RabbitMq,
        handler: Arc<dyn EventHandler>,
        retries: Channel,
        stop: Shutdown,
    ) -> Self {
        let tiers = queue.config.retry_tiers.clone();
        let tier_exchanges = tiers
            .delays()
            .iter()
            .map(|&d| queue.retry_queue(d))
            .collect();
        Self {
            handler,
            retries,
            tiers,
            in_place_retries: queue.config.in_place_retries,
            tier_exchanges,
            partitions: queue.config.partitions,
            stop,
        }
    }

    /// Run `delivery` through the handler until it is settled.
    pub async fn run(&self, delivery: AmqpDelivery, envelope: Envelope) {
        let mut in_place = 0;
        let mut held = 0;
        let settled = loop {
            let outcome = self
                .handler
                .handle(Delivery {
                    envelope: envelope.clone(),
                    redelivered: delivery.redelivered,
                })
                .await;
            match outcome {
                Outcome::Ack => break ack(&delivery).await,
                Outcome::Hold(reason) => {
                    held += 1;
                    if !self.pause_held(&reason, held).await {
                        break requeue(&delivery).await;
                    }
                }
                Outcome::Retry(reason) if in_place < self.in_place_retries => {
                    in_place += 1;
                    let pause = Duration::from_millis(200 << in_place.min(6));
                    tracing::warn!(%reason, in_place, ?pause, "transient failure; retrying in place");
                    tokio::time::sleep(pause).await;
                }
                Outcome::Retry(reason) => {
                    break self.retry_later(&delivery, envelope, reason).await;
                }
                Outcome::Dead(reason) => {
                    let burial = Burial {
                        attempts: envelope.attempt.saturating_add(1),
                        envelope,
                        class: ErrorClass::Permanent,
                        error: reason,
                    };
                    break self.bury(&delivery, burial).await;
                }
            }
        };
        if let Err(e) = settled {
            // The channel broke; the broker redelivers the event and dedup makes that harmless.
            tracing::warn!(error = %e, "could not settle delivery");
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

    /// Send a copy to the event's next retry tier and acknowledge the original — or bury it
    /// when the tiers are used up.
    async fn retry_later(
        &self,
        delivery: &AmqpDelivery,
        mut envelope: Envelope,
        reason: String,
    ) -> Result<(), lapin::Error> {
        let tier = usize::try_from(envelope.attempt).ok();
        let Some(exchange) = tier.and_then(|t| self.tier_exchanges.get(t)) else {
            let burial = Burial {
                attempts: envelope.attempt.saturating_add(1),
                envelope,
                class: ErrorClass::Exhausted,
                error: reason,
            };
            return self.bury(delivery, burial).await;
        };
        let delay = self.tiers.delay(envelope.attempt);
        envelope.attempt = envelope.attempt.saturating_add(1);
        envelope.last_error = Some(reason.clone());
        match self.publish_copy(exchange, &envelope).await {
            Ok(()) => {
                tracing::warn!(%reason, attempt = envelope.attempt, ?delay, "transient failure; retrying after the tier's delay");
                ack(delivery).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not move the event to its retry tier; handing it back");
                requeue(delivery).await
            }
        }
    }

    async fn publish_copy(&self, exchange: &str, envelope: &Envelope) -> Result<(), QueueError> {
        let body = envelope.to_bytes()?;
        let routing_key = RabbitMq::routing_key_for(self.partitions, envelope);
        let confirm = self
            .retries
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                // A tier whose queue is gone returns the copy instead of dropping it.
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &body,
                RabbitMq::properties(envelope),
            )
            .await
            .map_err(unavailable)?;
        confirmed(confirm.await.map_err(unavailable)?)
    }

    /// Hand a dead event to the handler to store; acknowledge it once stored.
    pub async fn bury(&self, delivery: &AmqpDelivery, burial: Burial) -> Result<(), lapin::Error> {
        tracing::error!(class = %burial.class, error = %burial.error, attempts = burial.attempts,
            "event is dead; keeping it as a dead letter");
        let mut held = 0;
        loop {
            match self.handler.bury(burial.clone()).await {
                Outcome::Ack => return ack(delivery).await,
                other => {
                    held += 1;
                    let reason = format!("storing the dead letter: {other:?}");
                    if !self.pause_held(&reason, held).await {
                        return requeue(delivery).await;
                    }
                }
            }
        }
    }
}

/// Remove the delivery from its queue.
pub(super) async fn ack(delivery: &AmqpDelivery) -> Result<(), lapin::Error> {
    delivery.ack(BasicAckOptions::default()).await.map(|_| ())
}

/// Hand the delivery back to the broker, to be delivered again (to this partition's next
/// consumer, in its place).
async fn requeue(delivery: &AmqpDelivery) -> Result<(), lapin::Error> {
    delivery
        .nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
        .map(|_| ())
}
