//! The worker side of RabbitMQ: consume the partitions this worker is assigned, keeping each
//! conversation in order.
//!
//! One consuming connection per worker. It joins the [membership](super::membership), and every
//! [`REBALANCE_EVERY`] recomputes which partitions are its own
//! ([`assign`](crate::queue::partition::assign)): it starts a consumer for each new one and
//! releases the ones now assigned elsewhere. Each partition queue has a single active consumer,
//! so a worker taking over a partition waits, as the broker's standby, until the previous owner
//! let go.
//!
//! A partition consumer ([`run_partition`]) has its own AMQP channel and prefetch. It runs its
//! deliveries through [`Lanes`]: in parallel across conversations, in arrival order within one.
//! Releasing a partition (or stopping) stops taking deliveries, lets the running ones finish,
//! and only then closes the channel: the deliveries it held but had not started go back to the
//! queue, ahead of newer ones, for the next owner — so no two workers ever run one
//! conversation's events at the same time.
//!
//! A transient failure is retried in place a few times ([`IN_PLACE_RETRIES`]), holding the
//! conversation's lane so its later events cannot overtake it; only then is the delivery handed
//! back to the broker (which counts it toward the queue's delivery limit).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Channel;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use tokio::task::JoinSet;

use super::membership::Membership;
use super::{RabbitMq, unavailable};
use crate::envelope::Envelope;
use crate::queue::lanes::Lanes;
use crate::queue::partition::{Partition, assign};
use crate::queue::{Delivery, EventHandler, Outcome, QueueError};
use crate::shutdown::Shutdown;

/// How often a worker checks which partitions are its own.
pub const REBALANCE_EVERY: Duration = Duration::from_secs(1);

/// How long a released or stopping partition waits for its running events before closing its
/// channel (the broker redelivers whatever is still unacknowledged then).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Transient failures retried in place before the delivery goes back to the broker.
pub const IN_PLACE_RETRIES: u32 = 4;

/// A partition this worker consumes.
struct Owned {
    stop: Shutdown,
    task: tokio::task::JoinHandle<Result<(), QueueError>>,
}

impl RabbitMq {
    /// Consume this worker's partitions until the connection breaks or `shutdown` fires.
    /// Returns `Ok` on shutdown.
    pub(super) async fn consume_once(
        &self,
        handler: &Arc<dyn EventHandler>,
        shutdown: &Shutdown,
    ) -> Result<(), QueueError> {
        // Consumers get their own connection: broker flow control on a busy consumer must not
        // stall publishers, and a consumer failure must not break them.
        let connection = self.connect_once("consume").await?;
        let me = uuid::Uuid::now_v7().to_string();
        let membership = Membership::join(&connection, &self.members_exchange(), me).await?;
        let mut owned: HashMap<Partition, Owned> = HashMap::new();
        let mut releasing = JoinSet::new();
        let mut tick = tokio::time::interval(REBALANCE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        let result = loop {
            tokio::select! {
                _ = shutdown.wait() => break Ok(()),
                Some(_) = releasing.join_next(), if !releasing.is_empty() => {}
                _ = tick.tick() => {
                    if let Some(e) = take_failure(&mut owned).await {
                        break Err(e);
                    }
                    let members = membership.members();
                    let wanted = assign(self.config.partitions, &members, &membership.me().to_owned());
                    let before: Vec<Partition> = owned.keys().copied().collect();
                    for partition in before.iter().filter(|p| !wanted.contains(p)) {
                        if let Some(gone) = owned.remove(partition) {
                            gone.stop.trigger();
                            releasing.spawn(gone.task);
                        }
                    }
                    let mut broken = None;
                    let new: Vec<Partition> =
                        wanted.iter().copied().filter(|p| !owned.contains_key(p)).collect();
                    for partition in new {
                        let channel = match connection.create_channel().await {
                            Ok(channel) => channel,
                            Err(e) => {
                                broken = Some(unavailable(e));
                                break;
                            }
                        };
                        let stop = shutdown.child();
                        let task = tokio::spawn(run_partition(
                            channel,
                            self.partition_queue(partition),
                            handler.clone(),
                            self.config.prefetch,
                            stop.clone(),
                        ));
                        owned.insert(partition, Owned { stop, task });
                    }
                    if let Some(e) = broken {
                        break Err(e);
                    }
                    if before.len() != owned.len() || before.iter().any(|p| !owned.contains_key(p)) {
                        let mut mine: Vec<Partition> = owned.keys().copied().collect();
                        mine.sort_unstable();
                        tracing::info!(partitions = ?mine, members = members.len(), "consuming partitions");
                    }
                }
            }
        };

        // Let the others take over at once, then stop every partition (each finishes its
        // running events first).
        membership.leave().await;
        for (_, partition) in owned.drain() {
            partition.stop.trigger();
            releasing.spawn(partition.task);
        }
        while releasing.join_next().await.is_some() {}
        let _ = connection.close(200, "consumer stopped".into()).await;
        result
    }
}

/// The error of a partition consumer that ended by itself (its channel or the connection
/// broke), if any.
async fn take_failure(owned: &mut HashMap<Partition, Owned>) -> Option<QueueError> {
    let ended: Vec<Partition> = owned
        .iter()
        .filter(|(_, o)| o.task.is_finished())
        .map(|(p, _)| *p)
        .collect();
    let mut failure = None;
    for partition in ended {
        if let Some(done) = owned.remove(&partition) {
            match done.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(e),
                Err(e) => failure = Some(unavailable(e)),
            }
        }
    }
    failure
}

