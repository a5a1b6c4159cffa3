//! RabbitMQ restarts under a running system: while it is down the ingress spools what it
//! accepts and its relay publishes that once the broker is back, the ingress reconnects for the
//! next webhook, the worker's consumer reconnects with backoff, and durable quorum queues keep
//! what they hold.
//!
//! A test binary of its own because it restarts the shared broker: cargo runs test binaries
//! one after another, so no other suite is using the broker meanwhile. Needs `rabbitmqctl`
//! (the test command runs as root).

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::process::Command;

use helpers::*;

fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .args(args)
        .status()
        .expect("rabbitmqctl must be installed to restart the broker");
    assert!(status.success(), "rabbitmqctl {args:?} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_and_worker_reconnect_after_the_broker_restarts() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    let before = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.BEFORE",
        "one",
    );
    assert_eq!(app.post_whatsapp(bytes(&before)).await.status(), 200);
    eventually("the first message", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.BEFORE'")
            .await
            == 1
    })
    .await;

    rabbitmqctl(&["stop_app"]);
    // While the broker is down the event is stored in the spool, and only then acknowledged.
    let during = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.DURING",
        "two",
    );
    assert_eq!(app.post_whatsapp(bytes(&during)).await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM publish_spool").await, 1);
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    eventually(
        "the relay to publish and the reconnected worker to apply the spooled message",
        || async {
            app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.DURING'")
                .await
                == 1
        },
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM publish_spool").await, 0);

    // The ingress publishes again once the spool is empty.
    let after = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.AFTER",
        "three",
    );
    assert_eq!(app.post_whatsapp(bytes(&after)).await.status(), 200);
    eventually("the message after the restart", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.AFTER'")
            .await
            == 1
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await,
        3
    );
}
