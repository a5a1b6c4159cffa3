//! Google Cloud Pub/Sub backend (`QUEUE_BACKEND=pubsub`), with the official
//! `google-cloud-pubsub` client.
//!
//! Topology (see [`topology`]), created when missing unless `PUBSUB_CREATE_TOPOLOGY=false`:
//!
//! - `{prefix}-events`: every envelope, published with its `conversation_key` as the
//!   **ordering key**, so one conversation's events are delivered in the order published.
//! - `{prefix}-workers`: the workers' subscription, with message ordering on, a dead-letter
//!   policy (`{prefix}-dead-letters` after `max_delivery_attempts`) and a retry policy whose
//!   exponential backoff spans the first to the last retry tier, as far as Pub/Sub allows
//!   (at most 600 s).
//! - `{prefix}-dead-letters` (topic and subscription): what Pub/Sub gave up on; every worker
//!   drains it into the dead letters in PostgreSQL.
//! - `{prefix}-undecodable` (topic and subscription): bodies that are not envelopes, kept for
//!   an operator.
//!
//! Publishing waits for each message's publish result (Pub/Sub's confirmation) within
//! `QUEUE_CONFIRM_TIMEOUT_MS`. Pub/Sub needs no partitions: the service spreads ordering keys
//! over the subscribers, and the consumer runs one conversation at a time ([`lanes`]). How a
//! delivery is settled is [`consumer`]'s business.
//!
//! [`lanes`]: crate::queue::lanes

mod consumer;
mod topology;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use google_cloud_auth::credentials::anonymous::Builder as Anonymous;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin, TopicAdmin};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::retry_policy::RetryableErrors;

use super::{EventHandler, EventQueue, QueueError};
use crate::config::QueueConfig;
use crate::envelope::Envelope;
use crate::shutdown::Shutdown;

/// The ack deadline of what a worker holds, set on the workers' subscription and on every
/// worker's stream: how soon Pub/Sub delivers again what a worker took and then died with.
/// While a worker runs an event, its client extends the deadline by this much at a time (every
/// few seconds), so a long event keeps its delivery. Pub/Sub's minimum.
pub const ACK_DEADLINE_SECS: i32 = 10;

/// [`ACK_DEADLINE_SECS`] as a duration.
pub fn ack_deadline() -> Duration {
    Duration::from_secs(u64::from(ACK_DEADLINE_SECS.unsigned_abs()))
}

/// Deliveries before Pub/Sub dead-letters an event: one per retry tier plus the first, within
/// the 5–100 Pub/Sub accepts.
pub fn max_delivery_attempts(config: &QueueConfig) -> i32 {
    let tiers = i32::try_from(config.retry_tiers.delays().len()).unwrap_or(i32::MAX);
    tiers.saturating_add(1).clamp(5, 100)
}

/// The fully qualified names of the run's topics and subscriptions.
#[derive(Debug, Clone)]
pub struct Names {
    pub events_topic: String,
    pub workers_subscription: String,
    pub dead_letter_topic: String,
    pub dead_letter_subscription: String,
    pub undecodable_topic: String,
    pub undecodable_subscription: String,
}

impl Names {
    pub fn new(config: &QueueConfig) -> Result<Self, QueueError> {
        let pubsub = &config.pubsub;
        let project = pubsub.project.as_deref().ok_or_else(|| {
            QueueError::Unavailable("QUEUE_BACKEND=pubsub needs PUBSUB_PROJECT_ID".into())
        })?;
        let prefix = &config.prefix;
        let topic = |id: &str| format!("projects/{project}/topics/{id}");
        let subscription = |id: &str| format!("projects/{project}/subscriptions/{id}");
        let events = pubsub
            .topic
            .clone()
            .unwrap_or_else(|| format!("{prefix}-events"));
        let workers = pubsub
            .subscription
            .clone()
            .unwrap_or_else(|| format!("{prefix}-workers"));
        let dead = pubsub
            .dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{prefix}-dead-letters"));
        let undecodable = format!("{prefix}-undecodable");
        Ok(Self {
            events_topic: topic(&events),
            workers_subscription: subscription(&workers),
            dead_letter_topic: topic(&dead),
            dead_letter_subscription: subscription(&dead),
            undecodable_topic: topic(&undecodable),
            undecodable_subscription: subscription(&undecodable),
        })
    }
}

