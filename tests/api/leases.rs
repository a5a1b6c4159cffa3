//! An event whose handling outlasts the queue's ack deadline keeps its delivery. On Pub/Sub a
//! worker's stream has a 10 s ack deadline and the worker's client extends the lease while the
//! event runs; on RabbitMQ a delivery is the consumer's until it is acknowledged. Either way no
//! other worker receives the event meanwhile: had it, the second delivery would show as a
//! duplicate absorbed by the dedup key (`processed_events.duplicates`).

use std::time::Duration;

use switchyard::app::Role;
use switchyard::sandbox::graph::Failure;
use switchyard_shared::queue::pubsub::ack_deadline;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_reply_outlasts_the_ack_deadline_is_delivered_to_one_worker_once() {
    let slow_send = ack_deadline() * 3 / 2;
    let app = spawn_app_with(|s| {
        s.worker.provider_timeout_ms = u64::try_from(slow_send.as_millis()).unwrap() * 2;
        // The event's own dispatch sends the welcome, so the event is held for the whole slow
        // send; the outbox relay could otherwise take the send and let the event go early.
        s.worker.outbox_poll_ms = 600_000;
    })
    .await;
    // A second worker, idle and ready to take the event should its lease lapse.
    let _second = app.env.start(Role::Worker).await;
    app.fixture_tenant().await;
    // The welcome takes half as long again as the ack deadline at Meta; the event is acknowledged
    // only after it.
    app.graph.fail_next(Failure {
        count: 1,
        status: 200,
        code: 0,
        delay_ms: u64::try_from(slow_send.as_millis()).unwrap(),
    });
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually_within(
        "the slow welcome sent",
        slow_send + Duration::from_secs(20),
        || async {
            app.count("SELECT count(*) FROM outbox WHERE status = 'sent'")
                .await
                == 1
        },
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 1);
    assert_eq!(
        app.count("SELECT coalesce(sum(duplicates), 0)::bigint FROM processed_events")
            .await,
        0,
        "the event was delivered again while its first delivery was still running"
    );
    assert_eq!(app.graph.sent().len(), 1);
}
