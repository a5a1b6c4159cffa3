//! What happens to one delivery on RabbitMQ once [`SettlePolicy`] decided its fate:
//! acknowledge it, hand it back, send a copy to its next retry tier, or bury it as a dead
//! letter.
//!
//! The order matters for "nothing lost, nothing doubled": a retried copy is acknowledged only
//! after the broker confirmed the copy in its tier queue, and a dead event only after the
//! handler stored it. A crash in between leaves the original unacknowledged, so the broker
//! redelivers it; the worker's dedup makes a second copy harmless.

use std::sync::Arc;

use lapin::options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions};
use lapin::{Channel, message::Delivery as AmqpDelivery};

use super::{RabbitMq, confirmed, unavailable};
use crate::envelope::Envelope;
use crate::queue::retry::RetryTiers;
use crate::queue::settle::{Fate, SettlePolicy};
use crate::queue::{Burial, ErrorClass, EventHandler, QueueError};
use crate::shutdown::Shutdown;

/// What a partition consumer needs to settle its deliveries; shared by its lanes.
pub(super) struct Settler {
    pub policy: SettlePolicy,
    /// A confirm-mode channel on the consumer's connection, for retried copies.
    pub retries: Channel,
    pub tiers: RetryTiers,
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
            policy: SettlePolicy {
                handler,
                in_place_retries: queue.config.in_place_retries,
                stop: stop.clone(),
            },
            retries,
            tiers,
            tier_exchanges,
            partitions: queue.config.partitions,
            stop,
        }
    }

    /// Run `delivery` through the handler until it is settled.
    pub async fn run(&self, delivery: AmqpDelivery, envelope: Envelope) {
        let settled = match self.policy.decide(envelope, delivery.redelivered).await {
            Fate::Ack => ack(&delivery).await,
            Fate::HandBack => requeue(&delivery).await,
            Fate::Later(envelope, reason) => self.retry_later(&delivery, envelope, reason).await,
            Fate::Bury(burial) => self.bury(&delivery, burial).await,
        };
        if let Err(e) = settled {
            // The channel broke; the broker redelivers the event and dedup makes that harmless.
            tracing::warn!(error = %e, "could not settle delivery");
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
        if self.policy.store(burial).await {
            ack(delivery).await
        } else {
            requeue(delivery).await
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
