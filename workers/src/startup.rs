//! Building a worker from configuration: the event processor on the queue, and the outbox
//! relay beside it.

use std::sync::Arc;

use sqlx::PgPool;
use std::time::Duration;

use switchyard_shared::config::{GeminiConfig, GoogleConfig, WorkerConfig};
use switchyard_shared::queue::{EventQueue, QueueError};
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::shutdown::Shutdown;

use crate::consumer::EventProcessor;
use crate::engine::conversation::Batching;
use crate::engine::llm_turn::LlmTurnRunner;
use crate::fairness::{FairShare, ParkedDrain};
use crate::gmail::GmailApi;
use crate::gmail::client::GmailClient;
use crate::gmail::oauth::OAuthClient;
use crate::gmail::renewal::WatchRenewal;
use crate::llm::GeminiClient;
use crate::outbox::OutboxDispatcher;

pub struct Worker {
    queue: Arc<dyn EventQueue>,
    processor: Arc<EventProcessor>,
    outbox: OutboxDispatcher,
    /// Answers due LLM turns.
    llm_turns: LlmTurnRunner,
    /// Present when the platform's Google OAuth client and Gmail topic are configured (the
    /// sync and the replies need only the client).
    watch_renewal: Option<WatchRenewal>,
    /// Applies events parked over their tenant's fair share.
    parked: ParkedDrain,
}

/// Parked events one worker applies at once.
const PARKED_DRAIN_SLOTS: usize = 16;

impl Worker {
    pub fn new(
        config: WorkerConfig,
        google: &GoogleConfig,
        gemini: &GeminiConfig,
        pool: PgPool,
        queue: Arc<dyn EventQueue>,
        secrets: Arc<SecretBox>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.provider_timeout())
            .build()?;
        let gmail = match (&google.oauth_client_id, &google.oauth_client_secret) {
            (Some(client_id), Some(client_secret)) => Some(GmailApi {
                client: GmailClient::new(http.clone(), &google.gmail_api_base),
                oauth: OAuthClient::new(
                    http,
                    &google.oauth_token_url,
                    client_id,
                    client_secret.clone(),
                ),
                sealer: secrets.clone(),
            }),
            _ => None,
        };
        let watch_renewal =
            gmail
                .clone()
                .zip(google.gmail_pubsub_topic.clone())
                .map(|(gmail, topic)| {
                    let every = Duration::from_secs(google.gmail_watch_check_secs.max(1));
                    WatchRenewal::new(pool.clone(), gmail, topic, every)
                });
        let batching = Batching {
            window: Duration::from_millis(config.reply_batch_window_ms),
            max_wait: Duration::from_millis(config.reply_batch_max_ms),
        };
        let llm_poll = Duration::from_millis(config.llm_turn_poll_ms.max(10));
        let gemini_client = gemini
            .api_key
            .is_some()
            .then(|| Arc::new(GeminiClient::new(reqwest::Client::new(), gemini)));
        let config_rates = (config.tenant_events_per_second, config.tenant_events_burst);
        let outbox = OutboxDispatcher::new(pool.clone(), secrets, Arc::new(config), gmail.clone())?;
        let llm_turns = LlmTurnRunner::new(
            pool.clone(),
            gemini_client,
            gemini.model.clone(),
            outbox.clone(),
            llm_poll,
        );
        let fair_share = FairShare::new(pool.clone(), f64::from(config_rates.0), config_rates.1);
        let processor = Arc::new(EventProcessor::new(
            pool.clone(),
            outbox.clone(),
            gmail,
            batching,
            Some(fair_share),
        ));
        let parked = ParkedDrain::new(pool, processor.clone(), queue.clone(), PARKED_DRAIN_SLOTS);
        Ok(Self {
            queue,
            processor,
            outbox,
            llm_turns,
            watch_renewal,
            parked,
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
        tokio::spawn(self.llm_turns.run(shutdown.clone()));
        let parked = tokio::spawn(self.parked.run(shutdown.clone()));
        if let Some(renewal) = self.watch_renewal {
            tokio::spawn(renewal.run(shutdown.clone()));
        }
        let consumed = self.queue.consume(self.processor.clone(), shutdown).await;
        if let Err(e) = relay.await {
            tracing::error!(error = %e, "outbox relay task failed");
        }
        if let Err(e) = parked.await {
            tracing::error!(error = %e, "parked-event drain failed");
        }
        consumed
    }
}
