//! RabbitMQ restarts under a running system: the ingress reconnects for the next webhook, the
//! worker's consumer reconnects with backoff, and durable quorum queues keep what they hold.
//!
//! A test binary of its own because it restarts the shared broker: cargo runs test binaries
//! one after another, so no other suite is using the broker meanwhile. Needs `rabbitmqctl`
//! (the test command runs as root).

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::process::Command;
use std::time::Duration;

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
    // While the broker is down nothing is acknowledged to the provider.
    let during = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.DURING",
        "two",
    );
    assert_eq!(app.post_whatsapp(bytes(&during)).await.status(), 503);
    rabbitmqctl(&["start_app"]);
    rabbitmqctl(&["await_startup"]);

    // The provider retries until it gets a 200, as Meta does.
    let mut accepted = false;
    for _ in 0..60 {
        if app.post_whatsapp(bytes(&during)).await.status() == 200 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(accepted, "the ingress never reconnected to the broker");
    eventually(
        "the worker to reconnect and apply the retried message",
        || async {
            app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.DURING'")
                .await
                == 1
        },
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await,
        2
    );
}
