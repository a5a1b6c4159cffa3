//! The Pub/Sub consumer: a streaming pull on the workers' subscription, each conversation's
//! events run one at a time in order ([`Lanes`]), each settled by the shared [`SettlePolicy`].
//! A worker holds at most `WORKER_PREFETCH` events: the stream's flow control asks Pub/Sub for
//! no more outstanding messages, and the consumer itself reads no further from the stream while
//! it holds that many (the server's flow control is approximate, and the emulator ignores it).
//!
//! Settling:
//!
//! - **Ack**: acknowledged.
//! - **Hold** (the database is down): kept in place; the client extends the message's lease
//!   (its ack deadline) for as long as it is held, as it does during a long LLM call, so
//!   Pub/Sub does not hand it to another worker meanwhile.
//! - **Retry**: the quick retries in place, then a negative acknowledgement. Pub/Sub redelivers
//!   the event after the subscription's backoff and counts the delivery; at the last delivery
//!   attempt the worker buries it itself with the real error (class `exhausted`). The event
//!   gives up its place in its conversation, as on RabbitMQ: later events go first.
//! - **Dead**: stored as a dead letter, then acknowledged.
//!
//! Every worker also drains the dead-letter subscription: what Pub/Sub gave up on (workers
//! kept stopping while holding it) becomes a dead letter in PostgreSQL with the class
//! `delivery_limit`. A body that is not an envelope is republished to `{prefix}-undecodable`
//! and acknowledged once Pub/Sub confirmed the copy.
//!
//! On shutdown the consumer stops reading, lets running events finish (at most
//! [`DRAIN_TIMEOUT`]) and hands back the rest with a negative acknowledgement.

use std::sync::Arc;
use std::time::Duration;

use google_cloud_pubsub::client::{Publisher, Subscriber};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::handler::Handler;

use super::{PubSub, ack_deadline, max_delivery_attempts};
use crate::envelope::Envelope;
use crate::queue::lanes::Lanes;
use crate::queue::reconnect::Reconnect;
use crate::queue::settle::{DRAIN_TIMEOUT, Fate, SettlePolicy};
use crate::queue::{Burial, ErrorClass, EventHandler, QueueError};
use crate::shutdown::Shutdown;

/// How long the client keeps extending the lease of a message a worker holds: far beyond any
/// event (an LLM call, a database outage held in place), yet bounded, so a stuck job cannot keep
/// its event from Pub/Sub for ever.
const MAX_LEASE: Duration = Duration::from_secs(60 * 60);

/// The attribute Pub/Sub adds to a dead-lettered message: deliveries before it gave up.
const DEAD_LETTER_DELIVERIES: &str = "CloudPubSubDeadLetterSourceDeliveryCount";

/// What the consumer's tasks share.
struct Settling {
    policy: SettlePolicy,
    undecodable: Publisher,
    max_attempts: u32,
}

pub(super) async fn run(
    queue: &PubSub,
    handler: Arc<dyn EventHandler>,
    shutdown: Shutdown,
) -> Result<(), QueueError> {
    let mut reconnect = Reconnect::up_to(Duration::from_secs(2));
    // The topology first: a worker may start before the emulator or the service answers.
    while let Err(e) = queue.ensure_topology().await {
        let pause = reconnect.next_pause();
        tracing::warn!(error = %e, ?pause, "Pub/Sub unreachable; trying again");
        if !Reconnect::wait(pause, &shutdown).await {
            return Ok(());
        }
    }
    let stop = shutdown.child();
    let settling = Arc::new(Settling {
        policy: SettlePolicy {
            handler,
            in_place_retries: queue.config.in_place_retries,
            stop: stop.clone(),
        },
        undecodable: queue.undecodable.clone(),
        max_attempts: u32::try_from(max_delivery_attempts(&queue.config)).unwrap_or(5),
    });
    let dead_letters = tokio::spawn(drain_dead_letters(
        queue.subscriber.clone(),
        queue.names.dead_letter_subscription.clone(),
        settling.clone(),
    ));
    let prefetch = queue.config.prefetch.max(1);
    loop {
        let stream = queue
            .subscriber
            .subscribe(queue.names.workers_subscription.clone())
            .set_max_outstanding_messages(i64::from(prefetch))
            .set_max_lease_extension(ack_deadline())
            .set_max_lease(MAX_LEASE)
            .build();
        let ended = consume_stream(stream, usize::from(prefetch), &settling, &shutdown).await;
        if shutdown.is_triggered() {
            break;
        }
        let pause = reconnect.next_pause();
        if let Err(e) = ended {
            tracing::warn!(error = %e, ?pause, "Pub/Sub stream broke; reconnecting");
        }
        if !Reconnect::wait(pause, &shutdown).await {
            break;
        }
    }
    stop.trigger();
    if let Err(e) = dead_letters.await {
        tracing::error!(error = %e, "dead-letter drain failed");
    }
    Ok(())
}

