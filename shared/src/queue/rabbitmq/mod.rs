//! RabbitMQ backend (AMQP 0-9-1 through `lapin`).
//!
//! Topology, declared idempotently on every (re)connect, all names under `QUEUE_PREFIX`:
//!
//! ```text
//! {prefix}.events   topic exchange, durable; routing key p{NN}.{channel}.{kind}
//!   └─ "p{NN}.#" → {prefix}.p{NN}   one quorum queue per partition (QUEUE_PARTITIONS of them),
//!                      single active consumer, dead-letter exchange {prefix}.dead,
//!                      x-delivery-limit
//! {prefix}.dead     fanout exchange → {prefix}.dead-letters (quorum): events the broker
//!                   gave up on; every worker drains it into the dead letters in PostgreSQL
//! {prefix}.retry.{delay}  one fanout exchange and quorum queue per retry tier (RETRY_TIERS):
//!                   message TTL = the delay, then dead-lettered (at least once) back into
//!                   {prefix}.events under the event's own routing key
//! {prefix}.undecodable  quorum queue: bodies that are not an envelope this build can read
//!                   (kept for an operator, never consumed)
//! {prefix}.members  fanout exchange, transient: the consuming workers' heartbeats
//! ```
//!
//! The publisher picks the partition from the envelope's conversation key
//! ([`partition_of`](crate::queue::partition::partition_of)), so one conversation's events share a
//! queue, in order; the consumer side ([`consumer`]) spreads the partitions over the live
//! workers ([`membership`]) and keeps each conversation in order within its partition.
//!
//! Messages are persistent, `message_id` = envelope id, with headers `tenant_id`, `channel`,
//! `kind`, `attempt`, `traceparent`, `conversation_key`. Publishing pipelines confirms over a
//! few channels shared by all requests: a request publishes its envelopes and awaits only its
//! own confirms, so concurrent requests never wait for one another.
//!
//! The connection is made on demand: a process that starts while the broker is down starts
//! anyway ([`RabbitMq::new`]) and connects on first use. After the broker goes away, publishers
//! get an error for the request that found the connection broken (and the next publish
//! reconnects); the consumer loop reconnects with exponential backoff.

mod consumer;
mod dead_letters;
mod membership;
mod settle;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::{Mutex, RwLock};

use super::partition::{Partition, partition_of};
use super::{EventHandler, EventQueue, QueueError, retry};
use crate::config::QueueConfig;
use crate::envelope::Envelope;
use crate::queue::reconnect::Reconnect;
use crate::shutdown::Shutdown;

/// A busy broker (e.g. deleting many queues) can take a while to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

pub struct RabbitMq {
    config: QueueConfig,
    /// `{prefix}.events`, built once: it is on every publish.
    events_exchange: ShortString,
    live: RwLock<Option<Arc<Live>>>,
    reconnect: Mutex<()>,
}

/// One established connection with its publishing channels.
struct Live {
    connection: Connection,
    publishers: Vec<Channel>,
    next: AtomicUsize,
}

impl Live {
    fn healthy(&self) -> bool {
        self.connection.status().connected()
            && self.publishers.iter().all(|c| c.status().connected())
    }

    fn publisher(&self) -> &Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.publishers.len();
        &self.publishers[i]
    }
}

