//! The drain of the broker's own dead-letter queue.
//!
//! Most dead events never pass through the broker's dead-letter exchange: the worker buries
//! them itself (see [`settle`](super::settle)). What does arrive there is what the broker gave
//! up on: an event redelivered more than `x-delivery-limit` times because the workers holding it
//! kept stopping (a crash loop on one poison event), or a body that was not an envelope. Every
//! worker drains the queue: envelopes become dead letters in PostgreSQL like any other, with
//! the class `delivery_limit`; unreadable bodies are moved, confirmed, to
//! `{prefix}.undecodable` for an operator.

use futures_util::StreamExt;
use lapin::Channel;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};

use super::consumer::consume;
use super::settle::{Settler, ack};
use super::{confirmed, unavailable};
use crate::envelope::Envelope;
use crate::queue::{Burial, ErrorClass, QueueError};

/// Consume `queue` until the settler's stop fires or the channel breaks.
pub(super) async fn drain(
    channel: Channel,
    queue: String,
    undecodable_queue: String,
    settler: Settler,
) -> Result<(), QueueError> {
    let mut consumer = consume(&channel, &queue, 16).await?;
    let stop = settler.stop.clone();
    let result = loop {
        tokio::select! {
            _ = stop.wait() => break Ok(()),
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    if let Err(e) = take(&settler, &channel, &undecodable_queue, delivery).await {
                        break Err(e);
                    }
                }
                Some(Err(e)) => break Err(unavailable(e)),
                None => break Err(unavailable("dead-letter consumer stream ended")),
            },
        }
    };
    let _ = channel.close(200, "dead-letter drain stopped".into()).await;
    result
}

async fn take(
    settler: &Settler,
    channel: &Channel,
    undecodable_queue: &str,
    delivery: AmqpDelivery,
) -> Result<(), QueueError> {
    let headers = delivery.properties.headers().as_ref();
    let why = header_text(headers, "x-first-death-reason").unwrap_or_else(|| "unknown".into());
    let deliveries = header_count(headers, "x-delivery-count");
    match Envelope::from_bytes(&delivery.data) {
        Ok(envelope) => {
            let burial = Burial {
                attempts: deliveries.unwrap_or(envelope.attempt.saturating_add(1)),
                error: match &envelope.last_error {
                    Some(last) => {
                        format!("the broker dead-lettered it ({why}); last error: {last}")
                    }
                    None => format!(
                        "the broker dead-lettered it ({why}): workers kept stopping while processing it"
                    ),
                },
                envelope,
                class: ErrorClass::DeliveryLimit,
            };
            settler.bury(&delivery, burial).await.map_err(unavailable)
        }
        Err(e) => {
            tracing::error!(error = %e, "a dead-lettered body is not an envelope; moving it to {undecodable_queue}");
            let confirm = channel
                .basic_publish(
                    "".into(),
                    undecodable_queue.into(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    delivery.properties.clone(),
                )
                .await
                .map_err(unavailable)?;
            confirmed(confirm.await.map_err(unavailable)?)?;
            ack(&delivery).await.map_err(unavailable)
        }
    }
}

fn header_text(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    match headers?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

fn header_count(headers: Option<&FieldTable>, name: &str) -> Option<u32> {
    let n = match headers?.inner().get(name)? {
        AMQPValue::LongLongInt(n) => *n,
        AMQPValue::LongInt(n) => i64::from(*n),
        AMQPValue::ShortInt(n) => i64::from(*n),
        AMQPValue::LongUInt(n) => i64::from(*n),
        _ => return None,
    };
    u32::try_from(n).ok()
}
