//! The Pub/Sub emulator's REST API, for tests that read or write the queue directly when the
//! suite runs on Pub/Sub (`TEST_QUEUE_BACKEND=pubsub`): plain unary calls, which need no client
//! of their own and leave the workers' streams alone.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use switchyard_shared::queue::pubsub::Names;

use crate::helpers::*;

/// One pulled message: its body and the id to acknowledge it with.
pub struct Pulled {
    pub data: Vec<u8>,
    pub ack_id: Value,
}

pub fn names(app: &TestApp) -> Names {
    Names::new(&app.settings.queue).expect("Pub/Sub names")
}

fn url(app: &TestApp, resource: &str, verb: &str) -> String {
    let host = app
        .settings
        .queue
        .pubsub
        .emulator_host
        .clone()
        .expect("the suite runs Pub/Sub on the emulator");
    format!("http://{host}/v1/{resource}:{verb}")
}

async fn call(app: &TestApp, resource: &str, verb: &str, body: Value) -> Value {
    let response = app
        .client
        .post(url(app, resource, verb))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("emulator {verb}: {e}"));
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "emulator {verb}: {status} {answer}");
    answer
}

/// What `subscription` has now (at most 100).
pub async fn pull(app: &TestApp, subscription: &str) -> Vec<Pulled> {
    let answer = call(
        app,
        subscription,
        "pull",
        json!({ "maxMessages": 100, "returnImmediately": true }),
    )
    .await;
    answer["receivedMessages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| Pulled {
            data: STANDARD
                .decode(m["message"]["data"].as_str().unwrap_or_default())
                .expect("base64 message data"),
            ack_id: m["ackId"].clone(),
        })
        .collect()
}

pub async fn acknowledge(app: &TestApp, subscription: &str, pulled: &[Pulled]) {
    let ack_ids: Vec<&Value> = pulled.iter().map(|p| &p.ack_id).collect();
    call(
        app,
        subscription,
        "acknowledge",
        json!({ "ackIds": ack_ids }),
    )
    .await;
}

/// Publish `data` with `attributes` to `topic`.
pub async fn publish(app: &TestApp, topic: &str, data: &[u8], attributes: Value) {
    call(
        app,
        topic,
        "publish",
        json!({ "messages": [{ "data": STANDARD.encode(data), "attributes": attributes }] }),
    )
    .await;
}

/// Pull and acknowledge until `subscription` stays empty; the bodies, in order.
pub async fn take_all(app: &TestApp, subscription: &str) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    // Published messages show up in a pull within moments; two empty pulls in a row mean the
    // subscription is drained.
    let mut empty = 0;
    while empty < 2 {
        let pulled = pull(app, subscription).await;
        if pulled.is_empty() {
            empty += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        }
        empty = 0;
        acknowledge(app, subscription, &pulled).await;
        bodies.extend(pulled.into_iter().map(|p| p.data));
    }
    bodies
}
