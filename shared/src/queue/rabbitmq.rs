//! RabbitMQ backend (AMQP 0-9-1 through `lapin`).
//!
//! Topology, declared idempotently on every (re)connect, all names under `QUEUE_PREFIX`:
//!
//! ```text
//! {prefix}.events   topic exchange, durable
//!   └─ "{channel}.#" → {prefix}.{channel}   quorum queue per channel (whatsapp, sms, voice, email)
//!                         dead-letter exchange {prefix}.dead, x-delivery-limit
//! {prefix}.dead     fanout exchange → {prefix}.dead-letters (quorum)
//! ```
//!
//! Messages are persistent, `message_id` = envelope id, with headers `tenant_id`, `channel`,
//! `kind`, `attempt`, `traceparent`. Publishing pipelines confirms over a few channels shared by
//! all requests: a request publishes its envelopes and awaits only its own confirms, so
//! concurrent requests never wait for one another.
//!
//! The connection is re-established on demand after the broker goes away: publishers get an
//! error for the request that found it broken (and the next request reconnects); the consumer
//! loop reconnects with exponential backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::StreamExt;
use futures_util::stream::SelectAll;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use tokio::sync::{Mutex, RwLock};
use tokio::task::JoinSet;

use super::{Delivery, EventHandler, EventQueue, Outcome, QueueError};
use crate::config::QueueConfig;
use crate::domain::Channel as ConversationChannel;
use crate::envelope::Envelope;
use crate::shutdown::Shutdown;

/// A busy broker (e.g. deleting many queues) can take a while to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a stopping consumer waits for in-flight events before closing the channel (the
/// broker redelivers whatever is still unacknowledged then).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

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

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl RabbitMq {
    /// Connect and declare the topology; fails if the broker is unreachable now.
    pub async fn connect(config: QueueConfig) -> Result<Self, QueueError> {
        let events_exchange = format!("{}.events", config.prefix).into();
        let this = Self {
            events_exchange,
            config,
            live: RwLock::new(None),
            reconnect: Mutex::new(()),
        };
        this.live().await?;
        Ok(this)
    }

    fn exchange(&self) -> String {
        format!("{}.events", self.config.prefix)
    }

    fn dead_exchange(&self) -> String {
        format!("{}.dead", self.config.prefix)
    }

    /// Queue that holds one channel's events.
    pub fn queue_name(&self, channel: ConversationChannel) -> String {
        format!("{}.{}", self.config.prefix, channel)
    }

    /// Queue that holds events the broker dead-lettered.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letters", self.config.prefix)
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

        for channel in ConversationChannel::ALL {
            let queue = self.queue_name(channel);
            ch.queue_declare(
                queue.clone().into(),
                QueueDeclareOptions::durable(),
                self.queue_arguments(true),
            )
            .await
            .map_err(unavailable)?;
            ch.queue_bind(
                queue.into(),
                self.exchange().into(),
                format!("{channel}.#").into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable)?;
        }
        Ok(())
    }

    fn queue_arguments(&self, dead_letters_to_dlx: bool) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        if dead_letters_to_dlx {
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
            let confirm = channel
                .basic_publish(
                    self.events_exchange.clone(),
                    envelope.routing_key().into(),
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
            match result.map_err(unavailable)? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(returned)) => {
                    return Err(QueueError::Refused(format!(
                        "unroutable: {}",
                        returned.reply_text
                    )));
                }
                Confirmation::Nack(_) => return Err(QueueError::Refused("nack".into())),
                Confirmation::NotRequested => {
                    return Err(QueueError::Refused("confirms not enabled".into()));
                }
            }
        }
        Ok(())
    }

    /// Consume from every channel queue on one AMQP channel until the connection breaks or
    /// shutdown fires. Returns `Ok` on shutdown.
    async fn consume_once(
        &self,
        handler: &Arc<dyn EventHandler>,
        shutdown: &Shutdown,
    ) -> Result<(), QueueError> {
        // Consumers get their own connection: broker flow control on a busy consumer must not
        // stall publishers, and a consumer failure must not break them.
        let connection = self.connect_once("consume").await?;
        let channel = connection.create_channel().await.map_err(unavailable)?;
        // Per consumer (quorum queues do not support global QoS): each channel queue holds at
        // most `prefetch` unacknowledged events in this worker.
        channel
            .basic_qos(self.config.prefetch, BasicQosOptions { global: false })
            .await
            .map_err(unavailable)?;
        let mut streams = SelectAll::new();
        let mut tags = Vec::new();
        for conv in ConversationChannel::ALL {
            let tag = format!(
                "switchyard-{}-{}-{}",
                std::process::id(),
                conv,
                uuid::Uuid::new_v4()
            );
            let consumer = channel
                .basic_consume(
                    self.queue_name(conv).into(),
                    tag.clone().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(unavailable)?;
            tags.push(tag);
            streams.push(consumer);
        }
        tracing::info!(prefetch = self.config.prefetch, "consuming");

        let mut in_flight = JoinSet::new();
        let result = loop {
            tokio::select! {
                _ = shutdown.wait() => break Ok(()),
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "event task failed");
                    }
                }
                next = streams.next() => match next {
                    Some(Ok(delivery)) => {
                        let handler = handler.clone();
                        in_flight.spawn(handle_delivery(handler, delivery));
                    }
                    Some(Err(e)) => break Err(unavailable(e)),
                    None => break Err(unavailable("consumer stream ended")),
                },
            }
        };

        // Stop taking new deliveries, let the ones in flight finish (bounded), then close.
        for tag in tags {
            let _ = channel
                .basic_cancel(tag.into(), BasicCancelOptions::default())
                .await;
        }
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while in_flight.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "in-flight events did not finish in time; the broker will redeliver them"
            );
            in_flight.abort_all();
        }
        let _ = channel.close(200, "consumer stopped".into()).await;
        let _ = connection.close(200, "consumer stopped".into()).await;
        result
    }
}

async fn handle_delivery(handler: Arc<dyn EventHandler>, delivery: lapin::message::Delivery) {
    let envelope = match Envelope::from_bytes(&delivery.data) {
        Ok(envelope) => envelope,
        Err(e) => {
            tracing::error!(error = %e, "undecodable message; dead-lettering it");
            let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            return;
        }
    };
    let outcome = handler
        .handle(Delivery {
            envelope,
            redelivered: delivery.redelivered,
        })
        .await;
    let acked = match outcome {
        Outcome::Ack => delivery.ack(BasicAckOptions::default()).await,
        Outcome::Retry(reason) => {
            tracing::warn!(%reason, "event will be delivered again");
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
        }
        Outcome::Reject(reason) => {
            tracing::error!(%reason, "event dead-lettered");
            delivery.reject(BasicRejectOptions { requeue: false }).await
        }
    };
    if let Err(e) = acked {
        // The channel broke; the broker redelivers the event and dedup makes that harmless.
        tracing::warn!(error = %e, "could not settle delivery");
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
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .without_max_times()
            .build();
        loop {
            match self.consume_once(&handler, &shutdown).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(error = %e, ?delay, "consumer lost the broker; reconnecting");
                    tokio::select! {
                        _ = shutdown.wait() => return Ok(()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}