/// Consume `queue` on `channel` until `stop`, running deliveries through lanes.
async fn run_partition(
    channel: Channel,
    queue: String,
    handler: Arc<dyn EventHandler>,
    prefetch: u16,
    stop: Shutdown,
) -> Result<(), QueueError> {
    channel
        .basic_qos(prefetch, BasicQosOptions { global: false })
        .await
        .map_err(unavailable)?;
    let tag = format!("switchyard-{}-{}", std::process::id(), uuid::Uuid::new_v4());
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            tag.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)?;
    let mut lanes = Lanes::new(move |(delivery, envelope)| {
        handle_delivery(handler.clone(), delivery, envelope)
    });
    let result = loop {
        tokio::select! {
            _ = stop.wait() => break Ok(()),
            _ = lanes.next_finished(), if !lanes.is_idle() => {}
            next = consumer.next() => match next {
                Some(Ok(delivery)) => match Envelope::from_bytes(&delivery.data) {
                    Ok(envelope) => {
                        let key = envelope.conversation_key.to_string();
                        lanes.submit(key, (delivery, envelope));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "undecodable message; dead-lettering it");
                        let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                    }
                },
                Some(Err(e)) => break Err(unavailable(e)),
                None => break Err(unavailable("consumer stream ended")),
            },
        }
    };
    if !lanes.stop(DRAIN_TIMEOUT).await {
        tracing::warn!(%queue, "in-flight events did not finish in time; the broker will redeliver them");
    }
    // Closing hands back what this consumer held but did not start, for the next owner.
    let _ = channel.close(200, "partition released".into()).await;
    result
}

async fn handle_delivery(
    handler: Arc<dyn EventHandler>,
    delivery: lapin::message::Delivery,
    envelope: Envelope,
) {
    let mut retries = 0;
    let outcome = loop {
        let outcome = handler
            .handle(Delivery {
                envelope: envelope.clone(),
                redelivered: delivery.redelivered,
            })
            .await;
        match outcome {
            Outcome::Retry(reason) if retries < IN_PLACE_RETRIES => {
                retries += 1;
                let pause = Duration::from_millis(250 << retries);
                tracing::warn!(%reason, retries, ?pause, "transient failure; retrying in place");
                tokio::time::sleep(pause).await;
            }
            other => break other,
        }
    };
    let settled = match outcome {
        Outcome::Ack => delivery.ack(BasicAckOptions::default()).await,
        Outcome::Retry(reason) => {
            tracing::warn!(%reason, "event handed back to the broker");
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
    if let Err(e) = settled {
        // The channel broke; the broker redelivers the event and dedup makes that harmless.
        tracing::warn!(error = %e, "could not settle delivery");
    }
}
