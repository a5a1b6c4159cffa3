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
//! Each delivery is settled by a [`Settler`]: acknowledged, held through a database outage,
//! retried in place, moved to its retry tier, or buried as a dead letter. Each worker also
//! drains the broker's dead-letter queue ([`dead_letters`](super::dead_letters)).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::task::JoinSet;

use super::membership::Membership;
use super::settle::Settler;
use super::{RabbitMq, dead_letters, unavailable};
use crate::envelope::Envelope;
use crate::queue::lanes::Lanes;
use crate::queue::partition::{Partition, assign};
use crate::queue::settle::DRAIN_TIMEOUT;
use crate::queue::{EventHandler, QueueError};
use crate::shutdown::Shutdown;

/// How often a worker checks which partitions are its own.
pub const REBALANCE_EVERY: Duration = Duration::from_secs(1);

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
        let retries = confirm_channel(&connection).await?;
        let mut drain = tokio::spawn(dead_letters::drain(
            confirm_channel(&connection).await?,
            self.dead_letter_queue(),
            self.undecodable_queue(),
            Settler::new(self, handler.clone(), retries.clone(), shutdown.child()),
        ));
        let mut owned: HashMap<Partition, Owned> = HashMap::new();
        let mut releasing = JoinSet::new();
        let mut tick = tokio::time::interval(REBALANCE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        let result = loop {
            tokio::select! {
                _ = shutdown.wait() => break Ok(()),
                Some(_) = releasing.join_next(), if !releasing.is_empty() => {}
                ended = &mut drain => break Err(match ended {
                    Ok(Ok(())) => unavailable("dead-letter drain stopped"),
                    Ok(Err(e)) => e,
                    Err(e) => unavailable(e),
                }),
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
                        let settler = Settler::new(self, handler.clone(), retries.clone(), stop.clone());
                        let task = tokio::spawn(run_partition(
                            channel,
                            self.partition_queue(partition),
                            Arc::new(settler),
                            self.config.prefetch,
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
        drain.abort();
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

/// Start consuming `queue` on `channel`, at most `prefetch` deliveries unacknowledged.
pub(super) async fn consume(
    channel: &Channel,
    queue: &str,
    prefetch: u16,
) -> Result<lapin::Consumer, QueueError> {
    channel
        .basic_qos(prefetch, BasicQosOptions { global: false })
        .await
        .map_err(unavailable)?;
    let tag = format!("switchyard-{}-{}", std::process::id(), uuid::Uuid::new_v4());
    channel
        .basic_consume(
            queue.into(),
            tag.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(unavailable)
}

/// A new channel in confirm mode.
async fn confirm_channel(connection: &Connection) -> Result<Channel, QueueError> {
    let channel = connection.create_channel().await.map_err(unavailable)?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(unavailable)?;
    Ok(channel)
}

/// Consume `queue` on `channel` until the settler's stop fires, running deliveries through
/// lanes.
async fn run_partition(
    channel: Channel,
    queue: String,
    settler: Arc<Settler>,
    prefetch: u16,
) -> Result<(), QueueError> {
    let stop = settler.stop.clone();
    let mut consumer = consume(&channel, &queue, prefetch).await?;
    let mut lanes = Lanes::new(move |(delivery, envelope)| {
        let settler = settler.clone();
        async move { settler.run(delivery, envelope).await }
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