/// The queue of `partition` under `prefix`: `{prefix}.p{NN}`.
pub fn partition_queue(prefix: &str, partition: Partition) -> String {
    format!("{prefix}.p{partition:02}")
}

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl RabbitMq {
    /// The backend, not connected yet: the first publish, readiness check or consumer
    /// connects and declares the topology.
    pub fn new(config: QueueConfig) -> Self {
        Self {
            events_exchange: format!("{}.events", config.prefix).into(),
            config,
            live: RwLock::new(None),
            reconnect: Mutex::new(()),
        }
    }

    /// Connect and declare the topology; fails if the broker is unreachable now.
    pub async fn connect(config: QueueConfig) -> Result<Self, QueueError> {
        let this = Self::new(config);
        this.live().await?;
        Ok(this)
    }

    fn exchange(&self) -> String {
        format!("{}.events", self.config.prefix)
    }

    fn dead_exchange(&self) -> String {
        format!("{}.dead", self.config.prefix)
    }

    /// The queue of one partition.
    pub fn partition_queue(&self, partition: Partition) -> String {
        partition_queue(&self.config.prefix, partition)
    }

    /// Every partition queue, in partition order.
    pub fn partition_queues(&self) -> Vec<String> {
        (0..self.config.partitions.max(1))
            .map(|p| self.partition_queue(p))
            .collect()
    }

    fn members_exchange(&self) -> String {
        format!("{}.members", self.config.prefix)
    }

    /// Queue that holds events the broker dead-lettered.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letters", self.config.prefix)
    }

    /// Exchange and queue of the retry tier that waits `delay`.
    pub fn retry_queue(&self, delay: Duration) -> String {
        format!("{}.retry.{}", self.config.prefix, retry::label(delay))
    }

    /// Queue for message bodies that are not an envelope this build can read.
    pub fn undecodable_queue(&self) -> String {
        format!("{}.undecodable", self.config.prefix)
    }

    /// The current connection, or a new one if there is none or it broke.
    async fn live(&self) -> Result<Arc<Live>, QueueError> {
        if let Some(live) = self.live.read().await.as_ref()
            && live.healthy()
        {
            return Ok(live.clone());
        }
        let _one_at_a_time = self.reconnect.lock().await;
        if let Some(live) = self.live.read().await.as_ref()
            && live.healthy()
        {
            return Ok(live.clone());
        }
        let fresh = Arc::new(self.open().await?);
        *self.live.write().await = Some(fresh.clone());
        Ok(fresh)
    }

    async fn forget(&self, broken: &Arc<Live>) {
        let mut slot = self.live.write().await;
        if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, broken)) {
            *slot = None;
        }
    }

    async fn connect_once(&self, role: &str) -> Result<Connection, QueueError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("switchyard-{role}-{}", std::process::id()).into());
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            Connection::connect(self.config.amqp_url.expose(), properties),
        )
        .await
        .map_err(|_| unavailable("connect timed out"))?
        .map_err(unavailable)
    }

    async fn open(&self) -> Result<Live, QueueError> {
        let connection = self.connect_once("publish").await?;
        let setup = connection.create_channel().await.map_err(unavailable)?;
        self.declare_topology(&setup).await?;
        let _ = setup.close(200, "topology declared".into()).await;
        let mut publishers = Vec::with_capacity(self.config.publish_channels.max(1));
        for _ in 0..self.config.publish_channels.max(1) {
            let channel = connection.create_channel().await.map_err(unavailable)?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(unavailable)?;
            publishers.push(channel);
        }
        tracing::info!(prefix = %self.config.prefix, "connected to RabbitMQ");
        Ok(Live {
            connection,
            publishers,
            next: AtomicUsize::new(0),
        })
    }

    async fn declare_topology(&self, ch: &Channel) -> Result<(), QueueError> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            self.exchange().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;
        ch.exchange_declare(
            self.dead_exchange().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;

        let dead = self.dead_letter_queue();
        ch.queue_declare(
            dead.clone().into(),
            QueueDeclareOptions::durable(),
            self.queue_arguments(false),
        )
        .await
        .map_err(unavailable)?;
        ch.queue_bind(
            dead.into(),
            self.dead_exchange().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;

        for &delay in self.config.retry_tiers.delays() {
            let tier = self.retry_queue(delay);
            ch.exchange_declare(
                tier.clone().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
            ch.queue_declare(
                tier.clone().into(),
                QueueDeclareOptions::durable(),
                self.retry_queue_arguments(delay),
            )
            .await
            .map_err(unavailable)?;
            ch.queue_bind(
                tier.clone().into(),
                tier.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        }
        ch.queue_declare(
            self.undecodable_queue().into(),
            QueueDeclareOptions::durable(),
            self.queue_arguments(false),
        )
        .await
        .map_err(unavailable)?;

        for partition in 0..self.config.partitions.max(1) {
            ch.queue_declare(
                self.partition_queue(partition).into(),
                QueueDeclareOptions::durable(),
                self.queue_arguments(true),
            )
            .await
            .map_err(unavailable)?;
            ch.queue_bind(
                self.partition_queue(partition).into(),
                self.exchange().into(),
                format!("p{partition:02}.#").into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Quorum queue arguments; a partition (`partition == true`) also has a single active
    /// consumer, a dead-letter exchange and a delivery limit.
    fn queue_arguments(&self, partition: bool) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        if partition {
            args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(self.dead_exchange().into()),
            );
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(i64::from(self.config.delivery_limit)),
            );
        }
        if let Some(secs) = self.config.expires_secs {
            let ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            args.insert("x-expires".into(), AMQPValue::LongLongInt(ms));
        }
        args
    }

    /// A retry tier's queue: every message waits `delay`, then goes back to the events
    /// exchange. Dead-lettering is at-least-once (the broker keeps the message until the
    /// events exchange's queue confirmed it), which needs `reject-publish` overflow.
    fn retry_queue_arguments(&self, delay: Duration) -> FieldTable {
        let mut args = self.queue_arguments(false);
        let ttl = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.exchange().into()),
        );
        args.insert(
            "x-dead-letter-strategy".into(),
            AMQPValue::LongString("at-least-once".into()),
        );
        args.insert(
            "x-overflow".into(),
            AMQPValue::LongString("reject-publish".into()),
        );
        args
    }

    /// The routing key of `envelope` on the events exchange: `p{NN}.{channel}.{kind}`.
    fn routing_key(&self, envelope: &Envelope) -> String {
        Self::routing_key_for(self.config.partitions, envelope)
    }

    fn routing_key_for(partitions: u16, envelope: &Envelope) -> String {
        let partition = partition_of(envelope.conversation_key.as_str(), partitions);
        format!("p{partition:02}.{}", envelope.routing_key())
    }

    fn properties(envelope: &Envelope) -> BasicProperties {
        let mut headers = FieldTable::default();
        let text = |s: &str| AMQPValue::LongString(s.into());
        headers.insert("tenant_id".into(), text(&envelope.tenant_id.to_string()));
        headers.insert("channel".into(), text(envelope.channel.as_str()));
        headers.insert("kind".into(), text(envelope.kind.as_str()));
        headers.insert(
            "attempt".into(),
            AMQPValue::LongLongInt(i64::from(envelope.attempt)),
        );
        headers.insert("traceparent".into(), text(&envelope.traceparent));
        if let Some(error) = &envelope.last_error {
            // Headers are for a glance in the broker's UI; the envelope has the full text.
            let short: String = error.chars().take(500).collect();
            headers.insert("last_error".into(), text(&short));
        }
        headers.insert(
            "conversation_key".into(),
            text(envelope.conversation_key.as_str()),
        );
        BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(envelope.id.to_string().into())
            .with_headers(headers)
    }

    async fn publish_on(&self, live: &Live, envelopes: &[Envelope]) -> Result<(), QueueError> {
        let channel = live.publisher();
        let mut confirms = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let body = envelope.to_bytes()?;
            let routing_key = self.routing_key(envelope);
            let confirm = channel
                .basic_publish(
                    self.events_exchange.clone(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &body,
                    Self::properties(envelope),
                )
                .await
                .map_err(unavailable)?;
            confirms.push(confirm);
        }
        let all = futures_util::future::join_all(confirms);
        let results = tokio::time::timeout(self.config.confirm_timeout(), all)
            .await
            .map_err(|_| QueueError::ConfirmTimeout)?;
        for result in results {
            confirmed(result.map_err(unavailable)?)?;
        }
        Ok(())
    }
}

