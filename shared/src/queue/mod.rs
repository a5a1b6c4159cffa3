//! The queue between the ingress and the workers, behind one trait.
//!
//! The ingress calls [`EventQueue::publish`] and answers the provider only after it returns
//! `Ok` — every envelope of the request confirmed by the broker — or, when it returns
//! [`QueueError::Unavailable`] or [`QueueError::ConfirmTimeout`], after the envelopes are in
//! the publish spool in PostgreSQL (the ingress's `publish` module). The worker hands an
//! [`EventHandler`] to [`EventQueue::consume`]; the backend owns the delivery loop (prefetch,
//! reconnects, acks) and turns the handler's [`Outcome`] into the broker's verb.
//!
//! Backends: [`rabbitmq`] and [`pubsub`]. Nothing outside this module names one; [`connect`] picks it from
//! the configuration. What every backend shares: [`partition`] (which conversations go
//! together, and which worker consumes which partition) and [`lanes`] (one conversation at a
//! time within a partition, in arrival order).

pub mod lanes;
pub mod partition;
pub mod pubsub;
pub mod rabbitmq;
pub mod reconnect;
pub mod retry;
pub mod settle;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{QueueBackend, QueueConfig};
pub use crate::db::dead_letters::ErrorClass;
use crate::envelope::Envelope;
use crate::shutdown::Shutdown;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    #[error("broker did not confirm the publish in time")]
    ConfirmTimeout,
    #[error("broker refused the publish: {0}")]
    Refused(String),
    #[error("cannot serialize envelope: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// One event handed to the worker.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Envelope,
    /// The broker delivered it before (a consumer stopped without acknowledging it).
    pub redelivered: bool,
}

/// What the handler made of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done (applied now, or found applied before): remove it from the queue.
    Ack,
    /// A dependency every event needs (the database) is down: keep the event, try it again
    /// in place until the dependency is back, and count no attempt — an outage must not burn
    /// through the retry tiers and dead-letter everything.
    Hold(String),
    /// A transient failure of this event (a provider's 5xx or 429, a concurrent write): try
    /// again a few times in place, then after the next retry tier's delay; dead once the
    /// tiers are used up.
    Retry(String),
    /// It can never succeed (malformed, references nothing, credentials revoked): dead now,
    /// without retries.
    Dead(String),
}

/// An event the queue gives up on, handed to [`EventHandler::bury`] to be kept as a dead
/// letter.
#[derive(Debug, Clone)]
pub struct Burial {
    pub envelope: Envelope,
    pub class: ErrorClass,
    pub error: String,
    /// Deliveries of the event that failed.
    pub attempts: u32,
}

#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, delivery: Delivery) -> Outcome;

    /// Keep a dead event where admins can see and replay it. [`Outcome::Ack`] once it is
    /// stored; [`Outcome::Hold`] while the store is unavailable (the queue keeps the event
    /// and asks again).
    async fn bury(&self, burial: Burial) -> Outcome;
}

#[async_trait]
pub trait EventQueue: Send + Sync + 'static {
    /// Publish every envelope and wait until the broker has confirmed all of them. Calls from
    /// concurrent requests share the broker connection and pipeline their confirms.
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), QueueError>;

    /// Whether the broker is reachable now (for `/readyz`).
    async fn ready(&self) -> Result<(), QueueError>;

    /// Deliver events to `handler` until `shutdown`, reconnecting after broker failures. On
    /// shutdown, stops taking new deliveries, lets the ones in flight finish, then returns.
    async fn consume(
        &self,
        handler: Arc<dyn EventHandler>,
        shutdown: Shutdown,
    ) -> Result<(), QueueError>;
}

/// How many deliveries an event that keeps failing transiently gets before it is a dead letter
/// (class `exhausted`): on RabbitMQ the first and one per retry tier; on Pub/Sub the
/// subscription's maximum delivery attempts (one per tier plus the first, at least 5).
pub fn deliveries_before_dead_letter(config: &QueueConfig) -> u32 {
    match config.backend {
        QueueBackend::Rabbitmq => {
            u32::try_from(config.retry_tiers.delays().len().saturating_add(1)).unwrap_or(u32::MAX)
        }
        QueueBackend::Pubsub => u32::try_from(pubsub::max_delivery_attempts(config)).unwrap_or(5),
    }
}

/// The configured backend, connected and with its topology declared if the broker answers now.
///
/// A broker that is unreachable at start is not an error: the backend connects on first use
/// (the next publish, readiness check or consumer attempt), so an ingress starts degraded —
/// it spools what it accepts meanwhile — instead of not at all.
pub async fn connect(config: &QueueConfig) -> Result<Arc<dyn EventQueue>, QueueError> {
    match config.backend {
        QueueBackend::Rabbitmq => {
            let queue = rabbitmq::RabbitMq::new(config.clone());
            if let Err(e) = queue.ready().await {
                tracing::warn!(error = %e, "broker unreachable at start; connecting on first use");
            }
            Ok(Arc::new(queue))
        }
        QueueBackend::Pubsub => {
            let queue = pubsub::PubSub::new(config.clone()).await?;
            if let Err(e) = queue.ready().await {
                tracing::warn!(error = %e, "Pub/Sub unreachable at start; connecting on first use");
            }
            Ok(Arc::new(queue))
        }
    }
}
