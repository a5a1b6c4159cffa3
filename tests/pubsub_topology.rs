//! The Pub/Sub topology, on the emulator: what the first process creates when it is missing,
//! and, with `PUBSUB_CREATE_TOPOLOGY=false`, the refusal that names what is not there.
//!
//! It needs the emulator (`PUBSUB_EMULATOR_HOST`), so `cargo test --workspace` leaves it out
//! (`test = false` in Cargo.toml); the Pub/Sub half of `deploy/local/test.sh` runs it with
//! `cargo test --test pubsub_topology`.

use std::time::Duration;

use clap::Parser;
use serde_json::Value;
use switchyard_shared::config::QueueConfig;
use switchyard_shared::queue::pubsub::{ACK_DEADLINE_SECS, Names, max_delivery_attempts};
use switchyard_shared::queue::{self, QueueError};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    queue: QueueConfig,
}

fn emulator() -> String {
    std::env::var("PUBSUB_EMULATOR_HOST").expect(
        "PUBSUB_EMULATOR_HOST names the emulator (deploy/local/test.sh starts it and runs this)",
    )
}

/// Pub/Sub settings under a prefix of this test's own.
fn config(prefix: &str, create: bool) -> QueueConfig {
    let create = create.to_string();
    let emulator = emulator();
    let args = [
        "switchyard",
        "--queue-backend",
        "pubsub",
        "--pubsub-project",
        "switchyard-test",
        "--pubsub-emulator-host",
        &emulator,
        "--queue-prefix",
        prefix,
        "--pubsub-create-topology",
        &create,
        "--retry-tiers",
        "5s,1m,20m",
        "--confirm-timeout-ms",
        "10000",
    ];
    Cli::try_parse_from(args).expect("queue flags").queue
}

fn prefix() -> String {
    format!("topology-{}", uuid::Uuid::new_v4().simple())
}

/// A topic or subscription as the emulator's REST API describes it.
async fn describe(resource: &str) -> Value {
    let url = format!("http://{}/v1/{resource}", emulator());
    let response = reqwest::get(&url).await.expect("the emulator answers");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.expect("a JSON resource")
}

#[tokio::test]
async fn missing_topics_and_subscriptions_are_created_with_ordering_dead_letters_and_retries() {
    let config = config(&prefix(), true);
    let names = Names::new(&config).expect("names");
    let queue = queue::connect(&config).await.expect("the Pub/Sub clients");
    queue.ready().await.expect("the topology created");

    let workers = describe(&names.workers_subscription).await;
    assert_eq!(workers["topic"], names.events_topic.as_str());
    assert_eq!(workers["enableMessageOrdering"], true, "{workers}");
    assert_eq!(
        workers["ackDeadlineSeconds"], ACK_DEADLINE_SECS,
        "{workers}"
    );
    assert_eq!(
        workers["deadLetterPolicy"]["deadLetterTopic"],
        names.dead_letter_topic.as_str()
    );
    assert_eq!(
        workers["deadLetterPolicy"]["maxDeliveryAttempts"],
        max_delivery_attempts(&config),
        "{workers}"
    );
    // The retry policy spans the retry tiers, within Pub/Sub's ceiling of 600 s.
    assert_eq!(workers["retryPolicy"]["minimumBackoff"], "5s", "{workers}");
    assert_eq!(
        workers["retryPolicy"]["maximumBackoff"], "600s",
        "{workers}"
    );

    let dead_letters = describe(&names.dead_letter_subscription).await;
    assert_eq!(dead_letters["topic"], names.dead_letter_topic.as_str());
    let undecodable = describe(&names.undecodable_subscription).await;
    assert_eq!(undecodable["topic"], names.undecodable_topic.as_str());

    // A second process finds it all there: creating again is not an error.
    let again = queue::connect(&config).await.expect("the Pub/Sub clients");
    again.ready().await.expect("the topology found");
    // And one that may not create anything accepts what exists.
    let checking = config_with_create(&config, false);
    let checker = queue::connect(&checking)
        .await
        .expect("the Pub/Sub clients");
    checker.ready().await.expect("the topology checked");
}

#[tokio::test]
async fn with_creation_off_a_missing_topology_is_refused_by_name() {
    let config = config(&prefix(), false);
    let names = Names::new(&config).expect("names");
    let queue = queue::connect(&config).await.expect("the Pub/Sub clients");
    let refused = tokio::time::timeout(Duration::from_secs(30), queue.ready())
        .await
        .expect("an answer within the confirm timeout");
    let Err(QueueError::Unavailable(reason)) = refused else {
        panic!("a missing topology must be refused, got {refused:?}");
    };
    assert!(reason.contains(&names.events_topic), "{reason}");
    assert!(reason.contains("PUBSUB_CREATE_TOPOLOGY=false"), "{reason}");
    // Nothing was created meanwhile.
    let url = format!("http://{}/v1/{}", emulator(), names.events_topic);
    let status = reqwest::get(&url)
        .await
        .expect("the emulator answers")
        .status();
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
}

fn config_with_create(config: &QueueConfig, create: bool) -> QueueConfig {
    let mut config = config.clone();
    config.pubsub.create_topology = create;
    config
}
