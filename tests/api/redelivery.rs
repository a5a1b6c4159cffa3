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

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_before_ack_is_redelivered_and_applied_once() {
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
        let queue = queue::connect(&app.settings.queue).await.unwrap();
        let secrets = Arc::new(
            SecretBox::from_config(app.settings.secrets.encryption_keys.expose()).unwrap(),
        );
        let doomed = Worker::new(
            app.settings.worker.clone(),
            &app.settings.google,
            &app.settings.gemini,
            app.pool.clone(),
            queue,
            secrets,
        )
        .unwrap();
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
