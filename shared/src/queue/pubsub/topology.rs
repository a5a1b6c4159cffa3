//! Creating the topics and subscriptions that are missing (`PUBSUB_CREATE_TOPOLOGY`), or only
//! checking that they exist where infrastructure is managed elsewhere.
//!
//! Existing resources are left as they are: Pub/Sub cannot change a subscription's ordering
//! after creation, and an operator's own settings win. Creating is idempotent ("already
//! exists" counts as done), so every process may try at start.

use std::time::Duration;

use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::model::{DeadLetterPolicy, ExpirationPolicy, RetryPolicy};

use super::{PubSub, max_delivery_attempts};
use crate::queue::QueueError;

/// Pub/Sub's ceiling for a subscription's retry backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

pub(super) async fn ensure(queue: &PubSub) -> Result<(), QueueError> {
    let names = &queue.names;
    if !queue.config.pubsub.create_topology {
        for topic in [&names.events_topic, &names.dead_letter_topic] {
            queue
                .topics
                .get_topic()
                .set_topic(topic.clone())
                .send()
                .await
                .map_err(|e| missing(topic, e))?;
        }
        for subscription in [&names.workers_subscription, &names.dead_letter_subscription] {
            queue
                .subscriptions
                .get_subscription()
                .set_subscription(subscription.clone())
                .send()
                .await
                .map_err(|e| missing(subscription, e))?;
        }
        return Ok(());
    }
    for topic in [
        &names.events_topic,
        &names.dead_letter_topic,
        &names.undecodable_topic,
    ] {
        created(
            queue
                .topics
                .create_topic()
                .set_name(topic.clone())
                .send()
                .await,
        )?;
    }
    let tiers = queue.config.retry_tiers.delays();
    let first = tiers.first().copied().unwrap_or(Duration::from_secs(10));
    let last = tiers.last().copied().unwrap_or(first);
    let expiration = queue
        .config
        .expires_secs
        .and_then(|secs| i64::try_from(secs.max(86_400)).ok())
        .map(|secs| ExpirationPolicy::new().set_ttl(wkt(secs)));
    created(
        queue
            .subscriptions
            .create_subscription()
            .set_name(names.workers_subscription.clone())
            .set_topic(names.events_topic.clone())
            .set_enable_message_ordering(true)
            // Pub/Sub's minimum: a worker that dies mid-event has its events delivered again
            // within seconds. A running worker extends the deadline of what it holds.
            .set_ack_deadline_seconds(super::ACK_DEADLINE_SECS)
            .set_dead_letter_policy(
                DeadLetterPolicy::new()
                    .set_dead_letter_topic(names.dead_letter_topic.clone())
                    .set_max_delivery_attempts(max_delivery_attempts(&queue.config)),
            )
            .set_retry_policy(
                RetryPolicy::new()
                    .set_minimum_backoff(wkt_of(first.min(MAX_BACKOFF)))
                    .set_maximum_backoff(wkt_of(last.min(MAX_BACKOFF))),
            )
            .set_or_clear_expiration_policy(expiration.clone())
            .send()
            .await,
    )?;
    for (subscription, topic) in [
        (&names.dead_letter_subscription, &names.dead_letter_topic),
        (&names.undecodable_subscription, &names.undecodable_topic),
    ] {
        created(
            queue
                .subscriptions
                .create_subscription()
                .set_name(subscription.clone())
                .set_topic(topic.clone())
                .set_ack_deadline_seconds(60)
                .set_or_clear_expiration_policy(expiration.clone())
                .send()
                .await,
        )?;
    }
    Ok(())
}

/// `Ok` for a creation that succeeded or found the resource there already.
fn created<T>(result: google_cloud_pubsub::Result<T>) -> Result<(), QueueError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.status().is_some_and(|s| s.code == Code::AlreadyExists) => Ok(()),
        Err(e) => Err(QueueError::Unavailable(format!(
            "creating the Pub/Sub topology: {e}"
        ))),
    }
}

fn missing(name: &str, e: google_cloud_pubsub::Error) -> QueueError {
    QueueError::Unavailable(format!(
        "{name} is not there (PUBSUB_CREATE_TOPOLOGY=false: create it first): {e}"
    ))
}

fn wkt(secs: i64) -> google_cloud_wkt::Duration {
    google_cloud_wkt::Duration::clamp(secs, 0)
}

fn wkt_of(duration: Duration) -> google_cloud_wkt::Duration {
    let secs = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    let nanos = i32::try_from(duration.subsec_nanos()).unwrap_or(0);
    google_cloud_wkt::Duration::clamp(secs, nanos)
}
