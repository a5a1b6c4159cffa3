//! Building a worker from configuration: the event processor on the queue, and the outbox
//! relay beside it.

use std::sync::Arc;

use sqlx::PgPool;
use switchyard_shared::config::WorkerConfig;
use switchyard_shared::queue::{EventQueue, QueueError};
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::shutdown::Shutdown;

use crate::consumer::EventProcessor;
use crate::outbox::OutboxDispatcher;

pub struct Worker {
    queue: Arc<dyn EventQueue>,
    processor: Arc<EventProcessor>,
    outbox: OutboxDispatcher,
}

impl Worker {
    pub fn new(
        config: WorkerConfig,
        pool: PgPool,
        queue: Arc<dyn EventQueue>,
        secrets: Arc<SecretBox>,
    ) -> Result<Self, reqwest::Error> {
        let outbox = OutboxDispatcher::new(pool.clone(), secrets, Arc::new(config))?;
        let processor = Arc::new(EventProcessor::new(pool, outbox.clone()));
        Ok(Self {
            queue,
            processor,
            outbox,
        })
    }

    /// The processor, for tools and tests that apply an envelope directly.
    pub fn processor(&self) -> Arc<EventProcessor> {
        self.processor.clone()
    }

    /// Consume and relay until `shutdown`; in-flight events finish first.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), QueueError> {
        let relay = {
            let outbox = self.outbox.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move { outbox.run_relay(shutdown).await })
        };
        let consumed = self.queue.consume(self.processor.clone(), shutdown).await;
        if let Err(e) = relay.await {
            tracing::error!(error = %e, "outbox relay task failed");
        }
        consumed
    }
}
