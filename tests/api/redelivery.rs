//! A worker that dies after committing an event's effects but before acknowledging it: the
//! broker redelivers the event, and the next worker applies nothing twice.

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use std::sync::Arc;
use switchyard::app::Role;
use switchyard_shared::envelope::Envelope;
use switchyard_shared::queue;
use switchyard_shared::queue::rabbitmq::partition_queue;
use switchyard_shared::secrets::SecretBox;
use switchyard_workers::Worker;
use switchyard_workers::consumer::Processed;

use switchyard_shared::config::QueueBackend;

use crate::emulator;
use crate::helpers::*;

/// A worker of `app`'s settings, driven by the test itself.
async fn worker(app: &TestApp) -> Worker {
    let queue = queue::connect(&app.settings.queue).await.unwrap();
    let secrets =
        Arc::new(SecretBox::from_config(app.settings.secrets.encryption_keys.expose()).unwrap());
    Worker::new(
        app.settings.worker.clone(),
        &app.settings.google,
        &app.settings.gemini,
        app.pool.clone(),
        queue,
        secrets,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_before_ack_is_redelivered_and_applied_once() {
    if test_backend() == QueueBackend::Pubsub {
        return a_pubsub_worker_that_dies_before_ack_is_redelivered_and_applied_once().await;
    }
    let env = TestEnv::new().await;
    let ingress = env.start(Role::Ingress).await;
    let mut app = env.into_app(ingress);
    app.fixture_tenant().await;
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );

    // The doomed worker: takes the delivery from its partition, applies it with the real
    // processor (commit and welcome sent), then its connection drops without an ack.
    let queues: Vec<String> = (0..app.settings.queue.partitions)
        .map(|p| partition_queue(&app.settings.queue.prefix, p))
        .collect();
    let amqp = app.settings.queue.amqp_url.expose().to_owned();
    {
        let connection = Connection::connect(&amqp, ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .basic_qos(1, BasicQosOptions::default())
            .await
            .unwrap();
        let mut consumers = futures_util::stream::SelectAll::new();
        for queue in &queues {
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            consumers.push(consumer);
        }
        let delivery = consumers.next().await.unwrap().unwrap();
        assert!(!delivery.redelivered);
        let envelope = Envelope::from_bytes(&delivery.data).unwrap();
        let doomed = worker(&app).await;
        assert_eq!(
            doomed.processor().process(&envelope).await.unwrap(),
            Processed::Applied
        );
        connection.close(320, "worker died".into()).await.unwrap();
    }
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await,
        1
    );
    assert_eq!(app.graph.sent().len(), 1);

    // A healthy worker gets the redelivery, finds it applied, and acknowledges it.
    let worker = app.start(Role::Worker).await;
    let probe = Connection::connect(&amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = probe.create_channel().await.unwrap();
    let ready = || async {
        let mut waiting = 0;
        for queue in &queues {
            waiting += channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap()
                .message_count();
        }
        waiting
    };
    eventually("the redelivery consumed", || async { ready().await == 0 }).await;
    worker.stop().await;
    // Stopped gracefully: anything unacknowledged would be back in the queue now.
    assert_eq!(ready().await, 0);

    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 1);
    assert_eq!(app.graph.sent().len(), 1);
    app.stop().await;
}

/// The same on Pub/Sub. The doomed worker pulls both events of a conversation, applies the
/// first and dies without acknowledging either; once the subscription's ack deadline has passed,
/// Pub/Sub delivers both again, in order, to the healthy worker: the first is found applied,
/// the second is applied now (which shows the redelivery happened).
async fn a_pubsub_worker_that_dies_before_ack_is_redelivered_and_applied_once() {
    let env = TestEnv::new().await;
    let ingress = env.start(Role::Ingress).await;
    let app = env.into_app(ingress);
    app.fixture_tenant().await;
    for (wamid, text) in [("wamid.FIRST", "first"), ("wamid.SECOND", "second")] {
        let body = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", wamid, text);
        assert_eq!(app.post_whatsapp(bytes(&body)).await.status(), 200);
    }

    let names = emulator::names(&app);
    let mut pulled = Vec::new();
    for _ in 0..50 {
        pulled.extend(emulator::pull(&app, &names.workers_subscription).await);
        if pulled.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(pulled.len(), 2, "both events of the conversation");
    let first = Envelope::from_bytes(&pulled[0].data).unwrap();
    assert_eq!(
        first.payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"],
        "wamid.FIRST"
    );
    let doomed = worker(&app).await;
    assert_eq!(
        doomed.processor().process(&first).await.unwrap(),
        Processed::Applied
    );
    drop(doomed);
    assert_eq!(app.graph.sent().len(), 1);

    let _worker = app.env.start(Role::Worker).await;
    // The ack deadline is 10 s; the healthy worker's stream takes a moment to open.
    eventually_within(
        "the second event, delivered again after the ack deadline, applied",
        std::time::Duration::from_secs(40),
        || async {
            app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
                .await
                == 2
        },
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox").await,
        1,
        "one welcome"
    );
    assert_eq!(app.graph.sent().len(), 1, "the first event's welcome, once");
}
