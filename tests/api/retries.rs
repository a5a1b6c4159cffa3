//! Failed events: transient failures climb the retry tiers (in the broker's TTL queues) and
//! become dead letters once the tiers are used up; permanent failures become dead letters at
//! once; an event that recovers on a later tier is applied once; what the broker itself gives
//! up on is drained into the same dead letters, and unreadable bodies are set aside.
//!
//! A database outage is not the event's fault: the worker holds its events until the
//! database is back, spending no attempt.
//!
//! The test harness runs with `RETRY_TIERS=500ms,1s,2s` and one in-place retry.

use std::time::{Duration, Instant};

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;
use switchyard::app::Role;
use switchyard::sandbox::google::Endpoint;
use switchyard_shared::config::QueueBackend;
use switchyard_shared::queue::deliveries_before_dead_letter;
use switchyard_shared::queue::rabbitmq::partition_queue;

use switchyard_shared::secrets::SecretString;

use crate::emulator;
use crate::google::*;
use crate::helpers::*;
use crate::proxy::Proxy;
use crate::published::take_all;

/// The dead letters of the test's database, oldest first.
async fn dead_letters(app: &TestApp) -> Vec<sqlx::postgres::PgRow> {
    sqlx::query(
        "SELECT error_class, error, attempts, dedup_key, envelope, status, \
                first_failed_at <= last_failed_at AS ordered \
         FROM dead_letters ORDER BY first_failed_at",
    )
    .fetch_all(&app.owner_pool)
    .await
    .expect("dead letters")
}

async fn wait_for_dead_letter(app: &TestApp) -> sqlx::postgres::PgRow {
    eventually("a dead letter", || async {
        !dead_letters(app).await.is_empty()
    })
    .await;
    let mut rows = dead_letters(app).await;
    assert_eq!(rows.len(), 1, "one dead letter");
    rows.remove(0)
}