/// The clients of one process; cheap to share.
pub struct PubSub {
    config: QueueConfig,
    names: Names,
    publisher: Publisher,
    undecodable: Publisher,
    subscriber: Subscriber,
    topics: TopicAdmin,
    subscriptions: SubscriptionAdmin,
    /// The topology was checked (and completed) since start.
    topology_ready: AtomicBool,
}

/// Apply the emulator endpoint and anonymous credentials to a client builder, or leave the
/// production defaults (Application Default Credentials, Google's endpoint).
macro_rules! pointed {
    ($builder:expr, $config:expr) => {{
        let builder = $builder;
        match &$config.pubsub.emulator_host {
            Some(host) => builder
                .with_endpoint(format!("http://{host}"))
                .with_credentials(Anonymous::new().build()),
            None => builder,
        }
    }};
}

impl PubSub {
    /// Build the clients (no request is made yet: the connection opens on first use).
    pub async fn new(config: QueueConfig) -> Result<Self, QueueError> {
        let names = Names::new(&config)?;
        let publisher = pointed!(Publisher::builder(names.events_topic.clone()), config)
            // Confirm latency matters more than batch size: the ingress waits for it.
            .set_delay_threshold(Duration::from_millis(1))
            // The client would otherwise keep retrying for 10 minutes after the ingress gave
            // up and spooled the event: a late duplicate, and the conversation's ordering key
            // stuck behind it while the relay publishes.
            .with_retry_policy(RetryableErrors.with_time_limit(config.confirm_timeout()))
            .build()
            .await
            .map_err(building)?;
        let undecodable = pointed!(Publisher::builder(names.undecodable_topic.clone()), config)
            .build()
            .await
            .map_err(building)?;
        let subscriber = pointed!(Subscriber::builder(), config)
            .build()
            .await
            .map_err(building)?;
        let topics = pointed!(TopicAdmin::builder(), config)
            .build()
            .await
            .map_err(building)?;
        let subscriptions = pointed!(SubscriptionAdmin::builder(), config)
            .build()
            .await
            .map_err(building)?;
        Ok(Self {
            config,
            names,
            publisher,
            undecodable,
            subscriber,
            topics,
            subscriptions,
            topology_ready: AtomicBool::new(false),
        })
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Check the topology once per process (creating what is missing, if allowed), within the
    /// confirm timeout: the admin clients would otherwise retry an unreachable service for
    /// minutes while a webhook waits.
    async fn ensure_topology(&self) -> Result<(), QueueError> {
        if self.topology_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        tokio::time::timeout(self.config.confirm_timeout(), topology::ensure(self))
            .await
            .map_err(|_| QueueError::Unavailable("Pub/Sub did not answer in time".into()))??;
        self.topology_ready.store(true, Ordering::Release);
        Ok(())
    }

    fn message(envelope: &Envelope) -> Result<Message, QueueError> {
        Ok(Message::new()
            .set_data(envelope.to_bytes()?)
            .set_ordering_key(envelope.conversation_key.as_str())
            .set_attributes([
                ("event_id", envelope.id.to_string()),
                ("tenant_id", envelope.tenant_id.to_string()),
                ("kind", envelope.kind.as_str().to_owned()),
            ]))
    }
}

/// A client that could not be built (bad credentials set-up, typically).
fn building(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(format!("building the Pub/Sub client: {e}"))
}

#[async_trait]
impl EventQueue for PubSub {
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), QueueError> {
        self.ensure_topology().await?;
        let mut pending = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let key = envelope.conversation_key.as_str().to_owned();
            pending.push((key, self.publisher.publish(Self::message(envelope)?)));
        }
        let timeout = self.config.confirm_timeout();
        let mut failure = None;
        for (key, result) in pending {
            match tokio::time::timeout(timeout, result).await {
                Ok(Ok(_message_id)) => {}
                Ok(Err(e)) => {
                    // The client pauses a key after a failed publish so nothing overtakes
                    // it; the caller spools this and every later event, so let the key go.
                    self.publisher.resume_publish(key);
                    failure.get_or_insert(QueueError::Unavailable(e.to_string()));
                }
                Err(_) => {
                    self.publisher.resume_publish(key);
                    failure.get_or_insert(QueueError::ConfirmTimeout);
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn ready(&self) -> Result<(), QueueError> {
        let check = async {
            self.ensure_topology().await?;
            self.topics
                .get_topic()
                .set_topic(self.names.events_topic.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| QueueError::Unavailable(e.to_string()))
        };
        tokio::time::timeout(Duration::from_secs(5), check)
            .await
            .map_err(|_| QueueError::Unavailable("Pub/Sub did not answer within 5 s".into()))?
    }

    async fn consume(
        &self,
        handler: Arc<dyn EventHandler>,
        shutdown: Shutdown,
    ) -> Result<(), QueueError> {
        consumer::run(self, handler, shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::QueueBackend;
    use crate::queue::deliveries_before_dead_letter;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        queue: QueueConfig,
    }

    fn config(args: &[&str]) -> QueueConfig {
        let argv = std::iter::once("switchyard").chain(args.iter().copied());
        Cli::try_parse_from(argv).expect("queue flags").queue
    }

    #[test]
    fn names_derive_from_the_prefix_unless_given() {
        let names = Names::new(&config(&[
            "--queue-prefix",
            "prod",
            "--pubsub-project",
            "acme",
        ]))
        .expect("names");
        assert_eq!(names.events_topic, "projects/acme/topics/prod-events");
        assert_eq!(
            names.workers_subscription,
            "projects/acme/subscriptions/prod-workers"
        );
        assert_eq!(
            names.dead_letter_topic,
            "projects/acme/topics/prod-dead-letters"
        );
        assert_eq!(
            names.dead_letter_subscription,
            "projects/acme/subscriptions/prod-dead-letters"
        );
        assert_eq!(
            names.undecodable_subscription,
            "projects/acme/subscriptions/prod-undecodable"
        );

        let given = Names::new(&config(&[
            "--pubsub-project",
            "acme",
            "--pubsub-topic",
            "webhooks",
            "--pubsub-subscription",
            "webhook-workers",
            "--pubsub-dead-letter-topic",
            "webhooks-dlq",
        ]))
        .expect("names");
        assert_eq!(given.events_topic, "projects/acme/topics/webhooks");
        assert_eq!(
            given.workers_subscription,
            "projects/acme/subscriptions/webhook-workers"
        );
        assert_eq!(given.dead_letter_topic, "projects/acme/topics/webhooks-dlq");
    }

    #[test]
    fn a_project_is_required() {
        assert!(matches!(
            Names::new(&config(&[])),
            Err(QueueError::Unavailable(reason)) if reason.contains("PUBSUB_PROJECT_ID")
        ));
    }

    #[test]
    fn delivery_attempts_follow_the_tiers_within_what_pubsub_accepts() {
        let pubsub = |tiers: &str| {
            config(&["--queue-backend", "pubsub", "--pubsub-project", "p"]).with_tiers(tiers)
        };
        // One delivery per tier plus the first; Pub/Sub wants 5 to 100.
        assert_eq!(max_delivery_attempts(&pubsub("10s,1m,10m,1h,6h")), 6);
        assert_eq!(max_delivery_attempts(&pubsub("1s")), 5);
        let many = vec!["1s"; 120].join(",");
        assert_eq!(max_delivery_attempts(&pubsub(&many)), 100);
        assert_eq!(deliveries_before_dead_letter(&pubsub("1s,2s,3s")), 5);
        let rabbit = config(&["--retry-tiers", "1s,2s,3s"]);
        assert_eq!(rabbit.backend, QueueBackend::Rabbitmq);
        assert_eq!(deliveries_before_dead_letter(&rabbit), 4);
    }

    impl QueueConfig {
        fn with_tiers(mut self, tiers: &str) -> Self {
            self.retry_tiers = tiers.parse().expect("tiers");
            self
        }
    }
}
