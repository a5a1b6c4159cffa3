//! The queue between the ingress and the workers, behind one trait.
//!
//! The ingress calls [`EventQueue::publish`] and answers the provider only after it returns
//! `Ok` — every envelope of the request confirmed by the broker. The worker hands an
//! [`EventHandler`] to [`EventQueue::consume`]; the backend owns the delivery loop (prefetch,
//! reconnects, acks) and turns the handler's [`Outcome`] into the broker's verb.
//!
//! Backends: [`rabbitmq`]. Nothing outside this module names one; [`connect`] picks it from
//! the configuration. What every backend shares: [`partition`] (which conversations go
//! together, and which worker consumes which partition) and [`lanes`] (one conversation at a
//! time within a partition, in arrival order).

pub mod lanes;
pub mod partition;
pub mod rabbitmq;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{QueueBackend, QueueConfig};
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
    /// A transient failure (database or provider unavailable): deliver it again later.
    Retry(String),
    /// It can never succeed (malformed, references nothing): move it to the dead letters.
    Reject(String),
}

#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, delivery: Delivery) -> Outcome;
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

/// Connect the configured backend and declare its topology.
pub async fn connect(config: &QueueConfig) -> Result<Arc<dyn EventQueue>, QueueError> {
    match config.backend {
        QueueBackend::Rabbitmq => Ok(Arc::new(rabbitmq::RabbitMq::connect(config.clone()).await?)),
    }
}
