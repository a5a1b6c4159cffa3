//! Reading what the ingress published, straight from the broker, for tests that run the
//! ingress without a worker.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::Value;
use switchyard::app::Role;
use switchyard_shared::config::QueueBackend;
use switchyard_shared::queue::rabbitmq::partition_queue;

use crate::emulator;
use crate::helpers::*;

/// An ingress alone (no worker): what it publishes stays in the queues.
pub async fn spawn_ingress_with(
    customize: impl FnOnce(&mut switchyard::settings::Settings),
) -> TestApp {
    let env = TestEnv::with(customize).await;
    let running = env.start(Role::Ingress).await;
    let address = running.address.clone().expect("ingress address");
    TestApp {
        env,
        address,
        _running: Some(running),
    }
}

/// Every envelope of `channel` (`sms`, `voice`, …) now waiting for the workers (in the
/// partition queues, or the workers' Pub/Sub subscription), taken off (envelopes of other
/// channels are taken off too, and dropped).
pub async fn take_published(app: &TestApp, channel: &str) -> Vec<Value> {
    let envelopes = match app.settings.queue.backend {
        QueueBackend::Rabbitmq => {
            let queues = (0..app.settings.queue.partitions)
                .map(|p| partition_queue(&app.settings.queue.prefix, p))
                .collect();
            take_all(app, queues).await
        }
        QueueBackend::Pubsub => {
            let subscription = emulator::names(app).workers_subscription;
            emulator::take_all(app, &subscription)
                .await
                .iter()
                .map(|body| serde_json::from_slice(body).expect("envelope JSON"))
                .collect()
        }
    };
    envelopes
        .into_iter()
        .filter(|envelope| envelope["channel"] == channel)
        .collect()
}

/// Consume `queues` until none has delivered anything for a moment (partition queues have a
/// single active consumer, which rules out `basic.get`).
pub async fn take_all(app: &TestApp, queues: Vec<String>) -> Vec<Value> {
    let connection = Connection::connect(
        app.settings.queue.amqp_url.expose(),
        ConnectionProperties::default(),
    )
    .await
    .expect("AMQP connection");
    let amqp = connection.create_channel().await.expect("AMQP channel");
    let mut deliveries = futures_util::stream::SelectAll::new();
    for queue in queues {
        let consumer = amqp
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("basic.consume {queue}: {e}"));
        deliveries.push(consumer);
    }
    let mut envelopes = Vec::new();
    while let Ok(Some(delivery)) =
        tokio::time::timeout(Duration::from_millis(400), deliveries.next()).await
    {
        let delivery = delivery.expect("delivery");
        envelopes.push(serde_json::from_slice(&delivery.data).expect("envelope JSON"));
    }
    let _ = connection.close(200, "done".into()).await;
    envelopes
}
