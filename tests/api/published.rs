//! Reading what the ingress published, straight from the broker, for tests that run the
//! ingress without a worker.

use std::time::Duration;

use futures_util::StreamExt;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::{Value, json};
use switchyard::app::Role;
use switchyard_shared::config::QueueBackend;
use switchyard_shared::queue::pubsub::Names;
use switchyard_shared::queue::rabbitmq::partition_queue;

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
        QueueBackend::Pubsub => take_all_pubsub(app).await,
    };
    envelopes
        .into_iter()
        .filter(|envelope| envelope["channel"] == channel)
        .collect()
}

/// Pull the workers' subscription until it is empty, acknowledging everything. Through the
/// emulator's REST API with unary `pull` calls: the emulator (0.8.20) breaks an ordered
/// subscription for good when a streaming pull on it is closed, which a helper that opens one
/// per call would do.
async fn take_all_pubsub(app: &TestApp) -> Vec<Value> {
    let queue = &app.settings.queue;
    let subscription = Names::new(queue)
        .expect("Pub/Sub names")
        .workers_subscription;
    let host = queue
        .pubsub
        .emulator_host
        .clone()
        .expect("the suite runs Pub/Sub on the emulator");
    let base = format!("http://{host}/v1/{subscription}");
    let mut envelopes = Vec::new();
    // Published messages show up in a pull within moments; two empty pulls in a row mean the
    // subscription is drained.
    let mut empty = 0;
    while empty < 2 {
        let pulled: Value = app
            .client
            .post(format!("{base}:pull"))
            .json(&json!({ "maxMessages": 100, "returnImmediately": true }))
            .send()
            .await
            .expect("emulator pull")
            .json()
            .await
            .expect("emulator pull answer");
        let received = pulled["receivedMessages"].as_array().cloned().unwrap_or_default();
        if received.is_empty() {
            empty += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        empty = 0;
        let mut ack_ids = Vec::new();
        for message in received {
            let data = message["message"]["data"].as_str().unwrap_or_default();
            let bytes = STANDARD.decode(data).expect("base64 message data");
            envelopes.push(serde_json::from_slice(&bytes).expect("envelope JSON"));
            ack_ids.push(message["ackId"].clone());
        }
        let acked = app
            .client
            .post(format!("{base}:acknowledge"))
            .json(&json!({ "ackIds": ack_ids }))
            .send()
            .await
            .expect("emulator acknowledge");
        assert!(acked.status().is_success(), "acknowledge: {}", acked.status());
    }
    envelopes
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