/// Deliver from `stream` until it breaks or `shutdown`, holding at most `prefetch` events.
async fn consume_stream(
    mut stream: google_cloud_pubsub::subscriber::MessageStream,
    prefetch: usize,
    settling: &Arc<Settling>,
    shutdown: &Shutdown,
) -> Result<(), QueueError> {
    let run = {
        let settling = settling.clone();
        move |(envelope, handler): (Envelope, Handler)| {
            let settling = settling.clone();
            async move { settling.settle(envelope, handler).await }
        }
    };
    let mut lanes = Lanes::new(run);
    let token = stream.shutdown_token();
    let ended = loop {
        tokio::select! {
            _ = shutdown.wait() => break Ok(()),
            _ = lanes.next_finished(), if !lanes.is_idle() => {}
            next = stream.next(), if lanes.held() < prefetch => match next {
                None => break Err(QueueError::Unavailable("the Pub/Sub stream ended".into())),
                Some(Err(e)) => break Err(QueueError::Unavailable(e.to_string())),
                Some(Ok((message, handler))) => match Envelope::from_bytes(&message.data) {
                    Ok(mut envelope) => {
                        // Pub/Sub counts deliveries (with a dead-letter policy); the envelope
                        // counts the retries it went through elsewhere (a replay, a spool).
                        if let Some(delivered) = handler.delivery_attempt() {
                            let before = u32::try_from(delivered.saturating_sub(1)).unwrap_or(0);
                            envelope.attempt = envelope.attempt.max(before);
                        }
                        let key = envelope.conversation_key.as_str().to_owned();
                        lanes.submit(key, (envelope, handler));
                    }
                    Err(e) => settling.set_aside(&message, handler, &e.to_string()).await,
                },
            },
        }
    };
    if !lanes.stop(DRAIN_TIMEOUT).await {
        tracing::warn!("events still running after the drain timeout were handed back");
    }
    token.shutdown().await;
    ended
}

impl Settling {
    async fn settle(&self, envelope: Envelope, handler: Handler) {
        let redelivered = handler.delivery_attempt().is_some_and(|n| n > 1);
        match self.policy.decide(envelope, redelivered).await {
            Fate::Ack => handler.ack(),
            Fate::HandBack => handler.nack(),
            Fate::Later(envelope, reason) => {
                let deliveries = envelope.attempt.saturating_add(1);
                if deliveries >= self.max_attempts {
                    let burial = Burial {
                        attempts: deliveries,
                        envelope,
                        class: ErrorClass::Exhausted,
                        error: reason,
                    };
                    self.bury(burial, handler).await;
                } else {
                    tracing::warn!(%reason, deliveries, "transient failure; Pub/Sub redelivers after the subscription's backoff");
                    handler.nack();
                }
            }
            Fate::Bury(burial) => self.bury(burial, handler).await,
        }
    }

    async fn bury(&self, burial: Burial, handler: Handler) {
        if self.policy.store(burial).await {
            handler.ack();
        } else {
            handler.nack();
        }
    }

    /// Keep a body that is not an envelope on the undecodable topic.
    async fn set_aside(&self, message: &Message, handler: Handler, error: &str) {
        tracing::error!(%error, message_id = %message.message_id, "not an envelope; moving it to the undecodable topic");
        let copy = Message::new()
            .set_data(message.data.clone())
            .set_attributes(message.attributes.clone());
        match self.undecodable.publish(copy).await {
            Ok(_) => handler.ack(),
            Err(e) => {
                tracing::warn!(error = %e, "could not set the body aside; handing it back");
                handler.nack();
            }
        }
    }
}

/// Bury what Pub/Sub dead-lettered, until the policy's stop fires.
async fn drain_dead_letters(subscriber: Subscriber, subscription: String, settling: Arc<Settling>) {
    let stop = settling.policy.stop.clone();
    let mut reconnect = Reconnect::up_to(Duration::from_secs(5));
    loop {
        let mut stream = subscriber
            .subscribe(subscription.clone())
            .set_max_outstanding_messages(16)
            .build();
        let token = stream.shutdown_token();
        let broke = loop {
            tokio::select! {
                _ = stop.wait() => break None,
                next = stream.next() => match next {
                    Some(Ok((message, handler))) => settling.take_dead_letter(message, handler).await,
                    Some(Err(e)) => break Some(e.to_string()),
                    None => break Some("the stream ended".into()),
                },
            }
        };
        token.shutdown().await;
        let Some(error) = broke else { return };
        let pause = reconnect.next_pause();
        tracing::warn!(%error, ?pause, "dead-letter subscription broke; reconnecting");
        if !Reconnect::wait(pause, &stop).await {
            return;
        }
    }
}

impl Settling {
    async fn take_dead_letter(&self, message: Message, handler: Handler) {
        let envelope = match Envelope::from_bytes(&message.data) {
            Ok(envelope) => envelope,
            Err(e) => return self.set_aside(&message, handler, &e.to_string()).await,
        };
        let attempts = message
            .attributes
            .get(DEAD_LETTER_DELIVERIES)
            .and_then(|n| n.parse().ok())
            .unwrap_or(self.max_attempts);
        let burial = Burial {
            error: format!("Pub/Sub stopped redelivering it after {attempts} deliveries"),
            attempts,
            envelope,
            class: ErrorClass::DeliveryLimit,
        };
        self.bury(burial, handler).await;
    }
}