async fn inbound_emails(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM messages WHERE channel = 'email' AND direction = 'inbound'")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_climb_every_retry_tier_then_become_a_dead_letter() {
    let (app, fake) = app_and_google(3600).await;
    connected_tenant(&app, &fake, None).await;
    let history = fake.add_fixture_message(MAILBOX);
    fake.fail_next(Endpoint::Gmail, 100, 503);
    let started = Instant::now();
    assert_eq!(push(&app, history, "m-flaky").await.status(), 204);

    let dead = wait_for_dead_letter(&app).await;
    // Each delivery tries twice (one in-place retry): on RabbitMQ the first and one per tier
    // (4); on Pub/Sub as many as the subscription's maximum delivery attempts (5).
    let deliveries = deliveries_before_dead_letter(&app.settings.queue);
    assert_eq!(
        100 - fake.pending_failures(Endpoint::Gmail),
        deliveries as usize * 2
    );
    // The broker held the event between deliveries: each tier's delay on RabbitMQ (0.5 s +
    // 1 s + 2 s), at least the retry policy's minimum backoff on Pub/Sub (4 × 0.5 s).
    let held_at_least = match app.settings.queue.backend {
        QueueBackend::Rabbitmq => Duration::from_millis(3500),
        QueueBackend::Pubsub => Duration::from_millis(2000),
    };
    assert!(
        started.elapsed() >= held_at_least,
        "dead after {:?}, sooner than the retry delays allow",
        started.elapsed()
    );
    assert_eq!(dead.get::<String, _>("error_class"), "exhausted");
    assert_eq!(dead.get::<i32, _>("attempts"), deliveries as i32);
    assert_eq!(dead.get::<String, _>("dedup_key"), "pubsub:m-flaky");
    assert!(dead.get::<String, _>("error").contains("Gmail sync"));
    assert_eq!(dead.get::<String, _>("status"), "dead");
    assert!(dead.get::<bool, _>("ordered"));
    // The attempt count travelled with the event, and on RabbitMQ (whose retried copies are
    // new messages) the last error too; a Pub/Sub redelivery is the same message.
    let envelope: Value = dead.get("envelope");
    assert_eq!(envelope["attempt"], deliveries - 1);
    if app.settings.queue.backend == QueueBackend::Rabbitmq {
        assert!(
            envelope["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("503") || e.contains("Gmail")),
            "{envelope}"
        );
    }
    assert_eq!(inbound_emails(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_recovers_on_a_later_tier_is_applied_once() {
    let (app, fake) = app_and_google(3600).await;
    connected_tenant(&app, &fake, None).await;
    let history = fake.add_fixture_message(MAILBOX);
    // The first delivery and its in-place retry fail; the copy from the first tier succeeds.
    fake.fail_next(Endpoint::Gmail, 2, 500);
    assert_eq!(push(&app, history, "m-recovers").await.status(), 204);
    eventually("the email stored", || async {
        inbound_emails(&app).await == 1
    })
    .await;
    assert_eq!(fake.pending_failures(Endpoint::Gmail), 0);
    // A late duplicate of the same push changes nothing.
    assert_eq!(push(&app, history, "m-recovers").await.status(), 204);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(inbound_emails(&app).await, 1);
    assert!(dead_letters(&app).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_a_dead_letter_at_once_without_retries() {
    let (app, _fake) = app_and_google(3600).await;
    let (_, key) = app.provision("Manual Mail").await;
    // Tokens typed in by hand, with no consent behind them: Google refuses the refresh.
    let put = app
        .call(
            Method::PUT,
            "/api/v1/channels/email",
            &key,
            Some(json!({ "address": MAILBOX, "access_token": "ya29.x", "refresh_token": "1//x" })),
        )
        .await;
    assert_eq!(put.status(), 200);
    assert_eq!(push(&app, 5000, "m-manual").await.status(), 204);

    let dead = wait_for_dead_letter(&app).await;
    assert_eq!(dead.get::<String, _>("error_class"), "permanent");
    assert_eq!(dead.get::<i32, _>("attempts"), 1);
    assert_eq!(dead.get::<String, _>("dedup_key"), "pubsub:m-manual");
    let envelope: Value = dead.get("envelope");
    assert_eq!(envelope["kind"], "mailbox_changed");
    assert_eq!(envelope["attempt"], 0, "no retry tier was used");
    assert!(envelope.get("last_error").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_broker_gives_up_on_is_drained_into_the_dead_letters() {
    if test_backend() == QueueBackend::Pubsub {
        return what_pubsub_gives_up_on_is_drained_into_the_dead_letters().await;
    }
    // Deliveries are limited to 2 and no worker runs yet: a stand-in consumer takes the
    // event and hands it back until the broker dead-letters it.
    let env = TestEnv::with(|s| s.queue.delivery_limit = 2).await;
    let ingress = env.start(Role::Ingress).await;
    let app = env.into_app(ingress);
    app.fixture_tenant().await;
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    let queues: Vec<String> = (0..app.settings.queue.partitions)
        .map(|p| partition_queue(&app.settings.queue.prefix, p))
        .collect();
    let handed_back = nack_until_dead_lettered(&app, &queues).await;
    assert!(handed_back >= 2, "handed back {handed_back} times");

    // Garbage on a partition: the worker sets it aside instead of losing or looping on it.
    publish_raw(&app, &queues[0], br#""not an envelope""#).await;

    let _worker = app.env.start(Role::Worker).await;
    let dead = wait_for_dead_letter(&app).await;
    assert_eq!(dead.get::<String, _>("error_class"), "delivery_limit");
    assert!(
        dead.get::<String, _>("error")
            .contains("the broker dead-lettered it"),
        "{}",
        dead.get::<String, _>("error")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages").await,
        0,
        "a dead event is not applied"
    );
    let undecodable = format!("{}.undecodable", app.settings.queue.prefix);
    let mut kept = Vec::new();
    for _ in 0..50 {
        kept.extend(take_all(&app, vec![undecodable.clone()]).await);
        if !kept.is_empty() {
            break;
        }
    }
    assert_eq!(kept, vec![Value::String("not an envelope".into())]);
}

/// The same on Pub/Sub. After the subscription's maximum delivery attempts, Pub/Sub itself
/// moves an event to the dead-letter topic with the delivery count as an attribute; the test
/// does that move by hand (the emulator, 0.8.20, fails with a `NullPointerException` when it
/// dead-letters from an ordered subscription), then checks that the workers drain it, and that
/// garbage on the events topic is set aside.
async fn what_pubsub_gives_up_on_is_drained_into_the_dead_letters() {
    let env = TestEnv::new().await;
    let ingress = env.start(Role::Ingress).await;
    let app = env.into_app(ingress);
    app.fixture_tenant().await;
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    let names = emulator::names(&app);
    let published = emulator::take_all(&app, &names.workers_subscription).await;
    assert_eq!(published.len(), 1);
    emulator::publish(
        &app,
        &names.dead_letter_topic,
        &published[0],
        json!({ "CloudPubSubDeadLetterSourceDeliveryCount": "5" }),
    )
    .await;
    emulator::publish(
        &app,
        &names.events_topic,
        br#""not an envelope""#,
        json!({}),
    )
    .await;

    let _worker = app.env.start(Role::Worker).await;
    let dead = wait_for_dead_letter(&app).await;
    assert_eq!(dead.get::<String, _>("error_class"), "delivery_limit");
    assert!(
        dead.get::<String, _>("error")
            .contains("Pub/Sub stopped redelivering it after 5 deliveries"),
        "{}",
        dead.get::<String, _>("error")
    );
    assert_eq!(dead.get::<i32, _>("attempts"), 5);
    assert_eq!(
        app.count("SELECT count(*) FROM messages").await,
        0,
        "a dead event is not applied"
    );
    let mut kept = Vec::new();
    for _ in 0..50 {
        kept.extend(emulator::take_all(&app, &names.undecodable_subscription).await);
        if !kept.is_empty() {
            break;
        }
    }
    assert_eq!(kept, vec![br#""not an envelope""#.to_vec()]);
}

async fn amqp(app: &TestApp) -> (Connection, lapin::Channel) {
    let connection = Connection::connect(
        app.settings.queue.amqp_url.expose(),
        ConnectionProperties::default(),
    )
    .await
    .expect("AMQP connection");
    let channel = connection.create_channel().await.expect("AMQP channel");
    (connection, channel)
}

/// Consume the partitions and hand every delivery back until the broker stops delivering;
/// returns how many times the event was handed back.
async fn nack_until_dead_lettered(app: &TestApp, queues: &[String]) -> usize {
    use futures_util::StreamExt;
    use lapin::options::{BasicConsumeOptions, BasicNackOptions};
    use lapin::types::FieldTable;

    let (connection, channel) = amqp(app).await;
    let mut deliveries = futures_util::stream::SelectAll::new();
    for queue in queues {
        deliveries.push(
            channel
                .basic_consume(
                    queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("basic.consume"),
        );
    }
    let mut handed_back = 0;
    while let Ok(Some(delivery)) =
        tokio::time::timeout(Duration::from_secs(2), deliveries.next()).await
    {
        let delivery = delivery.expect("delivery");
        delivery
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await
            .expect("nack");
        handed_back += 1;
    }
    let _ = connection.close(200, "done".into()).await;
    handed_back
}

async fn publish_raw(app: &TestApp, queue: &str, body: &[u8]) {
    let (connection, channel) = amqp(app).await;
    channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    let _ = connection.close(200, "done".into()).await;
}

/// An ingress, and a worker that reaches the database through a proxy the test can cut; the
/// fixture tenant exists.
async fn worker_behind_a_database_proxy() -> (TestApp, Proxy, RunningApp) {
    let env = TestEnv::new().await;
    let ingress = env.start(Role::Ingress).await;
    let (database, database_url) = Proxy::in_front_of(env.settings.database.url.expose());
    let worker = env
        .start_with(Role::Worker, |s| {
            s.database.url = SecretString::new(database_url);
        })
        .await;
    let app = env.into_app(ingress);
    app.fixture_tenant().await;
    (app, database, worker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_holds_events_in_the_broker_without_spending_retries() {
    let (app, database, _worker) = worker_behind_a_database_proxy().await;

    // The worker loses its database for longer than every retry tier together (3.5 s).
    database.cut();
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 0);
    database.restore();

    eventually(
        "the held event applied once the database is back",
        || async {
            app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
                .await
                == 1
        },
    )
    .await;
    assert!(
        dead_letters(&app).await.is_empty(),
        "an outage is not the event's fault"
    );
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_outcome_meets_a_database_outage_is_recorded_once_the_database_is_back() {
    let (app, database, _worker) = worker_behind_a_database_proxy().await;

    // Graph takes the welcome at once but answers late; the database goes meanwhile.
    app.graph.fail_next(switchyard::sandbox::graph::Failure {
        count: 1,
        status: 200,
        code: 0,
        delay_ms: 1500,
    });
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the welcome reached Graph", || async {
        app.graph.sent().len() == 1
    })
    .await;
    database.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    database.restore();

    eventually("the send recorded as sent", || async {
        app.count("SELECT count(*) FROM outbox WHERE status = 'sent'")
            .await
            == 1
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE status <> 'sent'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'")
            .await,
        1
    );
    assert_eq!(app.graph.sent().len(), 1, "sent once");
}