/// `Ok` when the broker took responsibility for the message.
fn confirmed(confirmation: Confirmation) -> Result<(), QueueError> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(QueueError::Refused(format!(
            "unroutable: {}",
            returned.reply_text
        ))),
        Confirmation::Nack(_) => Err(QueueError::Refused("nack".into())),
        Confirmation::NotRequested => Err(QueueError::Refused("confirms not enabled".into())),
    }
}

#[async_trait]
impl EventQueue for RabbitMq {
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), QueueError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let live = self.live().await?;
        let result = self.publish_on(&live, envelopes).await;
        if matches!(result, Err(QueueError::Unavailable(_))) || !live.healthy() {
            self.forget(&live).await;
        }
        result
    }

    async fn ready(&self) -> Result<(), QueueError> {
        self.live().await.map(|_| ())
    }

    async fn consume(
        &self,
        handler: Arc<dyn EventHandler>,
        shutdown: Shutdown,
    ) -> Result<(), QueueError> {
        let mut reconnect = Reconnect::up_to(Duration::from_secs(2));
        loop {
            // The publishing connection declares the topology, which the consumer needs: a
            // worker that started while the broker was down has not declared it yet.
            let attempt = match self.live().await {
                Ok(_) => self.consume_once(&handler, &shutdown).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let delay = reconnect.next_pause();
                    tracing::warn!(error = %e, ?delay, "consumer lost the broker; reconnecting");
                    if !Reconnect::wait(delay, &shutdown).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}
